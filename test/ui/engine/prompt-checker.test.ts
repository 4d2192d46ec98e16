/**
 * The panel asks the model about the prompt once the designer pauses, and keeps only the answer for
 * the prompt and model on screen.
 */
import { currentPromptCheck, startPromptChecker } from '../../../ui/engine/prompt-checker.js';
import { createPanelStore } from '../../../ui/panel-state.js';
import { FAKE_MODEL, FakeEngine, waitUntil } from '../fake-engine.js';

function setUp(delayMs = 5) {
  const store = createPanelStore(1);
  const engine = new FakeEngine();
  engine.unknownWords = new Set(['modern', 'zorbly']);
  const logs: string[] = [];
  const stop = startPromptChecker({ store, engine, delayMs, log: (m) => logs.push(m) });
  const type = (prompt: string) => store.set((s) => ({ settings: { ...s.settings, prompt } }));
  const ready = (hash = FAKE_MODEL.hash) => store.set({ model: { status: 'ready', info: { ...FAKE_MODEL, hash } } });
  return { store, engine, logs, stop, type, ready };
}

test('nothing is asked before a model is ready; then the prompt is checked once the typing pauses', async () => {
  const { store, engine, stop, type, ready } = setUp();
  type('rocket, modern style');
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(engine.checkedPrompts).toEqual([]);
  ready();
  type('rocket, modern');
  type('rocket, modern st');
  type('rocket, modern style');
  await waitUntil(() => currentPromptCheck(store.get()) !== undefined, 'the prompt is checked');
  expect(engine.checkedPrompts).toEqual(['rocket, modern style']);
  expect(currentPromptCheck(store.get())).toMatchObject({
    prompt: 'rocket, modern style',
    unknownWords: ['modern'],
    modelHash: FAKE_MODEL.hash,
  });
  stop();
});

test('an answer for an earlier prompt or another model is not shown', async () => {
  const { store, engine, stop, type, ready } = setUp(0);
  // The first prompt's answer arrives after the second's.
  engine.checkDelayMs = (prompt) => (prompt.includes('zorbly') ? 40 : 0);
  ready();
  type('a zorbly');
  await waitUntil(() => engine.checkedPrompts.length === 1, 'the first prompt is asked about');
  type('a rocket');
  await waitUntil(() => currentPromptCheck(store.get())?.prompt === 'a rocket', 'the second prompt is checked');
  await new Promise((resolve) => setTimeout(resolve, 60));
  expect(currentPromptCheck(store.get())).toMatchObject({ prompt: 'a rocket', unknownWords: [] });
  // Another model: the old answer no longer counts until the new model has checked the prompt.
  ready('ef'.repeat(32));
  expect(currentPromptCheck(store.get())).toBeUndefined();
  await waitUntil(() => currentPromptCheck(store.get()) !== undefined, 'the prompt is checked');
  expect(engine.checkedPrompts).toEqual(['a zorbly', 'a rocket', 'a rocket']);
  stop();
});

test('a failed check is logged and shows nothing', async () => {
  const { store, engine, logs, stop, type, ready } = setUp(0);
  engine.checkPrompt = async () => {
    throw new Error('[invalid-request] no model is loaded');
  };
  ready();
  type('rocket');
  await waitUntil(() => logs.length > 0, 'the failure is logged');
  expect(logs).toEqual(['checking the prompt failed: [invalid-request] no model is loaded']);
  expect(currentPromptCheck(store.get())).toBeUndefined();
  stop();
});
