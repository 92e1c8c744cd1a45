#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node bench/run.mjs --cpu-prof ...`): self time per
 * function and per component (libsodium, cbor-x, zod, ws, TLS, the link code, GC, idle).
 *
 *   node bench/profile-summary.mjs <file.cpuprofile> [top-n]
 */
import { readFileSync } from 'node:fs';

const [file, topText] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top-n]');
  process.exit(2);
}
const top = Number(topText ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

function component(frame) {
  const url = frame.url ?? '';
  const name = frame.functionName ?? '';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'V8/native (program)';
  if (url.includes('libsodium')) return 'libsodium (wasm + wrappers)';
  if (url.startsWith('wasm://')) return 'libsodium (wasm + wrappers)';
  if (url.includes('cbor-x') || url.includes('cbor-extract')) return 'cbor-x';
  if (url.includes('/zod/')) return 'zod';
  if (url.includes('/ws/')) return 'ws';
  if (url.includes('/service/link/noise')) return 'link: Noise state machine';
  if (url.includes('/service/link/')) return 'link: session and frames';
  if (url.includes('/bench/')) return 'bench driver';
  if (url.startsWith('node:internal/tls') || url.startsWith('node:_tls') || url.startsWith('node:tls')) return 'node TLS';
  if (url.startsWith('node:internal/stream') || url.startsWith('node:stream') || url.startsWith('node:net') || url.startsWith('node:internal/net'))
    return 'node streams/net';
  if (url.startsWith('node:internal/timers') || url.startsWith('node:timers')) return 'node timers';
  if (url.startsWith('node:')) return 'node other';
  if (url === '') return 'native/builtin';
  return 'other';
}

const functions = new Map();
const components = new Map();
let total = 0;
for (const [id, micros] of selfMicros) {
  const node = byId.get(id);
  const frame = node.callFrame;
  const key = `${frame.functionName || '(anonymous)'}  ${(frame.url ?? '').replace(/^.*\/(node_modules|service|bench)\//, '$1/')}:${frame.lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + micros);
  const group = component(frame);
  components.set(group, (components.get(group) ?? 0) + micros);
  total += micros;
}

const busy = total - (components.get('idle') ?? 0);
const pct = (micros, of) => `${((100 * micros) / of).toFixed(1).padStart(5)} %`;
console.log(`profile ${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy`);
console.log('\nself time by component (share of busy time)');
for (const [group, micros] of [...components].sort((a, b) => b[1] - a[1])) {
  if (group !== 'idle') console.log(`  ${pct(micros, busy)}  ${group}`);
}
console.log(`\ntop ${top} functions by self time (share of busy time)`);
for (const [key, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  if (!key.startsWith('(idle)')) console.log(`  ${pct(micros, busy)}  ${key}`);
}
