import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// Lints in-memory files at paths inside each runtime folder with the project's own
// config, so a change that weakens eslint.config.js fails here.
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('runtime boundaries', () => {
  it('refuses electron in service/', async () => {
    expect(await problems('service/boundary-fixture.ts', "import { app } from 'electron';\nexport const x = app;\n")).toEqual(
      expect.arrayContaining([expect.stringMatching(/Only electron\/ may import electron/)]),
    );
  });

  it('refuses DOM globals in service/', async () => {
    expect(await problems('service/boundary-fixture.ts', 'export const title = document.title;\n')).toEqual([
      expect.stringMatching(/no-restricted-globals: .*no DOM globals/),
    ]);
  });

  it('refuses Node built-ins in renderer/', async () => {
    expect(await problems('renderer/src/boundary-fixture.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n")).toEqual([
      expect.stringMatching(/no Node built-ins/),
    ]);
  });

  it('refuses service runtime code in renderer/, even as a type import of a non-contract module', async () => {
    expect(await problems('renderer/src/boundary-fixture.ts', "import { Service } from '../../service/app.js';\nexport const s = Service;\n")).toEqual([
      expect.stringMatching(/only API contracts/),
    ]);
    expect(await problems('renderer/src/boundary-fixture.ts', "import type { Service } from '../../service/app.js';\nexport type S = Service;\n")).toEqual([
      expect.stringMatching(/only API contracts/),
    ]);
  });

  it('allows contracts in renderer/ only as type imports', async () => {
    expect(
      await problems(
        'renderer/src/boundary-fixture.ts',
        "import { statusResponse } from '../../service/admin/contract.js';\nexport const s = statusResponse;\n",
      ),
    ).toEqual([expect.stringMatching(/import type/)]);
    expect(
      await problems(
        'renderer/src/boundary-fixture.ts',
        "import type { StatusResponse } from '../../service/admin/contract.js';\nexport type S = StatusResponse;\n",
      ),
    ).toEqual([]);
  });

  it('allows electron in electron/ only', async () => {
    expect(await problems('electron/boundary-fixture.ts', "import { app } from 'electron';\nexport const a = app;\n")).toEqual([]);
    expect(await problems('test/service/boundary-fixture.ts', "import { app } from 'electron';\nexport const a = app;\n")).toEqual(
      expect.arrayContaining([expect.stringMatching(/Only electron\/ may import electron/)]),
    );
  });
});
