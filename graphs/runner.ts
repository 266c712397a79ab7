/** @file A small onnxruntime-node session wrapper, with a step loop that feeds outputs straight back as inputs. */
import * as ort from 'onnxruntime-node';
import { GraphError } from './errors.js';

export interface RunnerOptions {
  /** Execution providers in order of preference (default ['cpu']). */
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
}

/** Tensors by input or output name. */
export type Feeds = Record<string, ort.Tensor>;

/** One inference session over a serialized model. */
export class Runner {
  private constructor(readonly session: ort.InferenceSession) {}

  static async create(model: Uint8Array, opts: RunnerOptions = {}): Promise<Runner> {
    const providers = opts.executionProviders ?? ['cpu'];
    try {
      const options: ort.InferenceSession.SessionOptions = {
        executionProviders: providers,
        graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
      };
      if (opts.intraOpNumThreads !== undefined) options.intraOpNumThreads = opts.intraOpNumThreads;
      if (opts.interOpNumThreads !== undefined) options.interOpNumThreads = opts.interOpNumThreads;
      const session = await ort.InferenceSession.create(model, options);
      return new Runner(session);
    } catch (err) {
      throw new GraphError(`could not create an onnxruntime session (providers ${providers.join(', ')}): ${(err as Error).message}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs once; `fetches` limits the outputs computed (default: all). */
  async run(feeds: Feeds, fetches?: readonly string[]): Promise<Feeds> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length > 0) throw new GraphError(`run: missing inputs ${missing.join(', ')}; the model takes ${this.session.inputNames.join(', ')}`);
    const unknown = Object.keys(feeds).filter((n) => !this.session.inputNames.includes(n));
    if (unknown.length > 0) throw new GraphError(`run: unknown inputs ${unknown.join(', ')}; the model takes ${this.session.inputNames.join(', ')}`);
    if (fetches) {
      const bad = fetches.filter((n) => !this.session.outputNames.includes(n));
      if (bad.length > 0) throw new GraphError(`run: unknown outputs ${bad.join(', ')}; the model gives ${this.session.outputNames.join(', ')}`);
      return this.session.run(feeds, [...fetches]);
    }
    return this.session.run(feeds);
  }

  /**
   * A stateful loop: `state` holds the inputs carried between steps, and after each step the output named by
   * each key of `binding` becomes the input named by its value (e.g. 'params.w.next' -> 'params.w').
   */
  loop(state: Feeds, binding: Record<string, string>): StepLoop {
    for (const [out, inp] of Object.entries(binding)) {
      if (!this.session.outputNames.includes(out)) throw new GraphError(`loop: binding names output "${out}", which the model does not have`);
      if (!this.session.inputNames.includes(inp)) throw new GraphError(`loop: binding names input "${inp}", which the model does not have`);
      if (!(inp in state)) throw new GraphError(`loop: bound input "${inp}" needs an initial value in state`);
    }
    return new StepLoop(this, { ...state }, binding);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Steps a model whose bound outputs become the next step's inputs, without copying them on the JS side. */
export class StepLoop {
  constructor(
    private readonly runner: Runner,
    /** The carried inputs, replaced by the bound outputs after each step. */
    readonly state: Feeds,
    private readonly binding: Record<string, string>,
  ) {}

  /** Runs one step with the carried state plus `feeds` (the batch, knobs); returns every output. */
  async step(feeds: Feeds = {}): Promise<Feeds> {
    for (const k of Object.keys(feeds)) {
      if (k in this.state) throw new GraphError(`step: input "${k}" is carried state; do not feed it per step`);
    }
    const out = await this.runner.run({ ...this.state, ...feeds });
    for (const [o, i] of Object.entries(this.binding)) this.state[i] = out[o];
    return out;
  }
}
