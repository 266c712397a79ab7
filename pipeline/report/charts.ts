/** @file The report's charts as Vega-Lite specs, rendered to SVG in Node (no browser, no canvas). */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { STRATEGIES } from '../config.js';
import type { CurveSummary, MetricSummary, SimilaritySummary } from '../summary.js';
import { formatSigned, pPhrase } from '../summary.js';

/** Colour per strategy, the same in every chart and table (Okabe–Ito, readable with colour-vision deficiencies). */
const STRATEGY_COLORS: Readonly<Record<string, string>> = {
  isolated: '#6e6e6e',
  contrastive: '#0072b2',
  latent: '#009e73',
  both: '#8e44ad',
  'shuffled-brain': '#e69f00',
  'noise-brain': '#d55e00',
};
const EXTRA_COLORS = ['#56b4e9', '#cc79a7', '#b8a200', '#1b3a6b', '#7f4f24'];

/** Font shared by the charts and the page's stylesheet. */
export const CHART_FONT = 'Inter, "Helvetica Neue", Helvetica, Arial, sans-serif';

/** Strategies in the canonical order (baseline, B2M terms, null controls), unknown names after them alphabetically. */
export function strategyOrder(names: Iterable<string>): string[] {
  const all = [...new Set(names)];
  const known = STRATEGIES.filter((s) => all.includes(s));
  const others = all.filter((s) => !(STRATEGIES as readonly string[]).includes(s)).sort();
  return [...known, ...others];
}

/** The colour of each strategy in `order`. */
export function strategyColors(order: readonly string[]): string[] {
  let extra = 0;
  return order.map((s) => STRATEGY_COLORS[s] ?? EXTRA_COLORS[extra++ % EXTRA_COLORS.length] as string);
}

const CONFIG = {
  font: CHART_FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 500, gridColor: '#ececec', domainColor: '#9a9a9a', tickColor: '#9a9a9a', labelColor: '#333', titleColor: '#222' },
  legend: { labelFontSize: 11, titleFontSize: 11, symbolStrokeWidth: 2.5, symbolOpacity: 1 },
  header: { labelFontSize: 12, labelFontWeight: 600, labelColor: '#222' },
  background: 'white',
} as const;

function colorScale(order: readonly string[]) {
  return { domain: [...order], range: strategyColors(order) };
}

