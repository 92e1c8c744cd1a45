import { hasParent } from './parent.js';

/**
 * The Node flags `consulate serve` runs with.
 *
 * Node 24's V8 lets the young generation grow to 32 MB per semi-space, twice the 16 MB of Node 20
 * and 22. Under full load the sending appliance then peaked 40–50 MB higher on Node 24 for the
 * same throughput (224–267 against 186–195 MB with the 16 MB bound; bench/results/
 * messaging-experiments.md, "2026-12-05 (fifth session)"). V8 reads the bound only when it creates
 * the heap, so `serve` replaces its own process (process.execve: same pid, stdio and signals) with
 * one started with the flag, before it opens anything; the cost is loading the CLI a second time.
 * Not under Electron, whose executable is not node, nor under a supervising parent (the desktop
 * app's utility process, the desktop shell's development mode), nor when the operator gave the
 * flag already.
 */

/** Node 20's and 22's own bound, in MB per semi-space. */
export const SEMI_SPACE_MB = 16;

const semiSpaceFlag = /^--max[-_]semi[-_]space[-_]size(=|$)/;

export interface RuntimeFacts {
  execPath: string;
  argv: string[];
  execArgv: string[];
  versions: Record<string, string | undefined>;
  env: Record<string, string | undefined>;
  hasParent: boolean;
  canExecve: boolean;
}

/** The argv to re-execute `serve` with, or null to go on as is. */
export function reexecArgv({ execPath, argv, execArgv, versions, env, hasParent, canExecve }: RuntimeFacts): string[] | null {
  if (!canExecve || versions['electron'] || hasParent) return null;
  if (Number((versions['node'] ?? '0').split('.')[0]) < 24) return null;
  const given = [...execArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  if (given.some((flag) => semiSpaceFlag.test(flag))) return null;
  return [execPath, ...execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`, ...argv.slice(1)];
}

/** Re-executes this process with the flags `serve` runs with, when it needs them; otherwise returns. */
export function reexecForServe(): void {
  // process.execve exists from Node 22.15 and 23.11; the types of Node 20 do not have it.
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  const again = reexecArgv({
    execPath: process.execPath,
    argv: process.argv,
    execArgv: process.execArgv,
    versions: process.versions,
    env: process.env,
    hasParent: hasParent(),
    canExecve: typeof execve === 'function',
  });
  if (again) execve!.call(process, process.execPath, again, process.env);
}
