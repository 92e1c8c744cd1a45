import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFileName, loadConfig, validateConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConsulateError } from '../errors.js';
import type { SettingsUpdateRequest, SettingsView } from './contract.js';

type Tree = Record<string, unknown>;

export function settingsPath(dataDir: string): string {
  return join(dataDir, configFileName);
}

export function settingsView(config: Config): SettingsView {
  return {
    domain: config.domain,
    admin: { host: config.admin.host, port: config.admin.port, allowedHosts: [...config.admin.allowedHosts] },
    home: { host: config.home.host, port: config.home.port },
    federation: {
      host: config.federation.host,
      port: config.federation.port,
      hostname: config.federation.hostname ?? null,
      publicUrl: config.federation.publicUrl ?? null,
      caBundleFile: config.federation.caBundleFile ?? null,
    },
    fileProxy: { hostname: config.fileProxy.hostname ?? null },
    relay: { host: config.relay.host, port: config.relay.port, minPort: config.relay.minPort, maxPort: config.relay.maxPort },
    log: { level: config.log.level, format: config.log.format },
  };
}

/** What the next start will run with: the saved file under the same environment (flags cannot be known here). */
export function savedConfig(dataDir: string): Config {
  return loadConfig({ dataDir, env: process.env }).config;
}

/** Dotted paths whose values differ between two views. */
export function differences(a: unknown, b: unknown, prefix = ''): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences((a as Tree)[k], (b as Tree)[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/** The config.json tree as written ({} when there is none); config_unreadable when it is not a JSON object. */
export function readTree(path: string): Tree {
  if (!existsSync(path)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Tree;
  } catch {
    // fall through: refusing is better than overwriting a file we cannot read
  }
  throw new ConsulateError('config_unreadable', `${path} is not a JSON object; fix or remove it before saving settings from the GUI`, { status: 409 });
}

/** Applies a patch: null removes a key (back to its default); undefined leaves it alone. */
function merge(tree: Tree, patch: Record<string, unknown>): Tree {
  const out: Tree = { ...tree };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null || value === '') {
      delete out[key];
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      const current = out[key];
      out[key] = merge(typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as Tree) : {}, value as Record<string, unknown>);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * Merges the patch into <data-dir>/config.json, validating the result with the config
 * schema first. Unknown keys already in the file are kept (writeSettingsFile keeps the previous one).
 */
export function saveSettings(dataDir: string, patch: SettingsUpdateRequest): { config: Config; changed: string[] } {
  const path = settingsPath(dataDir);
  const before = readTree(path);
  const next = merge(before, patch as Record<string, unknown>);
  const config = validateConfig(next);
  const changed = differences(validateConfig(before), config);
  writeSettingsFile(dataDir, next);
  return { config, changed };
}

/**
 * Replaces <data-dir>/config.json with this tree: the previous file is kept as
 * config.json.prev, and the write is temp-file-and-rename so a crash never leaves half a file.
 */
export function writeSettingsFile(dataDir: string, tree: Record<string, unknown>): void {
  const path = settingsPath(dataDir);
  if (existsSync(path)) copyFileSync(path, `${path}.prev`);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(tree, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
