#!/usr/bin/env node
// Compiles electron/ into dist/electron: main and its plain modules as ES modules (tsc
// with tsconfig.electron.json, which also type-checks), and the preload again as
// CommonJS in dist/electron/preload.cjs, because a sandboxed renderer runs its preload
// as a classic script where `import` is a syntax error.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const ts = require('typescript');

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.electron.json')], { cwd: root, stdio: 'inherit' });

const source = readFileSync(join(root, 'electron', 'preload.ts'), 'utf8');
const { outputText, diagnostics } = ts.transpileModule(source, {
  fileName: 'preload.ts',
  reportDiagnostics: true,
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false, isolatedModules: true, sourceMap: false },
});
if (diagnostics?.length)
  throw new Error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
// Type-only imports must have disappeared: the sandbox can require nothing but 'electron'.
const requires = [...outputText.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
if (requires.some((name) => name !== 'electron'))
  throw new Error(`preload.cjs would require ${requires.join(', ')}; a sandboxed preload may only require 'electron'`);
mkdirSync(join(root, 'dist', 'electron'), { recursive: true });
writeFileSync(join(root, 'dist', 'electron', 'preload.cjs'), outputText);
process.stdout.write('dist/electron: main (ESM) and preload.cjs (CommonJS)\n');
