// The E2EE engine of one device: the TypeScript twin of src/sdk/e2ee/engine.{h,cc}, with the same
// state records, rules and error codes (docs/protocol.md). X3DH + Double Ratchet pairwise sessions
// carry Sender Key distributions; conversation messages are encrypted once with the device's
// sender key. Every change is one StateStore.commit, made only after every check succeeded.
// Calls are serialized internally (one at a time), like the C++ engine's single-thread contract.
import { type Bytes, compare, equal, fromBase64, toBase64, toHex, utf8 } from '../protocol/bytes';
import { E2eeError, fail } from '../protocol/errors';
import { decodeEnvelope, encodeEnvelope, type Envelope, MAX_ENVELOPE_BYTES } from '../protocol/envelope';
import { directConversationId } from '../protocol/ids';
import { type RandomFn, generateX25519, sha256, systemRandom, wipe } from '../protocol/primitives';
import { ratchetDecrypt, ratchetEncrypt, ratchetInitAlice, ratchetInitBob, type RatchetDecrypted } from '../protocol/ratchet';
import {
  KIND_META,
  KIND_ONE_TIME_PREKEY,
  KIND_PEER_IDENTITY,
  KIND_RECEIVER_INDEX,
  KIND_SEARCH_KEY,
  KIND_SENDER_CHAIN,
  KIND_SENDER_RECEIVER,
  KIND_SESSION,
  KIND_SIGNED_PREKEY,
  MAX_CHAINS_PER_SENDER_DEVICE,
  MAX_SESSIONS_PER_DEVICE,
  type Holder,
  type MetaRecord,
  type OwnChainRecord,
  type SearchKeyRecord,
  type Session,
  decodeChainIndex,
  decodeMeta,
  decodeOneTimePrekey,
  decodeOwnChain,
  decodeSearchKey,
  decodeSessions,
  decodeSignedPrekey,
  encodeChainIndex,
  encodeMeta,
  encodeOneTimePrekey,
  encodeOwnChain,
  encodeSearchKey,
  encodeSessions,
  encodeSignedPrekey,
  holderKey,
  keyIdName,
} from '../protocol/records';
import { safetyNumber as computeSafetyNumber } from '../protocol/safetyNumber';
import { searchTokens as computeTokens } from '../protocol/searchToken';
import {
  MAX_ID_BYTES,
  decodeDistribution,
  encodeDistribution,
  newSenderChain,
  parseSenderKeyHeader,
  parseSenderReceiver,
  senderKeyDecrypt,
  senderKeyEncrypt,
  serializeSenderReceiver,
  type SenderKeyDistribution,
} from '../protocol/senderKey';
import { type Bundle, checkBundle, identityFromSeed, signPrekey, x3dhInitiate, x3dhRespond } from '../protocol/x3dh';
import type { ConversationMembers, KeyDirectory, PrekeyBundle, StateStore, StateWrite } from './ports';

export const ENCRYPTION_E2EE_V1 = 'e2ee-v1';
const SELF = 'self';
const MAX_PUBLISH_BATCH = 200;
const MAX_BODY_BASE64 = 64 * 1024;
const MAX_TO_DEVICE_BASE64 = Math.floor((MAX_ENVELOPE_BYTES + 2) / 3) * 4;
const U32_MAX = 0xffffffff;
/**
 * Search-key epochs (a u32 on the wire; engine.h): the highest one issued or accepted is
 * MAX_SEARCH_EPOCH (2^32 - 1 is never valid, so no increment wraps; a rotation at it drops the
 * key), and a received epoch may lie at most MAX_SEARCH_EPOCH_STEP above the one held (0: none).
 */
export const MAX_SEARCH_EPOCH = U32_MAX - 1;
export const MAX_SEARCH_EPOCH_STEP = 2 ** 16;

export interface EngineOptions {
  random?: RandomFn;
  nowS?: () => number;
  initialOneTimePrekeys?: number;
  minOneTimePrekeys?: number;
  signedPrekeyRotationS?: number;
  oldSignedPrekeyKeepS?: number;
}

