// The Double Ratchet (Signal spec) with Parley's KDFs: docs/protocol.md §4; twin of
// src/sdk/crypto/double_ratchet.cc. Functions never mutate their input state: they return the
// next state only on success, so a caller commits state only after the AEAD verified.
import { type Bytes, ByteReader, ByteWriter, concat, equal } from './bytes';
import { fail } from './errors';
import { type KeyPair, type RandomFn, aeadDecrypt, aeadEncrypt, generateX25519, hkdfSha256, hmacSha256, x25519 } from './primitives';

export const RATCHET_ROOT_INFO = 'parley.ratchet.root.v1';
export const RATCHET_MESSAGE_INFO = 'parley.ratchet.message.v1';
export const MAX_SKIP = 1000;
export const MAX_SKIPPED_KEYS = 2000;
export const MAX_OLD_RATCHET_KEYS = 8;
export const RATCHET_HEADER_BYTES = 40;
const STATE_VERSION = 1;
const MAX_AD_BYTES = 256;
const U32_MAX = 0xffffffff;

export interface RatchetHeader {
  dh: Bytes;
  pn: number;
  n: number;
}

export function encodeHeader(h: RatchetHeader): Bytes {
  return new ByteWriter().raw(h.dh).u32(h.pn).u32(h.n).take();
}

export function decodeHeader(b: Bytes): RatchetHeader {
  if (b.length !== RATCHET_HEADER_BYTES) fail('invalid_argument', 'ratchet: bad header length');
  const r = new ByteReader(b);
  return { dh: r.raw(32), pn: r.u32(), n: r.u32() };
}

export interface SkippedKey {
  dh: Bytes;
  n: number;
  mk: Bytes;
}

export interface RatchetState {
  dhsPrivate: Bytes;
  dhsPublic: Bytes;
  dhr: Bytes; // empty until the first message from the peer
  rk: Bytes;
  cks: Bytes; // empty = None
  ckr: Bytes;
  ns: number;
  nr: number;
  pn: number;
  skipped: SkippedKey[]; // oldest first
  oldDhr: Bytes[]; // newest last
  ad: Bytes;
}

const EMPTY = new Uint8Array(0);

function clone(s: RatchetState): RatchetState {
  return { ...s, skipped: s.skipped.slice(), oldDhr: s.oldDhr.slice() };
}

export function kdfRk(rk: Bytes, dhOut: Bytes): { rk: Bytes; ck: Bytes } {
  const out = hkdfSha256(rk, dhOut, RATCHET_ROOT_INFO, 64);
  return { rk: out.slice(0, 32), ck: out.slice(32, 64) };
}

export function kdfCk(ck: Bytes): { ck: Bytes; mk: Bytes } {
  return { ck: hmacSha256(ck, Uint8Array.of(2)), mk: hmacSha256(ck, Uint8Array.of(1)) };
}

export function messageKeyToAead(mk: Bytes, info: string): { key: Bytes; nonce: Bytes } {
  const out = hkdfSha256(new Uint8Array(32), mk, info, 56);
  return { key: out.slice(0, 32), nonce: out.slice(32, 56) };
}

export function ratchetInitAlice(sk: Bytes, bobDhPublic: Bytes, random: RandomFn, ad: Bytes): RatchetState {
  const dhs = generateX25519(random);
  const r = kdfRk(sk, x25519(dhs.privateKey, bobDhPublic));
  return {
    dhsPrivate: dhs.privateKey,
    dhsPublic: dhs.publicKey,
    dhr: bobDhPublic,
    rk: r.rk,
    cks: r.ck,
    ckr: EMPTY,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
    oldDhr: [],
    ad,
  };
}

export function ratchetInitBob(sk: Bytes, bobDh: KeyPair, ad: Bytes): RatchetState {
  return {
    dhsPrivate: bobDh.privateKey,
    dhsPublic: bobDh.publicKey,
    dhr: EMPTY,
    rk: sk,
    cks: EMPTY,
    ckr: EMPTY,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
    oldDhr: [],
    ad,
  };
}

export interface RatchetEncrypted {
  state: RatchetState;
  header: RatchetHeader;
  ciphertext: Bytes;
  mk: Bytes;
}

export function ratchetEncrypt(s0: RatchetState, plaintext: Bytes): RatchetEncrypted {
  if (!s0.cks.length) fail('internal', 'ratchet: no sending chain');
  if (s0.ns === U32_MAX) fail('internal', 'ratchet: chain exhausted');
  const s = clone(s0);
  const step = kdfCk(s.cks);
  s.cks = step.ck;
  const header = { dh: s.dhsPublic, pn: s.pn, n: s.ns };
  s.ns++;
  const k = messageKeyToAead(step.mk, RATCHET_MESSAGE_INFO);
  const ciphertext = aeadEncrypt(k.key, k.nonce, plaintext, concat(s.ad, encodeHeader(header)));
  return { state: s, header, ciphertext, mk: step.mk };
}

