/**
 * Which backend the engine runs on, and why, from what the host asked for and what WebGPU offers.
 *
 * 'auto' takes WebGPU only on a hardware adapter. A software adapter (the browser's fallback
 * adapter, or a CPU rasteriser such as SwiftShader, llvmpipe or lavapipe) runs WebGPU's shaders on
 * the CPU: on the project's 2-core CI machine an image took 17× longer there than on the WASM
 * backend, whose kernels are made for the CPU. Asking for 'webgpu' still uses such an adapter
 * (the browser tests do, to exercise the WebGPU path); without any adapter nothing can, and the
 * engine says so instead of claiming WebGPU.
 */
import type { AdapterInfo, Backend, BackendPreference } from '../../common/engine-types.js';

export interface BackendChoice {
  backend: Backend;
  /** Why this backend, in words, for Capabilities.backendReason and the notes. */
  reason: string;
  /** Why WebGPU is not used although WASM was not asked for (undefined otherwise). */
  fallback?: string;
}

/** What a WebGPU probe found: an adapter, or why there is none. */
export interface AdapterProbe {
  adapter?: AdapterInfo;
  unavailableReason?: string;
}

const SOFTWARE_RENDERERS = /swiftshader|llvmpipe|lavapipe|softpipe|basic render driver/i;

/** True for adapters that rasterise on the CPU: the fallback adapter, or a renderer known to be software. */
export function isSoftwareAdapter(
  info: Pick<AdapterInfo, 'vendor' | 'architecture' | 'description'> & { isFallbackAdapter?: boolean },
): boolean {
  return info.isFallbackAdapter === true || SOFTWARE_RENDERERS.test(`${info.vendor} ${info.architecture} ${info.description}`);
}

/** "google swiftshader" / "nvidia ampere (NVIDIA H200)": the adapter as the browser names it. */
export function adapterName(adapter: Pick<AdapterInfo, 'vendor' | 'architecture' | 'description'>): string {
  const name = [adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  return adapter.description && !name.includes(adapter.description) ? `${name} (${adapter.description})` : name;
}

export function chooseBackend(preference: BackendPreference, probe: AdapterProbe, deviceLost: boolean): BackendChoice {
  if (preference === 'wasm') return { backend: 'wasm', reason: 'the WASM backend was asked for' };
  if (deviceLost) {
    const why = 'the GPU device was lost during an earlier job';
    return { backend: 'wasm', reason: why, fallback: why };
  }
  const { adapter } = probe;
  if (!adapter) {
    const why = probe.unavailableReason ?? 'no WebGPU adapter';
    return { backend: 'wasm', reason: why, fallback: why };
  }
  const name = adapterName(adapter);
  if (adapter.software) {
    if (preference === 'webgpu')
      return { backend: 'webgpu', reason: `WebGPU was asked for; its adapter, ${name}, is a software rasteriser` };
    const why = `the only WebGPU adapter, ${name}, is a software rasteriser, slower than WASM (ask for the webgpu backend to use it anyway)`;
    return { backend: 'wasm', reason: why, fallback: why };
  }
  return { backend: 'webgpu', reason: `WebGPU on ${name}` };
}