export interface KeyChange {
  userId: string;
  deviceId: string;
  oldSigningKey: string; // base64
  newSigningKey: string;
}

interface Device {
  userId: string;
  deviceId: string;
  bundle: PrekeyBundle;
}

const put = (kind: string, id: string, value: Bytes): StateWrite => ({ kind, id, value });
const erase = (kind: string, id: string): StateWrite => ({ kind, id, value: null });
const join = (...parts: string[]) => parts.join('\n');

function validId(id: string): boolean {
  return id.length > 0 && utf8(id).length <= MAX_ID_BYTES && !id.includes('\n');
}

function decodeKey(b64: string | undefined, len: number): Bytes | null {
  if (!b64) return null;
  const k = fromBase64(b64);
  return k && k.length === len ? k : null;
}

function decodeBundle(b: PrekeyBundle): Bundle {
  const sk = decodeKey(b.signingKey, 32);
  const ik = decodeKey(b.identityKey, 32);
  const spk = decodeKey(b.signedPrekey, 32);
  const sig = decodeKey(b.signedPrekeySignature, 64);
  if (!sk || !ik || !spk || !sig || !(b.signedPrekeyId >= 0)) fail('invalid_argument', 'malformed bundle');
  const out: Bundle = { signingKey: sk!, identityKey: ik!, signedPrekeyId: b.signedPrekeyId, signedPrekey: spk!, signedPrekeySignature: sig! };
  if (b.oneTimePrekeyId !== undefined && b.oneTimePrekey) {
    const otk = decodeKey(b.oneTimePrekey, 32);
    if (!otk || b.oneTimePrekeyId < 0) fail('invalid_argument', 'malformed bundle');
    out.oneTimePrekeyId = b.oneTimePrekeyId;
    out.oneTimePrekey = otk!;
  }
  return out;
}

const rank = (c: string) => (c === 'conflict' ? 3 : c === 'forbidden' ? 2 : c === 'invalid_argument' ? 1 : 0);

export class Engine {
  private readonly random: RandomFn;
  private readonly nowS: () => number;
  private readonly opts: Required<Omit<EngineOptions, 'random' | 'nowS'>>;
  private keyChanges: KeyChange[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly directory: KeyDirectory,
    private readonly members: ConversationMembers,
    readonly userId: string,
    readonly deviceId: string,
    options: EngineOptions = {},
  ) {
    this.random = options.random ?? systemRandom;
    this.nowS = options.nowS ?? (() => Math.floor(Date.now() / 1000));
    this.opts = {
      initialOneTimePrekeys: options.initialOneTimePrekeys ?? 100,
      minOneTimePrekeys: options.minOneTimePrekeys ?? 20,
      signedPrekeyRotationS: options.signedPrekeyRotationS ?? 7 * 86400,
      oldSignedPrekeyKeepS: options.oldSignedPrekeyKeepS ?? 30 * 86400,
    };
  }

