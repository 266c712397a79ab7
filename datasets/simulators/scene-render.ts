/** @file A procedural road-scene renderer: sky, grass, a curved two-lane road in perspective, lane markings, lead vehicles, lighting and fog. */

/** A vehicle ahead: its depth (camera heights from the camera), its lane, and its body colour. */
export interface SceneVehicle {
  /** Distance ahead in world units (1 = the ground at the bottom image row). */
  depth: number;
  /** -1 for the left lane, 1 for the ego (right) lane. */
  lane: -1 | 1;
  /** Body colour, linear RGB in [0, 1]. */
  color: readonly [number, number, number];
}

/** Everything that decides what a scene looks like. */
export interface SceneDescription {
  /** Road curvature in [-1, 1]: negative bends left, positive right. */
  curvature: number;
  /** Ego car's lateral offset from its lane centre in [-1, 1]: negative left, positive right. */
  offset: number;
  /** Overall light in [0, 1]: 0 is night, about 0.5 dusk, 1 full day; it also sets the tint. */
  brightness: number;
  /** Fog density in [0, 1]: 0 clear, 1 dense. */
  fog: number;
  /** Centre line dashed (true) or solid (false). */
  dashed: boolean;
  /** Where the dash pattern starts, in [0, 1) of one period. */
  dashPhase: number;
  vehicles: readonly SceneVehicle[];
}

/** Fraction of the image height where the horizon lies. */
const HORIZON = 0.42;
/** Half-width of the view at depth 1, in world units (a lane is 1 wide, the road 2). */
const VIEW_HALF_WIDTH = 1.1;
/** Farthest depth drawn: the row at the horizon is capped here. */
const FAR = 200;
/** How far the road centre shifts per unit curvature: X = CURVE * curvature * (depth - 1)². */
const CURVE = 0.025;
/** Ego car's lateral position: centre of the right lane, moved by up to ±LANE_SWAY with the offset. */
const EGO_LANE_CENTRE = 0.5;
const LANE_SWAY = 0.35;
const ROAD_HALF_WIDTH = 1;
const LINE_WIDTH = 0.06;
const EDGE_LINE_AT = 0.93;
const DASH_PERIOD = 3;
const DASH_DUTY = 0.45;
const FOG_PER_DEPTH = 0.6;
const VEHICLE_WIDTH = 0.7;
const VEHICLE_HEIGHT = 0.5;

type Rgb = [number, number, number];

/** Palettes at night, dusk and day; a scene's colours interpolate between them by brightness. */
const PALETTES: Record<'skyTop' | 'skyHorizon' | 'grass' | 'asphalt' | 'paint' | 'yellow' | 'fog' | 'glass', [Rgb, Rgb, Rgb]> = {
  skyTop: [[0.01, 0.015, 0.05], [0.22, 0.2, 0.4], [0.3, 0.5, 0.88]],
  skyHorizon: [[0.05, 0.05, 0.1], [0.95, 0.55, 0.3], [0.72, 0.83, 0.95]],
  grass: [[0.02, 0.04, 0.02], [0.2, 0.24, 0.1], [0.24, 0.5, 0.18]],
  asphalt: [[0.04, 0.04, 0.05], [0.25, 0.22, 0.22], [0.38, 0.38, 0.4]],
  paint: [[0.3, 0.3, 0.27], [0.85, 0.75, 0.62], [0.95, 0.95, 0.92]],
  yellow: [[0.3, 0.26, 0.08], [0.9, 0.7, 0.2], [0.95, 0.8, 0.2]],
  fog: [[0.09, 0.09, 0.11], [0.6, 0.5, 0.46], [0.82, 0.83, 0.85]],
  glass: [[0.01, 0.01, 0.02], [0.1, 0.1, 0.14], [0.12, 0.15, 0.2]],
};
const TAIL_LIGHT: Rgb = [0.95, 0.08, 0.05];

function paletteColor(name: keyof typeof PALETTES, light: number): Rgb {
  const [night, dusk, day] = PALETTES[name];
  const lo = light < 0.5 ? night : dusk;
  const hi = light < 0.5 ? dusk : day;
  const f = light < 0.5 ? light * 2 : light * 2 - 1;
  return [lo[0] + f * (hi[0] - lo[0]), lo[1] + f * (hi[1] - lo[1]), lo[2] + f * (hi[2] - lo[2])];
}

/** Length of [a0, a1] ∩ [b0, b1]. */
function overlap(a0: number, a1: number, b0: number, b1: number): number {
  const lo = a0 > b0 ? a0 : b0;
  const hi = a1 < b1 ? a1 : b1;
  return hi > lo ? hi - lo : 0;
}

/** Measure of z in [0, z] where a square wave of `period` and `duty` is on (on first in each period). */
function dashMeasure(z: number, period: number, duty: number): number {
  const cycles = Math.floor(z / period);
  const rest = z - cycles * period;
  return cycles * duty * period + (rest < duty * period ? rest : duty * period);
}

