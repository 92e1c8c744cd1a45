#!/usr/bin/env node
// Runs Electronegativity over a directory and writes a SARIF report, without network access.
//
// Why not `npx electronegativity`: its CLI needs commander 2-6 but does not declare it, so it
// picks up this project's commander 14 and crashes at start. Its runner also fetches
// translations and Electron release data over the network; here `got` is replaced with a
// function that fails at once (the runner then uses its bundled English strings), and the
// release-data check, which cannot work offline, is excluded.
//
// Usage: node build/electronegativity.mjs <input dir> <output.sarif>
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const [input, output] = process.argv.slice(2);
if (!input || !output?.endsWith('.sarif')) {
  process.stderr.write('usage: node build/electronegativity.mjs <input dir> <output.sarif>\n');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const Module = require('node:module');
const fs = require('node:fs');
const offline = () => Promise.reject(new Error('network disabled: Electronegativity runs offline here'));
offline.head = offline;
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === 'got' && parent?.filename?.includes(`${'@doyensec'}`)) return offline;
  return originalLoad.call(this, request, parent, isMain);
};

// SARIF from Electronegativity carries no severity or confidence (only note/warning), but
// the project's gate is on severity: keep the issues as the runner hands them to its
// writer and add both to each result's property bag afterwards, in the same order.
const util = require('@doyensec/electronegativity/dist/util/index.js');
const writeIssues = util.writeIssues;
let captured = [];
util.writeIssues = (root, isRelative, file, issues, isSarif) => {
  captured = issues;
  // The writer uses fs.writeFile without waiting for it; make it synchronous so the
  // file is complete when the runner resolves.
  const asyncWrite = fs.writeFile;
  fs.writeFile = (path, data, options, callback) => {
    fs.writeFileSync(path, data, options);
    callback(null);
  };
  try {
    writeIssues(root, isRelative, file, issues, isSarif);
  } finally {
    fs.writeFile = asyncWrite;
  }
};

const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
const run = require('@doyensec/electronegativity/dist/runner.js');
const quietLog = console.log;
// The runner prints a progress bar and a notice about translations; the SARIF file is the result.
console.log = () => undefined;
try {
  await run({
    input: resolve(input),
    output: resolve(output),
    isSarif: true,
    customScan: [],
    excludeFromScan: ['AvailableSecurityFixesGlobalCheck'],
    severitySet: undefined,
    confidenceSet: undefined,
    isRelative: true,
    isVerbose: false,
    electronUpgrade: undefined,
    electronVersionOverride: electronVersion,
    parserPlugins: [],
  });
} finally {
  console.log = quietLog;
}
const sarif = JSON.parse(readFileSync(resolve(output), 'utf8'));
const results = sarif.runs[0].results;
if (results.length !== captured.length) throw new Error(`SARIF has ${results.length} results for ${captured.length} issues`);
results.forEach((result, i) => {
  const issue = captured[i];
  result.properties = { ...result.properties, severity: issue.severity?.name, confidence: issue.confidence?.name, sample: issue.sample };
});
writeFileSync(resolve(output), JSON.stringify(sarif, null, 2));
process.stdout.write(`electronegativity: wrote ${output} (Electron ${electronVersion})\n`);
