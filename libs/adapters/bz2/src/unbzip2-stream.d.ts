// unbzip2-stream 1.4.3 ships no types: a transform stream of bz2 in (any number of concatenated
// streams), plain bytes out.
declare module 'unbzip2-stream' {
  import type { Transform } from 'node:stream';
  export default function unbzip2(): Transform;
}