  /** Runs `fn` after every earlier call finished (the engine is single-threaded by contract). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async loadMeta(): Promise<MetaRecord> {
    const raw = await this.store.get(KIND_META, SELF);
    if (!raw) return fail('internal', 'e2ee: call bootstrap first');
    return decodeMeta(raw);
  }

  signingKey(): Promise<string> {
    return this.serial(async () => toBase64(identityFromSeed((await this.loadMeta()).identitySeed).signingKey));
  }

  private async publishKeys(meta: MetaRecord, otks: Array<[number, Bytes]>): Promise<void> {
    let current: [number, ReturnType<typeof decodeSignedPrekey>] | null = null;
    for (const [id, raw] of await this.store.list(KIND_SIGNED_PREKEY)) {
      const rec = decodeSignedPrekey(raw);
      if (rec.retiredAt === 0) current = [Number(id), rec];
    }
    if (!current) fail('internal', 'e2ee: no current signed prekey');
    const identity = identityFromSeed(meta.identitySeed);
    let i = 0;
    do {
      const batch: Array<[number, string]> = [];
      for (; i < otks.length && batch.length < MAX_PUBLISH_BATCH; i++) batch.push([otks[i][0], toBase64(otks[i][1])]);
      await this.directory.publish({
        identityKey: toBase64(identity.identityKey),
        signingKey: toBase64(identity.signingKey),
        signedPrekeyId: current![0],
        signedPrekey: toBase64(current![1].publicKey),
        signedPrekeySignature: toBase64(current![1].signature),
        oneTimePrekeys: batch,
      });
    } while (i < otks.length);
  }

  /** Creates and publishes keys on first use; later: republish, replenish, rotate (engine.h). */
  bootstrap(): Promise<void> {
    return this.serial(async () => {
      const raw = await this.store.get(KIND_META, SELF);
      const now = this.nowS();
      const writes: StateWrite[] = [];
      let meta: MetaRecord;
      const newSignedPrekey = (m: MetaRecord) => {
        const kp = generateX25519(this.random);
        const rec = { privateKey: kp.privateKey, publicKey: kp.publicKey, signature: signPrekey(m.identitySeed, kp.publicKey), createdAt: now, retiredAt: 0 };
        writes.push(put(KIND_SIGNED_PREKEY, keyIdName(m.nextSignedPrekeyId++), encodeSignedPrekey(rec)));
        m.published = false;
      };
      const newOneTimePrekeys = (m: MetaRecord, n: number) => {
        for (let i = 0; i < n; i++) {
          const kp = generateX25519(this.random);
          writes.push(put(KIND_ONE_TIME_PREKEY, keyIdName(m.nextOneTimePrekeyId++), encodeOneTimePrekey(kp.privateKey, kp.publicKey)));
        }
      };
      if (!raw) {
        meta = { identitySeed: this.random(32), nextOneTimePrekeyId: 1, nextSignedPrekeyId: 1, publishedOtkBelow: 1, published: false };
        newSignedPrekey(meta);
        newOneTimePrekeys(meta, this.opts.initialOneTimePrekeys);
      } else {
        meta = decodeMeta(raw);
        if (meta.published && meta.publishedOtkBelow === meta.nextOneTimePrekeyId) {
          const count = await this.directory.countOneTimePrekeys();
          if (count < this.opts.minOneTimePrekeys) newOneTimePrekeys(meta, this.opts.initialOneTimePrekeys - count);
        }
        for (const [id, value] of await this.store.list(KIND_SIGNED_PREKEY)) {
          const rec = decodeSignedPrekey(value);
          if (rec.retiredAt === 0 && rec.createdAt + this.opts.signedPrekeyRotationS <= now) {
            rec.retiredAt = now;
            writes.push(put(KIND_SIGNED_PREKEY, id, encodeSignedPrekey(rec)));
            newSignedPrekey(meta);
          } else if (rec.retiredAt !== 0 && rec.retiredAt + this.opts.oldSignedPrekeyKeepS <= now) {
            writes.push(erase(KIND_SIGNED_PREKEY, id));
          }
        }
      }
      const mustPublish = !meta.published || meta.publishedOtkBelow !== meta.nextOneTimePrekeyId;
      if (!writes.length && !mustPublish) return;
      writes.push(put(KIND_META, SELF, encodeMeta(meta)));
      await this.store.commit(writes);
      if (!mustPublish) return;
      const otks: Array<[number, Bytes]> = [];
      for (const [id, value] of await this.store.list(KIND_ONE_TIME_PREKEY)) {
        const keyId = Number(id);
        if (keyId < meta.publishedOtkBelow) continue;
        otks.push([keyId, decodeOneTimePrekey(value).publicKey]);
      }
      await this.publishKeys(meta, otks);
      meta.published = true;
      meta.publishedOtkBelow = meta.nextOneTimePrekeyId;
      await this.store.commit([put(KIND_META, SELF, encodeMeta(meta))]);
    });
  }

