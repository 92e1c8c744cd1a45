#!/usr/bin/env node
// `npm run dist`: desktop installers with electron-builder (build/electron-builder.yml).
//
// Needs internet, unlike the headless package: electron-builder downloads the Electron
// release zip for each target, and the service's native modules (better-sqlite3,
// cbor-extract) are rebuilt against Electron's headers, which @electron/rebuild downloads.
//
// Two staged trees keep the app small and the service unchanged:
//   dist/desktop-app      the shell (dist/electron) + electron-store → app.asar
//   dist/desktop-service  the service as `consulate serve` runs it, with its production
//                         node_modules rebuilt for Electron's ABI → resources/service
//
// Usage: node build/desktop/dist.mjs [--skip-build] [--stage-only] [electron-builder flags, e.g. --linux --win --mac]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyProductionDependencies } from '../lib/production-deps.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const electronVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
const appDir = join(root, 'dist', 'desktop-app');
const serviceDir = join(root, 'dist', 'desktop-service');

const step = (message) => process.stdout.write(`== ${message}\n`);

if (!args.includes('--skip-build')) {
  step('npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
step('compile the shell');
execFileSync(process.execPath, [join(root, 'build', 'desktop', 'compile-shell.mjs')], { stdio: 'inherit' });

step('stage dist/desktop-app');
rmSync(appDir, { recursive: true, force: true });
cpSync(join(root, 'dist', 'electron'), join(appDir, 'electron'), { recursive: true, filter: (src) => !src.endsWith('.map') });
const storeVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron-store', 'package.json'), 'utf8')).version;
writeFileSync(
  join(appDir, 'package.json'),
  `${JSON.stringify({ name: pkg.name, productName: 'Consulate', version: pkg.version, description: pkg.description, license: pkg.license, author: 'Consulate contributors', type: 'module', main: 'electron/main.js', dependencies: { 'electron-store': storeVersion } }, null, 2)}\n`,
);
process.stdout.write(`${copyProductionDependencies(root, appDir, { only: ['electron-store'] })} packages\n`);

step('stage dist/desktop-service');
rmSync(serviceDir, { recursive: true, force: true });
mkdirSync(serviceDir, { recursive: true });
writeFileSync(join(serviceDir, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: pkg.type }, null, 2)}\n`);
cpSync(join(root, 'bin'), join(serviceDir, 'bin'), { recursive: true });
for (const part of ['service', 'renderer'])
  cpSync(join(root, 'dist', part), join(serviceDir, 'dist', part), { recursive: true, filter: (src) => !src.endsWith('.map') });
process.stdout.write(`${copyProductionDependencies(root, serviceDir)} packages\n`);

if (args.includes('--stage-only')) {
  process.stdout.write('staged; not rebuilding native modules or packaging (--stage-only)\n');
  process.exit(0);
}

step(`native modules for Electron ${electronVersion}`);
const { rebuild } = await import('@electron/rebuild');
await rebuild({ buildPath: serviceDir, electronVersion, onlyModules: ['better-sqlite3', 'cbor-extract'], force: true, buildFromSource: true });
// The Node-ABI prebuilt binaries cbor-extract ships as an optional package would be picked
// over nothing, but never over the build above; they are dead weight in the installer.
for (const name of readdirSync(join(serviceDir, 'node_modules')))
  if (name === '@cbor-extract') rmSync(join(serviceDir, 'node_modules', name), { recursive: true, force: true });

step('electron-builder');
const { build } = await import('electron-builder');
const yaml = createRequire(createRequire(import.meta.url).resolve('app-builder-lib'))('js-yaml');
const config = yaml.load(readFileSync(join(root, 'build', 'electron-builder.yml'), 'utf8'));
const targets = args.filter((a) => ['--linux', '--win', '--mac'].includes(a));
const result = await build({
  projectDir: root,
  ...(targets.includes('--linux') ? { linux: [] } : {}),
  ...(targets.includes('--win') ? { win: [] } : {}),
  ...(targets.includes('--mac') ? { mac: [] } : {}),
  publish: 'never',
  // electron is a devDependency of the checkout, not of the staged app, so its version is named here.
  config: { ...config, electronVersion },
});
for (const file of result) process.stdout.write(`${file}\n`);
