#!/usr/bin/env node
// A stand-in for `journalctl -o json --follow` used by journald.spec.ts on machines without a running
// journal. It is a real process speaking journalctl's JSON export format on stdout, honouring the
// arguments our input passes: --after-cursor=C (print only entries after C), --lines=0 (none of the
// existing ones), --no-tail (all). Extra arguments choose the data:
//   --fake-entries=FILE   a JSON array of journal entries (the "journal")
//   --fake-hostile=N      N malformed lines instead (random bytes, cut JSON, byte-array messages, MB lines)
//   --fake-exit           exit after printing instead of following (tests the input's restart)
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const has = (name) => args.includes(`--${name}`);
const out = [];

if (opt('fake-hostile')) {
  const n = Number(opt('fake-hostile'));
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    switch (i % 8) {
      case 0: out.push(Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)).filter((b) => b !== 10))); break;
      case 1: out.push(Buffer.from('{"MESSAGE":"cut json')); break;
      case 2: out.push(Buffer.from(JSON.stringify({ MESSAGE: [0xff, 0xfe, 0x00, 0x41, 0xc3], PRIORITY: '9', __REALTIME_TIMESTAMP: 'x', __CURSOR: `h${i}` }))); break;
      case 3: out.push(Buffer.from(JSON.stringify({ MESSAGE: null, _HOSTNAME: ['a', 'b'], __CURSOR: `h${i}` }))); break;
      case 4: out.push(Buffer.from(i % 1000 === 4 ? `{"MESSAGE":"${'m'.repeat(3 * 1024 * 1024)}"}` : '[1,2,3]')); break;
      case 5: out.push(Buffer.from(`{"MESSAGE":${'['.repeat(2000)}${']'.repeat(2000)},"__CURSOR":"h${i}"}`)); break;
      case 6: out.push(Buffer.from('\u0000\u0000\u0000')); break;
      default: out.push(Buffer.from(JSON.stringify({ MESSAGE: `ok ${i}`, PRIORITY: '6', __CURSOR: `h${i}`, __REALTIME_TIMESTAMP: '1795000000000000' })));
    }
  }
} else {
  const entries = JSON.parse(readFileSync(opt('fake-entries'), 'utf8'));
  const after = opt('after-cursor');
  let start = 0;
  if (after !== undefined) start = entries.findIndex((e) => e.__CURSOR === after) + 1;
  else if (args.includes('--lines=0')) start = entries.length;
  for (const e of entries.slice(start)) out.push(Buffer.from(JSON.stringify(e)));
}

process.stdout.write(Buffer.concat(out.flatMap((b) => [b, Buffer.from('\n')])), () => {
  if (has('fake-exit')) process.exit(0);
  // --follow: stay until terminated, like journalctl.
  setInterval(() => {}, 1 << 30);
});
