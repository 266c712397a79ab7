/** @file Reverse-mode autodiff: walks the recorded nodes backwards, applying each op's gradient rule, in plain graph ops. */
import { type JoinCache, accumulate } from './accumulate.js';
import { GraphError } from './errors.js';
import type { Node } from './op.js';
import { zerosLike } from './ops/shape.js';
import { type Tensor, formatShape, isFloat, sameShape } from './tensor.js';

export interface GradientOptions {
  /** Give zeros for a wrt tensor the loss does not depend on, instead of an error. */
  allowUnused?: boolean;
  /** Gradient flowing into `loss` (same shape); default 1, which needs a scalar loss. */
  gradOutput?: Tensor;
}

/**
 * Gradients of `loss` with respect to each tensor of `wrt` (inputs, parameters or intermediate tensors), as new
 * tensors of the same graph. Only nodes on a path from a wrt tensor to the loss are differentiated; gradients of
 * tensors used several times are summed.
 */
export function gradients(loss: Tensor, wrt: readonly Tensor[], opts: GradientOptions = {}): Tensor[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new GraphError(`gradients(): the loss ${loss.toString()} must be a float tensor`);
  for (const t of wrt) {
    if (t.graph !== g) throw new GraphError(`gradients(): ${t.toString()} belongs to another graph than the loss`);
    if (!isFloat(t.dtype)) throw new GraphError(`gradients(): cannot differentiate with respect to ${t.toString()}: it is not a float tensor`);
  }
  const seed = seedGradient(loss, opts.gradOutput);

  const nodes = g.nodes;
  const needed = new Uint8Array(nodes.length);
  const stack: Node[] = [];
  if (loss.producer) stack.push(loss.producer);
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (needed[n.id]) continue;
    needed[n.id] = 1;
    for (const t of n.inputs) if (t.producer && !needed[t.producer.id]) stack.push(t.producer);
  }

  const active = new Set<number>();
  let first = nodes.length;
  for (const t of wrt) {
    active.add(t.id);
    first = Math.min(first, t.producer ? t.producer.id + 1 : 0);
  }
  const order: Node[] = [];
  for (let id = first; id < nodes.length; id++) {
    if (!needed[id]) continue;
    const n = nodes[id];
    if (n.inputs.some((t) => active.has(t.id))) {
      for (const t of n.outputs) active.add(t.id);
      order.push(n);
    }
  }

  const parts = new Map<number, Tensor[]>();
  const totals = new Map<number, Tensor>();
  const joins: JoinCache = new Map();
  const total = (t: Tensor): Tensor | null => {
    const done = totals.get(t.id);
    if (done) return done;
    const list = parts.get(t.id);
    if (!list) return null;
    const s = list.length === 1 ? list[0] : g.atScope(gradScope(t.producer), () => accumulate(list, joins));
    totals.set(t.id, s);
    return s;
  };
  if (active.has(loss.id)) parts.set(loss.id, [seed]);

  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const grads = node.outputs.map(total);
    if (grads.every((x) => x === null)) continue;
    const wants = node.inputs.map((t) => active.has(t.id));
    const op = node.op;
    const reached = node.inputs.find((_, i) => wants[i]) as Tensor;
    if (!op.grad) {
      throw new GraphError(
        `gradients(): no gradient through ${op.name} (node ${node.name}): the loss depends on ${reached.toString()} through it, and ${op.name} is not differentiable; wrap that path in stopGradient() if it should carry no gradient`,
      );
    }
    let results: (Tensor | null)[];
    try {
      results = g.atScope(gradScope(node), () =>
        (op.grad as NonNullable<typeof op.grad>)({ graph: g, node, inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, grads, wants }),
      );
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      throw new GraphError(`gradients(): at node ${node.name}: ${err.message}`);
    }
    for (let i = 0; i < node.inputs.length; i++) {
      const r = results[i];
      if (!r || !wants[i]) continue;
      const x = node.inputs[i];
      if (r.dtype !== x.dtype || !sameShape(r.shape, x.shape)) {
        throw new GraphError(
          `gradients(): the gradient rule of ${op.name} gave ${r.dtype}${formatShape(r.shape)} for input ${x.toString()} of node ${node.name}`,
        );
      }
      const list = parts.get(x.id);
      if (list) list.push(r);
      else parts.set(x.id, [r]);
    }
  }

  return wrt.map((t) => {
    const gt = total(t);
    if (gt) return gt;
    if (opts.allowUnused) return zerosLike(t);
    throw new GraphError(
      `gradients(): the loss ${loss.name} does not depend on ${t.toString()} (not connected, or only through stopGradient); pass { allowUnused: true } for zeros`,
    );
  });
}

function gradScope(node: Node | null): string {
  return node === null || node.scope === '' ? 'grad' : `grad.${node.scope}`;
}

function seedGradient(loss: Tensor, gradOutput?: Tensor): Tensor {
  const g = loss.graph;
  if (gradOutput) {
    if (gradOutput.dtype !== loss.dtype || !sameShape(gradOutput.shape, loss.shape)) {
      throw new GraphError(`gradients(): gradOutput ${gradOutput.toString()} must match the loss ${loss.toString()}`);
    }
    return gradOutput;
  }
  if (!loss.shape.every((d) => d === 1)) {
    throw new GraphError(`gradients(): the loss ${loss.toString()} must be a scalar; reduce it first (e.g. reduceMean) or pass gradOutput`);
  }
  const one = g.scalar(1, loss.dtype);
  return loss.rank === 0 ? one : g.constant(new Array<number>(loss.rank).fill(1).slice(0, 1), { dtype: loss.dtype, shape: loss.shape as number[] });
}
