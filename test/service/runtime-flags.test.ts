import { describe, expect, it } from 'vitest';
import { reexecArgv, SEMI_SPACE_MB } from '../../service/cli/runtime-flags.js';

const base = {
  execPath: '/usr/bin/node',
  argv: ['/usr/bin/node', '/opt/consulate/bin/consulate.js', 'serve', '--data-dir', '/var/lib/consulate'],
  execArgv: [] as string[],
  versions: { node: '24.11.1' } as Record<string, string | undefined>,
  env: {} as Record<string, string | undefined>,
  hasParent: false,
  canExecve: true,
};

describe('the flags `consulate serve` re-executes with', () => {
  it('bounds the young generation on Node 24, keeping the flags and arguments it was given', () => {
    expect(reexecArgv({ ...base, execArgv: ['--enable-source-maps'] })).toEqual([
      '/usr/bin/node',
      '--enable-source-maps',
      `--max-semi-space-size=${SEMI_SPACE_MB}`,
      '/opt/consulate/bin/consulate.js',
      'serve',
      '--data-dir',
      '/var/lib/consulate',
    ]);
  });

  it('does not re-execute a second time: the new process carries the flag', () => {
    const again = reexecArgv(base)!;
    const script = again.indexOf(base.argv[1]!);
    expect(reexecArgv({ ...base, execArgv: again.slice(1, script), argv: [again[0]!, ...again.slice(script)] })).toBeNull();
  });

  it('leaves a bound the operator gave alone, on the command line or in NODE_OPTIONS', () => {
    expect(reexecArgv({ ...base, execArgv: ['--max-semi-space-size=4'] })).toBeNull();
    expect(reexecArgv({ ...base, execArgv: ['--max_semi_space_size=64'] })).toBeNull();
    expect(reexecArgv({ ...base, env: { NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8' } })).toBeNull();
  });

  it('does nothing on Node 20 and 22, whose bound is already 16 MB', () => {
    expect(reexecArgv({ ...base, versions: { node: '22.23.5' } })).toBeNull();
    expect(reexecArgv({ ...base, versions: { node: '20.20.2' } })).toBeNull();
  });

  it('does nothing under Electron, under a supervising parent, or without process.execve', () => {
    expect(reexecArgv({ ...base, versions: { node: '24.11.1', electron: '40.10.2' } })).toBeNull();
    expect(reexecArgv({ ...base, hasParent: true })).toBeNull();
    expect(reexecArgv({ ...base, canExecve: false })).toBeNull();
  });
});
