#!/usr/bin/env node
// Entry point of the `consulate` command: runs the built service, bundled by
// build/bundle-service.mjs (npm ci and npm run build make it).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/service/consulate.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('consulate: the service is not built; run `npm run build` (npm ci does it too)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