/** Learning curves: the mean per strategy with its 95% confidence band, and the target as a dashed rule. */
export function learningCurveSpec(curves: Readonly<Record<string, CurveSummary>>, options: { title: string; target?: number }): TopLevelSpec {
  const order = strategyOrder(Object.keys(curves));
  const rows = order.flatMap((strategy) => {
    const curve = curves[strategy] as CurveSummary;
    return curve.steps.map((step, i) => ({ strategy, step, mean: curve.mean[i], lo: curve.lo[i], hi: curve.hi[i] }));
  });
  const x = { field: 'step', type: 'quantitative', title: 'training step' } as const;
  const color = { field: 'strategy', type: 'nominal', scale: colorScale(order), sort: order, legend: { title: null, orient: 'right' } } as const;
  const layers: object[] = [
    { mark: { type: 'area', opacity: 0.15 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: options.title, scale: { zero: false } }, y2: { field: 'hi' }, color } },
    { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
  ];
  if (options.target !== undefined) {
    layers.push({
      data: { values: [{ target: options.target, label: `target ${options.target}` }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [5, 4], color: '#444', strokeWidth: 1 }, encoding: { y: { field: 'target', type: 'quantitative' } } },
        { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#444', fontSize: 11 }, encoding: { y: { field: 'target', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } } },
      ],
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: `Learning curves of ${options.title} per strategy with 95% confidence bands`,
    width: 640,
    height: 300,
    data: { values: rows },
    layer: layers,
    config: CONFIG,
  } as TopLevelSpec;
}

/** One metric across strategies: per-seed values, the mean with its 95% CI, and the paired test against isolated beside it. */
export function metricSpec(metrics: Readonly<Record<string, MetricSummary>>, options: { title: string }): TopLevelSpec {
  const order = strategyOrder(Object.keys(metrics));
  const summary = order.map((strategy) => {
    const metric = metrics[strategy] as MetricSummary;
    const test = metric.vsIsolated;
    const versus = strategy === 'isolated' ? 'baseline' : test ? `Δ ${formatSigned(test.meanDiff)}   ${pPhrase(test.pTTest)} (t), ${pPhrase(test.pWilcoxon)} (W)` : '';
    return { strategy, mean: metric.mean, lo: metric.ci95?.[0] ?? null, hi: metric.ci95?.[1] ?? null, versus };
  });
  const seeds = order.flatMap((strategy) => (metrics[strategy] as MetricSummary).values.flatMap((value) => (value === null ? [] : [{ strategy, value }])));
  const y = { field: 'strategy', type: 'nominal', sort: order, scale: { domain: order }, title: null, axis: { labelFontSize: 12, labelPadding: 6 } } as const;
  const color = { field: 'strategy', type: 'nominal', scale: colorScale(order), legend: null } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: `${options.title} per strategy: mean with 95% confidence interval and per-seed values`,
    hconcat: [
      {
        width: 400,
        height: { step: 30 },
        layer: [
          { data: { values: seeds }, mark: { type: 'point', size: 30, opacity: 0.5, strokeWidth: 1.2 }, encoding: { y, x: { field: 'value', type: 'quantitative', title: options.title, scale: { zero: false, nice: true } }, color } },
          { data: { values: summary.filter((r) => r.lo !== null) }, mark: { type: 'rule', strokeWidth: 2.5 }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, color } },
          { data: { values: summary.filter((r) => r.mean !== null) }, mark: { type: 'point', filled: true, size: 110, opacity: 1, stroke: 'white', strokeWidth: 1 }, encoding: { y, x: { field: 'mean', type: 'quantitative' }, color } },
        ],
      },
      {
        width: 250,
        height: { step: 30 },
        data: { values: summary },
        mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 11, color: '#333' },
        encoding: { y: { ...y, axis: null }, x: { value: 0 }, text: { field: 'versus' } },
      },
    ],
    config: CONFIG,
  } as TopLevelSpec;
}

/** Linear CKA and RSA between each strategy's student representation and the brain, with 95% CIs. */
export function similaritySpec(similarity: Readonly<Record<string, SimilaritySummary>>): TopLevelSpec {
  const order = strategyOrder(Object.keys(similarity));
  const rows = order.flatMap((strategy) => {
    const s = similarity[strategy] as SimilaritySummary;
    return [
      { strategy, measure: 'linear CKA', mean: s.cka.mean, lo: s.cka.ci95[0], hi: s.cka.ci95[1] },
      { strategy, measure: 'RSA (Spearman ρ)', mean: s.rsa.mean, lo: s.rsa.ci95[0], hi: s.rsa.ci95[1] },
    ];
  });
  const y = { field: 'strategy', type: 'nominal', sort: order, title: null } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: 'Representational similarity between student and brain per strategy, with 95% confidence intervals',
    data: { values: rows },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: ['linear CKA', 'RSA (Spearman ρ)'] } },
    spec: {
      width: 290,
      height: { step: 26 },
      layer: [
        { mark: { type: 'bar', opacity: 0.85, cornerRadiusEnd: 2 }, encoding: { y, x: { field: 'mean', type: 'quantitative', title: 'similarity to brain' }, color: { field: 'strategy', type: 'nominal', scale: colorScale(order), legend: null } } },
        { mark: { type: 'rule', strokeWidth: 1.5, color: '#222' }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
      ],
    },
    resolve: { scale: { x: 'independent' } },
    config: CONFIG,
  } as TopLevelSpec;
}

/** Compiles a Vega-Lite spec and renders it to an SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
