#!/usr/bin/env node
/**
 * Runs a TypeScript benchmark without a TS loader in the dependencies: compiles it (and the
 * service modules it imports) with the project's own tsc into a temporary directory, runs the
 * output as ESM, and removes the directory afterwards.
 *
 *   node bench/run.mjs [link] [--cpu-prof] [benchmark options...]
 *
 * --cpu-prof runs the benchmark under `node --cpu-prof` and keeps the profile in a temporary
 * directory whose path is printed (open it in Chrome DevTools, or summarise it with
 * `node bench/profile-summary.mjs <file>`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchmarks = new Set(['link']);

const args = process.argv.slice(2);
const name = args[0] && benchmarks.has(args[0]) ? args.shift() : 'link';
const profile = args.includes('--cpu-prof');
const forwarded = args.filter((a) => a !== '--cpu-prof');

const out = mkdtempSync(join(tmpdir(), 'consulate-bench-'));
let status = 1;
try {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'bench', 'tsconfig.json'), '--outDir', out], { stdio: 'inherit' });
  if (compiled.status !== 0) throw new Error('bench: TypeScript compilation failed');
  // The output is ESM and resolves its packages from the project's node_modules.
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'junction');
  const nodeArgs = [];
  if (profile) {
    const profileDir = join(tmpdir(), `consulate-bench-profile-${Date.now()}`);
    mkdirSync(profileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    console.log(`CPU profile will be written to ${profileDir}`);
  }
  const run = spawnSync(process.execPath, [...nodeArgs, join(out, 'bench', `${name}.js`), ...forwarded], { stdio: 'inherit' });
  status = run.status ?? 1;
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(status);
