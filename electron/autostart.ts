import { join } from 'node:path';

/**
 * Launch at login on Linux, where Electron's setLoginItemSettings does nothing: an XDG
 * autostart entry (freedesktop "Desktop Application Autostart Specification").
 */

export const hiddenFlag = '--hidden';

export function linuxAutostartFile(configHome: string): string {
  return join(configHome, 'autostart', 'consulate.desktop');
}

/** The program to autostart: the AppImage itself when run from one (its mount path changes every run). */
export function autostartExecutable(execPath: string, env: NodeJS.ProcessEnv): string {
  return env['APPIMAGE'] || execPath;
}

/** Quotes per the Desktop Entry spec's Exec rules. */
function quoteExec(arg: string): string {
  if (/^[A-Za-z0-9_./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/(["`$\\])/g, '\\$1')}"`;
}

export function linuxAutostartEntry(executable: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Consulate',
    'Comment=Federation appliance for end-to-end-encrypted messaging',
    `Exec=${quoteExec(executable)} ${hiddenFlag}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}
