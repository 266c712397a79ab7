/** @file The built site's manifest (`site.json`): which students, data and training graphs the page finds, and where. */

/** File name of the manifest at the root of a built site. */
export const SITE_FILE = 'site.json';
/** Folder (relative to the site) holding onnxruntime-web's wasm runtime files. */
export const ORT_DIR = 'ort/';
/** Version of the manifest layout. */
export const SITE_FORMAT = 1;

/** A float32 tensor stored little-endian in a `.bin` file, with its shape. */
export interface TensorFile {
  file: string;
  shape: number[];
}

/** A picture shown on the page: its pixels (the model's input, exactly) and where it came from. */
export interface SceneSet {
  /** `[count, H, W, 3]` in [0, 1]. */
  pixels: TensorFile;
  /** One label per image (the source file name, or the simulated scene's id). */
  labels: string[];
}

/** The scene VAE: its exported models, its size, and the images the page encodes. */
export interface VaeSite {
  /** `model-card.json` of the exported student. */
  card: string;
  student: string;
  encoder: string;
  decoder: string;
  /** [H, W] of the frames the student reads. */
  imageSize: [number, number];
  latent: number;
  /** Real dashcam frames, resized to the student's size at build time. */
  frames: SceneSet;
  /** Procedurally rendered scenes of the simulated driving experiment. */
  scenes: SceneSet;
}

/** One simulated trial shown step by step, with the simulated brain's recording of the same offers. */
export interface TrialInfo {
  /** Task trial id in the simulation. */
  trialId: number;
  offer1: number;
  offer2: number;
  /** 0: offer 1 was larger; 1: offer 2 was. */
  label: number;
  /** Bins of the student's grid: offer 1 on, offer 2 on, go, decision. */
  events: { offer1On: number; offer2On: number; go: number; decision: number };
  /** The same events on the brain recording's grid. */
  brainEvents: { offer1On: number; offer2On: number; go: number; decision: number };
}

/** The decision RNN: its exported model, the bundled trials and the simulated brain's latent trajectories. */
export interface RnnSite {
  card: string;
  student: string;
  timeBins: number;
  inputSize: number;
  hidden: number;
  featureNames: string[];
  /** `[trials, T, F]` inputs and `[trials, T]` one-hot decision masks, exactly as the model reads them. */
  inputs: TensorFile;
  decisionMask: TensorFile;
  trials: TrialInfo[];
  /** `[trials, Tb, 2]`: the brain's ground-truth latent state of each trial projected on its first two principal components. */
  brainTrajectories: TensorFile;
  /** Share of the brain latents' variance each of the two components explains. */
  brainExplained: [number, number];
}

/** The VAE's train-step graph, as compiled by b2m in Node, for training in the page. */
export interface TrainSite {
  /** The standalone train-step model: parameters, optimizer state, step, batch and knobs in; updates out. */
  trainStep: string;
  /** The inference model whose initializers take the trained parameters for download. */
  inference: string;
  /** The io description (`io.json` of the compiled artifacts). */
  io: string;
  /** Initial parameters, float32, concatenated in the io's parameter order. */
  params: string;
  batchSize: number;
  steps: number;
  /** Seed of the page's batch order and reparameterization noise. */
  seed: number;
  /** The images trained on: the bundled simulated scenes and dashcam frames, `[count, H, W, 3]`. */
  images: TensorFile;
}

export interface SiteManifest {
  format: typeof SITE_FORMAT;
  b2mVersion: string;
  ortDir: string;
  /** File names of onnxruntime-web's wasm runtime in `ortDir`. */
  ortFiles: string[];
  vae?: VaeSite;
  rnn?: RnnSite;
  train?: TrainSite;
}
