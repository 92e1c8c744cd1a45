// Copies production dependencies from this checkout's node_modules into a staging
// directory, exactly as package-lock.json resolves them. Offline by design: the packages
// are the ones `npm ci` installed and the tests ran against.
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Lock-file keys ("node_modules/a", "node_modules/a/node_modules/b") to copy. */
function productionKeys(lock) {
  return Object.entries(lock.packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && !entry.dev && !entry.devOptional && !entry.link)
    .map(([key]) => key);
}

/** Where Node would find `name` when required from the package at lock key `from`. */
function resolveKey(lock, from, name) {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

/** Keys of `names` and everything they depend on at run time. */
function closureKeys(lock, names) {
  const seen = new Set();
  const visit = (key) => {
    if (!key || seen.has(key)) return;
    seen.add(key);
    const entry = lock.packages[key];
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) visit(resolveKey(lock, key, dep));
  };
  for (const name of names) {
    const key = resolveKey(lock, '', name);
    if (!key) throw new Error(`${name} is not in package-lock.json`);
    visit(key);
  }
  return [...seen];
}

/**
 * @param {string} root the checkout
 * @param {string} target directory that receives node_modules/
 * @param {{ only?: string[] }} options only: copy just these packages and their dependencies
 * @returns {number} packages copied
 */
export function copyProductionDependencies(root, target, options = {}) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const keys = options.only ? closureKeys(lock, options.only) : productionKeys(lock);
  let copied = 0;
  for (const key of keys) {
    const source = join(root, key);
    if (!existsSync(source)) {
      // Optional packages for other platforms (prebuilt binaries) are not installed here.
      if (lock.packages[key].optional) continue;
      throw new Error(`${key} is in the lock file but not installed: run npm ci`);
    }
    // Nested node_modules are separate lock entries, copied (or left out as dev) on their own.
    cpSync(source, join(target, key), { recursive: true, filter: (src) => !relative(source, src).split('/').includes('node_modules') });
    copied += 1;
  }
  return copied;
}