/** Road centre relative to the camera at `depth`, in world units. */
function roadCentre(scene: SceneDescription, depth: number): number {
  const d = depth - 1;
  return -(EGO_LANE_CENTRE + LANE_SWAY * scene.offset) + CURVE * scene.curvature * d * d;
}

/** Depth of the ground seen at image row boundary `r` (rows counted from the top). */
function depthAt(r: number, horizon: number, height: number): number {
  const below = r - horizon;
  return below <= (height - horizon) / FAR ? FAR : (height - horizon) / below;
}

/**
 * Renders `scene` as a `[height, width, 3]` RGB image in [0, 1] into `out` starting at `offset`. Ground pixels
 * are shaded by the share of their footprint that each surface covers (lines laterally, dashes in depth), so thin
 * far markings fade instead of flickering; vehicles are drawn far to near with fractional edge coverage.
 */
export function renderScene(scene: SceneDescription, height: number, width: number, out: Float32Array, offset: number): void {
  const light = scene.brightness < 0 ? 0 : scene.brightness > 1 ? 1 : scene.brightness;
  const skyTop = paletteColor('skyTop', light);
  const skyHorizon = paletteColor('skyHorizon', light);
  const grass = paletteColor('grass', light);
  const asphalt = paletteColor('asphalt', light);
  const paint = paletteColor('paint', light);
  const yellow = paletteColor('yellow', light);
  const fogColor = paletteColor('fog', light);
  const fogDensity = FOG_PER_DEPTH * scene.fog;
  const headlights = 1 - light;
  const horizon = HORIZON * height;
  const halfW = width / 2;
  const skyFog = scene.fog > 1 ? 1 : scene.fog;
  for (let y = 0; y < height; y++) {
    const rowTop = y;
    const rowBottom = y + 1;
    if (rowBottom <= horizon) {
      const f = (y + 0.5) / horizon;
      const r = (skyTop[0] + f * (skyHorizon[0] - skyTop[0])) * (1 - skyFog) + fogColor[0] * skyFog;
      const g = (skyTop[1] + f * (skyHorizon[1] - skyTop[1])) * (1 - skyFog) + fogColor[1] * skyFog;
      const b = (skyTop[2] + f * (skyHorizon[2] - skyTop[2])) * (1 - skyFog) + fogColor[2] * skyFog;
      let o = offset + y * width * 3;
      for (let x = 0; x < width; x++, o += 3) {
        out[o] = r;
        out[o + 1] = g;
        out[o + 2] = b;
      }
      continue;
    }
    const skyShare = rowTop < horizon ? horizon - rowTop : 0;
    const zFar = depthAt(rowTop > horizon ? rowTop : horizon, horizon, height);
    const zNear = depthAt(rowBottom, horizon, height);
    const z = depthAt((Math.max(rowTop, horizon) + rowBottom) / 2, horizon, height);
    const dashOn =
      zFar > zNear
        ? (dashMeasure(zFar + scene.dashPhase * DASH_PERIOD, DASH_PERIOD, DASH_DUTY) -
            dashMeasure(zNear + scene.dashPhase * DASH_PERIOD, DASH_PERIOD, DASH_DUTY)) /
          (zFar - zNear)
        : DASH_DUTY;
    const centreCoverage = scene.dashed ? dashOn : 1;
    const centre = roadCentre(scene, z);
    const footprint = (z * VIEW_HALF_WIDTH) / halfW;
    const fogShare = 1 - Math.exp(-fogDensity * z);
    const beam = headlights * Math.exp(-(z - 1) / 4);
    // Every pixel of the row gets the sky share and the fog haze; `keep` is what is left for the ground.
    const keep = (1 - skyShare) * (1 - fogShare);
    const haze = (1 - skyShare) * fogShare;
    const rowR = skyShare * (skyHorizon[0] * (1 - skyFog) + fogColor[0] * skyFog) + haze * fogColor[0];
    const rowG = skyShare * (skyHorizon[1] * (1 - skyFog) + fogColor[1] * skyFog) + haze * fogColor[1];
    const rowB = skyShare * (skyHorizon[2] * (1 - skyFog) + fogColor[2] * skyFog) + haze * fogColor[2];
    const roadReach = ROAD_HALF_WIDTH + footprint;
    let o = offset + y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      const lateral = ((x + 0.5 - halfW) / halfW) * z * VIEW_HALF_WIDTH - centre;
      const lit = (beam > 1e-4 ? 1 + beam * Math.exp(-lateral * lateral) : 1) * keep;
      if (lateral > roadReach || lateral < -roadReach) {
        out[o] = rowR + grass[0] * lit;
        out[o + 1] = rowG + grass[1] * lit;
        out[o + 2] = rowB + grass[2] * lit;
        continue;
      }
      const a = lateral - footprint / 2;
      const b = lateral + footprint / 2;
      const roadShare = overlap(a, b, -ROAD_HALF_WIDTH, ROAD_HALF_WIDTH) / footprint;
      const edgeShare =
        (overlap(a, b, -EDGE_LINE_AT - LINE_WIDTH / 2, -EDGE_LINE_AT + LINE_WIDTH / 2) +
          overlap(a, b, EDGE_LINE_AT - LINE_WIDTH / 2, EDGE_LINE_AT + LINE_WIDTH / 2)) /
        footprint;
      const centreShare = (centreCoverage * overlap(a, b, -LINE_WIDTH / 2, LINE_WIDTH / 2)) / footprint;
      const asphaltShare = roadShare - edgeShare - centreShare;
      const grassShare = 1 - roadShare;
      out[o] = rowR + (grassShare * grass[0] + asphaltShare * asphalt[0] + edgeShare * paint[0] + centreShare * yellow[0]) * lit;
      out[o + 1] = rowG + (grassShare * grass[1] + asphaltShare * asphalt[1] + edgeShare * paint[1] + centreShare * yellow[1]) * lit;
      out[o + 2] = rowB + (grassShare * grass[2] + asphaltShare * asphalt[2] + edgeShare * paint[2] + centreShare * yellow[2]) * lit;
    }
  }
  const order = [...scene.vehicles].sort((p, q) => q.depth - p.depth);
  for (const v of order) drawVehicle(scene, v, height, width, out, offset, fogColor, fogDensity, paletteColor('glass', light), light);
  for (let i = offset, end = offset + height * width * 3; i < end; i++) {
    const v = out[i]!;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/** Paints a box `[x0, x1) × [y0, y1)` (fractional pixels) with `color`, blending partly covered edge pixels. */
function fillBox(
  out: Float32Array,
  offset: number,
  width: number,
  height: number,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
  color: Rgb,
): void {
  const yStart = Math.max(0, Math.floor(y0));
  const yEnd = Math.min(height, Math.ceil(y1));
  const xStart = Math.max(0, Math.floor(x0));
  const xEnd = Math.min(width, Math.ceil(x1));
  for (let y = yStart; y < yEnd; y++) {
    const cy = overlap(y, y + 1, y0, y1);
    for (let x = xStart; x < xEnd; x++) {
      const cover = cy * overlap(x, x + 1, x0, x1);
      if (cover <= 0) continue;
      const o = offset + (y * width + x) * 3;
      out[o] = out[o]! * (1 - cover) + color[0] * cover;
      out[o + 1] = out[o + 1]! * (1 - cover) + color[1] * cover;
      out[o + 2] = out[o + 2]! * (1 - cover) + color[2] * cover;
    }
  }
}

function drawVehicle(
  scene: SceneDescription,
  v: SceneVehicle,
  height: number,
  width: number,
  out: Float32Array,
  offset: number,
  fogColor: Rgb,
  fogDensity: number,
  glass: Rgb,
  light: number,
): void {
  const horizon = HORIZON * height;
  const halfW = width / 2;
  const rowsPerUnit = (height - horizon) / v.depth;
  const bottom = horizon + rowsPerUnit;
  const top = bottom - VEHICLE_HEIGHT * rowsPerUnit;
  const lateral = roadCentre(scene, v.depth) + v.lane * 0.5;
  const colsPerUnit = halfW / (v.depth * VIEW_HALF_WIDTH);
  const left = halfW + (lateral - VEHICLE_WIDTH / 2) * colsPerUnit;
  const right = halfW + (lateral + VEHICLE_WIDTH / 2) * colsPerUnit;
  const fogShare = 1 - Math.exp(-fogDensity * v.depth);
  const shade = 0.25 + 0.75 * light;
  const fogged = (c: readonly [number, number, number], lit: number): Rgb => [
    c[0] * lit * (1 - fogShare) + fogColor[0] * fogShare,
    c[1] * lit * (1 - fogShare) + fogColor[1] * fogShare,
    c[2] * lit * (1 - fogShare) + fogColor[2] * fogShare,
  ];
  const w = right - left;
  const h = bottom - top;
  fillBox(out, offset, width, height, left, right, top + 0.35 * h, bottom - 0.08 * h, fogged(v.color, shade));
  fillBox(out, offset, width, height, left + 0.12 * w, right - 0.12 * w, top, top + 0.37 * h, fogged(v.color, shade * 0.8));
  fillBox(out, offset, width, height, left + 0.2 * w, right - 0.2 * w, top + 0.08 * h, top + 0.33 * h, fogged(glass, 1));
  fillBox(out, offset, width, height, left + 0.05 * w, right - 0.05 * w, bottom - 0.08 * h, bottom, fogged([0.02, 0.02, 0.02], 1));
  const lampW = 0.16 * w;
  const lampTop = top + 0.5 * h;
  const lampBottom = top + 0.64 * h;
  fillBox(out, offset, width, height, left + 0.04 * w, left + 0.04 * w + lampW, lampTop, lampBottom, fogged(TAIL_LIGHT, 1));
  fillBox(out, offset, width, height, right - 0.04 * w - lampW, right - 0.04 * w, lampTop, lampBottom, fogged(TAIL_LIGHT, 1));
}
