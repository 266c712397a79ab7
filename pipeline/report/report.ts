/** @file The run report: one self-contained HTML page (inline CSS, SVG charts, data-URI images) built from summary.json. */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toYaml } from '../config.js';
import { ReportError, describeFsError } from '../errors.js';
import type { CurveSummary, ExperimentSummary, MetricSummary, Summary } from '../summary.js';
import { formatNumber, formatP, formatSigned } from '../summary.js';
import { learningCurveSpec, metricSpec, renderSvg, similaritySpec, strategyColors, strategyOrder } from './charts.js';
import { imageDataUri } from './images.js';
import { REPORT_CSS } from './style.js';

/** The file name of the report inside a run directory. */
export const REPORT_FILE = 'report.html';

const NULL_CONTROLS: Readonly<Record<string, string>> = {
  'shuffled-brain': 'null control: brain trials permuted against stimuli',
  'noise-brain': 'null control: Gaussian noise with the brain data’s mean and covariance',
};

/** Significance level marked in the tables. */
const ALPHA = 0.01;

/** Renders the report and writes it atomically to `runDir/report.html` (or `options.file`); returns its path. */
export async function writeReport(runDir: string, summary: Summary, options: { file?: string } = {}): Promise<string> {
  const html = await renderReport(runDir, summary);
  const file = path.resolve(options.file ?? path.join(runDir, REPORT_FILE));
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(temporary, html);
    renameSync(temporary, file);
  } catch (err) {
    if (existsSync(temporary)) rmSync(temporary);
    throw new ReportError(`The report cannot be written to ${file} (${describeFsError(err)}). Check that the folder exists and is writable, or write elsewhere with --out.`);
  }
  return file;
}

