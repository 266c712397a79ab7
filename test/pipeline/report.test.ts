import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRATEGIES, loadConfig } from '../../pipeline/config.js';
import { ReportError, SummaryError } from '../../pipeline/errors.js';
import { writeReport } from '../../pipeline/report/report.js';
import { meanCi, pairedTTest, wilcoxonSignedRank } from '../../pipeline/stats.js';
import { type Summary, SUMMARY_SCHEMA_VERSION, readSummary, summarySchema, writeSummary } from '../../pipeline/summary.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const runDir = mkdtempSync(path.join(tmpdir(), 'b2m-report-'));

/** Seeded standard normal draws: mulberry32 uniforms through Box–Muller. */
function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function metricSummary(values: readonly (number | null)[], baseline: readonly (number | null)[] | undefined) {
  const ci = meanCi(values.filter((v): v is number => v !== null));
  const base = { values: [...values], mean: ci.mean, ci95: [ci.lower, ci.upper] as [number, number] };
  if (!baseline) return base;
  const pairs = values.flatMap((v, i) => (v !== null && baseline[i] !== null ? [[v, baseline[i] as number] as const] : []));
  const a = pairs.map((p) => p[0]);
  const b = pairs.map((p) => p[1]);
  const t = pairedTTest(a, b);
  return { ...base, vsIsolated: { meanDiff: t.meanDifference, pTTest: t.p, pWilcoxon: wilcoxonSignedRank(a, b).p, n: t.n } };
}

const EFFECT: Record<string, number> = { isolated: 0, contrastive: 0.05, latent: 0.08, both: 0.1, 'shuffled-brain': 0.01, 'noise-brain': 0 };
const seeds = [1, 2, 3, 4, 5, 6];

async function scenePng(file: string, seed: number, blur: boolean): Promise<void> {
  const size = 48;
  const pixels = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const road = Math.abs(x - size / 2 - (seed - 3) * (size - y) / 12) < (y / size) * 18;
      const sky = y < size * 0.4;
      const o = (y * size + x) * 3;
      pixels[o] = sky ? 150 : road ? 70 : 60;
      pixels[o + 1] = sky ? 190 : road ? 70 : 120;
      pixels[o + 2] = sky ? 235 : road ? 75 : 50;
    }
  }
  let image = sharp(pixels, { raw: { width: size, height: size, channels: 3 } });
  if (blur) image = image.blur(1.5);
  await image.png().toFile(file);
}

async function buildSummary(): Promise<Summary> {
  mkdirSync(path.join(runDir, 'scenes'), { recursive: true });
  const draw = normals(7);
  const experiments: Record<string, unknown> = {};
  for (const task of ['memory-decision', 'driving'] as const) {
    const accuracy: Record<string, number[]> = {};
    const stepsToTarget: Record<string, (number | null)[]> = {};
    for (const s of STRATEGIES) {
      accuracy[s] = seeds.map(() => 0.78 + (EFFECT[s] as number) + 0.02 * draw());
      stepsToTarget[s] = seeds.map((_, i) => (s === 'isolated' && i === 0 ? null : Math.round(500 - 2500 * (EFFECT[s] as number) + 40 * draw())));
    }
    const strategies: Record<string, unknown> = {};
    for (const s of STRATEGIES) {
      const metrics: Record<string, unknown> = {};
      metrics.finalScore = metricSummary(accuracy[s] as number[], s === 'isolated' ? undefined : accuracy.isolated);
      metrics.stepsToTarget = metricSummary(stepsToTarget[s] as (number | null)[], s === 'isolated' ? undefined : stepsToTarget.isolated);
      strategies[s] = { seeds, metrics };
    }
    const curves: Record<string, unknown> = {};
    for (const s of STRATEGIES) {
      const steps = Array.from({ length: 13 }, (_, i) => i * 50);
      const mean = steps.map((step) => 0.5 + (0.3 + (EFFECT[s] as number)) * (1 - Math.exp(-step / (180 - 600 * (EFFECT[s] as number)))));
      curves[s] = { metric: 'finalScore', steps, mean, lo: mean.map((m) => m - 0.03), hi: mean.map((m) => Math.min(1, m + 0.03)) };
    }
    const similarity: Record<string, unknown> = {};
    for (const s of STRATEGIES) {
      const cka = 0.2 + 3 * (EFFECT[s] as number);
      similarity[s] = { cka: { mean: cka, ci95: [cka - 0.05, cka + 0.05] }, rsa: { mean: cka / 2, ci95: [cka / 2 - 0.04, cka / 2 + 0.04] } };
    }
    let images: unknown;
    if (task === 'driving') {
      const pairs = [];
      for (let i = 0; i < 4; i++) {
        await scenePng(path.join(runDir, 'scenes', `original-${i}.png`), i + 1, false);
        await scenePng(path.join(runDir, 'scenes', `both-${i}.png`), i + 1, true);
        pairs.push({ original: `scenes/original-${i}.png`, reconstruction: `scenes/both-${i}.png` });
      }
      images = [{ title: 'both, seed 1, held-out scenes', pairs }];
    }
    experiments[task] = {
      task,
      primaryMetric: { name: 'finalScore', higherIsBetter: true, target: 0.8 },
      strategies,
      curves,
      similarity,
      ...(images ? { images } : {}),
      metricInfo: { finalScore: { label: 'validation accuracy', higherIsBetter: true }, stepsToTarget: { label: 'steps to target', higherIsBetter: false, description: 'First evaluation step at which validation accuracy reached the target.' } },
      notes: ['Synthetic numbers for the report test <not a real run>.'],
    };
  }
  return summarySchema.parse({
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    createdAt: '2025-11-28T10:00:00.000Z',
    b2mVersion: '0.1.0',
    configHash: '0123456789abcdef',
    config: { 'memory-decision': loadConfig('memory-decision', [], { scale: 'tiny' }), driving: loadConfig('driving', [], { scale: 'tiny' }) },
    experiments,
    provenance: { data: { source: 'simulate' }, host: { cpus: 2, node: process.version }, durations: { 'memory-decision': 12.5, driving: 20.1 } },
  });
}

