/** @file The page's seeded randomness (mulberry32 and Box–Muller) and its training batches, reproducible in Node. */

/**
 * mulberry32: a 32-bit generator, small and fast, with a full 2^32 period; good enough for batch order and
 * reparameterization noise, and the same numbers in every JavaScript engine.
 */
export class PageRandom {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u = 1 - this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

/** One training batch, in buffers reused from step to step. */
export interface SceneBatch {
  /** `[batchSize, H, W, 3]` */
  images: Float32Array;
  /** `[batchSize, latent]` standard normal */
  noise: Float32Array;
}

/**
 * Batches of scenes for the VAE's train step: every epoch visits the images in a fresh shuffled order (batches
 * wrap across epochs), and each batch gets fresh reparameterization noise. The same seed gives the same batches.
 */
export class SceneBatches {
  private readonly rng: PageRandom;
  private readonly order: Int32Array;
  private cursor: number;
  private readonly batch: SceneBatch;

  constructor(
    private readonly images: Float32Array,
    private readonly count: number,
    private readonly frameSize: number,
    readonly batchSize: number,
    readonly latent: number,
    seed: number,
  ) {
    if (count < 1 || images.length !== count * frameSize) throw new Error(`SceneBatches: ${images.length} pixel values do not make ${count} images of ${frameSize}`);
    this.rng = new PageRandom(seed);
    this.order = Int32Array.from({ length: count }, (_, i) => i);
    this.cursor = count;
    this.batch = { images: new Float32Array(batchSize * frameSize), noise: new Float32Array(batchSize * latent) };
  }

  next(): SceneBatch {
    for (let b = 0; b < this.batchSize; b++) {
      if (this.cursor === this.count) this.shuffle();
      const i = this.order[this.cursor++];
      this.batch.images.set(this.images.subarray(i * this.frameSize, (i + 1) * this.frameSize), b * this.frameSize);
    }
    for (let k = 0; k < this.batch.noise.length; k++) this.batch.noise[k] = this.rng.normal();
    return this.batch;
  }

  private shuffle(): void {
    for (let i = this.count - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = this.order[i];
      this.order[i] = this.order[j];
      this.order[j] = t;
    }
    this.cursor = 0;
  }
}
