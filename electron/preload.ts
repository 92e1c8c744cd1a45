import { contextBridge, ipcRenderer } from 'electron';
import type { ConsulateBridge, IpcChannelMap, ShellSettingsPatch } from './contract.js';

/*
 * Runs in the sandboxed renderer, where a preload can require only 'electron' and a few
 * built-ins, so the channel names are repeated here instead of imported. The type
 * annotation ties them to contract.ts: a renamed channel fails the type check.
 *
 * The GUI gets one object of named functions. ipcRenderer itself is never exposed, so a
 * script in the page cannot reach any channel the contract does not list.
 */
const channels: IpcChannelMap = {
  takeLoginToken: 'consulate:take-login-token',
  getShellInfo: 'consulate:get-shell-info',
  getSettings: 'consulate:get-settings',
  updateSettings: 'consulate:update-settings',
  openLogs: 'consulate:open-logs',
  openDataFolder: 'consulate:open-data-folder',
  restartService: 'consulate:restart-service',
};

const bridge: ConsulateBridge = {
  takeLoginToken: () => ipcRenderer.invoke(channels.takeLoginToken),
  getShellInfo: () => ipcRenderer.invoke(channels.getShellInfo),
  getSettings: () => ipcRenderer.invoke(channels.getSettings),
  updateSettings: (patch: ShellSettingsPatch) => ipcRenderer.invoke(channels.updateSettings, patch),
  openLogs: () => ipcRenderer.invoke(channels.openLogs),
  openDataFolder: () => ipcRenderer.invoke(channels.openDataFolder),
  restartService: () => ipcRenderer.invoke(channels.restartService),
};

contextBridge.exposeInMainWorld('consulate', Object.freeze(bridge));
