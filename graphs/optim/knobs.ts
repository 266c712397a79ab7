/** @file Runtime knobs: scalar graph inputs named `knob.<name>` with a default value, so schedules need no recompilation. */
import { GraphError } from '../errors.js';
import type { Graph } from '../graph.js';
import type { Tensor } from '../tensor.js';

/** Prefix of every knob input's name. */
export const KNOB_PREFIX = 'knob.';

const KNOB_NAME = /^[A-Za-z0-9_]+$/;

const defaults = new WeakMap<Graph, Map<string, number>>();

/**
 * The knob `name` of a graph: a scalar input `knob.<name>` of the graph's float type. Declaring it again returns
 * the same tensor, so several losses can share one weight; the default must then agree.
 */
export function knob(g: Graph, name: string, defaultValue: number): Tensor {
  if (!KNOB_NAME.test(name)) throw new GraphError(`knob name "${name}" must be letters, digits or '_'`);
  if (!Number.isFinite(defaultValue)) throw new GraphError(`knob "${name}" needs a finite default value, got ${defaultValue}`);
  let known = defaults.get(g);
  if (known === undefined) {
    known = new Map();
    defaults.set(g, known);
  }
  const inputName = KNOB_PREFIX + name;
  const prior = known.get(name);
  if (prior !== undefined) {
    if (prior !== defaultValue) {
      throw new GraphError(`knob "${name}" is declared twice with different defaults (${prior} and ${defaultValue}); use one value`);
    }
    return g.inputs.find((t) => t.name === inputName) as Tensor;
  }
  const t = g.input(inputName, g.floatType, []);
  known.set(name, defaultValue);
  return t;
}

/** Default values of the knobs declared on a graph, by knob name (without the prefix). */
export function knobDefaults(g: Graph): ReadonlyMap<string, number> {
  return defaults.get(g) ?? new Map();
}
