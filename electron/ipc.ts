import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { ipcChannels, type IpcChannel, type IpcHandlers } from './contract.js';
import { httpOrigin } from './window-options.js';

/**
 * The single gate for renderer → main calls. Every ipcMain handler is registered through
 * registerIpcHandlers, which refuses a call unless its channel is in the contract, the
 * sending frame is the main frame, and that frame's origin is the admin GUI's. A refusal
 * is logged with its reason and the renderer gets a stable error code.
 *
 * ipcMain is passed in, so this module has no runtime dependency on Electron and its
 * checks are tested under plain Node.
 */

export const allowedChannels: ReadonlySet<string> = new Set<string>(Object.values(ipcChannels));

export interface SenderFacts {
  channel: string;
  /** URL of the frame that sent the message; undefined when the frame is gone. */
  frameUrl: string | undefined;
  isMainFrame: boolean;
}

export type GuardDecision = { allowed: true } | { allowed: false; reason: string };

export function checkIpcSender(facts: SenderFacts, adminOrigin: string | undefined, channels: ReadonlySet<string> = allowedChannels): GuardDecision {
  if (!channels.has(facts.channel)) return { allowed: false, reason: `channel ${JSON.stringify(facts.channel)} is not in the contract` };
  if (facts.frameUrl === undefined) return { allowed: false, reason: 'the sending frame no longer exists' };
  if (!facts.isMainFrame) return { allowed: false, reason: `sent from a subframe (${describeUrl(facts.frameUrl)})` };
  if (!adminOrigin) return { allowed: false, reason: 'the service is not ready, so no origin is trusted yet' };
  const origin = httpOrigin(facts.frameUrl);
  const expected = httpOrigin(adminOrigin);
  if (origin === undefined || origin !== expected)
    return { allowed: false, reason: `sender origin ${origin ?? describeUrl(facts.frameUrl)} is not the admin origin ${expected ?? adminOrigin}` };
  return { allowed: true };
}

/** Enough of a URL to recognise it in a log line, without paths or fragments that may carry tokens. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.origin !== 'null' ? parsed.origin : `${parsed.protocol}…`;
  } catch {
    return 'an unparsable URL';
  }
}

/** Reads the facts the guard needs from an Electron invoke event. */
export function senderFacts(channel: string, event: Pick<IpcMainInvokeEvent, 'senderFrame' | 'sender'>): SenderFacts {
  const frame = event.senderFrame;
  if (!frame) return { channel, frameUrl: undefined, isMainFrame: false };
  return { channel, frameUrl: frame.url, isMainFrame: frame === event.sender.mainFrame };
}

export class IpcRefusedError extends Error {
  readonly code = 'ipc_refused';
  constructor(reason: string) {
    super(`ipc_refused: ${reason}`);
  }
}

export interface RegisterOptions {
  /** The admin GUI's origin once the service is ready; undefined before. */
  adminOrigin: () => string | undefined;
  log: (line: string) => void;
}

/** Registers every handler of the contract behind the guard; returns a function that removes them. */
export function registerIpcHandlers(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, handlers: IpcHandlers, options: RegisterOptions): () => void {
  const channels = Object.keys(handlers) as IpcChannel[];
  for (const channel of channels) {
    const handler = handlers[channel] as (...args: unknown[]) => unknown;
    ipcMain.handle(channel, async (event, ...args: unknown[]) => {
      const decision = checkIpcSender(senderFacts(channel, event), options.adminOrigin());
      if (!decision.allowed) {
        options.log(`ipc refused on ${channel}: ${decision.reason}`);
        throw new IpcRefusedError(decision.reason);
      }
      return handler(...args);
    });
  }
  return () => {
    for (const channel of channels) ipcMain.removeHandler(channel);
  };
}
