import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const listenHost = z
  .string()
  .min(1)
  .refine((v) => isIP(v) !== 0 || /^[a-z0-9.-]+$/i.test(v), 'must be an IP address or a host name');
const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a DNS name')
  // Domains are compared as written on the wire: keep one spelling.
  .toLowerCase();

/**
 * The whole configuration with its documented defaults (docs/operations.md lists
 * every key). Objects are strict so a typo in a key is an error, not a silent default.
 */
export const configSchema = z.strictObject({
  /** The messaging domain this appliance serves, e.g. a.example. */
  domain: hostname.default('consulate.local'),
  admin: z
    .strictObject({
      host: listenHost.default('127.0.0.1'),
      port: port.default(8440),
      /** Extra Host header values accepted, for a reverse proxy in front of the admin listener. */
      allowedHosts: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  home: z
    .strictObject({
      host: listenHost.default('127.0.0.1'),
      port: port.default(8441),
    })
    .prefault({}),
  federation: z
    .strictObject({
      host: listenHost.default('0.0.0.0'),
      // 8443 rather than DESIGN's 443 so that a non-root install starts; the headless
      // package grants CAP_NET_BIND_SERVICE and its operators set 443 (docs/operations.md).
      port: port.default(8443),
      /** Public host name of the federation listener (certificate SAN). */
      hostname: hostname.optional(),
      /** URL peers dial, as written into this appliance's card; default https://<hostname>:<port>. */
      publicUrl: z.url({ protocol: /^https$/ }).optional(),
      /** PEM file of extra trust anchors for every peer (enterprise or air-gapped CA). */
      caBundleFile: z.string().min(1).optional(),
    })
    .prefault({}),
  fileProxy: z
    .strictObject({
      /** Served on the federation listener by SNI when it has its own host name. */
      hostname: hostname.optional(),
    })
    .prefault({}),
  relay: z
    .strictObject({
      host: listenHost.default('0.0.0.0'),
      port: port.default(3478),
      minPort: port.default(49160),
      maxPort: port.default(49200),
    })
    .prefault({})
    .refine((r) => r.minPort <= r.maxPort, { message: 'minPort must not exceed maxPort', path: ['minPort'] }),
  compliance: z
    .strictObject({
      /** Days delivery records (who sent what to which domain, when) are kept; 0 = deleted on delivery. */
      metadataRetentionDays: z.number().int().min(0).max(3650).default(30),
      /** Hours the ids of received envelopes are kept to refuse duplicates (at least the senders' retry window). */
      dedupeHours: z
        .number()
        .int()
        .min(1)
        .max(24 * 365)
        .default(168),
      archive: z
        .strictObject({
          /** Archive every federated envelope (ciphertext and metadata) to hash-chained segment files. */
          enabled: z.boolean().default(false),
          /** Default <data-dir>/archive. */
          dir: z.string().min(1).optional(),
          segmentMB: z.number().int().min(1).max(4096).default(64),
        })
        .prefault({}),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** WAL checkpoints in a worker thread (about 10 MB more RSS) rather than inside a commit on the service's thread. */
      checkpointThread: z.boolean().default(true),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      /** auto: human-readable on a terminal, JSON lines otherwise. */
      format: z.enum(['auto', 'pretty', 'json']).default('auto'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export type LeafType = 'number' | 'string' | 'boolean' | 'enum' | 'array';

export interface ConfigKey {
  /** Dotted path, e.g. admin.port. */
  path: string;
  /** Command-line flag, e.g. --admin-port. */
  flag: string;
  /** Environment variable, e.g. CONSULATE_ADMIN_PORT. */
  env: string;
  type: LeafType;
  defaultValue: unknown;
  description: string | undefined;
}

interface ZodLike {
  _zod: { def: { type: string; innerType?: ZodLike; shape?: Record<string, ZodLike>; in?: ZodLike; defaultValue?: unknown } };
  description?: string;
}

function kebab(segment: string): string {
  return segment.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function unwrap(schema: ZodLike): { inner: ZodLike; defaultValue: unknown } {
  let current = schema;
  let defaultValue: unknown;
  for (;;) {
    const def = current._zod.def;
    if (def.type === 'default' || def.type === 'prefault') {
      if (defaultValue === undefined) defaultValue = def.defaultValue;
      current = def.innerType as ZodLike;
    } else if (def.type === 'optional' || def.type === 'nullable' || def.type === 'readonly') {
      current = def.innerType as ZodLike;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in;
    } else {
      return { inner: current, defaultValue };
    }
  }
}

/** Every leaf setting with its flag and environment variable, derived from the schema. */
export function configKeys(): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const walk = (schema: ZodLike, path: string[]): void => {
    const { inner, defaultValue } = unwrap(schema);
    const def = inner._zod.def;
    if (def.type === 'object' && def.shape) {
      for (const [name, child] of Object.entries(def.shape)) walk(child, [...path, name]);
      return;
    }
    const type: LeafType =
      def.type === 'number' ? 'number' : def.type === 'boolean' ? 'boolean' : def.type === 'enum' ? 'enum' : def.type === 'array' ? 'array' : 'string';
    const flagName = path.map(kebab).join('-');
    keys.push({
      path: path.join('.'),
      flag: `--${flagName}`,
      env: `CONSULATE_${flagName.replace(/-/g, '_').toUpperCase()}`,
      type,
      defaultValue,
      description: schema.description ?? inner.description,
    });
  };
  walk(configSchema as unknown as ZodLike, []);
  return keys;
}