  private async memberDevices(users: string[]): Promise<Device[]> {
    const out: Device[] = [];
    for (const user of users) {
      for (const b of await this.directory.listDevices(user)) {
        if (user === this.userId && b.deviceId === this.deviceId) continue;
        if (!validId(b.deviceId)) continue;
        try {
          checkBundle(decodeBundle(b));
        } catch {
          continue; // only devices whose listed keys check out can receive the sender key
        }
        out.push({ userId: user, deviceId: b.deviceId, bundle: b });
      }
    }
    return out;
  }

  private async observeSigningKey(user: string, device: string, signingKey: Bytes, writes: StateWrite[]): Promise<boolean> {
    const id = join(user, device);
    const known = await this.store.get(KIND_PEER_IDENTITY, id);
    if (known && equal(known, signingKey)) return false;
    writes.push(put(KIND_PEER_IDENTITY, id, signingKey));
    if (known) {
      this.keyChanges.push({ userId: user, deviceId: device, oldSigningKey: toBase64(known), newSigningKey: toBase64(signingKey) });
      return true;
    }
    return false;
  }

  private async loadSessions(user: string, device: string): Promise<Session[]> {
    const raw = await this.store.get(KIND_SESSION, join(user, device));
    return raw ? decodeSessions(raw) : [];
  }

  private async startSession(meta: MetaRecord, device: Device): Promise<Session> {
    const claimed = await this.directory.claimBundle(device.userId, device.deviceId);
    const bundle = decodeBundle(claimed);
    if (claimed.signingKey !== device.bundle.signingKey) fail('forbidden', 'e2ee: claimed bundle has another signing key');
    const me = identityFromSeed(meta.identitySeed);
    const ephemeral = generateX25519(this.random);
    const x = x3dhInitiate(me, bundle, ephemeral);
    const ratchet = ratchetInitAlice(x.sharedSecret, bundle.signedPrekey, this.random, x.associatedData);
    wipe(x.sharedSecret);
    return {
      peerSigningKey: bundle.signingKey,
      baseKey: ephemeral.publicKey,
      pendingPrekey: true,
      signedPrekeyId: bundle.signedPrekeyId,
      oneTimePrekeyId: bundle.oneTimePrekeyId,
      ratchet,
    };
  }

  private sealToDevice(session: Session, meta: MetaRecord, payload: Bytes): string {
    const enc = ratchetEncrypt(session.ratchet, payload);
    session.ratchet = enc.state;
    const env: Envelope = { header: enc.header, ciphertext: enc.ciphertext };
    if (session.pendingPrekey) {
      env.prekey = {
        signingKey: identityFromSeed(meta.identitySeed).signingKey,
        ephemeral: session.baseKey,
        signedPrekeyId: session.signedPrekeyId,
        oneTimePrekeyId: session.oneTimePrekeyId,
      };
    }
    return toBase64(encodeEnvelope(env));
  }

  private async loadSearchKey(conversationId: string): Promise<SearchKeyRecord> {
    const raw = await this.store.get(KIND_SEARCH_KEY, conversationId);
    return raw ? decodeSearchKey(raw) : { enabled: false, epoch: 0, key: new Uint8Array(0) };
  }

