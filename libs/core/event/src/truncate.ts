/**
 * Cut a string so that its UTF-8 encoding is at most `maxBytes` bytes, never splitting a code point
 * (a lone surrogate would make the NDJSON invalid UTF-8 downstream). Returns the input itself when it
 * fits, so callers can test `result !== input` to know whether it was cut.
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  // Cheap exits: every UTF-16 unit encodes to at most 3 UTF-8 bytes.
  if (s.length * 3 <= maxBytes) return s;
  let bytes = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let w: number;
    let units = 1;
    if (c < 0x80) w = 1;
    else if (c < 0x800) w = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        w = 4;
        units = 2;
      } else w = 3;
    } else w = 3;
    if (bytes + w > maxBytes) return s.slice(0, i);
    bytes += w;
    i += units - 1;
  }
  return s;
}

/** UTF-8 byte length without allocating. */
export function utf8Length(s: string): number {
  let bytes = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
