// Who may hand this device key material (twin of src/sdk/e2ee/engine_keys_test.cc): sender keys
// and search keys only from verified devices of the conversation's members, search-key epochs
// bounded, a sender key always its sender's own. Every refusal is forbidden and changes nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../protocol/bytes';
import { directConversationId } from '../protocol/ids';
import { sodiumReady } from '../protocol/primitives';
import {
  KIND_SEARCH_KEY,
  KIND_SENDER_CHAIN,
  KIND_SENDER_RECEIVER,
  type SearchKeyRecord,
  decodeSearchKey,
  encodeOwnChain,
  encodeSearchKey,
} from '../protocol/records';
import { parseSenderReceiver } from '../protocol/senderKey';
import { MAX_SEARCH_EPOCH, MAX_SEARCH_EPOCH_STEP } from './engine';
import { type Dev, world } from './testWorld';

beforeAll(() => sodiumReady());

const fill = (c: string) => utf8(c.repeat(32));

/** The one queued to-device message for `to`, which must come from `from`. */
function takeOne(to: Dev, from: Dev): string {
  const queued = to.server.take(to.user, to.device);
  expect(queued.length).toBe(1);
  expect([queued[0].sender, queued[0].senderDevice]).toEqual([from.user, from.device]);
  return queued[0].body;
}

/** Hands `body` to `to` and expects a refusal that changed nothing. */
async function expectRefused(to: Dev, from: Dev, body: string): Promise<void> {
  const before = to.store.snapshot();
  const commits = to.store.commits;
  await expect(to.engine.handleToDevice(from.user, from.device, body)).rejects.toMatchObject({ code: 'forbidden' });
  expect(to.store.snapshot()).toBe(before);
  expect(to.store.commits).toBe(commits);
}

/** Overwrites `d`'s search key for `conv` and drops its chain: the next send distributes it. */
async function forceSearchKey(d: Dev, conv: string, epoch: number, key: Uint8Array): Promise<void> {
  await d.store.commit([
    { kind: KIND_SEARCH_KEY, id: conv, value: encodeSearchKey({ enabled: true, epoch, key }) },
    { kind: KIND_SENDER_CHAIN, id: conv, value: null },
  ]);
}

async function searchKeyOf(d: Dev, conv: string): Promise<SearchKeyRecord> {
  const raw = await d.store.get(KIND_SEARCH_KEY, conv);
  expect(raw).not.toBeNull();
  return decodeSearchKey(raw!);
}

