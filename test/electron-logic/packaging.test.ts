import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type TypeScript from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
// electron-builder's own YAML parser and schema validator, so "valid" means valid to the tool.
const builderRequire = createRequire(require.resolve('app-builder-lib'));
const yaml = builderRequire('js-yaml') as { load(text: string): unknown };
const { validateConfiguration } = builderRequire('./util/config/config.js') as { validateConfiguration(config: unknown, logger: unknown): Promise<void> };
const { DebugLogger } = builderRequire('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };

const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface BuilderConfig {
  electronFuses: Record<string, boolean>;
  extraResources: Array<{ from: string; to: string }>;
  directories: { app: string; buildResources: string };
  linux: { target: string[] };
  win: { target: string[] };
  mac: { target: string[]; hardenedRuntime: boolean };
  asar: boolean;
}

function pngSize(path: string): { width: number; height: number } {
  const data = readFileSync(join(root, path));
  expect(data.subarray(0, 8).toString('hex'), path).toBe('89504e470d0a1a0a');
  expect(data.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

describe('desktop installers (electron-builder)', () => {
  const config = yaml.load(read('build/electron-builder.yml')) as BuilderConfig;

  it('is a configuration electron-builder accepts', async () => {
    await expect(validateConfiguration({ ...config, electronVersion: '40.10.2' }, new DebugLogger(false))).resolves.toBeUndefined();
    await expect(validateConfiguration({ ...config, notAnOption: true }, new DebugLogger(false))).rejects.toThrow(/configuration object/);
  });

  it('sets the production fuses', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
    });
    expect(config.asar).toBe(true);
  });

  it('ships the service outside the asar where main.ts looks for it', () => {
    expect(config.extraResources).toContainEqual(expect.objectContaining({ from: 'dist/desktop-service', to: 'service' }));
    expect(read('electron/main.ts')).toContain("join(process.resourcesPath, 'service', 'bin', 'consulate.js')");
    expect(config.extraResources).toContainEqual(expect.objectContaining({ from: 'forge-assets', to: 'icons' }));
  });

  it('targets AppImage, deb and rpm, NSIS, and dmg', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb', 'rpm']);
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.mac.hardenedRuntime).toBe(true);
  });

  it('has icons of the sizes the installers need', () => {
    expect(pngSize('forge-assets/icon.png')).toEqual({ width: 1024, height: 1024 });
    for (const size of [16, 32, 48, 64, 128, 256, 512]) expect(pngSize(`forge-assets/icons/${size}x${size}.png`)).toEqual({ width: size, height: size });
    for (const colour of ['green', 'amber', 'red']) {
      expect(pngSize(`forge-assets/tray/tray-${colour}.png`)).toEqual({ width: 16, height: 16 });
      expect(pngSize(`forge-assets/tray/tray-${colour}@2x.png`)).toEqual({ width: 32, height: 32 });
    }
  });

  it('builds on all three operating systems in the release workflow', () => {
    const workflow = yaml.load(read('.github/workflows/release.yml')) as {
      jobs: { desktop: { strategy: { matrix: { include: Array<{ os: string; target: string }> } } } };
    };
    const matrix = workflow.jobs.desktop.strategy.matrix.include;
    expect(matrix.map((m) => m.target).sort()).toEqual(['--linux', '--mac', '--win']);
    expect(matrix.map((m) => m.os.split('-')[0]).sort()).toEqual(['macos', 'ubuntu', 'windows']);
  });
});

describe('sandboxed preload', () => {
  it('compiles to a CommonJS script that requires nothing but electron', () => {
    const ts = require('typescript') as typeof TypeScript;
    const { outputText } = ts.transpileModule(read('electron/preload.ts'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    });
    expect(outputText).not.toMatch(/^\s*import\s/m);
    expect([...outputText.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
  });
});

describe('headless package', () => {
  const unit = read('build/headless/consulate.service');
  const directive = (name: string) =>
    unit
      .split('\n')
      .find((line) => line.startsWith(`${name}=`))
      ?.slice(name.length + 1);

  it('runs as a dedicated user with only the capability for port 443, in a read-only system', () => {
    expect(directive('User')).toBe('consulate');
    expect(directive('AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    expect(directive('CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(directive('NoNewPrivileges')).toBe('yes');
    expect(directive('ProtectSystem')).toBe('strict');
    expect(directive('PrivateTmp')).toBe('yes');
    expect(directive('ReadWritePaths')).toBe('/var/lib/consulate');
    expect(directive('ExecStart')).toBe('/usr/bin/consulate serve --data-dir /var/lib/consulate');
    expect(directive('ConditionPathExists')).toBe('/var/lib/consulate/config.json');
  });

  it('never starts or enables the service from the maintainer scripts', () => {
    // Lines that run something; the echoed next-step hint to the operator is not one.
    const postinst = read('build/headless/postinst')
      .split('\n')
      .filter((line) => !line.trim().startsWith('echo'))
      .join('\n');
    expect(postinst).not.toMatch(/systemctl[^\n]*\b(start|enable|restart)\b/);
    expect(postinst).not.toMatch(/deb-systemd-invoke[^\n]*\bstart\b/);
    expect(postinst).toContain('adduser --system --group');
    expect(read('build/headless/postrm')).toMatch(/purge\)\n[\s\S]*rm -rf \/var\/lib\/consulate/);
  });

  it('keeps the changelog entry in step with the package version', () => {
    const { version } = JSON.parse(read('package.json')) as { version: string };
    expect(read('build/headless/changelog').startsWith(`consulate (${version}) `)).toBe(true);
  });
});
