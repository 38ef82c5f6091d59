// The engine's ports (twin of src/sdk/e2ee/ports.h), asynchronous in the browser.
import type { Bytes } from '../protocol/bytes';

/** One device's public keys as GET /v1/keys/{user_id} serves them (base64 strings). */
export interface PrekeyBundle {
  userId: string;
  deviceId: string;
  identityKey: string;
  signingKey: string;
  signedPrekeyId: number;
  signedPrekey: string;
  signedPrekeySignature: string;
  oneTimePrekeyId?: number;
  oneTimePrekey?: string;
}

export interface PublishedKeys {
  identityKey: string;
  signingKey: string;
  signedPrekeyId: number;
  signedPrekey: string;
  signedPrekeySignature: string;
  oneTimePrekeys: Array<[number, string]>;
}

/** The server's key directory and to-device queue. Errors are E2eeErrors (not_found, unavailable, …). */
export interface KeyDirectory {
  publish(keys: PublishedKeys): Promise<void>;
  countOneTimePrekeys(): Promise<number>;
  /** GET /v1/keys/{user}?claim=false: empty when none; not_found for an unknown user. */
  listDevices(userId: string): Promise<PrekeyBundle[]>;
  /** GET /v1/keys/{user}?device_id=D: claims one one-time prekey if any. */
  claimBundle(userId: string, deviceId: string): Promise<PrekeyBundle>;
  sendToDevice(messages: Record<string, Record<string, string>>): Promise<void>;
}

/**
 * Who belongs to a group conversation now, per the server (twin of ports.h ConversationMembers):
 * the engine accepts key material for a conversation only from its members. Direct conversations
 * need no call: their id names the pair (protocol/ids.ts).
 */
export interface ConversationMembers {
  /**
   * The current members' user ids of a group conversation. not_found (or forbidden) when this
   * user knows no such conversation or is not a member: the engine refuses the key material.
   * Other errors (unavailable, …) are transient: the caller retries later.
   */
  members(conversationId: string): Promise<string[]>;
}

export interface StateWrite {
  kind: string;
  id: string;
  value: Bytes | null; // null erases
}

/** Durable key/value storage for the engine's secrets; commit() is atomic. */
export interface StateStore {
  get(kind: string, id: string): Promise<Bytes | null>;
  /** Every (id, value) of one kind, ordered by id. */
  list(kind: string): Promise<Array<[string, Bytes]>>;
  commit(writes: StateWrite[]): Promise<void>;
}

export class MemoryStateStore implements StateStore {
  readonly data = new Map<string, Bytes>();
  commits = 0;
  failNextCommit = false;
  private static key = (kind: string, id: string) => `${kind}\u0000${id}`;
  async get(kind: string, id: string) {
    const v = this.data.get(MemoryStateStore.key(kind, id));
    return v ? v.slice() : null;
  }
  async list(kind: string) {
    const prefix = `${kind}\u0000`;
    const out: Array<[string, Bytes]> = [];
    for (const [k, v] of this.data) if (k.startsWith(prefix)) out.push([k.slice(prefix.length), v.slice()]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  async commit(writes: StateWrite[]) {
    if (this.failNextCommit) {
      this.failNextCommit = false;
      throw new Error('commit failed');
    }
    for (const w of writes) {
      const k = MemoryStateStore.key(w.kind, w.id);
      if (w.value) this.data.set(k, w.value.slice());
      else this.data.delete(k);
    }
    this.commits++;
  }
  snapshot(): string {
    return JSON.stringify([...this.data.entries()].map(([k, v]) => [k, Array.from(v)]).sort());
  }
}