describe('report', () => {
  let summary: Summary;
  let reportFile: string;

  beforeAll(async () => {
    summary = await buildSummary();
    writeSummary(path.join(runDir, 'summary.json'), summary);
    reportFile = await writeReport(runDir, readSummary(path.join(runDir, 'summary.json')));
  });

  it('round-trips summary.json through its schema', () => {
    expect(readSummary(path.join(runDir, 'summary.json'))).toEqual(summary);
  });

  it('names the key path of a malformed summary', () => {
    const broken = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    broken.experiments.driving.strategies.latent.metrics.finalScore.values.pop();
    broken.experiments.driving.primaryMetric.higherIsBetter = 'yes';
    const file = path.join(runDir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    expect(() => readSummary(file)).toThrow(SummaryError);
    expect(() => readSummary(file)).toThrow(/`experiments\.driving\.strategies\.latent\.metrics\.finalScore\.values` has 5 values but the strategy lists 6 seeds/);
    expect(() => readSummary(file)).toThrow(/`experiments\.driving\.primaryMetric\.higherIsBetter` must be true or false, found "yes"/);
  });

  it('writes one self-contained file that names no outside resource', () => {
    const html = readFileSync(reportFile, 'utf8');
    expect(reportFile).toBe(path.join(runDir, 'report.html'));
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toContain('<script');
    expect(html).toContain('Synthetic numbers for the report test &lt;not a real run&gt;.');
    expect((html.match(/<svg/g) ?? []).length).toBe(2 * (1 + 2 + 1));
  });

  it('refuses an image that is missing, naming the summary key', async () => {
    const missing = structuredClone(summary);
    (missing.experiments.driving?.images?.[0]?.pairs[1] as { reconstruction: string }).reconstruction = 'scenes/gone.png';
    await expect(writeReport(runDir, missing, { file: path.join(runDir, 'other.html') })).rejects.toThrow(ReportError);
    await expect(writeReport(runDir, missing, { file: path.join(runDir, 'other.html') })).rejects.toThrow(/experiments\.driving\.images\[0\]\.pairs\[1\]\.reconstruction names .*gone\.png, which does not exist/);
  });

  describe('in headless Chromium', () => {
    let browser: Awaited<ReturnType<typeof chromium.launch>>;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('renders every chart with marks, loads every image, logs no error, and is kept as a screenshot', async () => {
      const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
      const errors: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
      await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });

      const charts = await page.$$eval('figure.chart svg', (svgs) => svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return { width: box.width, height: box.height, marks: svg.querySelectorAll('path, line, rect, circle').length, text: svg.textContent ?? '' };
      }));
      expect(charts).toHaveLength(8);
      for (const chart of charts) {
        expect(chart.width).toBeGreaterThan(200);
        expect(chart.height).toBeGreaterThan(100);
        expect(chart.marks).toBeGreaterThan(6);
      }
      const pLatent = summary.experiments['memory-decision']?.strategies.latent?.metrics.finalScore?.vsIsolated?.pTTest as number;
      const shown = pLatent < 0.001 ? 'p < 0.001' : `p = ${Number(pLatent.toPrecision(2))}`;
      expect(charts.some((c) => c.text.includes(`${shown} (t)`))).toBe(true);

      const images = await page.$$eval('img', (imgs) => imgs.map((img) => ({ complete: img.complete, width: img.naturalWidth })));
      expect(images).toHaveLength(8);
      for (const image of images) expect(image.complete && image.width).toBe(48);

      const tableRows = await page.$$eval('section table tbody tr:not(.group)', (rows) => rows.length);
      expect(tableRows).toBe(2 * 2 * STRATEGIES.length);
      expect(errors).toEqual([]);

      mkdirSync(path.join(projectRoot, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(projectRoot, 'test-artifacts', 'report.png'), fullPage: true });
      await page.close();
    });
  });
});
