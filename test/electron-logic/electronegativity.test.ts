import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

interface SarifResult {
  ruleId: string;
  message: { text: string };
  locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region?: { startLine?: number } } }>;
  properties?: { severity?: string; confidence?: string; sample?: string };
}

interface AllowEntry {
  rule: string;
  file: string;
  sample: string;
  reason: string;
}

const outDir = mkdtempSync(join(tmpdir(), 'consulate-electronegativity-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function isAllowed(result: SarifResult, entry: AllowEntry): boolean {
  const file = result.locations[0]?.physicalLocation.artifactLocation.uri;
  return entry.rule === result.ruleId && entry.file === file && (result.properties?.sample ?? '').includes(entry.sample);
}

function describeResult(result: SarifResult): string {
  const location = result.locations[0]?.physicalLocation;
  return `${result.ruleId} (${result.properties?.severity}) at ${location?.artifactLocation.uri}:${location?.region?.startLine}: ${result.message.text}`;
}

describe('Electronegativity over electron/', () => {
  it('finds no HIGH or MEDIUM issue that is not reviewed in electronegativity-allow.json', async () => {
    const report = join(outDir, 'report.sarif');
    await run(process.execPath, [join(repoRoot, 'build', 'electronegativity.mjs'), join(repoRoot, 'electron'), report], { cwd: repoRoot, timeout: 120_000 });
    const sarif = JSON.parse(readFileSync(report, 'utf8')) as { runs: Array<{ results: SarifResult[] }> };
    const results = sarif.runs[0]?.results ?? [];
    // The report must carry severities, or the gate below would pass vacuously.
    for (const result of results) expect(['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH'], describeResult(result)).toContain(result.properties?.severity);

    const allow = (JSON.parse(readFileSync(join(repoRoot, 'electron', 'electronegativity-allow.json'), 'utf8')) as { allow: AllowEntry[] }).allow;
    for (const entry of allow) expect(entry.reason.length, `allow entry for ${entry.rule} needs a reason`).toBeGreaterThan(20);

    const gated = results.filter((r) => r.properties?.severity === 'HIGH' || r.properties?.severity === 'MEDIUM');
    const unreviewed = gated.filter((r) => !allow.some((entry) => isAllowed(r, entry)));
    expect(unreviewed.map(describeResult)).toEqual([]);

    // An entry that matches nothing any more is removed, so the list stays a list of real exceptions.
    const stale = allow.filter((entry) => !gated.some((r) => isAllowed(r, entry)));
    expect(stale.map((e) => `${e.rule} in ${e.file}`)).toEqual([]);
  }, 120_000);

  it('still catches an insecure window: the gate is not blind', async () => {
    const report = join(outDir, 'bad.sarif');
    const fixtures = fileURLToPath(new URL('./fixtures/insecure-electron', import.meta.url));
    await run(process.execPath, [join(repoRoot, 'build', 'electronegativity.mjs'), fixtures, report], { cwd: repoRoot, timeout: 120_000 });
    const results = (JSON.parse(readFileSync(report, 'utf8')) as { runs: Array<{ results: SarifResult[] }> }).runs[0]?.results ?? [];
    const high = new Set(results.filter((r) => r.properties?.severity === 'HIGH').map((r) => r.ruleId));
    const medium = new Set(results.filter((r) => r.properties?.severity === 'MEDIUM').map((r) => r.ruleId));
    expect(high).toEqual(new Set(['CONTEXT_ISOLATION_JS_CHECK', 'LIMIT_NAVIGATION_GLOBAL_CHECK']));
    expect(medium).toContain('SANDBOX_JS_CHECK');
    expect(medium).toContain('PERMISSION_REQUEST_HANDLER_GLOBAL_CHECK');
    expect(medium).toContain('CSP_GLOBAL_CHECK');
  }, 120_000);
});
