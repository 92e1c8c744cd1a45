import { readFileSync } from 'node:fs';

interface PackageJson {
  name: string;
  version: string;
}

// Read once at start-up: the version shown everywhere (CLI, metrics, GUI) comes from
// package.json so a release only bumps one place. Works from service/ (tests) and dist/service/.
function readPackageJson(): PackageJson {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as PackageJson;
      if (parsed.name === 'consulate') return parsed;
    } catch {
      // try the next candidate
    }
  }
  return { name: 'consulate', version: '0.0.0' };
}

const pkg = readPackageJson();

export const version: string = pkg.version;
