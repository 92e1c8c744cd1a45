import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Every `new SomethingError('code', …)` in the service, with where it is thrown. */
function thrownCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  for (const file of sources('service')) {
    for (const match of readFileSync(join(root, file), 'utf8').matchAll(/new (\w*Error)\(\s*'([a-z0-9_]+)'/g)) {
      if (!codes.has(match[2]!)) codes.set(match[2]!, file);
    }
  }
  return codes;
}

describe('error code catalogue', () => {
  it('documents every code the service throws, in docs/errors.md or the link table of docs/protocol.md', () => {
    const documented = readFileSync(join(root, 'docs/errors.md'), 'utf8') + readFileSync(join(root, 'docs/protocol.md'), 'utf8');
    const codes = thrownCodes();
    expect(codes.size).toBeGreaterThan(50);
    const missing = [...codes].filter(([code]) => !documented.includes(`\`${code}\``)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });
});