  /**
   * Encrypts `plaintext` for a conversation whose members are `memberUserIds` (own user added);
   * opens sessions, rotates and distributes the sender key as needed (engine.h). Returns the
   * base64 body to send with encryption "e2ee-v1".
   */
  encryptMessage(conversationId: string, memberUserIds: string[], plaintext: Bytes): Promise<string> {
    return this.serial(async () => {
      if (!validId(conversationId)) fail('invalid_argument', 'e2ee: bad conversation id');
      for (const u of memberUserIds) if (!validId(u)) fail('invalid_argument', 'e2ee: bad user id');
      if (Math.floor((plaintext.length + 101 + 2) / 3) * 4 > MAX_BODY_BASE64) fail('payload_too_large', 'e2ee: message too large');
      const meta = await this.loadMeta();
      const users = [...new Set([...memberUserIds, this.userId])].sort((a, b) => compare(utf8(a), utf8(b)));
      const devices = await this.memberDevices(users);

      const writes: StateWrite[] = [];
      const current = new Set<string>();
      const changed = new Set<string>();
      for (const d of devices) {
        const sk = fromBase64(d.bundle.signingKey)!;
        if (await this.observeSigningKey(d.userId, d.deviceId, sk, writes)) changed.add(join(d.userId, d.deviceId));
        current.add(holderKey({ userId: d.userId, deviceId: d.deviceId, signingKey: sk }));
      }
      const rawChain = await this.store.get(KIND_SENDER_CHAIN, conversationId);
      let chain: OwnChainRecord | null = rawChain ? decodeOwnChain(rawChain) : null;
      let rotate = !chain || chain.chain.iteration === U32_MAX;
      if (chain) for (const r of chain.recipients) if (!current.has(holderKey(r))) rotate = true;
      const search = await this.loadSearchKey(conversationId);
      if (rotate) {
        if (chain && search.key.length) {
          // The search key leaves with the member. At the last epoch there is no next one: the
          // key is dropped (tokens stop) rather than kept or wrapped to an epoch everyone refuses.
          if (search.epoch >= MAX_SEARCH_EPOCH) {
            search.key = new Uint8Array(0);
          } else {
            search.key = this.random(32);
            search.epoch++;
          }
          writes.push(put(KIND_SEARCH_KEY, conversationId, encodeSearchKey(search)));
        }
        chain = { chain: newSenderChain(this.random), recipients: [] };
      }
      const own = chain!;
      const dist: SenderKeyDistribution = {
        conversationId,
        chainId: own.chain.chainId,
        iteration: own.chain.iteration,
        chainKey: own.chain.chainKey,
        signingPublic: own.chain.signingPublic,
      };
      if (search.key.length) dist.searchKey = { epoch: search.epoch, key: search.key };
      const payload = encodeDistribution(dist);

      const held = new Set(own.recipients.map(holderKey));
      const toSend: Record<string, Record<string, string>> = {};
      const newly: Holder[] = [];
      for (const d of devices) {
        const holder: Holder = { userId: d.userId, deviceId: d.deviceId, signingKey: fromBase64(d.bundle.signingKey)! };
        if (held.has(holderKey(holder))) continue;
        let sessions: Session[] = [];
        if (!changed.has(join(d.userId, d.deviceId))) {
          sessions = await this.loadSessions(d.userId, d.deviceId);
          if (sessions.length && !equal(sessions[0].peerSigningKey, holder.signingKey)) sessions = [];
        }
        if (!sessions.length) {
          try {
            sessions.unshift(await this.startSession(meta, d));
          } catch (e) {
            const c = e instanceof E2eeError ? e.code : 'other';
            if (c === 'not_found' || c === 'forbidden' || c === 'invalid_argument') continue; // no usable bundle
            throw e;
          }
        }
        const sealed = this.sealToDevice(sessions[0], meta, payload);
        if (sessions.length > MAX_SESSIONS_PER_DEVICE) sessions.length = MAX_SESSIONS_PER_DEVICE;
        writes.push(put(KIND_SESSION, join(d.userId, d.deviceId), encodeSessions(sessions)));
        (toSend[d.userId] ??= {})[d.deviceId] = sealed;
        newly.push(holder);
      }
      wipe(payload);
      if (Object.keys(toSend).length) {
        // Sessions advance before their ciphertext leaves, so no message key is ever used twice.
        writes.push(put(KIND_SENDER_CHAIN, conversationId, encodeOwnChain(own)));
        await this.store.commit(writes.splice(0));
        await this.directory.sendToDevice(toSend);
      }
      const enc = senderKeyEncrypt(own.chain, { conversationId, senderUserId: this.userId, senderDeviceId: this.deviceId }, plaintext);
      own.chain = enc.chain;
      own.recipients.push(...newly);
      writes.push(put(KIND_SENDER_CHAIN, conversationId, encodeOwnChain(own)));
      await this.store.commit(writes);
      return toBase64(enc.message);
    });
  }

