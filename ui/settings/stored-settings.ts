/**
 * The panel's settings and history, kept by the host between runs (the panel's iframe has a null
 * origin and no storage of its own). Settings are written a moment after the last change, and at
 * once when a generation starts; history after every placed image.
 */
import type { JsonValue } from '../../common/json-value.js';
import type { HostClient } from '../host-client.js';
import type { PanelStore } from '../panel-state.js';
import { boundHistory, historyFromStorage, settingsFromStorage, settingsToJson } from './history.js';

export interface SettingsSaver {
  /** Saves after `delayMs` of quiet. */
  schedule(): void;
  /** Saves now. */
  flush(): void;
}

export function createSettingsSaver(
  host: Pick<HostClient, 'saveValue'>,
  store: PanelStore,
  delayMs: number,
  onError: (message: string) => void,
): SettingsSaver {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    host
      .saveValue({ key: 'settings', value: settingsToJson(store.get().settings) })
      .catch((error: unknown) => onError(error instanceof Error ? error.message : String(error)));
  };
  return {
    schedule() {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(flush, delayMs);
    },
    flush,
  };
}

/** Reads settings and history; what another version stored is taken field by field, the rest defaults. */
export async function loadStoredSettingsAsync(host: Pick<HostClient, 'loadValue'>, store: PanelStore): Promise<void> {
  const [settings, history] = await Promise.all([
    host.loadValue({ key: 'settings' }).catch(() => null),
    host.loadValue({ key: 'history' }).catch(() => null),
  ]);
  store.set((s) => ({ settings: settingsFromStorage(settings, s.settings), history: historyFromStorage(history) }));
}

export function saveHistory(host: Pick<HostClient, 'saveValue'>, store: PanelStore, onError: (message: string) => void): void {
  // Records are built without undefined fields, so the entries are plain JSON as they are.
  const value = boundHistory(store.get().history) as unknown as JsonValue;
  host.saveValue({ key: 'history', value }).catch((error: unknown) => onError(error instanceof Error ? error.message : String(error)));
}
