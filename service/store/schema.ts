import type { Generated } from 'kysely';

/** Table types for the query layer. Each migration that adds a table adds it here too. */
export interface MetaTable {
  key: string;
  value: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  ts: string;
  actor: string;
  action: string;
  target: string;
  details: string;
  prevHash: string;
  hash: string;
}

export interface MigrationTable {
  version: number;
  name: string;
  appliedAt: string;
}

export interface IdentityKeyTable {
  /** base64url Ed25519 public key */
  publicKey: string;
  /** XChaCha20-Poly1305 sealed secret key, see service/identity/sealed.ts */
  sealedSecret: string;
  kekSource: string;
  status: 'active' | 'retired';
  createdAt: string;
  retiredAt: string | null;
}

export interface PeerTable {
  domain: string;
  federationUrl: string;
  fileProxyUrl: string | null;
  relay: string | null;
  /** JSON of Capabilities */
  capabilities: string;
  /** JSON of PeerLimits */
  limits: string;
  note: string;
  state: 'active' | 'suspended';
  caBundle: string | null;
  cardIssued: string | null;
  addedBy: string;
  addedAt: string;
  updatedAt: string;
}

export interface PeerKeyTable {
  domain: string;
  publicKey: string;
  notAfter: string | null;
  source: 'card' | 'admin' | 'rotation';
  addedAt: string;
}

export interface Database {
  meta: MetaTable;
  identity_keys: IdentityKeyTable;
  peers: PeerTable;
  peer_keys: PeerKeyTable;
  audit_log: AuditLogTable;
  consulate_migrations: MigrationTable;
}
