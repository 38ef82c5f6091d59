import { describe, expect, it } from 'vitest';

import { uuidV7 } from './ids';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidV7 (client_msg_id)', () => {
  it('is a version-7 UUID whose first 48 bits are the milliseconds', () => {
    const now = Date.UTC(2026, 11, 7, 13, 0, 0);
    const id = uuidV7(now);
    expect(id).toMatch(V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('sorts in the order made, within one millisecond and across the counter overflow', () => {
    const now = Date.UTC(2026, 11, 7, 14, 0, 0);
    const ids = Array.from({ length: 5000 }, () => uuidV7(now));
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // 4,096 ids fit one millisecond; the rest borrowed the next one.
    expect(parseInt(ids[ids.length - 1].replace(/-/g, '').slice(0, 12), 16)).toBe(now + 1);
  });
});
