import { describe, expect, it } from 'vitest';
import { truncateUtf8, utf8Length } from './truncate';

describe('truncateUtf8', () => {
  it('returns the same string when it fits', () => {
    const s = 'hello';
    expect(truncateUtf8(s, 5)).toBe(s);
  });

  it('cuts at a byte limit without splitting a code point', () => {
    expect(truncateUtf8('aé', 2)).toBe('a'); // é is 2 bytes
    expect(truncateUtf8('a𐌼b', 4)).toBe('a'); // 𐌼 is 4 bytes (a surrogate pair)
    expect(truncateUtf8('a𐌼b', 5)).toBe('a𐌼');
    expect(utf8Length(truncateUtf8('€'.repeat(1000), 1000))).toBeLessThanOrEqual(1000);
  });

  it('agrees with Buffer.byteLength', () => {
    for (const s of ['', 'abc', 'äöü', '⌘', '𐌼x', '\ud800 lone']) expect(utf8Length(s)).toBe(Buffer.byteLength(s));
  });
});
