/** Messages to a supervising parent (child_process.fork or Electron's utilityProcess). */
export type ParentMessage = { type: 'ready'; adminUrl: string; loginToken: string; version: string } | { type: 'fatal'; code: string; message: string };

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

function parentPort(): ParentPort | undefined {
  return (process as unknown as { parentPort?: ParentPort }).parentPort;
}

export function hasParent(): boolean {
  return typeof process.send === 'function' || parentPort() !== undefined;
}

export function notifyParent(message: ParentMessage): void {
  if (typeof process.send === 'function') process.send(message);
  else parentPort()?.postMessage(message);
}

/** Calls back when the parent asks for an orderly shutdown. */
export function onParentShutdown(callback: () => void): void {
  const isShutdown = (m: unknown) => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'shutdown';
  if (typeof process.send === 'function') process.on('message', (m) => isShutdown(m) && callback());
  parentPort()?.on('message', (event) => isShutdown(event.data) && callback());
}
