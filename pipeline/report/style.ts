/** @file The report's stylesheet, inlined into the page: a quiet typographic layout that prints well. */
import { CHART_FONT } from './charts.js';

export const REPORT_CSS = `
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #e3e3e3; --accent: #0072b2; --paper: #ffffff; --tint: #f6f7f9; }
* { box-sizing: border-box; }
html { background: var(--paper); }
body { margin: 0; color: var(--ink); font: 15px/1.55 ${CHART_FONT}; -webkit-font-smoothing: antialiased; }
header.top { border-bottom: 1px solid var(--rule); background: var(--tint); }
header.top .wrap { padding: 28px 32px 18px; }
.wrap { max-width: 1040px; margin: 0 auto; padding: 0 32px; }
h1 { font-size: 26px; font-weight: 650; letter-spacing: -0.01em; margin: 0 0 4px; }
h2 { font-size: 21px; font-weight: 650; margin: 48px 0 6px; padding-top: 12px; border-top: 2px solid var(--ink); }
h3 { font-size: 16px; font-weight: 600; margin: 30px 0 6px; }
h4 { font-size: 14px; font-weight: 600; margin: 18px 0 2px; }
p { margin: 6px 0 10px; max-width: 76ch; }
.meta { color: var(--muted); font-size: 13px; }
.meta code { font-size: 12px; }
nav.toc { margin-top: 12px; font-size: 14px; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 18px; }
nav.toc a:hover { text-decoration: underline; }
.task { font-weight: 400; color: var(--muted); font-size: 15px; margin-left: 8px; }
.lede { color: #333; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 4px; font-size: 13px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.legend i { width: 12px; height: 12px; border-radius: 3px; display: inline-block; }
.legend em { color: var(--muted); font-style: normal; }
figure { margin: 10px 0 18px; }
figure.chart { overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; max-width: 90ch; }
ul.notes { margin: 8px 0; padding-left: 20px; color: #333; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 12px 5px 0; text-align: right; border-bottom: 1px solid var(--rule); white-space: nowrap; }
th { font-weight: 600; color: #333; border-bottom: 1px solid #bdbdbd; }
th:first-child, td:first-child, td.name { text-align: left; }
tr.group td { padding-top: 14px; font-weight: 600; text-align: left; border-bottom: none; color: var(--ink); }
td.sig, span.sig { color: #0a6b2c; font-weight: 600; }
.swatch { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px; vertical-align: 0; }
.scenes { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 14px 18px; margin: 10px 0 18px; }
.pair { margin: 0; }
.pair .images { display: flex; gap: 4px; }
.pair img { width: 112px; height: 112px; object-fit: contain; image-rendering: pixelated; background: #eee; border-radius: 3px; }
.pair figcaption { display: flex; gap: 4px; margin: 2px 0 0; font-size: 11px; }
.pair figcaption span { width: 112px; }
pre { background: var(--tint); border: 1px solid var(--rule); border-radius: 6px; padding: 14px 16px; font: 12px/1.5 ui-monospace, "SF Mono", Menlo, Consolas, monospace; overflow-x: auto; max-height: 540px; }
footer { margin: 56px 0 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--rule); padding-top: 12px; }
@media print { h2 { break-before: page; } pre { max-height: none; } figure { break-inside: avoid; } }
`;
