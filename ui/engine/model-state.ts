/**
 * The engine and its model as the panel sees them, and how the embedded model gets loaded. Kept
 * apart from jobs: a model store or another engine source replaces this part without touching
 * how jobs run.
 */
import type { Capabilities, EngineApi, LoadProgress, ModelInfo, ModelSource } from '../../common/engine-types.js';
import type { Store } from '../store.js';
import { describeEngineError } from './engine-errors.js';

export type ModelStatus = 'starting' | 'loading' | 'ready' | 'failed';

export interface ModelState {
  status: ModelStatus;
  capabilities?: Capabilities;
  info?: ModelInfo;
  progress?: LoadProgress;
  /** Plain-language reason when status is 'failed'. */
  error?: string;
}

/** The loaded model's info, or undefined while none is ready (a failed or new load keeps the old info beside it). */
export function readyModelInfo(model: ModelState): ModelInfo | undefined {
  return model.status === 'ready' ? model.info : undefined;
}

/** Asks the engine what it runs on, then loads the embedded model. Resolves true once it is ready. */
export function loadEmbeddedModelAsync(
  engine: Pick<EngineApi, 'capabilities' | 'loadModel'>,
  store: Store<{ model: ModelState }>,
): Promise<boolean> {
  return loadModelIntoPanelAsync(engine, store, { kind: 'embedded' });
}

/** Asks the engine what it runs on, then loads `source`. Resolves true once it is ready. */
export async function loadModelIntoPanelAsync(
  engine: Pick<EngineApi, 'capabilities' | 'loadModel'>,
  store: Store<{ model: ModelState }>,
  source: ModelSource,
): Promise<boolean> {
  store.set((s) => ({ model: { status: 'starting', ...(s.model.capabilities ? { capabilities: s.model.capabilities } : {}) } }));
  try {
    const capabilities = await engine.capabilities();
    store.set({ model: { status: 'loading', capabilities } });
    const info = await engine.loadModel(source, (progress) => store.set((s) => ({ model: { ...s.model, progress } })));
    store.set({ model: { status: 'ready', capabilities, info } });
    return true;
  } catch (error) {
    const described = describeEngineError(error);
    store.set((s) => ({ model: { ...s.model, status: 'failed', error: `The model could not be loaded. ${described.message}` } }));
    return false;
  }
}

/** The part of ModelInfo the resolution planner needs. */
export function modelGeometry(info: ModelInfo): Pick<ModelInfo, 'nativeSize' | 'maxSide' | 'sizeMultiple'> {
  return { nativeSize: info.nativeSize, maxSide: info.maxSide, sizeMultiple: info.sizeMultiple };
}
