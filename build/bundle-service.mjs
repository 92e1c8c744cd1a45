#!/usr/bin/env node
// Bundles the compiled service (dist/service, from tsc) and its pure-JavaScript dependencies into
// minified files, which is what `consulate serve` runs (bin/consulate.js):
//
//   dist/service/consulate.js           the CLI and the service (main.js and everything it imports)
//   dist/service/consulate-<pkg>-*.js   a chunk per dependency package of 16 KB or more, and the service's code
//   dist/service/consulate-*.js         chunks loaded on demand (the demo, the OpenAPI document)
//   dist/service/checkpoint-worker.js   the WAL checkpoint thread, self-contained (a build of its own)
//
// Loading its more than 500 modules one by one from node_modules cost the service about 20 MB of
// resident memory that it never gave back (the module loader's garbage grows V8's young
// generation and old space while it starts); the minified bundle starts in less
// (docs/architecture.md, "Build outputs"). It is split by package because V8 parses each module
// file as a whole: on Node 22 and 24 the parser's memory for one 3 MB file peaked at 22 MB, which
// glibc then kept, about 20 MB more resident memory for good; files of a package each keep that
// peak small. The files sit directly in dist/service, beside version.js, so every
// `new URL(…, import.meta.url)` in the service resolves as it does unbundled.
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

/** The npm package a module belongs to ('@scope/name' as 'scope-name'), or null for the service's own code. */
function packageChunk(id) {
  const match = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(id);
  return match ? match[1].replace(/^@/, '').replace(/[\\/]/g, '-') : null;
}

const shared = {
  platform: 'node',
  external: ['better-sqlite3', 'cbor-extract'],
  logLevel: 'silent',
};
const output = {
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
  // source text in memory, and one character above U+00FF makes a whole chunk a two-byte string,
  // twice the heap.
  charset: 'ascii',
};

await build({
  ...shared,
  input: { consulate: main },
  // Packages under 16 KB stay with the service's code: fewer files, the same memory.
  output: { ...output, codeSplitting: { groups: [{ name: packageChunk, minSize: 16384 }] } },
});
// Its own build, so the thread (with a heap of a few MB) loads only what it uses, not chunks it
// would share with the service.
await build({
  ...shared,
  input: { 'checkpoint-worker': join(out, 'store', 'checkpoint-worker.js') },
  output,
});
process.stdout.write(
  `bundled the service into ${readdirSync(out).filter((n) => /^(consulate|checkpoint-worker).*\.js$/.test(n)).length} files in dist/service\n`,
);
