/**
 * Asks the engine what the model in use makes of the prompt (EngineApi.checkPrompt: the words its
 * tokenizers do not know), a short while after the designer stops typing and whenever another model
 * becomes ready, and keeps the answer in the panel's state for the prompt it was asked for.
 */
import type { EngineApi } from '../../common/engine-types.js';
import type { CheckedPrompt, PanelState, PanelStore } from '../panel-state.js';
import { readyModelInfo } from './model-state.js';

export interface PromptCheckerDeps {
  store: PanelStore;
  engine: EngineApi;
  /** Quiet time after the last change before asking, ms. */
  delayMs: number;
  log: (message: string) => void;
}

export function startPromptChecker({ store, engine, delayMs, log }: PromptCheckerDeps): () => void {
  if (!engine.checkPrompt) return () => undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked = '';
  const unsubscribe = store.subscribe((s) => {
    const info = readyModelInfo(s.model);
    const key = info ? `${info.hash}\n${s.settings.prompt}` : '';
    if (key === asked) return;
    asked = key;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!info) return;
    const prompt = s.settings.prompt;
    timer = setTimeout(() => {
      timer = undefined;
      engine.checkPrompt!(prompt).then(
        (check) => {
          // A later prompt or model has its own check coming; this answer is for one no longer shown.
          if (asked !== `${info.hash}\n${prompt}`) return;
          store.set({ promptCheck: { ...check, prompt, modelHash: info.hash } });
        },
        (error: unknown) => log(`checking the prompt failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    }, delayMs);
  });
  return () => {
    unsubscribe();
    if (timer !== undefined) clearTimeout(timer);
  };
}

/** The check that belongs to the prompt and model on screen now, if it has arrived. */
export function currentPromptCheck(s: Pick<PanelState, 'promptCheck' | 'settings' | 'model'>): CheckedPrompt | undefined {
  const check = s.promptCheck;
  const info = readyModelInfo(s.model);
  return check && info && check.modelHash === info.hash && check.prompt === s.settings.prompt ? check : undefined;
}
