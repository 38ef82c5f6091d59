// The engine's stored records: kinds, ids and binary layouts, the same as src/sdk/e2ee/records.cc
// (all start with version byte 0x01). Parsers reject anything malformed with `internal`.
import { type Bytes, ByteReader, ByteWriter, fromUtf8, utf8 } from './bytes';
import { E2eeError, fail } from './errors';
import { type RatchetState, parseRatchet, serializeRatchet } from './ratchet';
import { CHAIN_ID_BYTES, MAX_ID_BYTES, type SenderChain, parseSenderChain, serializeSenderChain } from './senderKey';

export const KIND_META = 'e2ee_meta';
export const KIND_SIGNED_PREKEY = 'e2ee_spk';
export const KIND_ONE_TIME_PREKEY = 'e2ee_otk';
export const KIND_SESSION = 'e2ee_session';
export const KIND_PEER_IDENTITY = 'e2ee_peer';
export const KIND_SENDER_CHAIN = 'e2ee_chain';
export const KIND_SENDER_RECEIVER = 'e2ee_recv';
export const KIND_SEARCH_KEY = 'e2ee_search';
export const KIND_RECEIVER_INDEX = 'e2ee_recv_index';

const VERSION = 1;
export const MAX_SESSIONS_PER_DEVICE = 4;
export const MAX_CHAINS_PER_SENDER_DEVICE = 16;

const corrupt = (what: string): never => fail('internal', `e2ee state corrupt: ${what}`);

export const keyIdName = (id: number): string => String(id).padStart(20, '0');

export interface MetaRecord {
  identitySeed: Bytes;
  nextOneTimePrekeyId: number;
  nextSignedPrekeyId: number;
  publishedOtkBelow: number;
  published: boolean;
}

export function encodeMeta(m: MetaRecord): Bytes {
  return new ByteWriter().u8(VERSION).raw(m.identitySeed).u64(m.nextOneTimePrekeyId).u64(m.nextSignedPrekeyId).u64(m.publishedOtkBelow).u8(m.published ? 1 : 0).take();
}

export function decodeMeta(b: Bytes): MetaRecord {
  const r = new ByteReader(b);
  if (r.u8() !== VERSION) corrupt('meta version');
  const m = { identitySeed: r.raw(32), nextOneTimePrekeyId: r.u64(), nextSignedPrekeyId: r.u64(), publishedOtkBelow: r.u64(), published: r.u8() === 1 };
  if (!r.atEnd()) corrupt('meta');
  return m;
}

export interface SignedPrekeyRecord {
  privateKey: Bytes;
  publicKey: Bytes;
  signature: Bytes;
  createdAt: number;
  retiredAt: number; // 0 = current
}

export function encodeSignedPrekey(s: SignedPrekeyRecord): Bytes {
  return new ByteWriter().u8(VERSION).raw(s.privateKey).raw(s.publicKey).raw(s.signature).u64(s.createdAt).u64(s.retiredAt).take();
}

export function decodeSignedPrekey(b: Bytes): SignedPrekeyRecord {
  const r = new ByteReader(b);
  if (r.u8() !== VERSION) corrupt('spk version');
  const s = { privateKey: r.raw(32), publicKey: r.raw(32), signature: r.raw(64), createdAt: r.u64(), retiredAt: r.u64() };
  if (!r.atEnd()) corrupt('spk');
  return s;
}

export const encodeOneTimePrekey = (privateKey: Bytes, publicKey: Bytes): Bytes => new ByteWriter().u8(1).raw(privateKey).raw(publicKey).take();

export function decodeOneTimePrekey(b: Bytes): { privateKey: Bytes; publicKey: Bytes } {
  if (b.length !== 65 || b[0] !== 1) corrupt('otk');
  return { privateKey: b.slice(1, 33), publicKey: b.slice(33, 65) };
}

export interface Session {
  peerSigningKey: Bytes;
  baseKey: Bytes; // the initiator's X3DH ephemeral public key
  pendingPrekey: boolean;
  signedPrekeyId: number;
  oneTimePrekeyId?: number;
  ratchet: RatchetState;
}

export function encodeSessions(list: Session[]): Bytes {
  const w = new ByteWriter().u8(VERSION).u8(list.length);
  for (const s of list) {
    w.raw(s.peerSigningKey).raw(s.baseKey).u8(s.pendingPrekey ? 1 : 0).u64(s.signedPrekeyId);
    w.u8(s.oneTimePrekeyId !== undefined ? 1 : 0).u64(s.oneTimePrekeyId ?? 0);
    w.str32(serializeRatchet(s.ratchet));
  }
  return w.take();
}

