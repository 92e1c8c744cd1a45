import type { IdentityKey } from '../identity/identity.js';
import { sign, verify } from '../identity/identity.js';
import type { FrameOf } from './frames.js';

/** Bytes a rotation statement signs: which domain moves from which key to which. */
function statementBytes(domain: string, oldKey: string, newKey: string, notBefore: number, graceUntil: number): Uint8Array {
  return new TextEncoder().encode(`consulate-key-rotate/1\n${domain}\n${oldKey}\n${newKey}\n${notBefore}\n${graceUntil}`);
}

export async function rotationStatement(
  domain: string,
  previous: IdentityKey,
  next: IdentityKey,
  graceMs: number,
  now = Date.now(),
): Promise<Omit<FrameOf<'key.rotate'>, 'id'>> {
  const graceUntil = now + graceMs;
  return {
    t: 'key.rotate',
    newKey: next.id,
    notBefore: now,
    graceUntil,
    sig: await sign(previous, statementBytes(domain, previous.id, next.id, now, graceUntil)),
  };
}

/** The pinned key that signed the statement, or undefined if none did. */
export async function verifyRotation(domain: string, frame: Omit<FrameOf<'key.rotate'>, 'id'>, pinnedKeys: string[]): Promise<string | undefined> {
  for (const key of pinnedKeys) {
    if (await verify(key, statementBytes(domain, key, frame.newKey, frame.notBefore, frame.graceUntil), frame.sig)) return key;
  }
  return undefined;
}
