export declare const SEMI_SPACE_MB: number;
export declare function commandOf(argv: string[]): string | undefined;
export declare function reexecArgv(p: {
  execPath: string;
  argv: string[];
  execArgv: string[];
  versions: Record<string, string | undefined>;
  env: Record<string, string | undefined>;
  hasIpc: boolean;
  canExecve: boolean;
}): string[] | null;
