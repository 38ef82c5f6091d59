// Search token normalization and tokens: docs/protocol.md §9; twin of search_token.cc.
import { type Bytes, toHex, utf8 } from './bytes';
import { hmacSha256 } from './primitives';

export const MAX_SEARCH_TOKENS = 256;
export const MAX_SEARCH_WORD_BYTES = 256;

// prettier-ignore
const LATIN_EXT_A = [
  'a','a','a','a','a','a', 'c','c','c','c','c','c','c','c', 'd','d','d','d',
  'e','e','e','e','e','e','e','e','e','e', 'g','g','g','g','g','g','g','g', 'h','h','h','h',
  'i','i','i','i','i','i','i','i','i','i', 'ij','ij','j','j','k','k','k',
  'l','l','l','l','l','l','l','l','l','l', 'n','n','n','n','n','n','n','n','n',
  'o','o','o','o','o','o','oe','oe', 'r','r','r','r','r','r', 's','s','s','s','s','s','s','s',
  't','t','t','t','t','t', 'u','u','u','u','u','u','u','u','u','u','u','u', 'w','w','y','y','y',
  'z','z','z','z','z','z','s',
];
// prettier-ignore
const LATIN1: (string | null)[] = [
  'a','a','a','a','a','a','ae','c','e','e','e','e','i','i','i','i',
  'd','n','o','o','o','o','o',null,'o','u','u','u','u','y','th','ss',
  'a','a','a','a','a','a','ae','c','e','e','e','e','i','i','i','i',
  'd','n','o','o','o','o','o',null,'o','u','u','u','u','y','th','y',
];

function decodeUtf8(t: Bytes, i: number): [number, number] {
  const c = t[i];
  const len = c < 0x80 ? 1 : c >> 5 === 6 ? 2 : c >> 4 === 14 ? 3 : c >> 3 === 30 ? 4 : 0;
  if (len === 0 || i + len > t.length) return [0, 0];
  let cp = len === 1 ? c : len === 2 ? c & 0x1f : len === 3 ? c & 0x0f : c & 0x07;
  for (let k = 1; k < len; k++) {
    if ((t[i + k] & 0xc0) !== 0x80) return [0, 0];
    cp = (cp << 6) | (t[i + k] & 0x3f);
  }
  const min = [0, 0, 0x80, 0x800, 0x10000][len];
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [0, 0];
  return [len, cp];
}

/** Appends the folded form of cp; false when cp separates words. */
function fold(cp: number, word: number[]): boolean {
  const push = (s: string) => {
    for (const b of utf8(s)) word.push(b);
  };
  if (cp < 0x80) {
    if (cp >= 65 && cp <= 90) cp += 32;
    const alnum = (cp >= 97 && cp <= 122) || (cp >= 48 && cp <= 57);
    if (alnum) word.push(cp);
    return alnum;
  }
  if (cp < 0xc0) {
    if (cp === 0xaa) push('a');
    else if (cp === 0xba) push('o');
    else if (cp === 0xb5) push('\u03bc');
    else return false;
    return true;
  }
  if (cp < 0x100) {
    const f = LATIN1[cp - 0xc0];
    if (f === null) return false;
    push(f);
    return true;
  }
  if (cp < 0x180) {
    push(LATIN_EXT_A[cp - 0x100]);
    return true;
  }
  if (cp >= 0x391 && cp <= 0x3a9 && cp !== 0x3a2) cp += 0x20;
  else if (cp >= 0x410 && cp <= 0x42f) cp += 0x20;
  else if (cp >= 0x400 && cp <= 0x40f) cp += 0x50;
  else if ((cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xfe30 && cp <= 0xfe4f) || cp === 0xfeff) return false;
  push(String.fromCodePoint(cp));
  return true;
}

function cutToBound(word: number[]): number[] {
  if (word.length <= MAX_SEARCH_WORD_BYTES) return word;
  let n = MAX_SEARCH_WORD_BYTES;
  while (n > 0 && (word[n] & 0xc0) === 0x80) n--;
  return word.slice(0, n);
}

/** Distinct normalized words (UTF-8 bytes), in order of first appearance. */
export function normalizeWordBytes(text: Bytes): Bytes[] {
  const words: Bytes[] = [];
  const seen = new Set<string>();
  let word: number[] = [];
  const flush = () => {
    const w = cutToBound(word);
    if (w.length) {
      const key = toHex(Uint8Array.from(w));
      if (!seen.has(key)) {
        seen.add(key);
        words.push(Uint8Array.from(w));
      }
    }
    word = [];
  };
  for (let i = 0; i < text.length; ) {
    const [len, cp] = decodeUtf8(text, i);
    if (len === 0) {
      flush();
      i++;
      continue;
    }
    if (!fold(cp, word)) flush();
    i += len;
  }
  flush();
  return words;
}

export const normalizeWords = (text: string): string[] => normalizeWordBytes(utf8(text)).map((w) => new TextDecoder().decode(w));

export const searchToken = (key: Bytes, word: Bytes): string => toHex(hmacSha256(key, word).subarray(0, 16));

export function searchTokens(key: Bytes, text: string | Bytes): string[] {
  const words = normalizeWordBytes(typeof text === 'string' ? utf8(text) : text);
  return words.slice(0, MAX_SEARCH_TOKENS).map((w) => searchToken(key, w));
}