  /** Decrypts a conversation message; not_found when the sender key has not arrived yet. */
  decryptMessage(conversationId: string, senderUserId: string, senderDeviceId: string, body: string): Promise<Bytes> {
    return this.serial(async () => {
      if (!validId(conversationId) || !validId(senderUserId) || !validId(senderDeviceId)) fail('invalid_argument', 'e2ee: bad id');
      if (body.length > MAX_BODY_BASE64 * 2) fail('invalid_argument', 'e2ee: body too large');
      const message = fromBase64(body);
      if (!message) return fail('invalid_argument', 'e2ee: body is not base64');
      const header = parseSenderKeyHeader(message);
      const id = join(conversationId, senderUserId, senderDeviceId, toHex(header.chainId));
      const raw = await this.store.get(KIND_SENDER_RECEIVER, id);
      if (!raw) return fail('not_found', 'e2ee: no sender key yet');
      let receiver;
      try {
        receiver = parseSenderReceiver(raw);
      } catch {
        return fail('internal', 'e2ee state corrupt: receiver');
      }
      const dec = senderKeyDecrypt(receiver, { conversationId, senderUserId, senderDeviceId }, message);
      await this.store.commit([put(KIND_SENDER_RECEIVER, id, serializeSenderReceiver(dec.receiver))]);
      return dec.plaintext;
    });
  }

  /**
   * Key material for a conversation comes only from a member's device whose listed signing key is
   * the session's (engine.h HandleToDevice): else forbidden, logged. Outages pass through.
   */
  private async authorizeKeySender(conversationId: string, senderUser: string, senderDevice: string, sessionSigningKey: Bytes): Promise<void> {
    const refuse = (reason: string): never => {
      console.warn('e2ee: key material refused', { conversationId, senderUserId: senderUser, senderDeviceId: senderDevice, reason });
      return fail('forbidden', `e2ee: key material refused: ${reason}`);
    };
    if (senderUser !== this.userId && conversationId !== directConversationId(this.userId, senderUser)) {
      let members: string[];
      try {
        members = await this.members.members(conversationId);
      } catch (e) {
        if (e instanceof E2eeError && (e.code === 'not_found' || e.code === 'forbidden')) return refuse('not a conversation of this user');
        throw e;
      }
      if (!members.includes(this.userId)) refuse('not a conversation of this user');
      if (!members.includes(senderUser)) refuse('the sender is not a member of the conversation');
    }
    let listed: PrekeyBundle[];
    try {
      listed = await this.directory.listDevices(senderUser);
    } catch (e) {
      if (e instanceof E2eeError && e.code === 'not_found') return refuse('the sender has no devices');
      throw e;
    }
    const device = listed.find((b) => b.deviceId === senderDevice);
    if (!device) return refuse('the sender device is not listed for its user');
    const key = decodeKey(device.signingKey, 32);
    if (!key || !equal(key, sessionSigningKey)) refuse("the session's identity is not the device's listed key");
  }

