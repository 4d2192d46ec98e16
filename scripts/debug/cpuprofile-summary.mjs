/**
 * Where a Node process's CPU time went, from V8's sampling profile (`node --cpu-prof`):
 *   node scripts/debug/cpuprofile-summary.mjs <file.cpuprofile> [--top 25]
 * Prints self time by category — onnxruntime's wasm, JavaScript by file, "(program)" (native code
 * outside V8: for the WebGPU backend mostly Dawn and its Vulkan driver, reached through Dawn's N-API
 * binding), the garbage collector, idle — and the hottest functions. Plain Node, no dependencies, so it
 * runs on the GPU machine beside the bench.
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/debug/cpuprofile-summary.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}
const topAt = process.argv.indexOf('--top');
const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 25;
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map();
// timeDeltas[i] is the time before sample i; attribute it to that sample's node.
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function category(frame) {
  const { functionName: name, url } = frame;
  if (name === '(program)' || name === '(garbage collector)' || name === '(idle)' || name === '(root)') return name;
  if (/\.wasm/.test(url) || /^(wasm-function|\$)/.test(name) || url === '')
    return url === '' && !/^(wasm-function|\$)/.test(name) ? `native/builtin: ${name}` : 'wasm (onnxruntime)';
  return `js: ${url.split('/').pop()}`;
}

const byCategory = new Map();
const byFunction = new Map();
for (const [id, us] of selfUs) {
  const frame = byId.get(id).callFrame;
  const cat = category(frame);
  byCategory.set(cat, (byCategory.get(cat) ?? 0) + us);
  const key = `${frame.functionName || '(anonymous)'} ${frame.url ? frame.url.split('/').pop() : ''}:${frame.lineNumber}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${profile.samples.length} samples`);
console.log('self time by category:');
for (const [cat, us] of [...byCategory].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ${pct(us)}  ${cat}`);
console.log('hottest functions (self time):');
for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ${pct(us)}  ${key}`);
