// An in-memory key server for engine tests (twin of memory_ports.h's FakeKeyServer).
import { E2eeError } from '../protocol/errors';
import type { ConversationMembers, KeyDirectory, PrekeyBundle, PublishedKeys } from './ports';

interface Stored {
  keys: PublishedKeys;
  otks: Array<[number, string]>;
}

export class FakeKeyServer {
  readonly devices = new Map<string, Map<string, Stored>>(); // user -> device -> keys
  readonly inbox = new Map<string, Array<{ sender: string; senderDevice: string; body: string }>>(); // "user\ndevice"
  /** Group conversation id → its current members' user ids. */
  readonly conversations = new Map<string, string[]>();
  failSend = false;
  failNextMembers = false;

  /** One user's view of the group membership: not_found unless a member (GET /v1/groups 403s). */
  members(userId: string): ConversationMembers {
    return {
      members: async (conversationId) => {
        if (this.failNextMembers) {
          this.failNextMembers = false;
          throw new E2eeError('unavailable', 'injected');
        }
        const list = this.conversations.get(conversationId);
        if (!list || !list.includes(userId)) throw new E2eeError('not_found', 'no such conversation');
        return [...list];
      },
    };
  }

  directory(userId: string, deviceId: string): KeyDirectory {
    return {
      publish: async (k) => {
        const user = this.devices.get(userId) ?? new Map<string, Stored>();
        this.devices.set(userId, user);
        const prev = user.get(deviceId);
        const otks = new Map(prev?.otks ?? []);
        for (const [id, pub] of k.oneTimePrekeys) otks.set(id, pub);
        user.set(deviceId, { keys: k, otks: [...otks.entries()].sort((a, b) => a[0] - b[0]) });
      },
      countOneTimePrekeys: async () => this.devices.get(userId)?.get(deviceId)?.otks.length ?? 0,
      listDevices: async (user) => [...(this.devices.get(user) ?? new Map<string, Stored>()).entries()].map(([d, s]) => this.bundle(user, d, s, false)),
      claimBundle: async (user, device) => {
        const s = this.devices.get(user)?.get(device);
        if (!s) throw new E2eeError('not_found', 'no keys');
        return this.bundle(user, device, s, true);
      },
      sendToDevice: async (messages) => {
        if (this.failSend) throw new E2eeError('unavailable', 'send failed');
        for (const [u, devs] of Object.entries(messages))
          for (const [d, body] of Object.entries(devs)) {
            const k = `${u}\n${d}`;
            if (!this.inbox.has(k)) this.inbox.set(k, []);
            this.inbox.get(k)!.push({ sender: userId, senderDevice: deviceId, body });
          }
      },
    };
  }

  take(userId: string, deviceId: string) {
    const k = `${userId}\n${deviceId}`;
    const out = this.inbox.get(k) ?? [];
    this.inbox.set(k, []);
    return out;
  }

  private bundle(user: string, device: string, s: Stored, claim: boolean): PrekeyBundle {
    const b: PrekeyBundle = {
      userId: user,
      deviceId: device,
      identityKey: s.keys.identityKey,
      signingKey: s.keys.signingKey,
      signedPrekeyId: s.keys.signedPrekeyId,
      signedPrekey: s.keys.signedPrekey,
      signedPrekeySignature: s.keys.signedPrekeySignature,
    };
    if (claim && s.otks.length) {
      const [id, pub] = s.otks.shift()!;
      b.oneTimePrekeyId = id;
      b.oneTimePrekey = pub;
    }
    return b;
  }
}