  private async applyPayload(senderUser: string, senderDevice: string, sessionSigningKey: Bytes, payload: Bytes, writes: StateWrite[]): Promise<void> {
    const dist = decodeDistribution(payload);
    if (!validId(dist.conversationId)) fail('invalid_argument', 'e2ee: bad conversation id');
    await this.authorizeKeySender(dist.conversationId, senderUser, senderDevice, sessionSigningKey);
    let search: SearchKeyRecord | null = null;
    if (dist.searchKey) {
      // Checked before anything is written: all of the payload or none.
      const held = await this.loadSearchKey(dist.conversationId);
      const epoch = dist.searchKey.epoch;
      if (epoch > MAX_SEARCH_EPOCH || epoch > held.epoch + MAX_SEARCH_EPOCH_STEP) {
        console.warn('e2ee: search key epoch refused', { conversationId: dist.conversationId, senderUserId: senderUser, senderDeviceId: senderDevice, epoch, heldEpoch: held.epoch });
        fail('forbidden', 'e2ee: search key epoch out of bounds');
      }
      search = held;
    }
    const owner = join(dist.conversationId, senderUser, senderDevice);
    const id = `${owner}\n${toHex(dist.chainId)}`;
    if (!(await this.store.get(KIND_SENDER_RECEIVER, id))) {
      const rawIndex = await this.store.get(KIND_RECEIVER_INDEX, owner);
      const index = rawIndex ? decodeChainIndex(rawIndex) : [];
      index.push(dist.chainId);
      if (index.length > MAX_CHAINS_PER_SENDER_DEVICE) {
        writes.push(erase(KIND_SENDER_RECEIVER, `${owner}\n${toHex(index[0])}`));
        index.shift();
      }
      writes.push(put(KIND_RECEIVER_INDEX, owner, encodeChainIndex(index)));
      writes.push(put(KIND_SENDER_RECEIVER, id, serializeSenderReceiver({ chainId: dist.chainId, iteration: dist.iteration, chainKey: dist.chainKey, signingPublic: dist.signingPublic, skipped: [] })));
    }
    if (search && dist.searchKey) {
      const { epoch, key } = dist.searchKey;
      // Concurrent creations converge: the higher epoch wins, then the smaller SHA-256. An epoch
      // below the held one never wins, even when no key is held (one dropped at MAX_SEARCH_EPOCH).
      const adopt = epoch > search.epoch || (epoch === search.epoch && (!search.key.length || compare(sha256(key), sha256(search.key)) < 0));
      if (adopt && !equal(key, search.key)) {
        search.key = key;
        search.epoch = epoch;
        writes.push(put(KIND_SEARCH_KEY, dist.conversationId, encodeSearchKey(search)));
      }
    }
  }

  /**
   * Processes one to-device message (a pairwise envelope carrying a sender key distribution).
   * Its key material is applied only from a verified device of a member of its conversation,
   * with a bounded search-key epoch (engine.h); else forbidden and nothing is committed.
   */
  handleToDevice(senderUserId: string, senderDeviceId: string, body: string): Promise<void> {
    return this.serial(async () => {
      if (!validId(senderUserId) || !validId(senderDeviceId)) fail('invalid_argument', 'e2ee: bad id');
      if (body.length > MAX_TO_DEVICE_BASE64) fail('invalid_argument', 'e2ee: to-device body too large');
      const raw = fromBase64(body);
      if (!raw) return fail('invalid_argument', 'e2ee: to-device body is not base64');
      const env = decodeEnvelope(raw);
      const meta = await this.loadMeta();
      let sessions = await this.loadSessions(senderUserId, senderDeviceId);
      const writes: StateWrite[] = [];
      let dec: RatchetDecrypted | null = null;
      let used = 0;
      let only = -1;
      let fresh = false;
      if (env.prekey) {
        sessions.forEach((s, i) => {
          if (equal(s.baseKey, env.prekey!.ephemeral)) only = i;
        });
        if (only >= 0 && !equal(sessions[only].peerSigningKey, env.prekey.signingKey)) fail('forbidden', 'e2ee: prekey message from another identity');
        if (only < 0) fresh = true;
      }
      if (fresh) {
        const p = env.prekey!;
        const spkRaw = await this.store.get(KIND_SIGNED_PREKEY, keyIdName(p.signedPrekeyId));
        if (!spkRaw) fail('not_found', 'e2ee: unknown signed prekey');
        const spk = decodeSignedPrekey(spkRaw!);
        let otkPrivate: Bytes | null = null;
        if (p.oneTimePrekeyId !== undefined) {
          const otkRaw = await this.store.get(KIND_ONE_TIME_PREKEY, keyIdName(p.oneTimePrekeyId));
          if (!otkRaw) fail('not_found', 'e2ee: one-time prekey unknown or already used');
          otkPrivate = decodeOneTimePrekey(otkRaw!).privateKey;
        }
        const me = identityFromSeed(meta.identitySeed);
        const x = x3dhRespond(me, spk.privateKey, otkPrivate, p.signingKey, p.ephemeral);
        const initial = ratchetInitBob(x.sharedSecret, { publicKey: spk.publicKey, privateKey: spk.privateKey }, x.associatedData);
        const r = ratchetDecrypt(initial, env.header, env.ciphertext, this.random);
        if (await this.observeSigningKey(senderUserId, senderDeviceId, p.signingKey, writes)) sessions = [];
        sessions.unshift({
          peerSigningKey: p.signingKey,
          baseKey: p.ephemeral,
          pendingPrekey: false,
          signedPrekeyId: p.signedPrekeyId,
          oneTimePrekeyId: p.oneTimePrekeyId,
          ratchet: initial,
        });
        if (p.oneTimePrekeyId !== undefined) writes.push(erase(KIND_ONE_TIME_PREKEY, keyIdName(p.oneTimePrekeyId)));
        dec = r;
        used = 0;
      } else {
        let best: E2eeError | null = null;
        for (let i = 0; i < sessions.length && !dec; i++) {
          if (only >= 0 && i !== only) continue;
          try {
            dec = ratchetDecrypt(sessions[i].ratchet, env.header, env.ciphertext, this.random);
            used = i;
          } catch (e) {
            if (!(e instanceof E2eeError)) throw e;
            if (!best || rank(e.code) > rank(best.code)) best = e;
          }
        }
        if (!dec) {
          if (best) throw best;
          fail('not_found', 'e2ee: no session with this device');
        }
      }
      const s = sessions.splice(used, 1)[0];
      s.ratchet = dec!.state;
      s.pendingPrekey = false; // the peer has answered on this session
      sessions.unshift(s);
      if (sessions.length > MAX_SESSIONS_PER_DEVICE) sessions.length = MAX_SESSIONS_PER_DEVICE;
      await this.applyPayload(senderUserId, senderDeviceId, sessions[0].peerSigningKey, dec!.plaintext, writes);
      writes.push(put(KIND_SESSION, join(senderUserId, senderDeviceId), encodeSessions(sessions)));
      await this.store.commit(writes);
    });
  }

