// Sender Keys: docs/protocol.md §6; twin of src/sdk/crypto/sender_key.cc.
import { type Bytes, ByteReader, ByteWriter, concat, equal, utf8 } from './bytes';
import { fail } from './errors';
import { AEAD_TAG_BYTES, type RandomFn, SIGNATURE_BYTES, aeadDecrypt, aeadEncrypt, ed25519FromSeed, ed25519Sign, ed25519Verify } from './primitives';
import { kdfCk, messageKeyToAead } from './ratchet';

export const SENDER_KEY_MESSAGE_INFO = 'parley.sender-key.message.v1';
export const SENDER_KEY_VERSION = 1;
export const CHAIN_ID_BYTES = 16;
export const MAX_SENDER_KEY_SKIP = 1000;
export const MAX_SENDER_KEY_SKIPPED = 2000;
export const MAX_ID_BYTES = 256;
export const MAX_SENDER_KEY_MESSAGE_BYTES = 64 * 1024;
const DISTRIBUTION_TYPE = 1;
const STATE_VERSION = 1;
const MESSAGE_OVERHEAD = 1 + CHAIN_ID_BYTES + 4 + AEAD_TAG_BYTES + SIGNATURE_BYTES;
const U32_MAX = 0xffffffff;

export interface SenderKeyContext {
  conversationId: string;
  senderUserId: string;
  senderDeviceId: string;
}

export interface SenderChain {
  chainId: Bytes;
  iteration: number; // of the next message
  chainKey: Bytes;
  signingSeed: Bytes;
  signingPublic: Bytes;
}

export interface SenderReceiver {
  chainId: Bytes;
  iteration: number;
  chainKey: Bytes;
  signingPublic: Bytes;
  skipped: Array<[number, Bytes]>; // oldest first
}

export function newSenderChain(random: RandomFn): SenderChain {
  const chainId = random(CHAIN_ID_BYTES);
  const chainKey = random(32);
  const signingSeed = random(32);
  return { chainId, iteration: 0, chainKey, signingSeed, signingPublic: ed25519FromSeed(signingSeed).publicKey };
}

export function senderKeyAd(ctx: SenderKeyContext, chainId: Bytes, iteration: number): Bytes {
  return new ByteWriter()
    .u8(SENDER_KEY_VERSION)
    .str16(utf8(ctx.conversationId))
    .str16(utf8(ctx.senderUserId))
    .str16(utf8(ctx.senderDeviceId))
    .raw(chainId)
    .u32(iteration)
    .take();
}

function checkIds(ctx: SenderKeyContext): void {
  for (const id of [ctx.conversationId, ctx.senderUserId, ctx.senderDeviceId]) {
    if (utf8(id).length > MAX_ID_BYTES) fail('invalid_argument', 'sender key: id too long');
  }
}

export function senderKeyEncrypt(chain: SenderChain, ctx: SenderKeyContext, plaintext: Bytes): { chain: SenderChain; message: Bytes; mk: Bytes } {
  checkIds(ctx);
  if (plaintext.length + MESSAGE_OVERHEAD > MAX_SENDER_KEY_MESSAGE_BYTES) fail('payload_too_large', 'sender key: message too large');
  if (chain.iteration === U32_MAX) fail('internal', 'chain exhausted');
  const step = kdfCk(chain.chainKey);
  const iteration = chain.iteration;
  const next = { ...chain, chainKey: step.ck, iteration: iteration + 1 };
  const ad = senderKeyAd(ctx, chain.chainId, iteration);
  const k = messageKeyToAead(step.mk, SENDER_KEY_MESSAGE_INFO);
  const ct = aeadEncrypt(k.key, k.nonce, plaintext, ad);
  const message = new ByteWriter()
    .u8(SENDER_KEY_VERSION)
    .raw(chain.chainId)
    .u32(iteration)
    .raw(ct)
    .raw(ed25519Sign(chain.signingSeed, concat(ad, ct)))
    .take();
  return { chain: next, message, mk: step.mk };
}

export function parseSenderKeyHeader(message: Bytes): { chainId: Bytes; iteration: number } {
  if (message.length > MAX_SENDER_KEY_MESSAGE_BYTES) fail('invalid_argument', 'sender key: too long');
  if (message.length === 0 || message[0] !== SENDER_KEY_VERSION) fail('invalid_argument', 'sender key: unknown version');
  if (message.length < MESSAGE_OVERHEAD) fail('invalid_argument', 'sender key: truncated');
  const r = new ByteReader(message.subarray(1));
  return { chainId: r.raw(CHAIN_ID_BYTES), iteration: r.u32() };
}