export function decodeSessions(b: Bytes): Session[] {
  const r = new ByteReader(b);
  if (r.u8() !== VERSION) corrupt('session version');
  const n = r.u8();
  if (n > MAX_SESSIONS_PER_DEVICE) corrupt('session count');
  const out: Session[] = [];
  for (let i = 0; i < n && r.ok; i++) {
    const peerSigningKey = r.raw(32);
    const baseKey = r.raw(32);
    const pendingPrekey = r.u8() === 1;
    const signedPrekeyId = r.u64();
    const hasOtk = r.u8() === 1;
    const otk = r.u64();
    const ratchetBytes = r.str32(1 << 20);
    if (!r.ok) break;
    let ratchet: RatchetState;
    try {
      ratchet = parseRatchet(ratchetBytes);
    } catch (e) {
      if (e instanceof E2eeError) return corrupt('ratchet');
      throw e;
    }
    out.push({ peerSigningKey, baseKey, pendingPrekey, signedPrekeyId, oneTimePrekeyId: hasOtk ? otk : undefined, ratchet });
  }
  if (!r.atEnd()) corrupt('session');
  return out;
}

/** A device that received a chain: user, device and its signing key at that time. */
export interface Holder {
  userId: string;
  deviceId: string;
  signingKey: Bytes;
}
export const holderKey = (h: Holder): string => `${h.userId}\n${h.deviceId}\n${Array.from(h.signingKey).join(',')}`;

export interface OwnChainRecord {
  chain: SenderChain;
  recipients: Holder[];
}

export function encodeOwnChain(c: OwnChainRecord): Bytes {
  // Sorted like std::set<tuple<string,string,string>> (bytewise), so the bytes match the C++ engine.
  const sorted = c.recipients.slice().sort((a, b) => cmpBytes(utf8(a.userId), utf8(b.userId)) || cmpBytes(utf8(a.deviceId), utf8(b.deviceId)) || cmpBytes(a.signingKey, b.signingKey));
  const w = new ByteWriter().u8(VERSION).str32(serializeSenderChain(c.chain)).u32(sorted.length);
  for (const h of sorted) w.str16(utf8(h.userId)).str16(utf8(h.deviceId)).str16(h.signingKey);
  return w.take();
}

function cmpBytes(a: Bytes, b: Bytes): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function decodeOwnChain(b: Bytes): OwnChainRecord {
  const r = new ByteReader(b);
  if (r.u8() !== VERSION) corrupt('chain version');
  const raw = r.str32(4096);
  if (!r.ok) corrupt('chain');
  let chain: SenderChain;
  try {
    chain = parseSenderChain(raw);
  } catch {
    return corrupt('chain');
  }
  const n = r.u32();
  const recipients: Holder[] = [];
  for (let i = 0; i < n && r.ok; i++) {
    const userId = fromUtf8(r.str16(MAX_ID_BYTES));
    const deviceId = fromUtf8(r.str16(MAX_ID_BYTES));
    const signingKey = r.str16(32);
    recipients.push({ userId, deviceId, signingKey });
  }
  if (!r.atEnd()) corrupt('chain recipients');
  return { chain, recipients };
}

export function encodeChainIndex(ids: Bytes[]): Bytes {
  const w = new ByteWriter().u8(VERSION).u8(ids.length);
  for (const id of ids) w.raw(id);
  return w.take();
}

export function decodeChainIndex(b: Bytes): Bytes[] {
  const r = new ByteReader(b);
  if (r.u8() !== VERSION) corrupt('chain index version');
  const n = r.u8();
  if (n > MAX_CHAINS_PER_SENDER_DEVICE) corrupt('chain index count');
  const ids: Bytes[] = [];
  for (let i = 0; i < n && r.ok; i++) ids.push(r.raw(CHAIN_ID_BYTES));
  if (!r.atEnd()) corrupt('chain index');
  return ids;
}

export interface SearchKeyRecord {
  enabled: boolean;
  epoch: number;
  key: Bytes; // empty = none known
}

export const encodeSearchKey = (s: SearchKeyRecord): Bytes => new ByteWriter().u8(VERSION).u8(s.enabled ? 1 : 0).u32(s.epoch).str16(s.key).take();

export function decodeSearchKey(b: Bytes): SearchKeyRecord {
  const r = new ByteReader(b);
  if (r.u8() !== VERSION) corrupt('search key version');
  const s = { enabled: r.u8() === 1, epoch: r.u32(), key: r.str16(32) };
  if (!r.atEnd()) corrupt('search key');
  return s;
}