  /** The 60-digit safety number over the device signing keys the directory lists now. */
  safetyNumber(peerUserId: string): Promise<string> {
    return this.serial(async () => {
      if (!validId(peerUserId)) fail('invalid_argument', 'e2ee: bad user id');
      const keysOf = async (user: string) =>
        (await this.directory.listDevices(user)).map((b) => decodeKey(b.signingKey, 32)).filter((k): k is Bytes => k !== null);
      const mine = await keysOf(this.userId);
      const theirs = await keysOf(peerUserId);
      return computeSafetyNumber(mine, this.userId, theirs, peerUserId);
    });
  }

  takeKeyChanges(): KeyChange[] {
    const out = this.keyChanges;
    this.keyChanges = [];
    return out;
  }

  setSearchEnabled(conversationId: string, enabled: boolean): Promise<void> {
    return this.serial(async () => {
      if (!validId(conversationId)) fail('invalid_argument', 'e2ee: bad conversation id');
      const search = await this.loadSearchKey(conversationId);
      const writes: StateWrite[] = [];
      if (enabled && !search.key.length) {
        search.key = this.random(32);
        writes.push(erase(KIND_SENDER_CHAIN, conversationId)); // redistributes with the key
      }
      search.enabled = enabled;
      writes.push(put(KIND_SEARCH_KEY, conversationId, encodeSearchKey(search)));
      await this.store.commit(writes);
    });
  }

  searchEnabled(conversationId: string): Promise<boolean> {
    return this.serial(async () => (await this.loadSearchKey(conversationId)).enabled);
  }

  searchTokens(conversationId: string, text: string): Promise<string[]> {
    return this.serial(async () => {
      const s = await this.loadSearchKey(conversationId);
      if (!s.enabled || !s.key.length) return [];
      return computeTokens(s.key, text);
    });
  }
}
