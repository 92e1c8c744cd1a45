import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { homeApiYaml } from '../../service/home/openapi.js';

describe('docs/home-api.yaml', () => {
  it('is the document generated from the schemas the handlers validate with (run `npm run docs:openapi`)', () => {
    expect(readFileSync(new URL('../../docs/home-api.yaml', import.meta.url), 'utf8')).toBe(homeApiYaml());
  });

  it('describes every endpoint with its schemas resolvable', () => {
    const doc = parse(homeApiYaml()) as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/directory/{user}', '/v1/lookup', '/v1/envelopes', '/v1/envelopes/{id}/recall', '/v1/inbound', '/v1/inbound/ack']),
    );
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1] as string);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty(ref);
  });
});
