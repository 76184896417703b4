import { describe, expect, it } from 'vitest';
import type { BulkItemResult } from './port';
import { conflictField, isMappingError, resolveConflict, takeField } from './conflict';

const item = (reason: string, type = 'mapper_parsing_exception', causedBy?: { type: string; reason: string }): BulkItemResult => ({
  op: 'create',
  index: 'logs-dev-recent-2026.11.22',
  id: 'x',
  status: 400,
  ok: false,
  retriable: false,
  error: { type, reason, ...(causedBy ? { causedBy } : {}) },
});

describe('conflictField', () => {
  it('reads the field from OpenSearch 2 and Elasticsearch 8 reasons', () => {
    expect(conflictField(item("failed to parse field [log.syslog.priority] of type [long] in document with id 'x'. Preview of field's value: 'abc'"))).toBe('log.syslog.priority');
    expect(conflictField(item("[1:25] failed to parse field [custom.v] of type [long] in document with id 'x'", 'document_parsing_exception'))).toBe('custom.v');
    expect(conflictField(item('object mapping for [host] tried to parse field [host] as object, but found a concrete value'))).toBe('host');
    expect(conflictField(item('mapper [custom.v] cannot be changed from type [long] to [keyword]', 'illegal_argument_exception'))).toBe('custom.v');
    expect(conflictField(item('no brackets here'))).toBeUndefined();
  });
  it('knows which errors are mapping errors', () => {
    expect(isMappingError(item('x'))).toBe(true);
    expect(isMappingError(item('x', 'document_parsing_exception'))).toBe(true);
    expect(isMappingError({ ...item('x'), status: 429, retriable: true })).toBe(false);
    expect(isMappingError(item('x', 'version_conflict_engine_exception'))).toBe(false);
  });
});

describe('takeField', () => {
  it('takes nested and dotted-key paths', () => {
    const doc: Record<string, unknown> = { a: { b: { c: 1 } }, 'x.y': 2, k: { 'l.m': 3 } };
    expect(takeField(doc, 'a.b.c')).toEqual({ value: 1 });
    expect(takeField(doc, 'x.y')).toEqual({ value: 2 });
    expect(takeField(doc, 'k.l.m')).toEqual({ value: 3 });
    expect(takeField(doc, 'nope.z')).toBeUndefined();
    expect(doc).toEqual({ a: { b: {} }, k: {} });
  });
  it('moves a whole array of objects', () => {
    const doc: Record<string, unknown> = { a: [{ b: 1 }, { b: 'x' }] };
    expect(takeField(doc, 'a.b')).toEqual({ value: [{ b: 1 }, { b: 'x' }] });
  });
});

describe('resolveConflict', () => {
  it('moves the value to backlog.conflicts as a JSON string and tags the document', () => {
    const doc: Record<string, unknown> = { host: 'web-01', message: 'm', tags: ['t'] };
    expect(resolveConflict(doc, item('object mapping for [host] tried to parse field [host] as object, but found a concrete value'))).toBe('host');
    expect(doc).toEqual({ message: 'm', tags: ['t', 'mapping_conflict'], backlog: { conflicts: [{ field: 'host', value: '"web-01"' }] } });
  });
  it('falls back to the parent when the named field is relative', () => {
    const doc: Record<string, unknown> = { a: { b: { c: 1 } } };
    expect(resolveConflict(doc, item('failed to parse field [a.b.zz] of type [long]'))).toBe('a.b');
    expect(doc.backlog).toEqual({ conflicts: [{ field: 'a.b', value: '{"c":1}' }] });
  });
  it('never moves event.id, and gives up without a field', () => {
    expect(resolveConflict({ event: { id: 1 } }, item('failed to parse field [event.id] of type [keyword]'))).toBeUndefined();
    expect(resolveConflict({ a: 1 }, item('Limit of total fields [2000] has been exceeded'))).toBeUndefined();
  });
});