function skipMessageKeys(s: RatchetState, until: number): void {
  if (s.nr + MAX_SKIP < until) fail('invalid_argument', 'ratchet: too many skipped messages');
  if (!s.ckr.length) return;
  while (s.nr < until) {
    const step = kdfCk(s.ckr);
    s.ckr = step.ck;
    s.skipped.push({ dh: s.dhr, n: s.nr, mk: step.mk });
    s.nr++;
  }
  if (s.skipped.length > MAX_SKIPPED_KEYS) s.skipped.splice(0, s.skipped.length - MAX_SKIPPED_KEYS);
}

function dhRatchet(s: RatchetState, h: RatchetHeader, random: RandomFn): void {
  if (s.dhr.length) {
    s.oldDhr.push(s.dhr);
    if (s.oldDhr.length > MAX_OLD_RATCHET_KEYS) s.oldDhr.shift();
  }
  s.pn = s.ns;
  s.ns = 0;
  s.nr = 0;
  s.dhr = h.dh;
  const r1 = kdfRk(s.rk, x25519(s.dhsPrivate, s.dhr));
  s.rk = r1.rk;
  s.ckr = r1.ck;
  const next = generateX25519(random);
  s.dhsPrivate = next.privateKey;
  s.dhsPublic = next.publicKey;
  const r2 = kdfRk(s.rk, x25519(s.dhsPrivate, s.dhr));
  s.rk = r2.rk;
  s.cks = r2.ck;
}

function open(mk: Bytes, ciphertext: Bytes, ad: Bytes, h: RatchetHeader): Bytes {
  const k = messageKeyToAead(mk, RATCHET_MESSAGE_INFO);
  return aeadDecrypt(k.key, k.nonce, ciphertext, concat(ad, encodeHeader(h)));
}

export interface RatchetDecrypted {
  state: RatchetState;
  plaintext: Bytes;
  mk: Bytes;
}

/** Errors: conflict (replay), invalid_argument (skip beyond MAX_SKIP, malformed), forbidden (AEAD). */
export function ratchetDecrypt(s0: RatchetState, h: RatchetHeader, ciphertext: Bytes, random: RandomFn): RatchetDecrypted {
  if (h.dh.length !== 32) fail('invalid_argument', 'ratchet: bad header');
  const s = clone(s0);
  const idx = s.skipped.findIndex((k) => k.n === h.n && equal(k.dh, h.dh));
  if (idx >= 0) {
    const mk = s.skipped[idx].mk;
    const plaintext = open(mk, ciphertext, s.ad, h);
    s.skipped.splice(idx, 1);
    return { state: s, plaintext, mk };
  }
  if (equal(h.dh, s.dhr) && h.n < s.nr) fail('conflict', 'ratchet: replayed or expired message');
  if (s.oldDhr.some((k) => equal(k, h.dh))) fail('conflict', 'ratchet: replayed or expired message');
  if (!equal(h.dh, s.dhr)) {
    skipMessageKeys(s, h.pn);
    dhRatchet(s, h, random);
  }
  skipMessageKeys(s, h.n);
  const step = kdfCk(s.ckr);
  s.ckr = step.ck;
  s.nr++;
  const plaintext = open(step.mk, ciphertext, s.ad, h);
  return { state: s, plaintext, mk: step.mk };
}

export function serializeRatchet(s: RatchetState): Bytes {
  const w = new ByteWriter()
    .u8(STATE_VERSION)
    .raw(s.dhsPrivate)
    .raw(s.dhsPublic)
    .str16(s.dhr)
    .raw(s.rk)
    .str16(s.cks)
    .str16(s.ckr)
    .u32(s.ns)
    .u32(s.nr)
    .u32(s.pn)
    .u32(s.skipped.length);
  for (const k of s.skipped) w.raw(k.dh).u32(k.n).raw(k.mk);
  w.u8(s.oldDhr.length);
  for (const k of s.oldDhr) w.raw(k);
  w.str16(s.ad);
  return w.take();
}

export function parseRatchet(b: Bytes): RatchetState {
  const r = new ByteReader(b);
  if (r.u8() !== STATE_VERSION) fail('invalid_argument', 'ratchet state: unknown version');
  const s: RatchetState = {
    dhsPrivate: r.raw(32),
    dhsPublic: r.raw(32),
    dhr: r.str16(32),
    rk: r.raw(32),
    cks: r.str16(32),
    ckr: r.str16(32),
    ns: r.u32(),
    nr: r.u32(),
    pn: r.u32(),
    skipped: [],
    oldDhr: [],
    ad: EMPTY,
  };
  const n = r.u32();
  if (n > MAX_SKIPPED_KEYS) r.fail();
  for (let i = 0; r.ok && i < n; i++) s.skipped.push({ dh: r.raw(32), n: r.u32(), mk: r.raw(32) });
  const old = r.u8();
  if (old > MAX_OLD_RATCHET_KEYS) r.fail();
  for (let i = 0; r.ok && i < old; i++) s.oldDhr.push(r.raw(32));
  s.ad = r.str16(MAX_AD_BYTES);
  if (!r.atEnd()) fail('invalid_argument', 'ratchet state: malformed');
  return s;
}
