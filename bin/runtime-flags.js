// The Node flags `consulate serve` runs with, decided in bin/consulate.js before the service loads.
//
// Node 24's V8 lets the young generation grow to 32 MB per semi-space, twice the 16 MB of Node 20
// and 22. Under full load the sending appliance then peaked 40–50 MB higher on Node 24 for the
// same throughput (224–267 against 186–195 MB with the 16 MB bound; bench/results/
// messaging-experiments.md, "2026-12-05 (fifth session)"). V8 reads the bound only when it
// creates the heap, so `serve` replaces its own process (process.execve: same pid, stdio and
// signals) with one started with the flag. Not under Electron, whose executable is not node (the
// desktop app's utility process), nor under a parent that holds an IPC channel to this process
// (the desktop shell's development mode), nor when the operator gave the flag already.

/** Node 20's and 22's own bound, in MB per semi-space. */
export const SEMI_SPACE_MB = 16;

const semiSpaceFlag = /^--max[-_]semi[-_]space[-_]size(=|$)/;

/** The CLI command in argv (after node and the script), skipping the global options and their values. */
export function commandOf(argv) {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--data-dir' || arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** The argv to re-execute with, or null to go on as is (types in runtime-flags.d.ts). */
export function reexecArgv({ execPath, argv, execArgv, versions, env, hasIpc, canExecve }) {
  if (commandOf(argv) !== 'serve' || !canExecve || versions.electron || hasIpc) return null;
  if (Number((versions.node ?? '0').split('.')[0]) < 24) return null;
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((flag) => semiSpaceFlag.test(flag))) return null;
  return [execPath, ...execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`, ...argv.slice(1)];
}
