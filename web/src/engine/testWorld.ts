// Engine test devices over the in-memory twins (fakeDirectory.ts, ports.ts), sharing one fake
// server (twin of src/sdk/e2ee/engine_test_util.h). For the engine's test files only.
import { fromUtf8 } from '../protocol/bytes';
import { Engine } from './engine';
import { FakeKeyServer } from './fakeDirectory';
import { MemoryStateStore } from './ports';

export class Dev {
  store = new MemoryStateStore();
  engine: Engine;
  constructor(
    readonly server: FakeKeyServer,
    readonly user: string,
    readonly device: string,
  ) {
    this.engine = new Engine(this.store, server.directory(user, device), server.members(user), user, device, { initialOneTimePrekeys: 5, minOneTimePrekeys: 2 });
  }
  /**
   * Sends as the app does: `members` (plus the sender) are the conversation's members on the fake
   * server too, which is where receivers check that a sender key's sender belongs.
   */
  send(conv: string, members: string[], plaintext: Uint8Array): Promise<string> {
    this.server.conversations.set(conv, [...new Set([...members, this.user])]);
    return this.engine.encryptMessage(conv, members, plaintext);
  }
  async sync(): Promise<number> {
    let n = 0;
    for (const m of this.server.take(this.user, this.device)) {
      await this.engine.handleToDevice(m.sender, m.senderDevice, m.body);
      n++;
    }
    return n;
  }
  async read(conv: string, from: Dev, body: string): Promise<string> {
    return fromUtf8(await this.engine.decryptMessage(conv, from.user, from.device, body));
  }
}

export async function world(...names: string[]) {
  const server = new FakeKeyServer();
  const devs = names.map((n) => {
    const [u, d] = n.split('/');
    return new Dev(server, u, d);
  });
  for (const d of devs) await d.engine.bootstrap();
  return { server, devs };
}
