// Engine error codes (docs/protocol.md §11), named like the API's error codes.
export type E2eeCode =
  | 'not_found' // no sender key yet (keep pending) / unknown prekey
  | 'conflict' // replay
  | 'forbidden' // authentication failed
  | 'invalid_argument' // malformed, unknown version, over a bound
  | 'payload_too_large'
  | 'internal' // corrupted state or a bug
  | 'unavailable'; // directory / network trouble (retry later)

export class E2eeError extends Error {
  constructor(
    readonly code: E2eeCode,
    message: string,
  ) {
    super(message);
    this.name = 'E2eeError';
  }
}

export const fail = (code: E2eeCode, message: string): never => {
  throw new E2eeError(code, message);
};

export function codeOf(e: unknown): E2eeCode | 'other' {
  return e instanceof E2eeError ? e.code : 'other';
}
