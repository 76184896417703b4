import type { PartReaderIo, PartStore } from '@backlog/core-codec';
import { type Bz2DecoderOptions, createBz2Decoder } from './decoder';
import { tempSpools } from './spool';

/**
 * What core-codec's `readPartEvents` needs, in one: `store` (S3: `partStoreOf` of @backlog/adapter-s3;
 * none when the parts are at hand, e.g. read from c-<env>), a bz2 decoder and temp-file spools.
 */
export function partReaderIo(store: PartStore | undefined, opts: Bz2DecoderOptions & { tmpDir?: string } = {}): PartReaderIo {
  return { ...(store ? { store } : {}), decoder: createBz2Decoder(opts), spool: tempSpools(opts.tmpDir) };
}
