// A group of three browser users: create, rename, roles, then a removed member who cannot read
// what follows (the sender key rotates); files (image with a sender-made thumbnail, a document).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assert, assertNoProblems, expectText, newUser, openConversation, seesMessage, send, shot, signup, suite, waitFor } from './lib.mjs';
import { gradientPng } from './png.mjs';

export default () =>
  suite('group', [
    [
      'three users create a group and talk',
      async (ctx) => {
        const { browser, server } = ctx;
        const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => newUser(browser, server, n)));
        for (const u of [alice, bob, carol]) await signup(u);
        ctx.users = { alice, bob, carol };
        await alice.page.getByTestId('new-group').click();
        await alice.page.getByTestId('group-name').fill('Picnic');
        await alice.page.getByTestId('group-members').fill('bob, carol');
        await alice.page.getByTestId('group-create').click();
        await expectText(alice.page.getByTestId('chat-title'), 'Picnic');
        await send(alice, 'Welcome to the picnic group');
        for (const u of [bob, carol]) {
          await openConversation(u, 'Picnic');
          await seesMessage(u, 'Welcome to the picnic group');
        }
        await send(bob, 'Thanks! I will bring lemonade');
        await seesMessage(alice, 'I will bring lemonade');
        await seesMessage(carol, 'I will bring lemonade');
      },
    ],
    [
      'rename and roles in the group panel',
      async ({ users: { alice, bob } }) => {
        await alice.page.getByTestId('open-group').click();
        await alice.page.getByTestId('rename-input').fill('Summer picnic');
        await alice.page.getByTestId('rename').click();
        await expectText(alice.page.getByTestId('chat-title'), 'Summer picnic');
        await expectText(bob.page.getByTestId('chat-title'), 'Summer picnic');
        await alice.page.locator('[data-testid=member][data-user=Bob]').getByTestId('role').selectOption('admin');
        await waitFor(async () => (await alice.page.locator('[data-testid=system-message]', { hasText: 'is now admin' }).count()) > 0, 'role change message');
        await shot(alice.page, 'group-management');
      },
    ],
    [
      'a removed member cannot read what follows',
      async ({ users: { alice, bob, carol } }) => {
        await alice.page.locator('[data-testid=member][data-user=Carol]').getByTestId('remove-member').click();
        await waitFor(async () => (await alice.page.getByTestId('member').count()) === 2, 'two members left');
        await alice.page.getByTestId('close-panel').click();
        await carol.page.getByTestId('not-member').waitFor({ timeout: 15000 });
        await send(alice, 'Secret plan made after Carol left');
        await seesMessage(bob, 'Secret plan made after Carol left');
        await new Promise((r) => setTimeout(r, 1500));
        assert((await carol.page.locator('[data-testid=message-text]', { hasText: 'Secret plan' }).count()) === 0, 'carol must not see the new message');
        // Not after a reload either (nothing pending, nothing in history for her).
        await carol.page.reload();
        await openConversation(carol, 'Summer picnic');
        await seesMessage(carol, 'Welcome to the picnic group');
        await new Promise((r) => setTimeout(r, 1000));
        assert((await carol.page.locator('[data-testid=message-text]', { hasText: 'Secret plan' }).count()) === 0, 'carol must not see it after reload');
        // Bob, who stays, still reads the old and the new chain.
        await bob.page.reload();
        await openConversation(bob, 'Summer picnic');
        await seesMessage(bob, 'Welcome to the picnic group');
        await seesMessage(bob, 'Secret plan made after Carol left');
        assertNoProblems(alice, bob, carol);
      },
    ],
    [
      'files: an image with its encrypted thumbnail, and a document',
      async ({ users: { alice, bob } }) => {
        const png = gradientPng(640, 420);
        await alice.page.getByTestId('file-input').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png });
        await waitFor(async () => (await alice.page.locator('[data-testid=media][data-file="sunset.png"]').count()) > 0, 'image sent');
        const doc = randomBytes(200_000); // four chunks of 64 KiB
        await alice.page.getByTestId('file-input').setInputFiles({ name: 'plan.pdf', mimeType: 'application/pdf', buffer: doc });
        const bobImg = bob.page.locator('[data-testid=media][data-file="sunset.png"]');
        await bobImg.getByTestId('media-thumb').waitFor({ timeout: 20000 });
        await bobImg.getByTestId('media-open').click();
        await bobImg.getByTestId('media-image').waitFor({ timeout: 20000 });
        const size = await bobImg.getByTestId('media-image').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
        assert(size[0] === 640 && size[1] === 420, `decrypted image size ${size}`);
        const bobDoc = bob.page.locator('[data-testid=media][data-file="plan.pdf"]');
        await bobDoc.waitFor({ timeout: 20000 });
        const [download] = await Promise.all([bob.page.waitForEvent('download'), bobDoc.getByTestId('media-save').click()]);
        const got = readFileSync(await download.path());
        assert(got.equals(doc), `document bytes differ (${got.length} vs ${doc.length})`);
        await shot(bob.page, 'files');
        assertNoProblems(alice, bob);
      },
    ],
  ]);
