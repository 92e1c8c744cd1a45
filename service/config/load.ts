import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsulateError } from '../errors.js';
import { configKeys, configSchema, type Config, type ConfigKey } from './schema.js';

export const configFileName = 'config.json';

export interface LoadConfigOptions {
  dataDir: string;
  /** Explicit config file; when absent, <dataDir>/config.json is used if it exists. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Flag values keyed by config path (admin.port), as strings from the command line. */
  flags?: Record<string, string | undefined>;
}

export interface LoadedConfig {
  config: Config;
  configFile: string | undefined;
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const segments = path.split('.');
  let node = tree;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[segment] = {};
    node = node[segment] as Tree;
  }
  node[segments[segments.length - 1] as string] = value;
}

/** Strings from env and flags become the leaf's type; a bad one is left as-is so the schema names it. */
function coerce(key: ConfigKey, raw: string): unknown {
  switch (key.type) {
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'array':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

function readConfigFile(path: string, required: boolean): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return {};
    throw new ConsulateError('config_unreadable', `cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('top level must be an object');
    return parsed as Tree;
  } catch (error) {
    throw new ConsulateError('config_unreadable', `config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Effective configuration: defaults < config file < CONSULATE_* environment < flags.
 * The first problem is reported as one line naming the key, its flag and env variable.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const configFile = options.configFile ?? join(options.dataDir, configFileName);
  const tree = readConfigFile(configFile, options.configFile !== undefined);
  const keys = configKeys();
  const env = options.env ?? {};
  for (const key of keys) {
    const raw = env[key.env];
    if (raw !== undefined && raw !== '') setPath(tree, key.path, coerce(key, raw));
  }
  for (const key of keys) {
    const raw = options.flags?.[key.path];
    if (raw !== undefined) setPath(tree, key.path, coerce(key, raw));
  }
  return { config: validateConfig(tree), configFile };
}

export function validateConfig(input: unknown): Config {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const keys = configKeys();
  const issue = result.error.issues[0];
  if (!issue) throw new ConsulateError('config_invalid', 'invalid configuration');
  let path = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    path = [...issue.path, ...issue.keys.slice(0, 1)].join('.');
    throw new ConsulateError('config_invalid', `${path}: unknown configuration key`, { details: { key: path } });
  }
  const key = keys.find((k) => k.path === path);
  const where = key ? ` (${key.flag}, ${key.env})` : '';
  const received = (issue as { input?: unknown }).input;
  const got = received === undefined ? '' : ` (got ${JSON.stringify(received)})`;
  throw new ConsulateError('config_invalid', `${path || '(root)'}${where}: ${issue.message}${got}`, { details: { key: path } });
}

const secretKey = /(secret|password|token|apikey|privatekey|passphrase)/i;

/** A copy safe to print: every value whose key looks like a secret is replaced. */
export function redact(value: unknown, keyName = ''): unknown {
  if (secretKey.test(keyName) && value !== undefined && value !== null && value !== '') return '[redacted]';
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}
