// Reproduces every C++ vector in ../tests/vectors byte for byte (docs/protocol.md).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as P from './index';
import { fromHex as h, toHex as x } from './bytes';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../../../tests/vectors');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const load = (name: string): any => JSON.parse(readFileSync(join(VECTORS, name), 'utf8'));

beforeAll(async () => {
  await P.sodiumReady();
});

/** A RandomFn that hands out the given values in order and fails when they run out. */
function queue(values: string[]): P.RandomFn {
  let i = 0;
  return (n) => {
    if (i >= values.length) throw new Error('random queue exhausted');
    const v = h(values[i++]);
    expect(v.length).toBe(n);
    return v;
  };
}

/** The vector generator's Seeded RNG: k-th call = SHA-512(label ‖ u32 BE k)[0..n). */
function seeded(label: string): P.RandomFn {
  let k = 0;
  return (n) => {
    const input = P.concat(P.utf8(label), new P.ByteWriter().u32(k++).take());
    return P.sha512(input).slice(0, n);
  };
}

describe('x3dh.json', () => {
  const v = load('x3dh.json');
  const alice = () => P.identityFromSeed(h(v.alice.seed));
  const bob = () => P.identityFromSeed(h(v.bob.seed));

  it('derives identities from seeds', () => {
    for (const [who, id] of [
      ['alice', alice()],
      ['bob', bob()],
    ] as const) {
      expect(x(id.signingKey)).toBe(v[who].signing_key);
      expect(x(id.identityKey)).toBe(v[who].identity_key);
      expect(x(id.dhPrivate)).toBe(v[who].identity_dh_private);
    }
    expect(x(P.x25519PublicKey(h(v.alice.ephemeral_private)))).toBe(v.alice.ephemeral_public);
    expect(x(P.x25519PublicKey(h(v.bob.signed_prekey_private)))).toBe(v.bob.signed_prekey_public);
    expect(x(P.x25519PublicKey(h(v.bob.one_time_prekey_private)))).toBe(v.bob.one_time_prekey_public);
  });

  it('signs the signed prekey as RFC 8032 Ed25519 over Encode(SPK)', () => {
    expect(x(P.encodeX25519Key(h(v.bob.signed_prekey_public)))).toBe(v.bob.signed_prekey_signed_message);
    expect(x(P.signPrekey(h(v.bob.seed), h(v.bob.signed_prekey_public)))).toBe(v.bob.signed_prekey_signature);
    expect(P.verifyPrekey(bob().signingKey, h(v.bob.signed_prekey_public), h(v.bob.signed_prekey_signature))).toBe(true);
    const bad = h(v.bob.signed_prekey_signature);
    bad[5] ^= 1;
    expect(P.verifyPrekey(bob().signingKey, h(v.bob.signed_prekey_public), bad)).toBe(false);
  });

  for (const c of v.cases) {
    it(`initiates and responds (one-time prekey: ${c.one_time_prekey_used})`, () => {
      const b = bob();
      const bundle: P.Bundle = {
        signingKey: b.signingKey,
        identityKey: b.identityKey,
        signedPrekeyId: v.bob.signed_prekey_id,
        signedPrekey: h(v.bob.signed_prekey_public),
        signedPrekeySignature: h(v.bob.signed_prekey_signature),
        ...(c.one_time_prekey_used ? { oneTimePrekeyId: v.bob.one_time_prekey_id, oneTimePrekey: h(v.bob.one_time_prekey_public) } : {}),
      };
      const ek = { privateKey: h(v.alice.ephemeral_private), publicKey: h(v.alice.ephemeral_public) };
      const a = P.x3dhInitiate(alice(), bundle, ek);
      expect(a.dh.map(x)).toEqual(c.dh);
      expect('f'.repeat(64) + c.dh.join('')).toBe(c.ikm);
      expect(x(a.sharedSecret)).toBe(c.shared_secret);
      expect(x(a.associatedData)).toBe(c.associated_data);
      const r = P.x3dhRespond(b, h(v.bob.signed_prekey_private), c.one_time_prekey_used ? h(v.bob.one_time_prekey_private) : null, alice().signingKey, ek.publicKey);
      expect(x(r.sharedSecret)).toBe(c.shared_secret);
      expect(x(r.associatedData)).toBe(c.associated_data);
    });
  }

  it('rejects a bundle whose identity key does not match or whose signature is bad', () => {
    const b = bob();
    const good: P.Bundle = { signingKey: b.signingKey, identityKey: b.identityKey, signedPrekeyId: 7, signedPrekey: h(v.bob.signed_prekey_public), signedPrekeySignature: h(v.bob.signed_prekey_signature) };
    expect(() => P.checkBundle(good)).not.toThrow();
    expect(() => P.checkBundle({ ...good, identityKey: alice().identityKey })).toThrowError(/does not match/);
    const sig = good.signedPrekeySignature.slice();
    sig[0] ^= 0x80;
    expect(() => P.checkBundle({ ...good, signedPrekeySignature: sig })).toThrowError(/signature/);
    expect(() => P.x25519(h(v.alice.ephemeral_private), new Uint8Array(32))).toThrowError(/low-order/);
  });
});

