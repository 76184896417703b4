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

  it('a 64 KiB frame pushed one byte at a time costs linear copying in one growing buffer (issue 17 §6)', () => {
    const body = 'z'.repeat(65_536 - 40);
    for (const [mode, wire] of [
      ['auto', `${body.length} ${body}`],
      ['octet-counting', `${body.length} ${body}`],
      ['lf', `${body}\n`],
      ['nul', `${body}\u0000`],
    ] as const) {
      const d = new SyslogFrameDecoder({ mode, views: true });
      const bytes = enc(wire);
      const frames = [];
      for (let i = 0; i < bytes.length; i++) {
        frames.push(...d.push(bytes.subarray(i, i + 1)).map((f) => txt(f.payload)));
        if (i % 4096 === 0) expect(d.partial).toBe(true);
      }
      expect(frames, mode).toEqual([body]);
      expect(d.partial, mode).toBe(false);
      const st = d.stats();
      // Re-concatenating the pending bytes on every push copied ~n²/2 = 2 GiB here.
      expect(st.copiedBytes, mode).toBeLessThanOrEqual(3 * bytes.length);
      expect(st.allocations, mode).toBeLessThanOrEqual(12);
      expect(st.length, mode).toBe(0);
    }
  });

  it('holds at most one frame (+ MSG-LEN) between pushes, and gives the frames of one push whatever the chunking (fuzz)', () => {
    // xorshift: a failure can be replayed
    let x = 20261122;
    const rand = () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x / 0x100000000;
    };
    const pieces = ['<1>a', '<2>' + 'b'.repeat(70), '17 <3>octet counted', '5 \n\n\n\n\n', '999 cut', '12', '\n', '\u0000', '\r\n', 'x\r', '0 ', ' ', '1 ', '3 abc', '2026-11-22 text', '9999999999 '];
    for (let n = 0; n < 5000; n++) {
      let stream = '';
      const parts = 1 + Math.floor(rand() * 12);
      for (let k = 0; k < parts; k++) stream += pieces[Math.floor(rand() * pieces.length)];
      const bytes = enc(stream);
      const mode = (['auto', 'octet-counting', 'lf', 'nul'] as const)[n % 4]!;
      const maxFrameBytes = 8 + Math.floor(rand() * 60);
      const render = (fs: ReturnType<SyslogFrameDecoder['push']>) => fs.map((f) => ({ ...f, payload: txt(f.payload) }));
      const once = new SyslogFrameDecoder({ mode, maxFrameBytes });
      const whole = [...render(once.push(bytes)), ...render(once.end())];
      const d = new SyslogFrameDecoder({ mode, maxFrameBytes, views: n % 2 === 0 });
      const got = [];
      for (let i = 0; i < bytes.length;) {
        const size = 1 + Math.floor(rand() * 9);
        got.push(...render(d.push(bytes.subarray(i, i + size))));
        expect(d.buffered).toBeLessThanOrEqual(maxFrameBytes + 11);
        i += size;
      }
      got.push(...render(d.end()));
      expect([stream, mode, maxFrameBytes, got]).toEqual([stream, mode, maxFrameBytes, whole]);
    }
  });

  it('rejects bad options with a coded error', () => {
    expect(() => new SyslogFrameDecoder({ maxFrameBytes: 0 })).toThrowError(expect.objectContaining({ code: 'OPTIONS_INVALID' }));
  });
});
