import { createCatalogue, type FieldCatalogue, type FieldInfo } from './catalogue';

/**
 * A field catalogue shaped like backlog's `logs-*` template on OpenSearch (the search adapter builds
 * the real one from mappings) plus a few ECS fields a custom mapping might add: for this library's
 * unit tests and for callers' tests that need a catalogue without an engine.
 */
export function exampleCatalogue(over: Partial<{ flattenedAggregatable: boolean }> = {}): FieldCatalogue {
  const kw = (ignoreAbove = 1024): FieldInfo => ({ type: 'keyword', mappingType: 'keyword', ignoreAbove, aggregatable: true });
  const long: FieldInfo = { type: 'number', mappingType: 'long', integer: true, aggregatable: true };
  const obj: FieldInfo = { type: 'object', mappingType: 'object', aggregatable: false };
  const flat: FieldInfo = { type: 'flattened', mappingType: over.flattenedAggregatable ? 'flattened' : 'flat_object', aggregatable: false, subfieldsAggregatable: !!over.flattenedAggregatable };
  return createCatalogue(
    {
      '@timestamp': { type: 'date', mappingType: 'date', aggregatable: true },
      message: { type: 'text', mappingType: 'text', aggregatable: false },
      tags: kw(),
      labels: obj,
      event: obj,
      'event.id': kw(),
      'event.created': { type: 'date', mappingType: 'date', aggregatable: true },
      'event.original': { type: 'keyword', mappingType: 'keyword', searchable: false, aggregatable: false },
      host: obj,
      'host.name': kw(),
      'host.ip': { type: 'ip', mappingType: 'ip', aggregatable: true },
      service: obj,
      'service.name': kw(),
      process: obj,
      'process.pid': long,
      log: obj,
      'log.level': kw(),
      'log.logger': kw(),
      'log.syslog': obj,
      'log.syslog.appname': kw(),
      'log.syslog.priority': long,
      'log.syslog.structured_data': flat,
      error: obj,
      'error.message': { type: 'text', mappingType: 'text', aggregatable: false },
      http: obj,
      'http.response': obj,
      'http.response.status_code': long,
      'http.response_time': { type: 'number', mappingType: 'double', aggregatable: true },
      user: obj,
      'user.active': { type: 'boolean', mappingType: 'boolean', aggregatable: true },
      'client.geo': { type: 'other', mappingType: 'geo_point', aggregatable: false },
      fields: flat,
    },
    { patterns: [{ prefix: 'labels.', info: kw() }], freeForm: 'fields', idField: 'event.id' },
  );
}
