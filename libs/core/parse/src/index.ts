export { parseLine, parseCleanSyslog, checkParseOptions, LINE_FORMATS, type LineFormat, type ParseOptions } from './parse-line';
export { parseRfc5424, looksLikeRfc5424, type Rfc5424Options } from './rfc5424';
export { parseRfc3164, scanBsdTimestamp, type Rfc3164Options } from './rfc3164';
export { scanStructuredData, type SdOptions } from './structured-data';
export { syslogToPartial, type SyslogMessage, type SyslogResult, type StructuredData } from './syslog-message';
export { SyslogFrameDecoder, type Frame, type FrameDecoderOptions, type FramingMode } from './framing';
export { ParseError, PARSE_ERRORS, type ParseErrorCode, type ParseFailure } from './errors';
export { syslogEventLine, eventLabelsJson, type SyslogLineContext } from './syslog-json';
export { ByteQueue, type ByteQueueStats } from './byte-queue';
