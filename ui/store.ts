/** A minimal observable state holder: the panel's one source of truth, rendered by the view. */

export interface Store<S> {
  get(): S;
  /** Shallow-merges a patch (or the patch a function of the current state returns) and notifies. */
  set(patch: Partial<S> | ((state: S) => Partial<S>)): void;
  /** Calls `listener` now and after every change; returns the unsubscribe function. */
  subscribe(listener: (state: S) => void): () => void;
}

export function createStore<S extends object>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<(state: S) => void>();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...(typeof patch === 'function' ? patch(state) : patch) };
      for (const listener of [...listeners]) listener(state);
    },
    subscribe(listener) {
      listeners.add(listener);
      listener(state);
      return () => listeners.delete(listener);
    },
  };
}
