// Two browser users: sign up, direct chat with delivered/read receipts, typing, presence,
// safety numbers, reload (state from IndexedDB), offline catch-up, and the one-tab rule.
import { assert, assertNoProblems, expectText, newChat, newUser, openConversation, seesMessage, send, shot, signup, suite, waitFor } from './lib.mjs';

export default () =>
  suite('direct', [
    [
      'login screen and signup of two users',
      async (ctx) => {
        const { browser, server } = ctx;
        const alice = await newUser(browser, server, 'alice');
        await alice.page.getByTestId('auth-form').waitFor();
        await shot(alice.page, 'login');
        // A wrong password gets a readable error.
        await alice.page.locator('input[name=username]').fill('nobody');
        await alice.page.locator('input[name=password]').fill('wrong password');
        await alice.page.getByTestId('auth-submit').click();
        await expectText(alice.page.getByTestId('auth-error'), 'Wrong username or password');
        await signup(alice);
        const bob = await newUser(browser, server, 'bob');
        await signup(bob);
        ctx.users = { alice, bob };
      },
    ],
    [
      'direct chat with delivered and read receipts',
      async ({ users: { alice, bob } }) => {
        await newChat(alice, 'bob');
        await send(alice, 'Hello Bob, this is end-to-end encrypted');
        // Bob's list shows the conversation with a preview and an unread count.
        const row = bob.page.locator('[data-testid=conversation][data-title="Alice"]');
        await row.waitFor({ timeout: 15000 });
        await expectText(row.getByTestId('preview'), 'Hello Bob');
        await expectText(row.getByTestId('unread'), '1');
        // Delivered (✓✓) before Bob opens it.
        const tick = alice.page.locator('[data-testid=message]', { hasText: 'Hello Bob' }).getByTestId('tick');
        await waitFor(async () => (await tick.getAttribute('data-tick')) === 'delivered', 'delivered tick');
        await openConversation(bob, 'Alice');
        await seesMessage(bob, 'Hello Bob, this is end-to-end encrypted');
        await waitFor(async () => (await tick.getAttribute('data-tick')) === 'read', 'read tick');
        await waitFor(async () => (await row.getByTestId('unread').count()) === 0, 'unread cleared');
        // Bob types: Alice sees the indicator; then the reply.
        await alice.page.bringToFront();
        await bob.page.getByTestId('composer').pressSequentially('Hi Al', { delay: 30 });
        await expectText(alice.page.getByTestId('typing'), 'typing');
        await bob.page.getByTestId('composer').fill('Hi Alice! Got it.');
        await bob.page.getByTestId('send').click();
        await seesMessage(alice, 'Hi Alice! Got it.');
        // Presence: both online.
        await waitFor(async () => (await alice.page.locator('[data-testid=conversation][data-title="Bob"] [data-testid=presence-dot]').getAttribute('data-status')) === 'online', 'presence dot');
        for (let i = 0; i < 3; i++) await send(alice, `Message number ${i} about the quarterly picnic`);
        await seesMessage(bob, 'Message number 2');
        await shot(alice.page, 'chat');
        assertNoProblems(alice, bob);
      },
    ],
    [
      'a message sent without end-to-end encryption is marked as such',
      async ({ server, users: { bob } }) => {
        // Mallory talks to the API directly and sends plaintext (the server accepts it by
        // default); Bob's client must not show it as if it were encrypted.
        const api = async (path, body, token) => {
          const r = await fetch(server.api + path, {
            method: body ? 'POST' : 'GET',
            headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
            body: body ? JSON.stringify(body) : undefined,
          });
          if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
          return r.status === 204 ? {} : r.json();
        };
        await api('/v1/signup', { username: 'mallory', password: 'correct horse battery', display_name: 'Mallory' });
        const m = await api('/v1/login', { username: 'mallory', password: 'correct horse battery' });
        const target = await api('/v1/users?username=bob', null, m.access_token);
        await api('/v1/send-message', { to_user_id: target.user_id, client_msg_id: crypto.randomUUID(), encryption: 'none', body: 'plaintext from mallory' }, m.access_token);
        await openConversation(bob, 'Mallory');
        await seesMessage(bob, 'plaintext from mallory');
        const bubble = bob.page.locator('[data-testid=message]', { hasText: 'plaintext from mallory' });
        await expectText(bubble.getByTestId('plain-marker'), 'Not encrypted');
        // Bob's own (encrypted) conversation with Alice carries no such marker.
        await openConversation(bob, 'Alice');
        await seesMessage(bob, 'Hi Alice! Got it.');
        assert((await bob.page.getByTestId('plain-marker').count()) === 0, 'an encrypted message marked as plaintext');
      },
    ],
    [
      'safety numbers match on both sides',
      async ({ users: { alice, bob } }) => {
        await alice.page.getByTestId('open-safety').click();
        const a = await alice.page.getByTestId('safety-number').getAttribute('data-number');
        await bob.page.getByTestId('open-safety').click();
        const b = await bob.page.getByTestId('safety-number').getAttribute('data-number');
        assert(/^\d{60}$/.test(a), `safety number format: ${a}`);
        assert(a === b, `safety numbers differ: ${a} vs ${b}`);
        await alice.page.getByTestId('mark-verified').click();
        await expectText(alice.page.getByTestId('mark-verified'), 'Verified');
        await shot(alice.page, 'safety-number');
        await alice.page.getByTestId('close-panel').click();
        await bob.page.getByTestId('close-panel').click();
      },
    ],
    [
      'search finds decrypted messages locally',
      async ({ users: { bob } }) => {
        await bob.page.getByTestId('search').fill('quarterly pic');
        await waitFor(async () => (await bob.page.getByTestId('search-result').count()) === 3, '3 search results');
        await bob.page.getByTestId('search').fill('nonexistentword');
        await expectText(bob.page.getByTestId('search-results'), 'No messages match');
        await bob.page.getByTestId('search').fill('got it');
        await bob.page.getByTestId('search-result').first().click();
        await seesMessage(bob, 'Hi Alice! Got it.');
      },
    ],
    [
      'reload keeps the session, keys and history; a second tab is refused',
      async ({ server, users: { alice, bob } }) => {
        await bob.page.reload();
        await expectText(bob.page.getByTestId('connection'), 'Connected');
        await openConversation(bob, 'Alice');
        await seesMessage(bob, 'Hello Bob, this is end-to-end encrypted');
        const second = await bob.context.newPage();
        await second.goto(server.base + '/');
        await expectText(second.getByTestId('locked'), 'open in another tab');
        await second.close();
        // Messages after the reload still decrypt (ratchet state survived in IndexedDB).
        await send(alice, 'After your reload');
        await seesMessage(bob, 'After your reload');
      },
    ],
    [
      'offline catch-up: closed tab, then network loss',
      async ({ server, users, browser }) => {
        const { alice, bob } = users;
        await bob.page.close();
        await send(alice, 'While you were away 1');
        await send(alice, 'While you were away 2');
        const page = await bob.context.newPage();
        bob.page = page;
        bob.watch(page);
        await page.goto(server.base + '/');
        await expectText(page.getByTestId('connection'), 'Connected');
        await openConversation(bob, 'Alice');
        await seesMessage(bob, 'While you were away 2');
        await seesMessage(bob, 'While you were away 1');
        // Network loss: Bob's socket drops; Alice sends; Bob reconnects with back-off and catches up.
        await bob.context.setOffline(true);
        await page.evaluate(() => window.dispatchEvent(new Event('offline')));
        await expectText(page.getByTestId('connection'), 'Offline');
        await send(alice, 'Sent while your network was down');
        await new Promise((r) => setTimeout(r, 1500)); // reconnect attempts fail while offline
        await expectText(page.getByTestId('connection'), 'Offline');
        await bob.context.setOffline(false);
        await page.evaluate(() => window.dispatchEvent(new Event('online')));
        await seesMessage(bob, 'Sent while your network was down', 40000);
        await expectText(page.getByTestId('connection'), 'Connected');
        // Written while offline: kept in the outbox, sent on reconnection.
        await bob.context.setOffline(true);
        await page.evaluate(() => window.dispatchEvent(new Event('offline')));
        await expectText(page.getByTestId('connection'), 'Offline');
        await page.getByTestId('composer').fill('Queued while offline');
        await page.getByTestId('send').click();
        await page.locator('[data-testid=message][data-state=outbox]', { hasText: 'Queued while offline' }).waitFor();
        await bob.context.setOffline(false);
        await page.evaluate(() => window.dispatchEvent(new Event('online')));
        await seesMessage(alice, 'Queued while offline', 40000);
        assertNoProblems(alice, bob);
        void browser;
      },
    ],
  ]);
