/**
 * Records which checkpoint tensors a graph builder read, so that a checkpoint holding tensors the
 * config does not account for (an SD3.5 checkpoint with an SD3 config, dual attention layers
 * missing from `dual_attention_layers`) fails with the first unused tensor's name instead of
 * building a graph that silently ignores part of the model.
 */
import { EngineError } from '../../engine-error.js';
import { WeightSet, type SafetensorsTensor } from '../../safetensors.js';

export class UsageTrackingWeightSet extends WeightSet {
  readonly used = new Set<string>();

  constructor(weights: WeightSet) {
    super(weights.description, weights.tensors);
  }

  override get(name: string, shape?: readonly number[], why?: string): SafetensorsTensor {
    const tensor = super.get(name, shape, why);
    this.used.add(name);
    return tensor;
  }

  /** Throws naming the first tensor no builder step read; `ignore` says which prefixes are expected to be unused. */
  checkAllUsed(configPath: string, ignore: (name: string) => boolean = () => false): void {
    const unused = this.names().filter((name) => !this.used.has(name) && !ignore(name));
    if (unused.length === 0) return;
    throw new EngineError(
      'model-mismatch',
      `${this.description}: tensor "${unused[0]}"${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''} is not part of the model ${configPath} describes; the checkpoint and its config disagree`,
    );
  }
}
