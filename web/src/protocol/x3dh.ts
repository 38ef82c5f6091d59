// X3DH (Signal spec, X25519 + SHA-256), Parley profile: docs/protocol.md §3; twin of
// src/sdk/crypto/x3dh.cc.
import { type Bytes, concat, equal } from './bytes';
import { fail } from './errors';
import {
  type KeyPair,
  KEY_BYTES,
  SIGNATURE_BYTES,
  ed25519FromSeed,
  ed25519PublicToX25519,
  ed25519SeedToX25519Private,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  x25519,
} from './primitives';

export const X3DH_INFO = 'parley.x3dh.v1';

export interface Identity {
  seed: Bytes;
  signingKey: Bytes; // Ed25519 public
  identityKey: Bytes; // X25519 form
  dhPrivate: Bytes; // X25519 private
}

export interface Bundle {
  signingKey: Bytes;
  identityKey: Bytes;
  signedPrekeyId: number;
  signedPrekey: Bytes;
  signedPrekeySignature: Bytes;
  oneTimePrekeyId?: number;
  oneTimePrekey?: Bytes;
}

export interface X3dhResult {
  sharedSecret: Bytes;
  associatedData: Bytes;
  dh: Bytes[];
}

export const encodeX25519Key = (pub: Bytes): Bytes => concat(Uint8Array.of(5), pub);

export function identityFromSeed(seed: Bytes): Identity {
  const signingKey = ed25519FromSeed(seed).publicKey;
  return {
    seed,
    signingKey,
    identityKey: ed25519PublicToX25519(signingKey),
    dhPrivate: ed25519SeedToX25519Private(seed),
  };
}

export const signPrekey = (identitySeed: Bytes, spkPublic: Bytes): Bytes =>
  ed25519Sign(identitySeed, encodeX25519Key(spkPublic));

export const verifyPrekey = (signingKey: Bytes, spkPublic: Bytes, signature: Bytes): boolean =>
  ed25519Verify(signingKey, encodeX25519Key(spkPublic), signature);

export function checkBundle(b: Bundle): void {
  const hasOtkId = b.oneTimePrekeyId !== undefined;
  const hasOtk = !!b.oneTimePrekey && b.oneTimePrekey.length > 0;
  if (
    b.signingKey.length !== KEY_BYTES ||
    b.identityKey.length !== KEY_BYTES ||
    b.signedPrekey.length !== KEY_BYTES ||
    b.signedPrekeySignature.length !== SIGNATURE_BYTES ||
    hasOtkId !== hasOtk ||
    (hasOtk && b.oneTimePrekey!.length !== KEY_BYTES)
  ) {
    fail('invalid_argument', 'x3dh: malformed bundle');
  }
  if (!equal(ed25519PublicToX25519(b.signingKey), b.identityKey)) {
    fail('forbidden', 'x3dh: identity_key does not match signing_key');
  }
  if (!verifyPrekey(b.signingKey, b.signedPrekey, b.signedPrekeySignature)) {
    fail('forbidden', 'x3dh: bad signed prekey signature');
  }
}

function derive(dh: Bytes[], ikA: Bytes, ikB: Bytes): X3dhResult {
  const ikm = concat(new Uint8Array(32).fill(0xff), ...dh);
  return {
    sharedSecret: hkdfSha256(new Uint8Array(32), ikm, X3DH_INFO, 32),
    associatedData: concat(encodeX25519Key(ikA), encodeX25519Key(ikB)),
    dh,
  };
}

export function x3dhInitiate(alice: Identity, bob: Bundle, ephemeral: KeyPair): X3dhResult {
  checkBundle(bob);
  const dh = [
    x25519(alice.dhPrivate, bob.signedPrekey),
    x25519(ephemeral.privateKey, bob.identityKey),
    x25519(ephemeral.privateKey, bob.signedPrekey),
  ];
  if (bob.oneTimePrekey && bob.oneTimePrekey.length) dh.push(x25519(ephemeral.privateKey, bob.oneTimePrekey));
  return derive(dh, alice.identityKey, bob.identityKey);
}

export function x3dhRespond(
  bob: Identity,
  signedPrekeyPrivate: Bytes,
  oneTimePrekeyPrivate: Bytes | null,
  aliceSigningKey: Bytes,
  aliceEphemeral: Bytes,
): X3dhResult {
  const aliceIk = ed25519PublicToX25519(aliceSigningKey);
  const dh = [
    x25519(signedPrekeyPrivate, aliceIk),
    x25519(bob.dhPrivate, aliceEphemeral),
    x25519(signedPrekeyPrivate, aliceEphemeral),
  ];
  if (oneTimePrekeyPrivate && oneTimePrekeyPrivate.length) dh.push(x25519(oneTimePrekeyPrivate, aliceEphemeral));
  return derive(dh, aliceIk, bob.identityKey);
}