describe('Engine key acceptance', () => {
  it("refuses a stranger's sender and search keys", async () => {
    const { devs } = await world('alice/a1', 'bob/b1', 'mallory/m1');
    const [alice, bob, mallory] = devs;
    await alice.engine.setSearchEnabled('g', true);
    const m1 = await alice.send('g', ['alice', 'bob'], utf8('members only'));
    expect(await bob.sync()).toBe(1);
    await bob.engine.setSearchEnabled('g', true);
    const tokens = await alice.engine.searchTokens('g', 'secret');
    expect(await bob.engine.searchTokens('g', 'secret')).toEqual(tokens);

    // Mallory, no member of g, plants a sender key and a search key at a higher epoch.
    await forceSearchKey(mallory, 'g', 7, fill('M'));
    const planted = await mallory.engine.encryptMessage('g', ['bob'], utf8('planted'));
    await expectRefused(bob, mallory, takeOne(bob, mallory));
    await expect(bob.engine.decryptMessage('g', 'mallory', 'm1', planted)).rejects.toMatchObject({ code: 'not_found' });
    expect(await bob.engine.searchTokens('g', 'secret')).toEqual(tokens);
    expect((await searchKeyOf(bob, 'g')).epoch).toBe(0);
    expect(await bob.read('g', alice, m1)).toBe('members only');
  });

  it('needs no list for direct peers and own devices, but refuses strangers', async () => {
    const { devs } = await world('alice/a1', 'alice/a2', 'bob/b1', 'mallory/m1');
    const [alice, alice2, bob, mallory] = devs;
    const direct = directConversationId('alice', 'bob');
    // The fake server lists no conversation at all: a direct id proves its pair by itself.
    const m1 = await alice.engine.encryptMessage(direct, ['bob'], utf8('hi bob'));
    expect(await bob.sync()).toBe(1);
    expect(await alice2.sync()).toBe(1);
    expect(await bob.read(direct, alice, m1)).toBe('hi bob');
    expect(await alice2.read(direct, alice, m1)).toBe('hi bob');

    await mallory.engine.encryptMessage(direct, ['bob'], utf8('not your pair'));
    await expectRefused(bob, mallory, takeOne(bob, mallory));
    // Mallory's own direct conversation with Bob is hers to key.
    const theirs = directConversationId('bob', 'mallory');
    const m2 = await mallory.engine.encryptMessage(theirs, ['bob'], utf8('hello'));
    expect(await bob.sync()).toBe(1);
    expect(await bob.read(theirs, mallory, m2)).toBe('hello');
  });

  it('refuses a former member and retries after a membership outage', async () => {
    const { server, devs } = await world('alice/a1', 'bob/b1', 'carol/c1');
    const [, bob, carol] = devs;
    const m1 = await carol.send('g', ['alice', 'bob', 'carol'], utf8('while a member'));
    expect(await bob.sync()).toBe(1);
    expect(await bob.read('g', carol, m1)).toBe('while a member');

    server.conversations.set('g', ['alice', 'bob']); // Carol is removed
    await forceSearchKey(carol, 'g', 3, fill('C'));
    await carol.engine.encryptMessage('g', ['alice', 'bob'], utf8('after removal'));
    await expectRefused(bob, carol, takeOne(bob, carol));
    expect(await bob.store.get(KIND_SEARCH_KEY, 'g')).toBeNull();

    // An outage is not a refusal: it passes through, nothing is committed, the retry works.
    server.conversations.set('g', ['alice', 'bob', 'carol']);
    await forceSearchKey(carol, 'g', 4, fill('D'));
    const again = await carol.engine.encryptMessage('g', ['alice', 'bob'], utf8('back again'));
    const body = takeOne(bob, carol);
    const before = bob.store.snapshot();
    server.failNextMembers = true;
    await expect(bob.engine.handleToDevice('carol', 'c1', body)).rejects.toMatchObject({ code: 'unavailable' });
    expect(bob.store.snapshot()).toBe(before);
    await bob.engine.handleToDevice('carol', 'c1', body);
    expect(await bob.read('g', carol, again)).toBe('back again');
    expect((await searchKeyOf(bob, 'g')).epoch).toBe(4);
  });

  it('refuses keys from a revoked or re-keyed device', async () => {
    const { server, devs } = await world('alice/a1', 'alice/a2', 'bob/b1');
    const [alice, alice2, bob] = devs;
    // Alice's second device sends, then is revoked before Bob reads its key.
    await alice2.send('g', ['alice', 'bob'], utf8('from a2'));
    server.devices.get('alice')!.delete('a2');
    await expectRefused(bob, alice2, takeOne(bob, alice2));

    // The directory lists another key for a1 than the one of Bob's session with it.
    const m1 = await alice.send('g', ['alice', 'bob'], utf8('from a1'));
    expect(await bob.sync()).toBe(1);
    expect(await bob.read('g', alice, m1)).toBe('from a1');
    const a1 = server.devices.get('alice')!.get('a1')!;
    const listed = a1.keys.signingKey;
    a1.keys = { ...a1.keys, signingKey: server.devices.get('bob')!.get('b1')!.keys.signingKey };
    await forceSearchKey(alice, 'g', 1, fill('A'));
    await alice.engine.encryptMessage('g', ['alice', 'bob'], utf8('new chain'));
    await expectRefused(bob, alice, takeOne(bob, alice));
    a1.keys = { ...a1.keys, signingKey: listed };
  });

  it('bounds search key epochs and never wraps them', async () => {
    const { devs } = await world('alice/a1', 'bob/b1');
    const [alice, bob] = devs;
    await alice.engine.setSearchEnabled('c', true);
    await alice.send('c', ['alice', 'bob'], utf8('epoch 0'));
    expect(await bob.sync()).toBe(1);
    expect((await searchKeyOf(bob, 'c')).epoch).toBe(0);

    // A member jumping further ahead than MAX_SEARCH_EPOCH_STEP is refused, whole payload.
    await forceSearchKey(alice, 'c', MAX_SEARCH_EPOCH_STEP + 1, fill('J'));
    const far = await alice.send('c', ['alice', 'bob'], utf8('too far'));
    await expectRefused(bob, alice, takeOne(bob, alice));
    await expect(bob.engine.decryptMessage('c', 'alice', 'a1', far)).rejects.toMatchObject({ code: 'not_found' });
    // Exactly the step is accepted.
    await forceSearchKey(alice, 'c', MAX_SEARCH_EPOCH_STEP, fill('K'));
    const step = await alice.send('c', ['alice', 'bob'], utf8('one step'));
    expect(await bob.sync()).toBe(1);
    expect(await bob.read('c', alice, step)).toBe('one step');
    expect(await searchKeyOf(bob, 'c')).toMatchObject({ epoch: MAX_SEARCH_EPOCH_STEP, key: fill('K') });

    // Near the top: 2^32 - 1 is never valid, even within a step of the held epoch.
    await forceSearchKey(bob, 'c', MAX_SEARCH_EPOCH - 5, fill('B'));
    await forceSearchKey(alice, 'c', 0xffffffff, fill('W'));
    await alice.send('c', ['alice', 'bob'], utf8('the wrapping epoch'));
    await expectRefused(bob, alice, takeOne(bob, alice));
    await forceSearchKey(alice, 'c', MAX_SEARCH_EPOCH, fill('T'));
    await alice.send('c', ['alice', 'bob'], utf8('the top epoch'));
    expect(await bob.sync()).toBe(1);
    expect((await searchKeyOf(bob, 'c')).epoch).toBe(MAX_SEARCH_EPOCH);
    // A lower epoch never replaces it.
    await forceSearchKey(alice, 'c', 9, fill('0'));
    await alice.send('c', ['alice', 'bob'], utf8('a stale key'));
    expect(await bob.sync()).toBe(1);
    expect(await searchKeyOf(bob, 'c')).toMatchObject({ epoch: MAX_SEARCH_EPOCH, key: fill('T') });
  });

  it('drops the search key on a rotation at the last epoch', async () => {
    const { devs } = await world('alice/a1', 'bob/b1', 'carol/c1');
    const [alice, bob] = devs;
    await alice.engine.setSearchEnabled('g', true);
    await alice.send('g', ['alice', 'bob', 'carol'], utf8('all three'));
    const top = await searchKeyOf(alice, 'g');
    await alice.store.commit([{ kind: KIND_SEARCH_KEY, id: 'g', value: encodeSearchKey({ ...top, epoch: MAX_SEARCH_EPOCH }) }]);
    // Carol leaves: the rotation has no next epoch, so the key Carol holds is dropped.
    await alice.send('g', ['alice', 'bob'], utf8('without carol'));
    const after = await searchKeyOf(alice, 'g');
    expect(after.epoch).toBe(MAX_SEARCH_EPOCH);
    expect(after.key.length).toBe(0);
    expect(await alice.engine.searchTokens('g', 'word')).toEqual([]);
    expect(await bob.sync()).toBe(2);
  });

  // Holds before and after the membership rule: the distribution names no owner, so a member
  // relaying another device's chain only gives it under the relayer's own name, and the owner's
  // messages, signed over the owner's ids, do not verify under it.
  it("holds a relayed sender key as the relayer's, never the owner's", async () => {
    const { server, devs } = await world('alice/a1', 'bob/b1', 'carol/c1');
    const [alice, bob, carol] = devs;
    const m1 = await alice.send('g', ['alice', 'bob', 'carol'], utf8("alice's words"));
    server.take('bob', 'b1'); // Bob never gets Alice's own distribution
    expect(await carol.sync()).toBe(1);
    const held = await carol.store.list(KIND_SENDER_RECEIVER);
    expect(held.length).toBe(1);
    expect(held[0][0].startsWith('g\nalice\na1\n')).toBe(true);
    const r = parseSenderReceiver(held[0][1]);
    expect(held[0][0].endsWith(toHex(r.chainId))).toBe(true);
    const relayed = {
      chain: { chainId: r.chainId, iteration: r.iteration, chainKey: r.chainKey, signingSeed: fill('S'), signingPublic: r.signingPublic },
      recipients: [],
    };
    await carol.store.commit([{ kind: KIND_SENDER_CHAIN, id: 'g', value: encodeOwnChain(relayed) }]);
    await carol.send('g', ['alice', 'bob', 'carol'], utf8('relaying'));
    expect(await bob.sync()).toBe(1); // Carol is a member: her distribution is taken, as hers
    await expect(bob.read('g', alice, m1)).rejects.toMatchObject({ code: 'not_found' });
    await expect(bob.engine.decryptMessage('g', 'carol', 'c1', m1)).rejects.toMatchObject({ code: 'forbidden' });
  });
});
