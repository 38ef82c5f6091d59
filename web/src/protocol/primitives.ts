// The cryptographic primitives of e2ee-v1 over libsodium-wrappers-sumo: the TypeScript twin of
// src/sdk/crypto/primitives.{h,cc}. Call `await sodiumReady()` once before anything else.
import sodiumModule from 'libsodium-wrappers-sumo';
import { type Bytes, concat, utf8 } from './bytes';
import { fail } from './errors';

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const sodium: typeof sodiumModule = sodiumModule;
let readyPromise: Promise<void> | null = null;
export function sodiumReady(): Promise<void> {
  if (!readyPromise) readyPromise = sodium.ready;
  return readyPromise;
}

/** A source of random bytes: production uses randombytes_buf, tests inject a deterministic one. */
export type RandomFn = (n: number) => Bytes;
export const systemRandom: RandomFn = (n) => sodium.randombytes_buf(n);

/** Best-effort wipe of a buffer the caller owns. */
export function wipe(b: Bytes | undefined | null): void {
  if (b && b.length) sodium.memzero(b);
}

export const sha256 = (d: Bytes): Bytes => sodium.crypto_hash_sha256(d);
export const sha512 = (d: Bytes): Bytes => sodium.crypto_hash_sha512(d);

/** HMAC-SHA-256 with a key of any length (crypto_auth_hmacsha256_init/update/final). */
export function hmacSha256(key: Bytes, data: Bytes): Bytes {
  const st = sodium.crypto_auth_hmacsha256_init(key);
  sodium.crypto_auth_hmacsha256_update(st, data);
  return sodium.crypto_auth_hmacsha256_final(st);
}

const ZERO_SALT = new Uint8Array(32);

/** HKDF-SHA-256 (RFC 5869) from HMAC-SHA-256; an empty salt is 32 zero bytes. */
export function hkdfSha256(salt: Bytes, ikm: Bytes, info: Bytes | string, length: number): Bytes {
  if (length > 255 * 32) throw new Error('hkdf: length');
  const infoB = typeof info === 'string' ? utf8(info) : info;
  const prk = hmacSha256(salt.length ? salt : ZERO_SALT, ikm);
  const out = new Uint8Array(Math.ceil(length / 32) * 32);
  let t: Bytes = new Uint8Array(0);
  for (let i = 1, o = 0; o < length; i++, o += 32) {
    t = hmacSha256(prk, concat(t, infoB, Uint8Array.of(i)));
    out.set(t, o);
  }
  wipe(prk);
  return out.slice(0, length);
}

export interface KeyPair {
  publicKey: Bytes;
  privateKey: Bytes; // X25519 scalar, or the Ed25519 seed
}

export function x25519PublicKey(priv: Bytes): Bytes {
  if (priv.length !== KEY_BYTES) throw new Error('x25519: bad private key');
  return sodium.crypto_scalarmult_base(priv);
}

export function generateX25519(random: RandomFn): KeyPair {
  const privateKey = random(KEY_BYTES);
  return { privateKey, publicKey: x25519PublicKey(privateKey) };
}

/** X25519; invalid_argument for a bad length or an all-zero result (low-order point). */
export function x25519(priv: Bytes, pub: Bytes): Bytes {
  if (priv.length !== KEY_BYTES || pub.length !== KEY_BYTES) fail('invalid_argument', 'x25519: bad key length');
  try {
    return sodium.crypto_scalarmult(priv, pub);
  } catch {
    return fail('invalid_argument', 'x25519: invalid (low-order) public key');
  }
}

export function ed25519FromSeed(seed: Bytes): KeyPair {
  if (seed.length !== KEY_BYTES) throw new Error('ed25519: bad seed');
  const kp = sodium.crypto_sign_seed_keypair(seed);
  wipe(kp.privateKey);
  return { publicKey: kp.publicKey, privateKey: seed };
}

export function ed25519Sign(seed: Bytes, message: Bytes): Bytes {
  const kp = sodium.crypto_sign_seed_keypair(seed);
  const sig = sodium.crypto_sign_detached(message, kp.privateKey);
  wipe(kp.privateKey);
  return sig;
}

export function ed25519Verify(publicKey: Bytes, message: Bytes, signature: Bytes): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

export function ed25519PublicToX25519(pub: Bytes): Bytes {
  if (pub.length !== 32) fail('invalid_argument', 'ed25519: bad public key length');
  try {
    return sodium.crypto_sign_ed25519_pk_to_curve25519(pub);
  } catch {
    return fail('invalid_argument', 'ed25519: invalid public key');
  }
}

export function ed25519SeedToX25519Private(seed: Bytes): Bytes {
  const kp = sodium.crypto_sign_seed_keypair(seed);
  const out = sodium.crypto_sign_ed25519_sk_to_curve25519(kp.privateKey);
  wipe(kp.privateKey);
  return out;
}

/** XChaCha20-Poly1305-IETF: ciphertext ‖ 16-byte tag. */
export function aeadEncrypt(key: Bytes, nonce: Bytes, plaintext: Bytes, ad: Bytes): Bytes {
  return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

/** forbidden when the tag does not verify; invalid_argument for bad lengths. */
export function aeadDecrypt(key: Bytes, nonce: Bytes, ciphertext: Bytes, ad: Bytes): Bytes {
  if (key.length !== 32 || nonce.length !== 24 || ciphertext.length < AEAD_TAG_BYTES) {
    fail('invalid_argument', 'aead: bad length');
  }
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    return fail('forbidden', 'aead: authentication failed');
  }
}
