#!/usr/bin/env node
// Bundles the compiled service (dist/service, from tsc) and its pure-JavaScript dependencies into
// a few minified files, which is what `consulate serve` runs (bin/consulate.js):
//
//   dist/service/consulate.js           the CLI and the service (main.js and everything it imports)
//   dist/service/consulate-*.js         chunks loaded on demand (the demo, the OpenAPI document)
//   dist/service/checkpoint-worker.js   the WAL checkpoint thread
//
// Loading its more than 500 modules one by one from node_modules cost the service about 20 MB of
// resident memory that it never gave back (the module loader's garbage grows V8's young
// generation and old space while it starts); the minified bundle starts in less
// (docs/architecture.md, "Build outputs"). The files sit directly in dist/service, beside
// version.js, so every `new URL(…, import.meta.url)` in the service resolves as it does unbundled.
//
// Native addons stay outside and are loaded from node_modules as before: better-sqlite3, and
// cbor-extract (cbor-x's optional native decoder).
//
// Usage: node build/bundle-service.mjs   (npm run build:service runs it after tsc)
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'service');
const main = join(out, 'cli', 'main.js');
if (!existsSync(main)) throw new Error('dist/service/cli/main.js is missing: run tsc -p tsconfig.service.json first');

// Chunks of an earlier build have other hashes; remove them so only this build's are shipped.
for (const name of readdirSync(out)) if (/^consulate(-.+)?\.js(\.map)?$/.test(name)) rmSync(join(out, name));

await build({
  input: { consulate: main, 'checkpoint-worker': join(out, 'store', 'checkpoint-worker.js') },
  platform: 'node',
  external: ['better-sqlite3', 'cbor-extract'],
  logLevel: 'silent',
  output: {
    dir: out,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'consulate-[name]-[hash].js',
    // Names are minified too (errors set their own `name`). Keeping them (`keepNames`) wraps every
    // function at load time and cost 12 MB of idle RSS; `node --enable-source-maps` maps a stack
    // trace to tsc's output in dist/service, which keeps the TypeScript's names.
    minify: true,
    sourcemap: true,
    // Non-ASCII characters (an ellipsis or a dash in a message) escaped: V8 keeps each module's
    // source text in memory, and one character above U+00FF makes the whole 3 MB chunk a
    // two-byte string, 6 MB of heap instead of 3.
    charset: 'ascii',
  },
});
process.stdout.write(
  `bundled the service into ${readdirSync(out).filter((n) => /^(consulate|checkpoint-worker).*\.js$/.test(n)).length} files in dist/service\n`,
);
