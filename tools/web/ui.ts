/** @file Page plumbing: typed element lookup, visible messages for every failure, and pixel drawing of NHWC images. */
import { PageError, firstLine } from './runtime.js';

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new PageError(`the page has no element #${id}; rebuild the site`);
  return el as T;
}

/** Shows a message in a section's message box (and in the page banner when no box is given). */
export function showMessage(text: string, kind: 'error' | 'info' = 'error', boxId = 'banner'): void {
  const box = document.getElementById(boxId) ?? document.getElementById('banner');
  if (!box) return;
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = false;
}

export function clearMessage(boxId: string): void {
  const box = document.getElementById(boxId);
  if (box) {
    box.textContent = '';
    box.hidden = true;
  }
}

/** The text a person reads for a failure: a PageError as it is, anything else prefixed as unexpected. */
export function describe(err: unknown): string {
  return err instanceof PageError ? err.message : `Unexpected error: ${firstLine(err)}`;
}

/** Runs an async action and shows its failure in `boxId` instead of leaving the page half drawn. */
export async function guarded(boxId: string, action: () => Promise<void>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (err) {
    showMessage(describe(err), 'error', boxId);
    return false;
  }
}

/** Uncaught failures end up in the banner too, so nothing fails silently. */
export function catchStrays(): void {
  window.addEventListener('error', (e) => showMessage(describe(e.error ?? e.message)));
  window.addEventListener('unhandledrejection', (e) => showMessage(describe(e.reason)));
}

/** Draws image `index` of NHWC pixels in [0, 1] on a canvas of the image's own size (CSS scales it). */
export function drawPixels(canvas: HTMLCanvasElement, pixels: Float32Array, index: number, height: number, width: number): void {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new PageError('this browser gives no 2-D canvas context');
  const img = ctx.createImageData(width, height);
  const base = index * height * width * 3;
  for (let p = 0, q = 0; p < height * width; p++, q += 4) {
    img.data[q] = Math.round(clamp01(pixels[base + p * 3]) * 255);
    img.data[q + 1] = Math.round(clamp01(pixels[base + p * 3 + 1]) * 255);
    img.data[q + 2] = Math.round(clamp01(pixels[base + p * 3 + 2]) * 255);
    img.data[q + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** An image file decoded to NHWC float pixels in [0, 1] at its own size. */
export async function decodeImageFile(file: File): Promise<{ width: number; height: number; pixels: Float32Array }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (err) {
    throw new PageError(`${file.name} is not an image this browser can decode (${firstLine(err)}); choose a PNG or JPEG frame`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new PageError('this browser gives no 2-D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const pixels = new Float32Array(bitmap.width * bitmap.height * 3);
  for (let p = 0, q = 0; q < data.length; p += 3, q += 4) {
    pixels[p] = data[q] / 255;
    pixels[p + 1] = data[q + 1] / 255;
    pixels[p + 2] = data[q + 2] / 255;
  }
  return { width: bitmap.width, height: bitmap.height, pixels };
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** A small canvas holding one image, with a caption under it. */
export function figure(parent: HTMLElement, caption: string, className = 'thumb'): HTMLCanvasElement {
  const fig = document.createElement('figure');
  fig.className = className;
  const canvas = document.createElement('canvas');
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(canvas, cap);
  parent.append(fig);
  return canvas;
}