describe('ratchet.json', () => {
  const v = load('ratchet.json');
  it('reproduces every step', () => {
    const bobSpk = { privateKey: h(v.bob_signed_prekey_private), publicKey: h(v.bob_signed_prekey_public) };
    const ad = h(v.associated_data);
    const aliceRng = queue(v.alice_random);
    const bobRng = queue(v.bob_random);
    const xv = load('x3dh.json');
    const aliceSigning = P.identityFromSeed(h(xv.alice.seed)).signingKey;
    let alice = P.ratchetInitAlice(h(v.shared_secret), bobSpk.publicKey, aliceRng, ad);
    let bob = P.ratchetInitBob(h(v.shared_secret), bobSpk, ad);
    let alicePending = true;
    const sent: { header: P.RatchetHeader; ciphertext: Uint8Array; plaintext: string }[] = [];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const checkState = (s: P.RatchetState, want: any) => {
      expect({
        dhs_public: x(s.dhsPublic),
        dhr: x(s.dhr),
        rk: x(s.rk),
        cks: x(s.cks),
        ckr: x(s.ckr),
        ns: s.ns,
        nr: s.nr,
        pn: s.pn,
        skipped: s.skipped.length,
      }).toEqual(want);
      // Stored state survives a round trip.
      expect(x(P.serializeRatchet(P.parseRatchet(P.serializeRatchet(s))))).toBe(x(P.serializeRatchet(s)));
    };
    for (const step of v.steps) {
      const byAlice = step.by === 'alice';
      if (step.op === 'encrypt') {
        const s = byAlice ? alice : bob;
        expect(x(s.cks)).toBe(step.chain_key_before);
        const e = P.ratchetEncrypt(s, h(step.plaintext));
        const k = P.messageKeyToAead(e.mk, P.RATCHET_MESSAGE_INFO);
        expect(x(e.mk)).toBe(step.message_key);
        expect(x(k.key)).toBe(step.aead_key);
        expect(x(k.nonce)).toBe(step.aead_nonce);
        expect({ dh: x(e.header.dh), pn: e.header.pn, n: e.header.n }).toEqual(step.header);
        expect(x(P.encodeHeader(e.header))).toBe(step.header_bytes);
        expect(x(P.concat(ad, P.encodeHeader(e.header)))).toBe(step.aead_ad);
        expect(x(e.ciphertext)).toBe(step.ciphertext);
        const env: P.Envelope = { header: e.header, ciphertext: e.ciphertext };
        if (byAlice && alicePending) env.prekey = { signingKey: aliceSigning, ephemeral: h(xv.alice.ephemeral_public), signedPrekeyId: 7, oneTimePrekeyId: 42 };
        const b64 = P.toBase64(P.encodeEnvelope(env));
        expect(b64).toBe(step.envelope_base64);
        const back = P.decodeEnvelope(P.fromBase64(b64)!);
        expect(x(P.encodeEnvelope(back))).toBe(x(P.encodeEnvelope(env)));
        checkState(e.state, step.state_after);
        if (byAlice) alice = e.state;
        else bob = e.state;
        sent.push({ header: e.header, ciphertext: e.ciphertext, plaintext: step.plaintext });
      } else {
        const s = byAlice ? alice : bob;
        const m = sent[step.message];
        if (step.result === 'replay') {
          expect(() => P.ratchetDecrypt(s, m.header, m.ciphertext, byAlice ? aliceRng : bobRng)).toThrowError(expect.objectContaining({ code: 'conflict' }));
          continue;
        }
        const d = P.ratchetDecrypt(s, m.header, m.ciphertext, byAlice ? aliceRng : bobRng);
        expect(x(d.plaintext)).toBe(m.plaintext);
        expect(x(d.mk)).toBe(step.message_key);
        checkState(d.state, step.state_after);
        if (byAlice) {
          alice = d.state;
          alicePending = false;
        } else bob = d.state;
      }
    }
  });

  it('leaves the state unchanged when a tampered message fails, and bounds skips', () => {
    const bobSpk = { privateKey: h(v.bob_signed_prekey_private), publicKey: h(v.bob_signed_prekey_public) };
    const ad = h(v.associated_data);
    const alice = P.ratchetInitAlice(h(v.shared_secret), bobSpk.publicKey, queue(v.alice_random), ad);
    const bob = P.ratchetInitBob(h(v.shared_secret), bobSpk, ad);
    const e = P.ratchetEncrypt(alice, P.utf8('hi'));
    const before = x(P.serializeRatchet(bob));
    const bad = e.ciphertext.slice();
    bad[0] ^= 1;
    expect(() => P.ratchetDecrypt(bob, e.header, bad, queue(v.bob_random))).toThrowError(expect.objectContaining({ code: 'forbidden' }));
    expect(x(P.serializeRatchet(bob))).toBe(before);
    const far = { ...e.header, n: 1001 };
    expect(() => P.ratchetDecrypt(bob, far, e.ciphertext, queue(v.bob_random))).toThrowError(expect.objectContaining({ code: 'invalid_argument' }));
    expect(x(P.serializeRatchet(bob))).toBe(before);
    const ok = P.ratchetDecrypt(bob, e.header, e.ciphertext, queue(v.bob_random));
    expect(P.fromUtf8(ok.plaintext)).toBe('hi');
  });

  it('stores at most 2000 skipped keys, evicting the oldest', () => {
    const rng = seeded('evict');
    const sk = new Uint8Array(32).fill(9);
    const bobKp = P.generateX25519(rng);
    let a = P.ratchetInitAlice(sk, bobKp.publicKey, rng, new Uint8Array(66));
    let b = P.ratchetInitBob(sk, bobKp, new Uint8Array(66));
    const msgs: P.RatchetEncrypted[] = [];
    for (let i = 0; i < 2501; i++) {
      const e = P.ratchetEncrypt(a, P.utf8(String(i)));
      a = e.state;
      msgs.push(e);
    }
    b = P.ratchetDecrypt(b, msgs[1000].header, msgs[1000].ciphertext, rng).state; // skips 0..999
    b = P.ratchetDecrypt(b, msgs[2000].header, msgs[2000].ciphertext, rng).state; // skips 1001..1999
    expect(b.skipped.length).toBe(1999);
    b = P.ratchetDecrypt(b, msgs[2500].header, msgs[2500].ciphertext, rng).state; // skips 2001..2499
    expect(b.skipped.length).toBe(2000);
    // The oldest (0..498) were evicted: a replay-like conflict... no key: decrypting falls to "n < nr".
    expect(() => P.ratchetDecrypt(b, msgs[0].header, msgs[0].ciphertext, rng)).toThrowError(expect.objectContaining({ code: 'conflict' }));
    expect(P.fromUtf8(P.ratchetDecrypt(b, msgs[499].header, msgs[499].ciphertext, rng).plaintext)).toBe('499');
  });
});

