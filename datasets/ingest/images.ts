/** @file Image folders and files (PNG, JPEG, WebP, TIFF) decoded with sharp into `[N, H, W, 3]` float32 pixels in [0, 1]. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { DatasetError } from '../errors.js';

/** Decoded images, in frame order: image `i` occupies `pixels[i*H*W*3 .. (i+1)*H*W*3)`, rows top-down, RGB interleaved. */
export interface ImageSet {
  /** Source paths, in frame order. */
  files: string[];
  /** Position of each image in the natural sort of its folder (`frame_2` before `frame_10`). */
  frames: Int32Array;
  height: number;
  width: number;
  pixels: Float32Array;
  /** Size of each source image before resizing. */
  sourceSizes: { width: number; height: number }[];
}

export interface ImageReadOptions {
  /** Output height and width; the student's input size (64×64 by default). */
  height?: number;
  width?: number;
  /** `fill` stretches the whole frame to the size, `cover` crops the centre to keep the aspect, `contain` letterboxes in black. */
  fit?: 'fill' | 'cover' | 'contain';
  /** Images decoded at once. */
  concurrency?: number;
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff'];

function positiveInteger(value: number, option: string): number {
  if (!Number.isInteger(value) || value < 1) throw new DatasetError(`image option '${option}' is ${value}; it must be a positive integer`);
  return value;
}

/** Image files in a folder, naturally sorted; other files are ignored. */
export async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new DatasetError(`${dir}: cannot list the image folder (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the path`);
  }
  const files = names
    .filter((n) => IMAGE_EXTENSIONS.includes(path.extname(n).toLowerCase()))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (files.length === 0) throw new DatasetError(`${dir}: no image files (${IMAGE_EXTENSIONS.join(', ')}) in the folder`);
  return files.map((n) => path.join(dir, n));
}

/**
 * Decodes, auto-orients and resizes the given images to `[height, width, 3]` float32 in [0, 1]. Alpha is dropped
 * and grey images are expanded to RGB. An unreadable or corrupt image throws a `DatasetError` naming the file.
 */
export async function readImages(files: readonly string[], options: ImageReadOptions = {}): Promise<ImageSet> {
  const height = positiveInteger(options.height ?? 64, 'height');
  const width = positiveInteger(options.width ?? 64, 'width');
  const fit = options.fit ?? 'fill';
  const frameSize = height * width * 3;
  const pixels = new Float32Array(files.length * frameSize);
  const sourceSizes: { width: number; height: number }[] = new Array(files.length);
  let next = 0;
  const decodeNext = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      let data: Buffer;
      try {
        const image = sharp(file, { failOn: 'warning' });
        const meta = await image.metadata();
        sourceSizes[i] = { width: meta.autoOrient?.width ?? meta.width ?? 0, height: meta.autoOrient?.height ?? meta.height ?? 0 };
        const out = await image
          .autoOrient()
          .removeAlpha()
          .toColourspace('srgb')
          .resize({ width, height, fit, background: { r: 0, g: 0, b: 0 } })
          .raw()
          .toBuffer({ resolveWithObject: true });
        if (out.info.channels !== 3) throw new Error(`decoded to ${out.info.channels} channels, expected 3`);
        data = out.data;
      } catch (err) {
        next = files.length;
        throw new DatasetError(`${file}: cannot decode the image (${(err as Error).message.trim()}); replace or remove the file`);
      }
      const base = i * frameSize;
      for (let k = 0; k < frameSize; k++) pixels[base + k] = data[k] / 255;
    }
  };
  const workers = Array.from({ length: Math.min(options.concurrency ?? 4, Math.max(files.length, 1)) }, decodeNext);
  await Promise.all(workers);
  return { files: [...files], frames: Int32Array.from(files, (_, i) => i), height, width, pixels, sourceSizes };
}

/** Every image in a folder (or a single image file), naturally sorted, as one `ImageSet`. */
export async function readImageFolder(dirOrFile: string, options: ImageReadOptions = {}): Promise<ImageSet> {
  let isDir: boolean;
  try {
    isDir = (await stat(dirOrFile)).isDirectory();
  } catch {
    throw new DatasetError(`${dirOrFile}: no such image folder or file; check the path`);
  }
  return readImages(isDir ? await listImages(dirOrFile) : [dirOrFile], options);
}
