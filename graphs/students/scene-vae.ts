/** @file The scene student: a convolutional variational autoencoder of road scenes with a Gaussian latent and host-drawn reparameterization noise. */
import { GraphError } from '../errors.js';
import type { Graph } from '../graph.js';
import { init } from '../init.js';
import { add, exp, mul, relu, sigmoid } from '../ops/elementwise.js';
import { conv, convTranspose } from '../ops/conv.js';
import { gemm } from '../ops/matmul.js';
import { reshape, transpose } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';

export interface SceneVaeOptions {
  /** [height, width] of the images; each must divide by 2^channels.length. */
  imageSize: readonly [number, number];
  /** Output channels of the stride-2 encoder convolutions, in order; the decoder mirrors them. */
  channels: readonly number[];
  /** Size of the Gaussian latent. */
  latent: number;
}

export interface Encoding {
  /** The last convolution's activations, flattened [batch, C*h*w]. */
  features: Tensor;
  /** [batch, latent] */
  mean: Tensor;
  logvar: Tensor;
}

export interface Decoding {
  /** Pre-sigmoid output, NCHW [batch, 3, H, W]. */
  logits: Tensor;
  /** sigmoid(logits) as NHWC [batch, H, W, 3], the layout of the scenes table. */
  reconstruction: Tensor;
}

export interface SceneVae {
  /** Images NHWC [batch, H, W, 3] in [0, 1] -> NCHW [batch, 3, H, W]: what the encoder reads and the loss compares against. */
  toNchw(images: Tensor): Tensor;
  encode(nchw: Tensor): Encoding;
  /** The decoder; every call shares the same parameters. */
  decode(z: Tensor): Decoding;
}

const KERNEL = 4;
const STRIDE = 2;
/** Kernel 4, stride 2, padding 1: every convolution halves the size exactly, every transposed one doubles it. */
const PADS = 1;

/**
 * The scene VAE's parameters under the current scope of `g`: encoder `encoder.conv<k>` (stride-2 4x4
 * convolutions with ReLU), `encoder.mean` and `encoder.logvar` (linear from the flattened features), decoder
 * `decoder.fc` (linear back to the last feature map) and `decoder.deconv<k>` (stride-2 4x4 transposed
 * convolutions with ReLU between, the last to 3 channels whose sigmoid is the image).
 */
export function sceneVae(g: Graph, opts: SceneVaeOptions): SceneVae {
  const [height, width] = opts.imageSize;
  const n = opts.channels.length;
  if (n === 0) throw new GraphError('sceneVae: channels must list at least one encoder convolution');
  for (const c of [...opts.channels, opts.latent]) {
    if (!Number.isInteger(c) || c < 1) throw new GraphError(`sceneVae: channels and latent must be positive integers, got ${c}`);
  }
  const scale = 2 ** n;
  for (const side of [height, width]) {
    if (!Number.isInteger(side) || side < scale || side % scale !== 0) {
      throw new GraphError(`sceneVae: imageSize [${height}, ${width}] must be multiples of ${scale}: the encoder halves it once per entry of channels (${n})`);
    }
  }
  const fh = height / scale;
  const fw = width / scale;
  const last = opts.channels[n - 1];
  const flat = last * fh * fw;

  const enc = g.scope('encoder', () => {
    const convs = opts.channels.map((c, k) =>
      g.scope(`conv${k}`, () => ({
        weight: g.param('weight', [c, k === 0 ? 3 : opts.channels[k - 1], KERNEL, KERNEL], 'kaimingUniform'),
        bias: g.param('bias', [c], init.zeros()),
      })),
    );
    const dense = (name: string) =>
      g.scope(name, () => ({ weight: g.param('weight', [flat, opts.latent], 'xavierUniform'), bias: g.param('bias', [opts.latent], init.zeros()) }));
    return { convs, mean: dense('mean'), logvar: dense('logvar') };
  });
  const dec = g.scope('decoder', () => {
    const fc = g.scope('fc', () => ({ weight: g.param('weight', [opts.latent, flat], 'xavierUniform'), bias: g.param('bias', [flat], init.zeros()) }));
    const outs = [...opts.channels.slice(0, n - 1).reverse(), 3];
    let cin = last;
    const deconvs = outs.map((cout, k) => {
      const fanIn = (cin * KERNEL * KERNEL) / (STRIDE * STRIDE);
      const bound = Math.SQRT2 * Math.sqrt(3 / fanIn);
      const p = g.scope(`deconv${k}`, () => ({
        weight: g.param('weight', [cin, cout, KERNEL, KERNEL], init.uniform(-bound, bound)),
        bias: g.param('bias', [cout], init.zeros()),
      }));
      cin = cout;
      return p;
    });
    return { fc, deconvs };
  });

  const toNchw = (images: Tensor): Tensor => {
    if (images.rank !== 4 || images.shape[1] !== height || images.shape[2] !== width || images.shape[3] !== 3) {
      throw new GraphError(`sceneVae: images must be NHWC [batch, ${height}, ${width}, 3], got ${images.toString()}`);
    }
    return transpose(images, [0, 3, 1, 2]);
  };
  const encode = (nchw: Tensor): Encoding =>
    g.scope('encoder', () => {
      let h = nchw;
      for (const c of enc.convs) h = relu(conv(h, c.weight, c.bias, { stride: STRIDE, pads: PADS }));
      const features = reshape(h, [h.shape[0], flat]);
      return {
        features,
        mean: gemm(features, enc.mean.weight, enc.mean.bias),
        logvar: gemm(features, enc.logvar.weight, enc.logvar.bias),
      };
    });
  const decode = (z: Tensor): Decoding =>
    g.scope('decoder', () => {
      if (z.rank !== 2 || z.shape[1] !== opts.latent) throw new GraphError(`sceneVae: the decoder reads [batch, ${opts.latent}], got ${z.toString()}`);
      let h = reshape(gemm(z, dec.fc.weight, dec.fc.bias), [z.shape[0], last, fh, fw]);
      for (const d of dec.deconvs) h = convTranspose(relu(h), d.weight, d.bias, { stride: STRIDE, pads: PADS });
      return { logits: h, reconstruction: transpose(sigmoid(h), [0, 2, 3, 1]) };
    });
  return { toNchw, encode, decode };
}

/** z = mean + exp(logvar / 2) * noise, with `noise` [batch, latent] standard normal drawn on the host. */
export function reparameterize(mean: Tensor, logvar: Tensor, noise: Tensor): Tensor {
  if (noise.rank !== 2 || String(noise.shape[1]) !== String(mean.shape[1])) {
    throw new GraphError(`reparameterize: noise must be [batch, ${String(mean.shape[1])}] like the latent mean, got ${noise.toString()}`);
  }
  return add(mean, mul(exp(mul(logvar, 0.5)), noise));
}