describe('sender_key.json', () => {
  const v = load('sender_key.json');
  const ctx: P.SenderKeyContext = { conversationId: v.context.conversation_id, senderUserId: v.context.sender_user_id, senderDeviceId: v.context.sender_device_id };

  it('draws a chain like the C++ NewSenderChain and encodes the distribution', () => {
    const chain = P.newSenderChain(seeded('sender_key'));
    expect(x(chain.chainId)).toBe(v.chain.chain_id);
    expect(x(chain.chainKey)).toBe(v.chain.chain_key);
    expect(x(chain.signingSeed)).toBe(v.chain.signing_seed);
    expect(x(chain.signingPublic)).toBe(v.chain.signing_public);
    const dist: P.SenderKeyDistribution = { conversationId: ctx.conversationId, chainId: chain.chainId, iteration: 0, chainKey: chain.chainKey, signingPublic: chain.signingPublic, searchKey: { epoch: 0, key: h(v.distribution_search_key) } };
    expect(x(P.encodeDistribution(dist))).toBe(v.distribution);
    const back = P.decodeDistribution(h(v.distribution));
    expect(x(P.encodeDistribution(back))).toBe(v.distribution);
    expect(() => P.decodeDistribution(P.concat(h(v.distribution), Uint8Array.of(0)))).toThrowError(/malformed/);
  });

  it('encrypts every message byte for byte and reads them out of order', () => {
    let chain = P.newSenderChain(seeded('sender_key'));
    const wire: Uint8Array[] = [];
    for (const m of v.messages) {
      expect(chain.iteration).toBe(m.iteration);
      expect(x(chain.chainKey)).toBe(m.chain_key);
      const e = P.senderKeyEncrypt(chain, ctx, h(m.plaintext));
      const k = P.messageKeyToAead(e.mk, P.SENDER_KEY_MESSAGE_INFO);
      expect(x(e.mk)).toBe(m.message_key);
      expect(x(k.key)).toBe(m.aead_key);
      expect(x(k.nonce)).toBe(m.aead_nonce);
      expect(x(P.senderKeyAd(ctx, chain.chainId, chain.iteration))).toBe(m.ad);
      expect(x(e.message.subarray(21, e.message.length - 64))).toBe(m.ciphertext);
      expect(x(e.message.subarray(e.message.length - 64))).toBe(m.signature);
      expect(P.toBase64(e.message)).toBe(m.message_base64);
      wire.push(e.message);
      chain = e.chain;
    }
    const d = P.decodeDistribution(h(v.distribution));
    let r: P.SenderReceiver = { chainId: d.chainId, iteration: d.iteration, chainKey: d.chainKey, signingPublic: d.signingPublic, skipped: [] };
    for (const i of v.receive_order as number[]) {
      const out = P.senderKeyDecrypt(r, ctx, P.fromBase64(v.messages[i].message_base64)!);
      expect(x(out.plaintext)).toBe(v.messages[i].plaintext);
      expect(x(out.mk)).toBe(v.messages[i].message_key);
      r = P.parseSenderReceiver(P.serializeSenderReceiver(out.receiver));
    }
    // Replays, tampering, another conversation or sender.
    const m0 = P.fromBase64(v.messages[0].message_base64)!;
    expect(() => P.senderKeyDecrypt(r, ctx, m0)).toThrowError(expect.objectContaining({ code: 'conflict' }));
    const fresh: P.SenderReceiver = { chainId: d.chainId, iteration: 0, chainKey: d.chainKey, signingPublic: d.signingPublic, skipped: [] };
    const bad = m0.slice();
    bad[30] ^= 1;
    expect(() => P.senderKeyDecrypt(fresh, ctx, bad)).toThrowError(expect.objectContaining({ code: 'forbidden' }));
    expect(() => P.senderKeyDecrypt(fresh, { ...ctx, conversationId: 'conv-2' }, m0)).toThrowError(expect.objectContaining({ code: 'forbidden' }));
    expect(() => P.senderKeyDecrypt(fresh, { ...ctx, senderDeviceId: 'a2' }, m0)).toThrowError(expect.objectContaining({ code: 'forbidden' }));
    expect(() => P.senderKeyDecrypt(fresh, ctx, m0.subarray(0, 50))).toThrowError(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('bounds the forward skip', () => {
    let chain = P.newSenderChain(seeded('skip'));
    const first = chain;
    let last: Uint8Array = new Uint8Array(0);
    for (let i = 0; i <= 1001; i++) {
      const e = P.senderKeyEncrypt(chain, ctx, P.utf8('x'));
      chain = e.chain;
      last = e.message;
    }
    const r: P.SenderReceiver = { chainId: first.chainId, iteration: 0, chainKey: first.chainKey, signingPublic: first.signingPublic, skipped: [] };
    expect(() => P.senderKeyDecrypt(r, ctx, last)).toThrowError(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('safety_number.json', () => {
  const v = load('safety_number.json');
  it('reproduces both halves and the number', () => {
    const a = v.local.signing_keys.map(h);
    const b = v.remote.signing_keys.map(h);
    expect(x(P.fingerprintKey(a))).toBe(v.local.fingerprint_key);
    expect(x(P.fingerprintKey(b))).toBe(v.remote.fingerprint_key);
    expect(P.fingerprintHalf(P.fingerprintKey(a), v.local.user_id)).toBe(v.local.half);
    expect(P.fingerprintHalf(P.fingerprintKey(b), v.remote.user_id)).toBe(v.remote.half);
    expect(P.safetyNumber(a, v.local.user_id, b, v.remote.user_id)).toBe(v.safety_number);
    expect(P.safetyNumber(b, v.remote.user_id, a, v.local.user_id)).toBe(v.safety_number);
    expect(P.safetyNumber(a.slice(0, 1), v.local.user_id, b, v.remote.user_id)).not.toBe(v.safety_number);
  });
});

describe('search_token.json', () => {
  const v = load('search_token.json');
  for (const c of v.cases) {
    it(`normalizes ${JSON.stringify(P.fromUtf8(h(c.text)))}`, () => {
      expect(P.normalizeWordBytes(h(c.text)).map(x)).toEqual(c.words);
      expect(P.searchTokens(h(v.search_key), h(c.text))).toEqual(c.tokens);
    });
  }
  it('treats invalid UTF-8 as a separator and cuts long words on a code point boundary', () => {
    expect(P.normalizeWordBytes(Uint8Array.of(0x61, 0xff, 0x62)).map(P.fromUtf8)).toEqual(['a', 'b']);
    const long = 'é'.repeat(200); // 400 bytes folded to 200 'e'
    expect(P.normalizeWords(long)[0].length).toBe(200);
    const cjk = '日'.repeat(100); // 300 bytes: cut to 255 (85 characters)
    expect(P.normalizeWords(cjk)[0]).toBe('日'.repeat(85));
  });
});

describe('media.json', () => {
  const v = load('media.json');
  const plaintext = () => {
    const p = new Uint8Array(v.plaintext_size);
    for (let i = 0; i < p.length; i++) p[i] = (i * 7) % 256;
    return p;
  };
  it('decrypts the C++ blob and checks hash and size', () => {
    const blob = h(v.blob);
    expect(x(P.sha256(blob))).toBe(v.blob_sha256);
    const pt = P.decryptMedia(blob, h(v.key), h(v.blob_sha256), v.plaintext_size);
    expect(x(P.sha256(pt))).toBe(v.plaintext_sha256);
    expect(x(pt)).toBe(x(plaintext()));
    const info = P.decodeMediaInfo(h(v.media_info));
    expect(x(info.key)).toBe(v.key);
    expect(x(info.sha256)).toBe(v.blob_sha256);
    expect(info.size).toBe(v.plaintext_size);
    expect(x(P.encodeMediaInfo(info))).toBe(v.media_info);
  });
  it('rejects truncation, extra bytes, tampering, a wrong hash or size', async () => {
    const blob = h(v.blob);
    const key = h(v.key);
    for (const cut of [0, 10, 24, 24 + 65553, blob.length - 1]) {
      expect(() => P.decryptMedia(blob.subarray(0, cut), key)).toThrow();
    }
    // One byte more makes the last chunk fail (as in C++, which reads whole chunks).
    expect(() => P.decryptMedia(P.concat(blob, Uint8Array.of(0)), key)).toThrowError(expect.objectContaining({ code: 'forbidden' }));
    // Bytes after a final chunk that is full size.
    const e = await P.encryptMedia(P.bytesSource(new Uint8Array(65536)), P.systemRandom);
    expect(() => P.decryptMedia(P.concat(...e.chunks, Uint8Array.of(1, 2, 3)), e.key)).toThrowError(/after the final/);
    const bad = blob.slice();
    bad[100] ^= 1;
    expect(() => P.decryptMedia(bad, key)).toThrowError(expect.objectContaining({ code: 'forbidden' }));
    expect(() => P.decryptMedia(blob, key, new Uint8Array(32), undefined)).toThrowError(/hash/);
    expect(() => P.decryptMedia(blob, key, undefined, 5)).toThrowError(/size/);
  });
  it('encrypts so that the decryptor (and its chunking rules) accept it', async () => {
    for (const size of [0, 1, 65536, 65537, 200000]) {
      const p = plaintext().subarray(0, Math.min(size, v.plaintext_size));
      const src = size > v.plaintext_size ? P.bytesSource(new Uint8Array(size).fill(3)) : P.bytesSource(p);
      const e = await P.encryptMedia(src, P.systemRandom);
      const blob = P.concat(...e.chunks);
      expect(blob.length).toBe(24 + Math.max(1, Math.ceil(size / 65536)) * 17 + size);
      expect(x(P.sha256(blob))).toBe(x(e.sha256));
      const back = P.decryptMedia(blob, e.key, e.sha256, size);
      expect(back.length).toBe(size);
    }
  });
});

describe('base64', () => {
  it('is canonical', () => {
    expect(P.toBase64(P.utf8('ab'))).toBe('YWI=');
    expect(P.fromBase64('YWI=')).toEqual(P.utf8('ab'));
    expect(P.fromBase64('YWJ=')).toBeNull(); // stray bits
    expect(P.fromBase64('YWI')).toBeNull();
    expect(P.fromBase64('Y WI=')).toBeNull();
    for (let n = 0; n < 10; n++) {
      const b = P.systemRandom(n);
      expect(P.fromBase64(P.toBase64(b))).toEqual(b);
    }
  });
});
