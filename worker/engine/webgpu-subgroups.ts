/**
 * Keeps onnxruntime-web from using the WebGPU "subgroups" feature: the adapter's and device's
 * feature sets stop listing it and device requests stop asking for it, so onnxruntime picks its
 * kernels written without subgroups. Used only when the fused-attention check shows that the
 * subgroup kernels compute wrong results on this device (./fused-attention-check.ts).
 */

interface Prototype {
  requestDevice?: (descriptor?: { requiredFeatures?: Iterable<string> }) => Promise<unknown>;
}

let hidden = false;

export function subgroupsHidden(): boolean {
  return hidden;
}

/** Hides subgroups for every adapter and device made from now on; false when this host has no WebGPU classes to patch. */
export function hideSubgroups(): boolean {
  if (hidden) return true;
  const scope = globalThis as { GPUAdapter?: { prototype: Prototype }; GPUDevice?: { prototype: Prototype } };
  const adapterProto = scope.GPUAdapter?.prototype;
  if (!adapterProto) return false;
  for (const proto of [adapterProto, scope.GPUDevice?.prototype]) {
    if (!proto) continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, 'features');
    const get = descriptor?.get;
    if (!get) continue;
    Object.defineProperty(proto, 'features', {
      configurable: true,
      get() {
        return new Set([...(get.call(this) as Iterable<string>)].filter((feature) => feature !== 'subgroups'));
      },
    });
  }
  const requestDevice = adapterProto.requestDevice;
  if (requestDevice) {
    adapterProto.requestDevice = function (this: unknown, descriptor) {
      const required = descriptor?.requiredFeatures ? [...descriptor.requiredFeatures].filter((f) => f !== 'subgroups') : undefined;
      return requestDevice.call(this, required ? { ...descriptor, requiredFeatures: required } : descriptor);
    };
  }
  hidden = true;
  return true;
}