/** The report's HTML for a summary; images are read relative to `runDir`. */
export async function renderReport(runDir: string, summary: Summary): Promise<string> {
  const names = Object.keys(summary.experiments);
  const sections: string[] = [];
  for (const name of names) sections.push(await experimentSection(runDir, name, summary.experiments[name] as ExperimentSummary));
  const toc = [...names.map((n) => `<a href="#${anchor(n)}">${escapeHtml(n)}</a>`), '<a href="#configuration">configuration</a>', '<a href="#provenance">provenance</a>'].join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>b2m report: ${escapeHtml(names.join(', '))}</title>
<link rel="icon" href="data:,">
<style>${REPORT_CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">
<h1>Brain2Model transfer: ${escapeHtml(names.join(' and '))}</h1>
<p class="meta">Created ${escapeHtml(summary.createdAt)} by b2m ${escapeHtml(summary.b2mVersion)} · config <code>${escapeHtml(summary.configHash)}</code></p>
<nav class="toc">${toc}</nav>
</div></header>
<main class="wrap">
${sections.join('\n')}
<h2 id="configuration">Configuration</h2>
<p>The resolved configuration of the run, every default filled in. Rerun it with <code>b2m run --config FILE</code> after saving an experiment’s section as FILE.</p>
<pre>${escapeHtml(toYaml(summary.config))}</pre>
<h2 id="provenance">Provenance</h2>
<p>Where the data came from, the machine that ran it, and how long each part took (seconds).</p>
<pre>${escapeHtml(toYaml(summary.provenance))}</pre>
<footer>b2m ${escapeHtml(summary.b2mVersion)} · summary schema ${summary.schemaVersion} · the same numbers are in summary.json next to this file.</footer>
</main>
</body>
</html>
`;
}

async function experimentSection(runDir: string, name: string, experiment: ExperimentSummary): Promise<string> {
  const order = strategyOrder(Object.keys(experiment.strategies));
  const primary = experiment.primaryMetric;
  const seedCounts = [...new Set(order.map((s) => experiment.strategies[s]?.seeds.length ?? 0))];
  const parts: string[] = [];
  parts.push(`<section id="${anchor(name)}">`);
  parts.push(`<h2>${escapeHtml(name)}<span class="task">${escapeHtml(experiment.task)} task</span></h2>`);
  parts.push(`<p class="lede">Primary metric: <strong>${escapeHtml(metricLabel(experiment, primary.name))}</strong> (${primary.higherIsBetter ? 'higher' : 'lower'} is better${primary.target !== undefined ? `; target ${formatNumber(primary.target)}` : ''}). ${order.length} strateg${order.length === 1 ? 'y' : 'ies'} × ${seedCounts.join('/')} seed${seedCounts.length === 1 && seedCounts[0] === 1 ? '' : 's'}; differences from <em>isolated</em> are paired by seed (t-test and Wilcoxon signed-rank, two-sided).</p>`);
  parts.push(legend(order));
  if (experiment.notes && experiment.notes.length > 0) {
    parts.push(`<ul class="notes">${experiment.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
  }

  const curveGroups = groupCurves(experiment.curves);
  if (curveGroups.size > 0) {
    parts.push('<h3>Learning curves</h3>');
    for (const [metric, curves] of curveGroups) {
      const target = metric === primary.name ? primary.target : undefined;
      const svg = await renderSvg(learningCurveSpec(curves, { title: metricLabel(experiment, metric), target }));
      parts.push(chartFigure(svg, `${escapeHtml(capitalize(metricLabel(experiment, metric)))} on the validation split during training: mean over seeds, shaded 95% confidence band.${target !== undefined ? ' Dashed: the target used for steps-to-target.' : ''}`));
    }
  }

  const metricNames = metricOrder(experiment);
  if (metricNames.length > 0) {
    parts.push('<h3>Scores per strategy</h3>');
    for (const metric of metricNames) {
      const byStrategy: Record<string, MetricSummary> = {};
      for (const s of order) {
        const value = experiment.strategies[s]?.metrics[metric];
        if (value) byStrategy[s] = value;
      }
      const info = experiment.metricInfo?.[metric];
      const direction = directionOf(experiment, metric);
      parts.push(`<h4>${escapeHtml(metricLabel(experiment, metric))}${direction === undefined ? '' : ` <span class="meta">${direction ? 'higher' : 'lower'} is better</span>`}</h4>`);
      if (info?.description) parts.push(`<p class="meta">${escapeHtml(info.description)}</p>`);
      const svg = await renderSvg(metricSpec(byStrategy, { title: metricLabel(experiment, metric) }));
      parts.push(chartFigure(svg, 'Open circles: one seed each. Filled dot and bar: mean and 95% confidence interval. Right: mean difference from isolated and paired p-values.'));
    }
  }

  if (experiment.similarity && Object.keys(experiment.similarity).length > 0) {
    parts.push('<h3>Similarity between student and brain</h3>');
    const svg = await renderSvg(similaritySpec(experiment.similarity));
    parts.push(chartFigure(svg, 'Linear CKA and RSA (Spearman correlation of representational dissimilarity matrices) between the student’s tapped layer and the brain responses to the same held-out items; mean over seeds with 95% confidence intervals.'));
  }

  if (experiment.images && experiment.images.length > 0) {
    parts.push('<h3>Original and reconstructed scenes</h3>');
    experiment.images.forEach((set, setIndex) => {
      parts.push(`<h4>${escapeHtml(set.title)}</h4><div class="scenes">`);
      set.pairs.forEach((pair, i) => {
        const where = `summary.json experiments.${name}.images[${setIndex}].pairs[${i}]`;
        const original = imageDataUri(runDir, pair.original, `${where}.original`);
        const reconstruction = imageDataUri(runDir, pair.reconstruction, `${where}.reconstruction`);
        parts.push(`<figure class="pair"><div class="images"><img src="${original}" alt="original scene ${i + 1}"><img src="${reconstruction}" alt="reconstruction of scene ${i + 1}"></div><figcaption><span>original</span><span>reconstruction</span></figcaption></figure>`);
      });
      parts.push('</div>');
    });
  }

  parts.push('<h3>All metrics</h3>');
  parts.push(metricsTable(experiment, order, metricNames));
  parts.push('</section>');
  return parts.join('\n');
}

function legend(order: readonly string[]): string {
  const colors = strategyColors(order);
  const items = order.map((s, i) => `<span><i style="background:${colors[i]}"></i>${escapeHtml(s)}${NULL_CONTROLS[s] ? ` <em>(${escapeHtml(NULL_CONTROLS[s] as string)})</em>` : ''}</span>`);
  return `<div class="legend">${items.join('')}</div>`;
}

function metricsTable(experiment: ExperimentSummary, order: readonly string[], metrics: readonly string[]): string {
  const colors = strategyColors(order);
  const rows: string[] = [];
  for (const metric of metrics) {
    const direction = directionOf(experiment, metric);
    rows.push(`<tr class="group"><td colspan="9">${escapeHtml(metricLabel(experiment, metric))}${direction === undefined ? '' : ` (${direction ? 'higher' : 'lower'} is better)`}</td></tr>`);
    order.forEach((strategy, i) => {
      const m = experiment.strategies[strategy]?.metrics[metric];
      if (!m) return;
      const test = m.vsIsolated;
      const sig = (p: number | null | undefined) => (p !== null && p !== undefined && p < ALPHA ? ' class="sig"' : '');
      const reached = m.values.filter((v) => v !== null).length;
      rows.push(`<tr><td class="name"><span class="swatch" style="background:${colors[i]}"></span>${escapeHtml(strategy)}</td>`
        + `<td>${formatNumber(m.mean)}</td><td>${m.ci95 ? `${formatNumber(m.ci95[0])} – ${formatNumber(m.ci95[1])}` : '—'}</td>`
        + `<td>${test ? formatSigned(test.meanDiff) : '—'}</td><td${sig(test?.pTTest)}>${test ? formatP(test.pTTest) : '—'}</td>`
        + `<td${sig(test?.pWilcoxon)}>${test ? formatP(test.pWilcoxon) : '—'}</td><td>${test ? test.n : '—'}</td>`
        + `<td>${reached === m.values.length ? reached : `${reached} of ${m.values.length}`}</td>`
        + `<td>${Object.entries(m.vsNullControls ?? {}).map(([control, t]) => `<span${sig(t.pTTest)}>${escapeHtml(control)}: ${formatSigned(t.meanDiff)}, p ${formatP(t.pTTest)}</span>`).join('<br>') || '—'}</td></tr>`);
    });
  }
  return `<table><thead><tr><th>strategy</th><th>mean</th><th>95% CI</th><th>Δ vs isolated</th><th>p (t-test)</th><th>p (Wilcoxon)</th><th>pairs</th><th>seeds with a value</th><th>Δ vs null controls (t-test)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
    + `<p class="meta">p-values below ${ALPHA} are marked. Steps to target are censored at the last evaluation for runs that never reached it (see the notes). Null-control tests pair each brain-taught strategy with shuffled-brain and noise-brain seed by seed.</p>`;
}

function chartFigure(svg: string, caption: string): string {
  return `<figure class="chart">${svg}<figcaption>${caption}</figcaption></figure>`;
}

function groupCurves(curves: Readonly<Record<string, CurveSummary>>): Map<string, Record<string, CurveSummary>> {
  const groups = new Map<string, Record<string, CurveSummary>>();
  for (const strategy of strategyOrder(Object.keys(curves))) {
    const curve = curves[strategy] as CurveSummary;
    const group = groups.get(curve.metric) ?? {};
    group[strategy] = curve;
    groups.set(curve.metric, group);
  }
  return groups;
}

/** The primary metric first, then the others in the order they first appear. */
function metricOrder(experiment: ExperimentSummary): string[] {
  const seen = new Set<string>();
  for (const strategy of Object.values(experiment.strategies)) for (const name of Object.keys(strategy.metrics)) seen.add(name);
  const names = [...seen];
  return names.includes(experiment.primaryMetric.name) ? [experiment.primaryMetric.name, ...names.filter((n) => n !== experiment.primaryMetric.name)] : names;
}

function metricLabel(experiment: ExperimentSummary, metric: string): string {
  return experiment.metricInfo?.[metric]?.label ?? metric.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
}

function directionOf(experiment: ExperimentSummary, metric: string): boolean | undefined {
  return experiment.metricInfo?.[metric]?.higherIsBetter ?? (metric === experiment.primaryMetric.name ? experiment.primaryMetric.higherIsBetter : undefined);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function anchor(name: string): string {
  return `experiment-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}
