/** @file Small canvas charts for the page: lines over steps or time bins, and 2-D trajectories with event marks. */

export interface Series {
  values: ArrayLike<number>;
  label: string;
  color: string;
  /** Points drawn (default all). */
  upto?: number;
}

export interface Mark {
  /** x position (lines) or point index (trajectories). */
  at: number;
  label: string;
}

const PAD = { left: 46, right: 12, top: 18, bottom: 30 };
const AXIS = '#6b7280';
const FONT = '11px system-ui, sans-serif';

function context(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2-D canvas context');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = FONT;
  return ctx;
}

function tick(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e4) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/** Lines over x = 0..n-1 with a y axis fitted to the data (or `yRange`), vertical event marks and a legend. */
export function lineChart(canvas: HTMLCanvasElement, series: Series[], opts: { xLabel: string; xCount?: number; yRange?: [number, number]; marks?: Mark[] }): void {
  const ctx = context(canvas);
  const w = canvas.width - PAD.left - PAD.right;
  const h = canvas.height - PAD.top - PAD.bottom;
  const n = opts.xCount ?? Math.max(1, ...series.map((s) => s.values.length));
  let [lo, hi] = opts.yRange ?? [Infinity, -Infinity];
  if (!opts.yRange) {
    for (const s of series) {
      for (let i = 0; i < (s.upto ?? s.values.length); i++) {
        const v = s.values[i];
        if (Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
    if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  const x = (i: number): number => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * w);
  const y = (v: number): number => PAD.top + h - ((v - lo) / (hi - lo)) * h;

  ctx.strokeStyle = AXIS;
  ctx.fillStyle = AXIS;
  ctx.beginPath();
  ctx.moveTo(PAD.left, PAD.top);
  ctx.lineTo(PAD.left, PAD.top + h);
  ctx.lineTo(PAD.left + w, PAD.top + h);
  ctx.stroke();
  ctx.textAlign = 'right';
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(tick(v), PAD.left - 4, y(v) + 4);
  ctx.textAlign = 'center';
  ctx.fillText(`${opts.xLabel} (0–${n - 1})`, PAD.left + w / 2, canvas.height - 8);

  for (const m of opts.marks ?? []) {
    ctx.strokeStyle = '#d1d5db';
    ctx.beginPath();
    ctx.moveTo(x(m.at), PAD.top);
    ctx.lineTo(x(m.at), PAD.top + h);
    ctx.stroke();
    ctx.fillStyle = AXIS;
    ctx.fillText(m.label, x(m.at), PAD.top - 5);
  }
  let legendX = PAD.left + 8;
  series.forEach((s) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    const upto = Math.min(s.upto ?? s.values.length, s.values.length);
    for (let i = 0; i < upto; i++) {
      const v = s.values[i];
      if (i === 0) ctx.moveTo(x(i), y(v));
      else ctx.lineTo(x(i), y(v));
    }
    ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = s.color;
    ctx.textAlign = 'left';
    ctx.fillText(s.label, legendX, PAD.top + 12);
    legendX += ctx.measureText(s.label).width + 16;
  });
}

/**
 * A 2-D trajectory (`points` interleaved x, y) drawn up to point `upto`, with the current point emphasised and
 * labelled event points. The axes are fitted to the whole trajectory so they stay put while it plays.
 */
export function trajectoryChart(canvas: HTMLCanvasElement, points: ArrayLike<number>, upto: number, opts: { color: string; marks?: Mark[]; axes: [string, string] }): void {
  const ctx = context(canvas);
  const n = points.length / 2;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, points[2 * i]);
    x1 = Math.max(x1, points[2 * i]);
    y0 = Math.min(y0, points[2 * i + 1]);
    y1 = Math.max(y1, points[2 * i + 1]);
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-6);
  const w = canvas.width - PAD.left - PAD.right;
  const h = canvas.height - PAD.top - PAD.bottom;
  const px = (v: number): number => PAD.left + ((v - (x0 + x1) / 2) / span) * Math.min(w, h) * 0.92 + w / 2;
  const py = (v: number): number => PAD.top + h / 2 - ((v - (y0 + y1) / 2) / span) * Math.min(w, h) * 0.92;

  ctx.fillStyle = AXIS;
  ctx.textAlign = 'center';
  ctx.fillText(opts.axes[0], PAD.left + w / 2, canvas.height - 8);
  ctx.save();
  ctx.translate(12, PAD.top + h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(opts.axes[1], 0, 0);
  ctx.restore();

  ctx.strokeStyle = '#e5e7eb';
  ctx.beginPath();
  for (let i = 0; i < n; i++) (i === 0 ? ctx.moveTo : ctx.lineTo).call(ctx, px(points[2 * i]), py(points[2 * i + 1]));
  ctx.stroke();
  const last = Math.min(upto, n - 1);
  ctx.strokeStyle = opts.color;
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let i = 0; i <= last; i++) (i === 0 ? ctx.moveTo : ctx.lineTo).call(ctx, px(points[2 * i]), py(points[2 * i + 1]));
  ctx.stroke();
  ctx.lineWidth = 1;
  ctx.textAlign = 'left';
  for (const m of opts.marks ?? []) {
    if (m.at < 0 || m.at >= n) continue;
    ctx.fillStyle = m.at <= last ? '#111827' : '#9ca3af';
    ctx.beginPath();
    ctx.arc(px(points[2 * m.at]), py(points[2 * m.at + 1]), 3, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillText(m.label, px(points[2 * m.at]) + 5, py(points[2 * m.at + 1]) - 4);
  }
  if (last >= 0) {
    ctx.fillStyle = opts.color;
    ctx.beginPath();
    ctx.arc(px(points[2 * last]), py(points[2 * last + 1]), 5, 0, 2 * Math.PI);
    ctx.fill();
  }
}
