// Safety numbers (Signal numeric fingerprint v0): docs/protocol.md §8.
import { type Bytes, compare, concat, utf8 } from './bytes';
import { sha512 } from './primitives';

export const FINGERPRINT_ITERATIONS = 5200;

export function fingerprintKey(signingKeys: Bytes[]): Bytes {
  return concat(...signingKeys.slice().sort(compare));
}

export function fingerprintHalf(key: Bytes, identifier: string): string {
  let h = sha512(concat(new Uint8Array(2), key, utf8(identifier)));
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) h = sha512(concat(h, key));
  let digits = '';
  for (let i = 0; i < 6; i++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + h[i * 5 + j];
    digits += String(v % 100000).padStart(5, '0');
  }
  return digits;
}

export function safetyNumber(localKeys: Bytes[], localUserId: string, remoteKeys: Bytes[], remoteUserId: string): string {
  const a = fingerprintHalf(fingerprintKey(localKeys), localUserId);
  const b = fingerprintHalf(fingerprintKey(remoteKeys), remoteUserId);
  return a <= b ? a + b : b + a;
}

/** 60 digits as 12 groups of 5. */
export const formatSafetyNumber = (n: string): string[] => n.match(/.{1,5}/g) ?? [];
