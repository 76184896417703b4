import { describe, expect, it } from 'vitest';
import { SyslogFrameDecoder } from './framing';

const enc = (s: string) => new TextEncoder().encode(s);
const txt = (b: Uint8Array) => new TextDecoder().decode(b);

function decode(d: SyslogFrameDecoder, chunks: string[]) {
  const out = chunks.flatMap((c) => d.push(enc(c)));
  return [...out, ...d.end()];
}

describe('SyslogFrameDecoder (RFC 6587)', () => {
  it('auto-detects octet counting and LF/NUL framing per frame', () => {
    const frames = decode(new SyslogFrameDecoder(), ['11 <1>1 - - -x', '<2>plain\n', '<3>nul\u0000', '5 hello']);
    expect(frames.map((f) => [f.framing, txt(f.payload)])).toEqual([
      ['octet-counting', '<1>1 - - -x'],
      ['lf', '<2>plain'],
      ['nul', '<3>nul'],
      ['octet-counting', 'hello'],
    ]);
  });

  it('gives the same frames whatever the read boundaries (byte by byte)', () => {
    const stream = '16 <1>1 - - - - - -<14>Aug 30 23:00:05 X4711 msg\r\n3 abc';
    const whole = decode(new SyslogFrameDecoder(), [stream]).map((f) => txt(f.payload));
    const bytewise = decode(new SyslogFrameDecoder(), [...stream]).map((f) => txt(f.payload));
    expect(bytewise).toEqual(whole);
    expect(whole).toEqual(['<1>1 - - - - - -', '<14>Aug 30 23:00:05 X4711 msg', 'abc']);
  });

  it('with views, gives the frames of copy mode (payloads read at once), without copying the pushed bytes', () => {
    const stream = '16 <1>1 - - - - - -<14>Aug 30 23:00:05 X4711 msg\r\n3 abc<5>nul\u0000' + 'x'.repeat(40) + '\n9 truncated+more\n';
    for (const size of [1, 3, 7, 64]) {
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      const read = (d: SyslogFrameDecoder) => [...chunks.flatMap((c) => d.push(enc(c)).map((f) => ({ ...f, payload: txt(f.payload) }))), ...d.end().map((f) => ({ ...f, payload: txt(f.payload) }))];
      expect(read(new SyslogFrameDecoder({ views: true, maxFrameBytes: 30 }))).toEqual(read(new SyslogFrameDecoder({ maxFrameBytes: 30 })));
    }
    const chunk = enc('<1>one\n<2>two\n');
    const frames = new SyslogFrameDecoder({ views: true }).push(chunk);
    expect(frames.map((f) => f.payload.buffer === chunk.buffer)).toEqual([true, true]);
  });

  it('a bogus MSG-LEN (999999999) costs at most one max frame of memory', () => {
    const d = new SyslogFrameDecoder({ maxFrameBytes: 1024 });
    const frames = d.push(enc('999999999 '));
    const chunk = new Uint8Array(64 * 1024).fill(97);
    for (let i = 0; i < 100; i++) {
      frames.push(...d.push(chunk));
      expect(d.buffered).toBeLessThanOrEqual(1024 + 16);
    }
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ error: 'FRAME_TOO_LONG', truncated: true, declaredLength: 999_999_999 });
    expect(frames[0]?.payload.length).toBe(1024);
  });

  it('cuts an over-long LF frame, flags it, and resynchronises at the next LF', () => {
    const d = new SyslogFrameDecoder({ mode: 'lf', maxFrameBytes: 8 });
    const frames = decode(d, ['0123456789abcdef', 'ghij\nnext\n']);
    expect(frames.map((f) => [txt(f.payload), f.error])).toEqual([
      ['01234567', 'FRAME_TOO_LONG'],
      ['next', undefined],
    ]);
    expect(d.buffered).toBe(0);
  });

  it('in strict octet-counting mode reports garbage as a flagged frame instead of dropping it', () => {
    const frames = decode(new SyslogFrameDecoder({ mode: 'octet-counting' }), ['3 abcgarbage\n4 defg']);
    expect(frames.map((f) => [txt(f.payload), f.error])).toEqual([
      ['abc', undefined],
      ['garbage', 'FRAME_MSG_LEN_INVALID'],
      ['defg', undefined],
    ]);
  });

  it('flags a stream that ends inside an octet-counted frame', () => {
    const frames = decode(new SyslogFrameDecoder(), ['10 abc']);
    expect(frames).toEqual([{ payload: enc('abc'), framing: 'octet-counting', error: 'FRAME_EOF', declaredLength: 10 }]);
  });

  it('treats digits not followed by SP as the start of an LF frame in auto mode', () => {
    const frames = decode(new SyslogFrameDecoder(), ['2026-11-22 text line\n', '123']);
    expect(frames.map((f) => txt(f.payload))).toEqual(['2026-11-22 text line', '123']);
  });

  it('rejects bad options with a coded error', () => {
    expect(() => new SyslogFrameDecoder({ maxFrameBytes: 0 })).toThrowError(expect.objectContaining({ code: 'OPTIONS_INVALID' }));
  });
});