/** Errors: invalid_argument (malformed, another chain, too far ahead), forbidden (signature/AEAD), conflict (replay). */
export function senderKeyDecrypt(rcv0: SenderReceiver, ctx: SenderKeyContext, message: Bytes): { receiver: SenderReceiver; plaintext: Bytes; mk: Bytes } {
  const header = parseSenderKeyHeader(message);
  if (!equal(header.chainId, rcv0.chainId)) fail('invalid_argument', 'sender key: another chain');
  const ctBegin = 1 + CHAIN_ID_BYTES + 4;
  const ct = message.subarray(ctBegin, message.length - SIGNATURE_BYTES);
  const sig = message.subarray(message.length - SIGNATURE_BYTES);
  const ad = senderKeyAd(ctx, rcv0.chainId, header.iteration);
  if (!ed25519Verify(rcv0.signingPublic, concat(ad, ct), sig)) fail('forbidden', 'sender key: bad signature');
  const rcv: SenderReceiver = { ...rcv0, skipped: rcv0.skipped.slice() };
  const it = header.iteration;
  let mk: Bytes;
  if (it < rcv.iteration) {
    const i = rcv.skipped.findIndex((e) => e[0] === it);
    if (i < 0) return fail('conflict', 'sender key: replayed or expired message');
    mk = rcv.skipped[i][1];
    rcv.skipped.splice(i, 1);
  } else {
    if (it - rcv.iteration > MAX_SENDER_KEY_SKIP) fail('invalid_argument', 'sender key: too many skipped messages');
    while (rcv.iteration < it) {
      const step = kdfCk(rcv.chainKey);
      rcv.skipped.push([rcv.iteration, step.mk]);
      rcv.chainKey = step.ck;
      rcv.iteration++;
    }
    const step = kdfCk(rcv.chainKey);
    mk = step.mk;
    rcv.chainKey = step.ck;
    rcv.iteration++;
    if (rcv.skipped.length > MAX_SENDER_KEY_SKIPPED) rcv.skipped.splice(0, rcv.skipped.length - MAX_SENDER_KEY_SKIPPED);
  }
  const k = messageKeyToAead(mk, SENDER_KEY_MESSAGE_INFO);
  const plaintext = aeadDecrypt(k.key, k.nonce, ct, ad);
  return { receiver: rcv, plaintext, mk };
}

export interface SenderKeyDistribution {
  conversationId: string;
  chainId: Bytes;
  iteration: number;
  chainKey: Bytes;
  signingPublic: Bytes;
  searchKey?: { epoch: number; key: Bytes };
}

export function encodeDistribution(d: SenderKeyDistribution): Bytes {
  const w = new ByteWriter()
    .u8(DISTRIBUTION_TYPE)
    .str16(utf8(d.conversationId))
    .raw(d.chainId)
    .u32(d.iteration)
    .raw(d.chainKey)
    .raw(d.signingPublic)
    .u8(d.searchKey ? 1 : 0);
  if (d.searchKey) w.u32(d.searchKey.epoch).raw(d.searchKey.key);
  return w.take();
}

export function decodeDistribution(b: Bytes): SenderKeyDistribution {
  const r = new ByteReader(b);
  if (r.u8() !== DISTRIBUTION_TYPE) fail('invalid_argument', 'distribution: unknown type');
  const conv = r.str16(MAX_ID_BYTES);
  const d: SenderKeyDistribution = {
    conversationId: '',
    chainId: r.raw(CHAIN_ID_BYTES),
    iteration: r.u32(),
    chainKey: r.raw(32),
    signingPublic: r.raw(32),
  };
  const has = r.u8();
  if (has > 1) r.fail();
  if (has === 1) {
    const epoch = r.u32();
    d.searchKey = { epoch, key: r.raw(32) };
  }
  if (!r.atEnd()) fail('invalid_argument', 'distribution: malformed');
  try {
    d.conversationId = new TextDecoder('utf-8', { fatal: true }).decode(conv);
  } catch {
    fail('invalid_argument', 'distribution: conversation id is not UTF-8');
  }
  return d;
}

export function serializeSenderChain(c: SenderChain): Bytes {
  return new ByteWriter().u8(STATE_VERSION).raw(c.chainId).u32(c.iteration).raw(c.chainKey).raw(c.signingSeed).raw(c.signingPublic).take();
}

export function parseSenderChain(b: Bytes): SenderChain {
  const r = new ByteReader(b);
  if (r.u8() !== STATE_VERSION) fail('invalid_argument', 'sender chain: unknown version');
  const c = { chainId: r.raw(CHAIN_ID_BYTES), iteration: r.u32(), chainKey: r.raw(32), signingSeed: r.raw(32), signingPublic: r.raw(32) };
  if (!r.atEnd()) fail('invalid_argument', 'sender chain: malformed');
  return c;
}

export function serializeSenderReceiver(s: SenderReceiver): Bytes {
  const w = new ByteWriter().u8(STATE_VERSION).raw(s.chainId).u32(s.iteration).raw(s.chainKey).raw(s.signingPublic).u32(s.skipped.length);
  for (const [it, mk] of s.skipped) w.u32(it).raw(mk);
  return w.take();
}

export function parseSenderReceiver(b: Bytes): SenderReceiver {
  const r = new ByteReader(b);
  if (r.u8() !== STATE_VERSION) fail('invalid_argument', 'sender receiver: unknown version');
  const s: SenderReceiver = { chainId: r.raw(CHAIN_ID_BYTES), iteration: r.u32(), chainKey: r.raw(32), signingPublic: r.raw(32), skipped: [] };
  const n = r.u32();
  if (n > MAX_SENDER_KEY_SKIPPED) r.fail();
  for (let i = 0; r.ok && i < n; i++) {
    const it = r.u32();
    s.skipped.push([it, r.raw(32)]);
  }
  if (!r.atEnd()) fail('invalid_argument', 'sender receiver: malformed');
  return s;
}
