import { beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../protocol/bytes';
import { sodiumReady } from '../protocol/primitives';
import { KIND_ONE_TIME_PREKEY } from '../protocol/records';
import { Dev, world } from './testWorld';

beforeAll(() => sodiumReady());

describe('Engine', () => {
  it('bootstraps once and publishes keys', async () => {
    const { server, devs } = await world('alice/a1');
    const pub = server.devices.get('alice')!.get('a1')!;
    expect(pub.otks.length).toBe(5);
    const commits = devs[0].store.commits;
    await devs[0].engine.bootstrap();
    expect(devs[0].store.commits).toBe(commits); // nothing to do
    expect((await devs[0].store.list(KIND_ONE_TIME_PREKEY)).length).toBe(5);
  });

  it('runs a direct conversation both ways, with pending, replay and tamper handling', async () => {
    const { devs } = await world('alice/a1', 'bob/b1');
    const [alice, bob] = devs;
    const m1 = await alice.send('c1', ['bob'], utf8('hello bob'));
    await expect(bob.engine.decryptMessage('c1', 'alice', 'a1', m1)).rejects.toMatchObject({ code: 'not_found' });
    expect(await bob.sync()).toBe(1);
    expect(await bob.read('c1', alice, m1)).toBe('hello bob');
    await expect(bob.read('c1', alice, m1)).rejects.toMatchObject({ code: 'conflict' });
    // One OTK was consumed on Bob's side.
    expect((await bob.store.list(KIND_ONE_TIME_PREKEY)).length).toBe(4);
    const m2 = await alice.send('c1', ['bob'], utf8('second'));
    expect(await bob.sync()).toBe(0); // chain already held: no redistribution
    const tampered = m2.slice(0, 40) + (m2[40] === 'A' ? 'B' : 'A') + m2.slice(41);
    const snap = bob.store.snapshot();
    await expect(bob.read('c1', alice, tampered)).rejects.toMatchObject({ code: 'forbidden' });
    expect(bob.store.snapshot()).toBe(snap);
    expect(await bob.read('c1', alice, m2)).toBe('second');
    const r1 = await bob.send('c1', ['alice'], utf8('hi alice'));
    await alice.sync();
    expect(await alice.read('c1', bob, r1)).toBe('hi alice');
    await expect(bob.engine.decryptMessage('c1', 'alice', 'a1', m2.slice(0, 10))).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('reaches the sender\'s other devices and new member devices from their joining point', async () => {
    const { devs } = await world('alice/a1', 'alice/a2', 'bob/b1');
    const [a1, a2, bob] = devs;
    const m1 = await a1.send('g', ['bob'], utf8('one'));
    await a2.sync();
    await bob.sync();
    expect(await a2.read('g', a1, m1)).toBe('one');
    expect(await bob.read('g', a1, m1)).toBe('one');
    const carol = new Dev(a1.server, 'carol', 'c1');
    await carol.engine.bootstrap();
    const m2 = await a1.send('g', ['bob', 'carol'], utf8('two'));
    expect(await carol.sync()).toBe(1);
    expect(await bob.sync()).toBe(0); // adding members never rotates
    expect(await carol.read('g', a1, m2)).toBe('two');
    await expect(carol.read('g', a1, m1)).rejects.toMatchObject({ code: 'conflict' }); // before joining
  });

  it('rotates the sender key when a member is removed, so they cannot read what follows', async () => {
    const { devs } = await world('alice/a1', 'bob/b1', 'carol/c1');
    const [alice, bob, carol] = devs;
    const m1 = await alice.send('g', ['bob', 'carol'], utf8('all'));
    await bob.sync();
    await carol.sync();
    expect(await carol.read('g', alice, m1)).toBe('all');
    const m2 = await alice.send('g', ['bob'], utf8('without carol'));
    expect(await carol.sync()).toBe(0);
    expect(await bob.sync()).toBe(1);
    expect(await bob.read('g', alice, m2)).toBe('without carol');
    await expect(carol.read('g', alice, m2)).rejects.toMatchObject({ code: 'not_found' });
    expect(await bob.read('g', alice, m1)).toBe('all'); // old chains stay readable
  });

  it('fails the call when send-to-device fails and redistributes next time', async () => {
    const { server, devs } = await world('alice/a1', 'bob/b1');
    const [alice, bob] = devs;
    server.failSend = true;
    await expect(alice.send('c', ['bob'], utf8('x'))).rejects.toMatchObject({ code: 'unavailable' });
    server.failSend = false;
    const m = await alice.send('c', ['bob'], utf8('y'));
    expect(await bob.sync()).toBe(1);
    expect(await bob.read('c', alice, m)).toBe('y');
  });

  it('reports a changed device key and keeps working with the new one', async () => {
    const { server, devs } = await world('alice/a1', 'bob/b1');
    const [alice, bob] = devs;
    const m1 = await alice.send('c', ['bob'], utf8('1'));
    await bob.sync();
    expect(await bob.read('c', alice, m1)).toBe('1');
    const bob2 = new Dev(server, 'bob', 'b1'); // the same device id re-keyed (fresh store)
    await bob2.engine.bootstrap();
    const m2 = await alice.send('c', ['bob'], utf8('2'));
    expect(alice.engine.takeKeyChanges().map((k) => k.userId)).toEqual(['bob']);
    expect(await bob2.sync()).toBe(1);
    expect(await bob2.read('c', alice, m2)).toBe('2');
  });

  it('computes the same safety number on both sides and shares the search key', async () => {
    const { devs } = await world('alice/a1', 'bob/b1');
    const [alice, bob] = devs;
    const n = await alice.engine.safetyNumber('bob');
    expect(n).toMatch(/^\d{60}$/);
    expect(await bob.engine.safetyNumber('alice')).toBe(n);
    await alice.engine.setSearchEnabled('c', true);
    const m = await alice.send('c', ['bob'], utf8('Crème brûlée'));
    await bob.sync();
    await bob.engine.setSearchEnabled('c', true);
    expect(await bob.engine.searchTokens('c', 'creme')).toEqual(await alice.engine.searchTokens('c', 'CRÈME'));
    expect((await alice.engine.searchTokens('c', 'creme')).length).toBe(1);
    expect(await bob.read('c', alice, m)).toBe('Crème brûlée');
  });

  it('handles simultaneous initiation and rejects a replayed to-device message', async () => {
    const { server, devs } = await world('alice/a1', 'bob/b1');
    const [alice, bob] = devs;
    const ma = await alice.send('c', ['bob'], utf8('from alice'));
    const mb = await bob.send('c', ['alice'], utf8('from bob'));
    const toBob = server.take('bob', 'b1');
    const toAlice = server.take('alice', 'a1');
    for (const m of toBob) await bob.engine.handleToDevice(m.sender, m.senderDevice, m.body);
    for (const m of toAlice) await alice.engine.handleToDevice(m.sender, m.senderDevice, m.body);
    expect(await bob.read('c', alice, ma)).toBe('from alice');
    expect(await alice.read('c', bob, mb)).toBe('from bob');
    await expect(bob.engine.handleToDevice(toBob[0].sender, toBob[0].senderDevice, toBob[0].body)).rejects.toMatchObject({ code: 'conflict' });
    // A fresh session claiming an already used one-time prekey is refused (not_found).
    const body = toBob[0].body;
    const raw = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
    raw[40] ^= 1; // flip a bit of the ephemeral key
    const forged = btoa(String.fromCharCode(...raw));
    await expect(bob.engine.handleToDevice('alice', 'a1', forged)).rejects.toMatchObject({ code: 'not_found' });
  });
});
