import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../protocol/primitives';
import { Engine } from '../engine/engine';
import { FakeKeyServer } from '../engine/fakeDirectory';
import { utf8, fromUtf8 } from '../protocol/bytes';
import { Db, type LocalMessage } from './db';
import { directConversationId } from './ids';

beforeAll(() => sodiumReady());

const msg = (id: string, conv: string, seq: number, text: string): LocalMessage => ({
  message_id: id,
  conversation_id: conv,
  seq,
  sender_id: 'u',
  sender_device_id: 'd',
  created_at: seq,
  content_type: 'text',
  text,
  state: 'ok',
});

describe('Db (IndexedDB)', () => {
  it('stores engine state atomically, ordered by id', async () => {
    const db = await Db.open('t-state');
    const s = db.stateStore();
    await s.commit([
      { kind: 'k', id: '00000000000000000002', value: Uint8Array.of(2) },
      { kind: 'k', id: '00000000000000000001', value: Uint8Array.of(1) },
      { kind: 'other', id: 'x', value: Uint8Array.of(9) },
    ]);
    expect((await s.list('k')).map(([id, v]) => [id, v[0]])).toEqual([
      ['00000000000000000001', 1],
      ['00000000000000000002', 2],
    ]);
    await s.commit([{ kind: 'k', id: '00000000000000000001', value: null }]);
    expect(await s.get('k', '00000000000000000001')).toBeNull();
    expect((await s.get('other', 'x'))![0]).toBe(9);
  });

  it('runs the engine on IndexedDB across a reopen', async () => {
    const server = new FakeKeyServer();
    server.conversations.set('c', ['alice', 'bob']);
    const dbA = await Db.open('t-alice');
    const alice = new Engine(dbA.stateStore(), server.directory('alice', 'a1'), server.members('alice'), 'alice', 'a1', { initialOneTimePrekeys: 3 });
    await alice.bootstrap();
    let dbB = await Db.open('t-bob');
    let bob = new Engine(dbB.stateStore(), server.directory('bob', 'b1'), server.members('bob'), 'bob', 'b1', { initialOneTimePrekeys: 3 });
    await bob.bootstrap();
    const body = await alice.encryptMessage('c', ['bob'], utf8('persisted'));
    for (const m of server.take('bob', 'b1')) await bob.handleToDevice(m.sender, m.senderDevice, m.body);
    dbB.close();
    dbB = await Db.open('t-bob'); // a reload
    bob = new Engine(dbB.stateStore(), server.directory('bob', 'b1'), server.members('bob'), 'bob', 'b1');
    expect(fromUtf8(await bob.decryptMessage('c', 'alice', 'a1', body))).toBe('persisted');
    await expect(bob.decryptMessage('c', 'alice', 'a1', body)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('pages messages by seq and finds words (last one as a prefix)', async () => {
    const db = await Db.open('t-msgs');
    for (let i = 1; i <= 5; i++) await db.saveMessage(msg(`m${i}`, 'c1', i, `text ${i}`), ['text', `w${i}`]);
    await db.saveMessage(msg('x', 'c2', 1, 'other'), ['textile']);
    expect((await db.messages('c1')).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await db.messages('c1', 4, 2)).map((m) => m.seq)).toEqual([2, 3]);
    expect([...(await db.wordMatches('text', false))].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect([...(await db.wordMatches('text', true))].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'x']);
    expect((await db.wordMatches('w3', false)).size).toBe(1);
  });

  it('derives the direct conversation id like the server (src/common/ids.cc)', () => {
    const a = '0190a1b2-0000-7000-8000-000000000001';
    const b = '0190a1b2-0000-7000-8000-000000000002';
    const id = directConversationId(a, b);
    expect(id).toBe(directConversationId(b, a));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
