/** Backend choice from what the host asked for and the adapter WebGPU offers (no GPU needed: adapters are data). */
import type { AdapterInfo } from '../../common/engine-types.js';
import { adapterName, chooseBackend, isSoftwareAdapter } from '../../worker/engine/choose-backend.js';

function adapter(vendor: string, architecture: string, description = '', isFallbackAdapter = false): AdapterInfo {
  const named = { vendor, architecture, description, isFallbackAdapter };
  return { ...named, software: isSoftwareAdapter(named), maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 };
}

test.each([
  ['google', 'swiftshader', '', false, true],
  ['mesa', 'llvmpipe', 'llvmpipe (LLVM 15.0.6, 256 bits)', false, true],
  ['mesa', '', 'lavapipe', false, true],
  ['microsoft', '', 'Microsoft Basic Render Driver', false, true],
  ['apple', 'common-3', 'Apple M2', true, true],
  ['nvidia', 'hopper', 'NVIDIA H200', false, false],
  ['intel', 'gen-12lp', '', false, false],
])('%s %s %s (isFallbackAdapter %s): software %s', (vendor, architecture, description, fallback, software) => {
  expect(isSoftwareAdapter({ vendor, architecture, description, isFallbackAdapter: fallback })).toBe(software);
});

describe('chooseBackend', () => {
  const swiftshader = adapter('google', 'swiftshader', '', true);
  const h200 = adapter('nvidia', 'hopper', 'NVIDIA H200');

  test('auto: WebGPU on a hardware adapter, WASM on a software one (with the reason), WASM without any', () => {
    expect(chooseBackend('auto', { adapter: h200 }, false)).toEqual({ backend: 'webgpu', reason: 'WebGPU on nvidia hopper (NVIDIA H200)' });
    const soft = chooseBackend('auto', { adapter: swiftshader }, false);
    expect(soft).toMatchObject({ backend: 'wasm', fallback: soft.reason });
    expect(soft.reason).toMatch(/^the only WebGPU adapter, google swiftshader, is a software rasteriser/);
    expect(chooseBackend('auto', { unavailableReason: 'no navigator.gpu' }, false)).toEqual({
      backend: 'wasm',
      reason: 'no navigator.gpu',
      fallback: 'no navigator.gpu',
    });
  });

  test('webgpu: any adapter, a software one included; never WebGPU without an adapter', () => {
    expect(chooseBackend('webgpu', { adapter: swiftshader }, false)).toEqual({
      backend: 'webgpu',
      reason: 'WebGPU was asked for; its adapter, google swiftshader, is a software rasteriser',
    });
    expect(chooseBackend('webgpu', { adapter: h200 }, false).backend).toBe('webgpu');
    expect(chooseBackend('webgpu', {}, false)).toMatchObject({ backend: 'wasm', fallback: 'no WebGPU adapter' });
  });

  test('wasm is a choice, not a fallback; a lost device moves everything to WASM', () => {
    expect(chooseBackend('wasm', { adapter: h200 }, false)).toEqual({ backend: 'wasm', reason: 'the WASM backend was asked for' });
    expect(chooseBackend('webgpu', { adapter: h200 }, true)).toMatchObject({
      backend: 'wasm',
      fallback: 'the GPU device was lost during an earlier job',
    });
  });

  test('adapter names read as the browser gives them', () => {
    expect(adapterName(adapter('', '', ''))).toBe('unnamed adapter');
    expect(adapterName(adapter('apple', 'metal-3', 'Apple M3'))).toBe('apple metal-3 (Apple M3)');
  });
});
