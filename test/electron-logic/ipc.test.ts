import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ipcChannels, type IpcHandlers } from '../../electron/contract.js';
import { allowedChannels, checkIpcSender, registerIpcHandlers } from '../../electron/ipc.js';

const admin = 'http://127.0.0.1:8440';

describe('IPC sender guard', () => {
  it('accepts the admin GUI main frame on a contract channel', () => {
    expect(checkIpcSender({ channel: ipcChannels.getShellInfo, frameUrl: `${admin}/peers`, isMainFrame: true }, admin)).toEqual({ allowed: true });
  });

  it('refuses, with a reason, every other sender', () => {
    const cases: Array<[Parameters<typeof checkIpcSender>[0], string | undefined, RegExp]> = [
      [{ channel: 'consulate:exec', frameUrl: `${admin}/`, isMainFrame: true }, admin, /"consulate:exec" is not in the contract/],
      [{ channel: ipcChannels.takeLoginToken, frameUrl: `${admin}/`, isMainFrame: false }, admin, /subframe/],
      [
        { channel: ipcChannels.takeLoginToken, frameUrl: 'http://evil.example/x', isMainFrame: true },
        admin,
        /origin http:\/\/evil.example is not the admin origin http:\/\/127.0.0.1:8440/,
      ],
      [{ channel: ipcChannels.takeLoginToken, frameUrl: 'http://127.0.0.1:8441/', isMainFrame: true }, admin, /not the admin origin/],
      [{ channel: ipcChannels.takeLoginToken, frameUrl: 'file:///tmp/x.html', isMainFrame: true }, admin, /origin file:… is not the admin origin/],
      [{ channel: ipcChannels.takeLoginToken, frameUrl: 'about:blank', isMainFrame: true }, admin, /not the admin origin/],
      [{ channel: ipcChannels.takeLoginToken, frameUrl: undefined, isMainFrame: false }, admin, /no longer exists/],
      [{ channel: ipcChannels.takeLoginToken, frameUrl: `${admin}/`, isMainFrame: true }, undefined, /not ready/],
    ];
    for (const [facts, origin, reason] of cases) {
      const decision = checkIpcSender(facts, origin);
      expect(decision.allowed, JSON.stringify(facts)).toBe(false);
      if (!decision.allowed) expect(decision.reason).toMatch(reason);
    }
  });

  it('never logs the path or fragment of a refused URL (it may carry the login token)', () => {
    const decision = checkIpcSender({ channel: ipcChannels.takeLoginToken, frameUrl: 'http://evil.example/#token=secret', isMainFrame: true }, admin);
    expect(JSON.stringify(decision)).not.toContain('secret');
  });
});

describe('registerIpcHandlers', () => {
  type Listener = (event: unknown, ...args: unknown[]) => Promise<unknown>;
  function fakeIpcMain() {
    const handlers = new Map<string, Listener>();
    return {
      handlers,
      handle: (channel: string, listener: Listener) => void handlers.set(channel, listener),
      removeHandler: (channel: string) => void handlers.delete(channel),
    };
  }
  const mainFrame = { url: `${admin}/` };
  const goodEvent = { senderFrame: mainFrame, sender: { mainFrame } };

  function handlers(calls: string[]): IpcHandlers {
    return {
      'consulate:take-login-token': () => (calls.push('token'), 'tok'),
      'consulate:get-shell-info': () => {
        throw new Error('unused');
      },
      'consulate:get-settings': () => {
        throw new Error('unused');
      },
      'consulate:update-settings': (patch) => (
        calls.push(`update ${JSON.stringify(patch)}`),
        { launchAtLogin: true, closeToTray: true, notifications: { certificateExpiry: true, peerDown: true, keyChange: true } }
      ),
      'consulate:open-logs': () => undefined,
      'consulate:open-data-folder': () => undefined,
      'consulate:restart-service': () => undefined,
    };
  }

  it('registers exactly the contract channels and runs a handler for a good sender', async () => {
    const ipc = fakeIpcMain();
    const calls: string[] = [];
    const dispose = registerIpcHandlers(ipc as never, handlers(calls), { adminOrigin: () => admin, log: () => undefined });
    expect(new Set(ipc.handlers.keys())).toEqual(allowedChannels);
    await expect(ipc.handlers.get(ipcChannels.takeLoginToken)?.(goodEvent)).resolves.toBe('tok');
    await ipc.handlers.get(ipcChannels.updateSettings)?.(goodEvent, { launchAtLogin: true });
    expect(calls).toEqual(['token', 'update {"launchAtLogin":true}']);
    dispose();
    expect(ipc.handlers.size).toBe(0);
  });

  it('refuses a subframe and a foreign origin without running the handler, and logs why', async () => {
    const ipc = fakeIpcMain();
    const calls: string[] = [];
    const logged: string[] = [];
    registerIpcHandlers(ipc as never, handlers(calls), { adminOrigin: () => admin, log: (line) => logged.push(line) });
    const subframe = { senderFrame: { url: `${admin}/` }, sender: { mainFrame } };
    await expect(ipc.handlers.get(ipcChannels.takeLoginToken)?.(subframe)).rejects.toThrow(/^ipc_refused: sent from a subframe/);
    const foreign = { url: 'https://evil.example/' };
    await expect(ipc.handlers.get(ipcChannels.takeLoginToken)?.({ senderFrame: foreign, sender: { mainFrame: foreign } })).rejects.toThrow(/ipc_refused/);
    expect(calls).toEqual([]);
    expect(logged).toEqual([
      'ipc refused on consulate:take-login-token: sent from a subframe (http://127.0.0.1:8440)',
      'ipc refused on consulate:take-login-token: sender origin https://evil.example is not the admin origin http://127.0.0.1:8440',
    ]);
  });
});

describe('preload', () => {
  it('exposes one object and never ipcRenderer itself', () => {
    const source = readFileSync(new URL('../../electron/preload.ts', import.meta.url), 'utf8');
    expect(source.match(/exposeInMainWorld\(/g)).toHaveLength(1);
    expect(source).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer[,)]/);
    expect(source).not.toMatch(/ipcRenderer\.(on|send|sendSync)\(/);
    // Every channel the preload names is a contract channel.
    const named = [...source.matchAll(/'(consulate:[a-z-]+)'/g)].map((m) => m[1]);
    expect(new Set(named)).toEqual(allowedChannels);
  });
});
