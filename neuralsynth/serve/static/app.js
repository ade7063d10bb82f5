// The timbre explorer's page. Plain ES2020, no libraries: it only talks to the JSON API
// of neuralsynth/serve/app.py (docs/serve.md). Every string that comes from the server
// goes into the DOM through textContent (never innerHTML).
'use strict';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------
const state = {
  model: null,          // GET /api/model
  map: null,            // GET /api/map when ready ({kind: "map" | "projection", ...})
  mapFailed: false,
  plane: null,          // {mean [D], axes [D][2]}: the map plane inside the space
  view: null,           // world <-> canvas transform of the map canvas
  colourBy: 'centroid',
  spec: '',             // the main timbre spec (the text input)
  shape: null,          // what the map shows of it: {point: [x, y]} | {path: [{xy, seconds}]}
  morph: [],            // morph-mode keyframes: [{timbre: 'xy:a;b' | name, xy: [x, y]}]
  highlight: null,      // a freshly fitted instrument, drawn highlighted
  piece: null,          // POST /api/midi answer for the current piece
  source: null,         // {example: name} | {file: File}: what a render sends
  render: null,         // {key, url, info, mel}
};

// ---------------------------------------------------------------------------------------
// API helpers and the error box
// ---------------------------------------------------------------------------------------
class ApiFailure extends Error {}

/** fetch() that turns every non-2xx answer into an ApiFailure carrying the server's
 *  one-line {"error": ...} message (or the HTTP status when the body is not ours). */
async function api(path, { method = 'GET', form = null } = {}) {
  let res;
  try {
    res = await fetch(path, { method, body: form });
  } catch (err) {
    throw new ApiFailure(`the server cannot be reached (${err.message})`);
  }
  if (!res.ok) throw new ApiFailure(await errorText(res));
  return res;
}

async function errorText(res) {
  let body = '';
  try {
    body = await res.text();
    const data = JSON.parse(body);
    if (data && typeof data.error === 'string') return data.error;
  } catch (_) { /* not JSON: fall through */ }
  const short = body && body.length < 160 && !body.includes('<') ? `: ${body}` : '';
  return `the server answered ${res.status} ${res.statusText || ''}${short}`.trim();
}

async function apiJson(path, options) {
  const res = await api(path, options);
  return { status: res.status, data: await res.json() };
}

function formOf(fields) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) form.append(name, value);
  }
  return form;
}

function showError(message) {
  // One line: the server's messages already are; a stray newline is flattened.
  $('error-text').textContent = String(message).replace(/\s+/g, ' ').trim();
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error-text').textContent = '';
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------
/** A coordinate as written in a spec: at most 4 decimals, no trailing zeros, no "-0". */
function num(v) {
  const s = String(Number(Number(v).toFixed(4)));
  return s === '-0' ? '0' : s;
}

function hz(v) {
  return v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 1 : 2)} kHz` : `${Math.round(v)} Hz`;
}

function seconds(v) {
  return `${Number(v.toFixed(v < 10 ? 2 : 1))} s`;
}

const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
function noteName(p) {
  return p === null || p === undefined ? '' : `${NOTE_NAMES[p % 12]}${Math.floor(p / 12) - 1}`;
}

// ---------------------------------------------------------------------------------------
// Colour ramp: dark violet -> blue -> teal -> green -> pale yellow. Lightness rises
// monotonically along it, so it reads in grey too; stops hand-picked, interpolated in
// linear light (plain sRGB interpolation muddies the middle).
// ---------------------------------------------------------------------------------------
const RAMP_STOPS = [
  [0.00, [32, 18, 64]],
  [0.22, [62, 56, 148]],
  [0.45, [32, 122, 160]],
  [0.68, [52, 176, 124]],
  [0.86, [172, 214, 84]],
  [1.00, [252, 238, 150]],
];

const toLinear = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
const toSrgb = (c) => Math.round(255 * (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055));

const RAMP = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < RAMP_STOPS.length - 2 && t > RAMP_STOPS[k + 1][0]) k++;
    const [t0, c0] = RAMP_STOPS[k];
    const [t1, c1] = RAMP_STOPS[k + 1];
    const f = Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
    for (let ch = 0; ch < 3; ch++) {
      lut[i * 3 + ch] = toSrgb(toLinear(c0[ch]) * (1 - f) + toLinear(c1[ch]) * f);
    }
  }
  return lut;
})();

/** The ramp's colour at t in [0, 1] as [r, g, b]. */
function ramp(t) {
  const i = Math.max(0, Math.min(255, Math.round(t * 255))) * 3;
  return [RAMP[i], RAMP[i + 1], RAMP[i + 2]];
}

const TRACK_COLOURS = ['#3b6fd8', '#e0762b', '#2f9e63', '#c43d6b', '#8a5cd0', '#b59a12',
  '#1f9fb4', '#d4503a', '#6a7f2a', '#9c5b34'];
const trackColour = (index) => TRACK_COLOURS[index % TRACK_COLOURS.length];

// ---------------------------------------------------------------------------------------
// Canvases: drawn at the device pixel ratio, addressed in CSS pixels
// ---------------------------------------------------------------------------------------
function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, canvas.clientWidth);
  const h = Math.max(1, canvas.clientHeight);
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h, dpr };
}

/** Text with a light halo, readable on any colour of the ramp. */
function haloText(ctx, text, x, y, { colour = '#10131a', halo = 'rgba(255,255,255,0.92)' } = {}) {
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3.5;
  ctx.strokeStyle = halo;
  ctx.strokeText(text, x, y);
  ctx.fillStyle = colour;
  ctx.fillText(text, x, y);
}

/** Round tick steps (1, 2, 5 x 10^k) giving about `count` ticks over `span`. */
function tickStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

// ---------------------------------------------------------------------------------------
// The map
// ---------------------------------------------------------------------------------------
/** Instruments with their place on the map plane (xy from the server; for a 2-D space
 *  without a map the plane is the space itself). */
function instrumentsOnPlane() {
  if (!state.model) return [];
  const twoD = state.model.embedding_dim === 2;
  return state.model.instruments
    .map((inst) => ({ ...inst, xy: inst.xy || (twoD ? inst.coords : null) }))
    .filter((inst) => Array.isArray(inst.xy));
}

/** The value the field is coloured by, per cell/point, and its range. Centroids are
 *  coloured on a log scale (pitch-like perception); energy in dB is already a log. */
function fieldValues() {
  const map = state.map;
  const raw = state.colourBy === 'centroid' ? map.centroid_hz : map.energy_db;
  const flat = map.kind === 'map' ? raw.flat() : raw.slice();
  const finite = flat.filter(Number.isFinite);
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!(hi > lo)) hi = lo + 1;
  const scale = state.colourBy === 'centroid'
    ? (v) => (Math.log(Math.max(v, 1)) - Math.log(Math.max(lo, 1))) /
             ((Math.log(Math.max(hi, 1)) - Math.log(Math.max(lo, 1))) || 1)
    : (v) => (v - lo) / (hi - lo);
  return { raw, lo, hi, scale };
}

/** World bounds of the view: the field's extent, widened to hold every instrument. */
function worldBounds() {
  let x0 = Infinity; let x1 = -Infinity; let y0 = Infinity; let y1 = -Infinity;
  const take = (x, y) => {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  };
  const map = state.map;
  if (map && map.kind === 'map') {
    const dx = map.xs.length > 1 ? (map.xs[1] - map.xs[0]) / 2 : 0.5;
    const dy = map.ys.length > 1 ? (map.ys[1] - map.ys[0]) / 2 : 0.5;
    take(map.xs[0] - dx, map.ys[0] - dy);
    take(map.xs[map.xs.length - 1] + dx, map.ys[map.ys.length - 1] + dy);
  } else if (map && map.kind === 'projection') {
    for (const [x, y] of map.points) take(x, y);
  }
  const insts = instrumentsOnPlane();
  for (const inst of insts) take(inst.xy[0], inst.xy[1]);
  if (!Number.isFinite(x0)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
  // A margin so markers at the edge keep their labels inside the canvas.
  const mx = Math.max(1e-3, (x1 - x0) * 0.04);
  const my = Math.max(1e-3, (y1 - y0) * 0.04);
  const grid = map && map.kind === 'map';
  return grid && insts.every((i) => i.xy[0] > x0 && i.xy[0] < x1 && i.xy[1] > y0 && i.xy[1] < y1)
    ? { x0, x1, y0, y1 }
    : { x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my };
}

/** Equal scale on both axes: distances on the map are distances in the plane. */
function makeView(w, h) {
  const b = worldBounds();
  const pad = 10;
  const s = Math.min((w - 2 * pad) / (b.x1 - b.x0), (h - 2 * pad) / (b.y1 - b.y0));
  const ox = (w - s * (b.x1 - b.x0)) / 2;
  const oy = (h - s * (b.y1 - b.y0)) / 2;
  return {
    s, bounds: b,
    toCanvas: (x, y) => [ox + (x - b.x0) * s, oy + (b.y1 - y) * s],
    toWorld: (px, py) => [b.x0 + (px - ox) / s, b.y1 - (py - oy) / s],
  };
}

let mapBase = null;   // the coloured field, cached until the map or the colouring changes

function drawMapBase() {
  const canvas = $('map');
  if (state.map || state.plane) {
    // The canvas takes the plane's aspect (equal scale on both axes, no empty bands).
    const b = worldBounds();
    const height = (canvas.clientWidth - 20) * ((b.y1 - b.y0) / (b.x1 - b.x0)) + 20;
    canvas.style.height = `${Math.round(Math.min(560, Math.max(280, height)))}px`;
  }
  const { w, h, dpr } = fitCanvas(canvas);
  state.view = makeView(w, h);
  const base = document.createElement('canvas');
  base.width = canvas.width;
  base.height = canvas.height;
  const ctx = base.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = '#e9ecf1';
  ctx.fillRect(0, 0, w, h);
  const map = state.map;
  if (map) {
    const { raw, scale } = fieldValues();
    const v = state.view;
    if (map.kind === 'map') {
      // One pixel per cell, row 0 (the lowest y) at the bottom, then scaled up with
      // smoothing: cell centres land on the lattice points (xs[j], ys[i]).
      const g = map.xs.length;
      const gy = map.ys.length;
      const cells = document.createElement('canvas');
      cells.width = g;
      cells.height = gy;
      const cctx = cells.getContext('2d');
      const img = cctx.createImageData(g, gy);
      for (let i = 0; i < gy; i++) {
        for (let j = 0; j < g; j++) {
          const [r, gr, bl] = ramp(scale(raw[i][j]));
          const o = ((gy - 1 - i) * g + j) * 4;
          img.data[o] = r; img.data[o + 1] = gr; img.data[o + 2] = bl; img.data[o + 3] = 255;
        }
      }
      cctx.putImageData(img, 0, 0);
      const dx = g > 1 ? (map.xs[1] - map.xs[0]) / 2 : 0.5;
      const dy = gy > 1 ? (map.ys[1] - map.ys[0]) / 2 : 0.5;
      const [ax, ay] = v.toCanvas(map.xs[0] - dx, map.ys[gy - 1] + dy);
      const [bx, by] = v.toCanvas(map.xs[g - 1] + dx, map.ys[0] - dy);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(cells, ax, ay, bx - ax, by - ay);
    } else {
      // Sampled mixes: dots big enough to read as a field.
      const r = Math.max(2.5, Math.min(7, Math.sqrt((w * h) / map.points.length) * 0.45));
      map.points.forEach(([x, y], k) => {
        const [px, py] = v.toCanvas(x, y);
        const [cr, cg, cb] = ramp(scale(raw[k]));
        ctx.fillStyle = `rgb(${cr},${cg},${cb})`;
        ctx.beginPath();
        ctx.arc(px, py, r, 0, Math.PI * 2);
        ctx.fill();
      });
    }
    // The plane's axes, for orientation.
    ctx.font = '11px system-ui, sans-serif';
    const axes = map.kind === 'map' ? ['dim 1 →', 'dim 2 →'] : ['PC 1 →', 'PC 2 →'];
    haloText(ctx, axes[0], w - 52, h - 8, { colour: '#333a48' });
    ctx.save();
    ctx.translate(14, 60);
    ctx.rotate(-Math.PI / 2);
    haloText(ctx, axes[1], 0, 0, { colour: '#333a48' });
    ctx.restore();
  }
  mapBase = base;
  drawLegend();
}

function drawLegend() {
  const canvas = $('legend');
  const { ctx, w, h } = fitCanvas(canvas);
  if (!state.map) {
    ctx.clearRect(0, 0, w, h);
    for (const id of ['legend-lo', 'legend-hi', 'legend-what']) $(id).textContent = '';
    return;
  }
  for (let x = 0; x < w; x++) {
    const [r, g, b] = ramp(x / (w - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, h);
  }
  const { lo, hi } = fieldValues();
  const centroid = state.colourBy === 'centroid';
  $('legend-lo').textContent = centroid ? hz(lo) : `${lo.toFixed(1)} dB`;
  $('legend-hi').textContent = centroid ? hz(hi) : `${hi.toFixed(1)} dB`;
  $('legend-what').textContent = centroid ? 'spectral centroid (log scale)' : 'mean energy';
  // What was played to measure it, on hover: the line stays one line at 1280 px.
  $('legend-what').title = state.map.probe ? `measured on the model's render of ${state.map.probe}` : '';
}

/** The map: the cached field, the chosen point or morph path, the instruments, and
 *  last the morph's time labels (placed clear of the instruments' labels). */
function drawMap() {
  const canvas = $('map');
  if (!mapBase || mapBase.width !== canvas.width || mapBase.height !== canvas.height) drawMapBase();
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.drawImage(mapBase, 0, 0);
  ctx.restore();
  if (state.view && (state.map || state.plane)) {
    const keys = shapePoints();
    const labels = new Labels(ctx, w, h);
    drawShape(ctx, keys, labels);
    drawInstruments(ctx, labels);
    drawTimeLabels(ctx, keys, labels);
  }
  canvas.dataset.drawn = state.map ? 'true' : 'false';
}

/** Greedy label placement: each label takes the first of a few spots around its anchor
 *  that stays inside the canvas and overlaps nothing placed before. */
class Labels {
  constructor(ctx, w, h) {
    this.ctx = ctx;
    this.w = w;
    this.h = h;
    this.boxes = [];
  }

  block(x, y, r) {               // a marker: labels keep off it
    this.boxes.push({ x: x - r, y: y - r, w: 2 * r, h: 2 * r });
  }

  place(text, px, py, gap = 9, pad = 0) {
    const tw = this.ctx.measureText(text).width + 2 * pad;
    const th = 14;
    const spots = [
      [px + gap, py - th / 2], [px - gap - tw, py - th / 2],
      [px - tw / 2, py - gap - th], [px - tw / 2, py + gap],
      [px + gap - 1, py - th - 3], [px + gap - 1, py + 3],
      [px - gap + 1 - tw, py - th - 3], [px - gap + 1 - tw, py + 3],
    ].map(([x, y]) => ({ x, y, w: tw, h: th }));
    const inside = (b) => b.x >= 2 && b.y >= 2 && b.x + b.w <= this.w - 2 && b.y + b.h <= this.h - 2;
    const free = (b) => !this.boxes.some((o) =>
      b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h);
    const pick = spots.find((b) => inside(b) && free(b)) || spots.find(inside) || spots[0];
    this.boxes.push(pick);
    return pick;
  }
}

function drawInstruments(ctx, labels) {
  const v = state.view;
  const insts = instrumentsOnPlane().map((inst) => {
    const [px, py] = v.toCanvas(inst.xy[0], inst.xy[1]);
    return { ...inst, px, py, fresh: inst.name === state.highlight };
  });
  for (const inst of insts) {
    labels.block(inst.px, inst.py, 6);
    ctx.beginPath();
    ctx.arc(inst.px, inst.py, inst.fresh ? 7 : 5, 0, Math.PI * 2);
    ctx.fillStyle = inst.fresh ? '#ff9a1f' : '#ffffff';
    ctx.fill();
    ctx.lineWidth = inst.fresh ? 2.5 : 1.6;
    ctx.strokeStyle = inst.fresh ? '#7a3d00' : '#1b2030';
    ctx.stroke();
    if (inst.fresh) {                // a freshly fitted instrument: a halo ring
      ctx.beginPath();
      ctx.arc(inst.px, inst.py, 12, 0, Math.PI * 2);
      ctx.strokeStyle = 'rgba(255,154,31,0.9)';
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  }
  ctx.textBaseline = 'middle';
  for (const inst of insts) {
    ctx.font = `${inst.fresh ? '600 ' : ''}12px system-ui, sans-serif`;
    const box = labels.place(inst.name, inst.px, inst.py);
    haloText(ctx, inst.name, box.x, box.y + box.h / 2, { colour: inst.fresh ? '#7a3d00' : '#10131a' });
  }
}

/** The shown point or the morph's keyframes, in canvas pixels. */
function shapePoints() {
  const shape = state.shape;
  const v = state.view;
  if (!shape) return [];
  const keys = shape.point ? [{ xy: shape.point }] : shape.path;
  return keys.filter((k) => Array.isArray(k.xy)).map((k) => ({ ...k, p: v.toCanvas(k.xy[0], k.xy[1]) }));
}

const PATH_RED = '#d7263d';

function drawShape(ctx, pts, labels) {
  if (!pts.length) return;
  if (state.shape.point) {           // one point: a ring with a cross hair
    const [px, py] = pts[0].p;
    labels.block(px, py, 10);
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#ffffff';
    ctx.beginPath();
    ctx.moveTo(px - 14, py); ctx.lineTo(px - 5, py);
    ctx.moveTo(px + 5, py); ctx.lineTo(px + 14, py);
    ctx.moveTo(px, py - 14); ctx.lineTo(px, py - 5);
    ctx.moveTo(px, py + 5); ctx.lineTo(px, py + 14);
    ctx.stroke();
    ctx.beginPath();
    ctx.arc(px, py, 8, 0, Math.PI * 2);
    ctx.lineWidth = 3;
    ctx.strokeStyle = PATH_RED;
    ctx.stroke();
    return;
  }
  // A morph: the path, an arrow half way along each leg, a dot per keyframe.
  ctx.lineWidth = 3;
  ctx.strokeStyle = PATH_RED;
  ctx.beginPath();
  pts.forEach((k, i) => (i ? ctx.lineTo(k.p[0], k.p[1]) : ctx.moveTo(k.p[0], k.p[1])));
  ctx.stroke();
  for (let i = 1; i < pts.length; i++) {
    const [ax, ay] = pts[i - 1].p;
    const [bx, by] = pts[i].p;
    if (Math.hypot(bx - ax, by - ay) < 20) continue;
    const ang = Math.atan2(by - ay, bx - ax);
    const mx = (ax + bx) / 2; const my = (ay + by) / 2;
    ctx.fillStyle = PATH_RED;
    ctx.beginPath();
    ctx.moveTo(mx + 8 * Math.cos(ang), my + 8 * Math.sin(ang));
    ctx.lineTo(mx + 8 * Math.cos(ang + 2.5), my + 8 * Math.sin(ang + 2.5));
    ctx.lineTo(mx + 8 * Math.cos(ang - 2.5), my + 8 * Math.sin(ang - 2.5));
    ctx.closePath();
    ctx.fill();
  }
  pts.forEach((k, i) => {
    labels.block(k.p[0], k.p[1], 7);
    ctx.beginPath();
    ctx.arc(k.p[0], k.p[1], 5, 0, Math.PI * 2);
    ctx.fillStyle = i === 0 ? '#ffffff' : PATH_RED;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = PATH_RED;
    ctx.stroke();
  });
}

/** Keyframe times as small red tags, after the instruments' labels took their places. */
function drawTimeLabels(ctx, pts, labels) {
  if (!state.shape || state.shape.point) return;
  ctx.font = '600 11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  for (const k of pts) {
    if (k.seconds === undefined || k.seconds === null) continue;
    const text = seconds(k.seconds);
    const box = labels.place(text, k.p[0], k.p[1], 8, 4);
    ctx.fillStyle = PATH_RED;
    ctx.beginPath();
    ctx.roundRect(box.x, box.y, box.w, box.h, 4);
    ctx.fill();
    ctx.fillStyle = '#ffffff';
    ctx.fillText(text, box.x + 4, box.y + box.h / 2 + 0.5);
  }
}

function setMapStatus(text) {
  $('map-status').textContent = text;
  $('map-status').hidden = !text;
}

/** Poll GET /api/map each second until the map is ready (202 while computing). */
async function loadMap() {
  setMapStatus('computing the map…');
  for (;;) {
    let answer;
    try {
      answer = await apiJson('/api/map');
    } catch (err) {
      // The map failed: rendering still works; a 2-D space is still clickable.
      state.mapFailed = true;
      setMapStatus('no map: see the message above');
      showError(err.message);
      break;
    }
    if (answer.status === 202) {
      await sleep(1000);
      continue;
    }
    state.map = answer.data;
    setMapStatus('');
    break;
  }
  // Instruments get their xy on the plane only once the map exists: ask again.
  try {
    setModel((await apiJson('/api/model')).data);
  } catch (err) {
    showError(err.message);
  }
  if (state.map) {
    state.plane = { mean: state.map.mean, axes: state.map.axes };
  } else if (state.model && state.model.embedding_dim === 2) {
    state.plane = { mean: [0, 0], axes: [[1, 0], [0, 1]] };
  }
  mapBase = null;
  drawMap();
  if (state.spec) describeMain(state.spec);   // its xy was unknown before
}

// ---------------------------------------------------------------------------------------
// Choosing a timbre
// ---------------------------------------------------------------------------------------
/** The point of the space under map-plane coordinates: mean + axes·xy ([D] numbers). */
function spacePoint(xy) {
  const { mean, axes } = state.plane;
  return mean.map((m, d) => m + axes[d][0] * xy[0] + axes[d][1] * xy[1]);
}

function staticXySpec(xy) {
  return `xy:${spacePoint(xy).map(num).join(',')}`;
}

/** The morph keyframes as a spec: times spread evenly over the piece; inside a morph,
 *  coordinates are separated by ';' and keyframes by ','. */
function morphSpec() {
  const n = state.morph.length;
  const total = morphDuration();
  return state.morph.map((k, i) => {
    const t = n > 1 ? (total * i) / (n - 1) : 0;
    return `${k.timbre}@${Number(t.toFixed(2))}s`;
  }).join(',');
}

function morphDuration() {
  return state.piece ? state.piece.duration : 10;
}

function updateMorphInfo() {
  const n = state.morph.length;
  $('morph-info').textContent = !$('morph-mode').checked ? ''
    : n === 0 ? 'click the map to add the first keyframe'
      : `${n} keyframe${n > 1 ? 's' : ''} over ${seconds(morphDuration())}` +
        (state.piece ? '' : ' (no piece chosen yet)');
}

/** Set the main spec (input, map drawing) and ask the server about it. */
function setSpec(spec, shape) {
  state.spec = spec;
  $('timbre').value = spec;
  $('timbre').classList.remove('invalid');
  if (shape !== undefined) {
    state.shape = shape;
    drawMap();
  }
  describeMain(spec);
}

// Requests for the main spec run one at a time; while one is out, only the newest
// wanted spec waits (dragging on the map would otherwise queue dozens).
let describing = false;
let describeNext = null;

async function describeMain(spec) {
  if (describing) { describeNext = spec; return; }
  describing = true;
  try {
    if (!spec) {
      showTimbre(null);
    } else {
      const { data } = await apiJson('/api/timbre', { method: 'POST', form: formOf({ spec }) });
      if (spec === state.spec) showTimbre(data);
    }
  } catch (err) {
    if (spec === state.spec) {
      $('timbre').classList.add('invalid');
      showError(err.message);
    }
  } finally {
    describing = false;
    if (describeNext !== null) {
      const next = describeNext;
      describeNext = null;
      if (next === state.spec) describeMain(next);
    }
  }
}

function listItem(text, extra) {
  const li = document.createElement('li');
  li.append(document.createTextNode(text));
  if (extra) {
    const span = document.createElement('span');
    span.className = 'num';
    span.textContent = extra;
    li.append(span);
  }
  return li;
}

/** The panel under the map for a POST /api/timbre answer (null: empty). */
function showTimbre(data) {
  const nearest = $('nearest');
  const mix = $('mix');
  const keys = $('keyframes');
  nearest.replaceChildren();
  mix.replaceChildren();
  keys.replaceChildren();
  $('point-facts').hidden = false;
  $('morph-facts').hidden = true;
  if (!data) {
    $('timbre-describe').textContent = 'click the map, or type a timbre';
    state.shape = null;
    drawMap();
    return;
  }
  $('timbre-describe').textContent = data.describe;
  if (data.static) {
    for (const [name, dist] of data.nearest || []) {
      nearest.append(listItem(name, `distance ${Number(dist).toFixed(3)}`));
    }
    for (const [name, weight] of Object.entries(data.mix || {})) {
      const li = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.round(60 * weight)}px`;
      li.append(bar, document.createTextNode(name));
      const pct = document.createElement('span');
      pct.className = 'num';
      pct.textContent = `${Math.round(weight * 100)}%`;
      li.append(pct);
      mix.append(li);
    }
    const xy = data.keyframes[0] && data.keyframes[0].xy;
    state.shape = xy ? { point: xy } : null;
  } else {
    $('point-facts').hidden = true;
    $('morph-facts').hidden = false;
    for (const k of data.keyframes) keys.append(listItem(`at ${seconds(k.seconds)}: ${k.describe}`));
    state.shape = { path: data.keyframes.map((k) => ({ xy: k.xy, seconds: k.seconds })) };
  }
  drawMap();
}

/** Map-plane coordinates of a pointer event. */
function eventXY(ev) {
  const rect = $('map').getBoundingClientRect();
  return state.view.toWorld(ev.clientX - rect.left, ev.clientY - rect.top);
}

/** The instrument whose marker is under the pointer (within 9 px), if any. */
function instrumentAt(ev) {
  const rect = $('map').getBoundingClientRect();
  const px = ev.clientX - rect.left;
  const py = ev.clientY - rect.top;
  let best = null;
  for (const inst of instrumentsOnPlane()) {
    const [x, y] = state.view.toCanvas(inst.xy[0], inst.xy[1]);
    const d = Math.hypot(x - px, y - py);
    if (d <= 9 && (!best || d < best.d)) best = { inst, d };
  }
  return best && best.inst;
}

function addMorphKeyframe(timbre, xy) {
  state.morph.push({ timbre, xy });
  applyMorph();
}

/** The morph keyframes become the main spec; drawn at once, before the server answers. */
function applyMorph() {
  updateMorphInfo();
  const total = morphDuration();
  const n = state.morph.length;
  setSpec(morphSpec(), { path: state.morph.map((k, i) => ({
    xy: k.xy, seconds: n > 1 ? (total * i) / (n - 1) : 0 })) });
}

let dragging = false;

function onMapDown(ev) {
  if (!state.view || !state.plane || ev.button > 0) return;
  clearError();
  const inst = instrumentAt(ev);
  if ($('morph-mode').checked) {
    if (inst) addMorphKeyframe(inst.name, inst.xy);
    else {
      const xy = eventXY(ev);
      addMorphKeyframe(`xy:${spacePoint(xy).map(num).join(';')}`, xy);
    }
    return;
  }
  if (inst) {                      // a click on a marker picks that instrument exactly
    setSpec(inst.name, { point: inst.xy });
    return;
  }
  dragging = true;
  $('map').setPointerCapture(ev.pointerId);
  const xy = eventXY(ev);
  setSpec(staticXySpec(xy), { point: xy });
}

function onMapMove(ev) {
  if (!dragging) return;
  const xy = eventXY(ev);
  setSpec(staticXySpec(xy), { point: xy });
}

function onMapUp(ev) {
  if (!dragging) return;
  dragging = false;
  if ($('map').hasPointerCapture(ev.pointerId)) $('map').releasePointerCapture(ev.pointerId);
}

// ---------------------------------------------------------------------------------------
// The model: header, instrument chips, names for the timbre inputs
// ---------------------------------------------------------------------------------------
function setModel(model) {
  state.model = model;
  $('model-name').textContent = model.name;
  $('model-facts').textContent =
    `· ${model.instruments.length} instruments · ${model.embedding_dim}-D timbre space`;
  document.title = `${model.name} · neuralsynth timbre explorer`;
  const chips = $('instrument-chips');
  chips.replaceChildren();
  const names = $('instrument-names');
  names.replaceChildren();
  for (const inst of model.instruments) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = inst.name;
    b.title = `coordinates ${inst.coords.map(num).join(', ')}` +
      (inst.own_offsets ? ' (has its own FiLM offsets)' : '');
    if (inst.name === state.highlight) b.classList.add('new');
    b.addEventListener('click', () => {
      clearError();
      const xy = inst.xy || (model.embedding_dim === 2 ? inst.coords : null);
      if ($('morph-mode').checked) addMorphKeyframe(inst.name, xy);
      else setSpec(inst.name, xy ? { point: xy } : null);
    });
    chips.append(b);
    const opt = document.createElement('option');
    opt.value = inst.name;
    names.append(opt);
  }
  mapBase = null;    // instruments may have moved the bounds
}

/** Append one <option> per name (value and text alike) to a <select>. */
function addOptions(select, names) {
  for (const name of names) {
    const opt = document.createElement('option');
    opt.value = name;
    opt.textContent = name;
    select.append(opt);
  }
}

async function loadModel() {
  const { data } = await apiJson('/api/model');
  setModel(data);
  addOptions($('example'), data.examples);
  addOptions($('vocoder'), data.vocoders);
  $('timbre').placeholder = `${data.default_timbre} (default) · piano:0.3,organ:0.7 · piano@0s,organ@8s`;
  $('fit-transcribe-label').hidden = !data.transcribe;
}

// ---------------------------------------------------------------------------------------
// Music: a piece's tracks and its piano roll
// ---------------------------------------------------------------------------------------
async function loadPiece(source) {
  clearError();
  const max = state.model && state.model.limits.max_midi_bytes;
  if (source.file && max && source.file.size > max) {
    showError(`the MIDI file is larger than this server accepts (${max.toLocaleString()} bytes)`);
    $('midi-file').value = '';
    return;
  }
  $('piece-info').textContent = 'reading the MIDI file…';
  const form = source.file ? formOf({ midi: source.file }) : formOf({ example: source.example });
  try {
    const { data } = await apiJson('/api/midi', { method: 'POST', form });
    state.piece = data;
    state.source = source;
    // The other way of choosing a piece no longer applies.
    if (source.file) $('example').value = '';
    else $('midi-file').value = '';
    showPiece();
    $('render').disabled = false;
    if (state.render) {               // the player still holds the previous piece
      const status = $('render-status');
      status.className = 'status muted';
      status.textContent = 'the player holds the previous render; Render plays this piece';
    }
    updateMorphInfo();
    if (state.morph.length) applyMorph();     // keyframe times follow the piece's duration
  } catch (err) {
    showError(err.message);
    // The piece chosen before stays the one a render uses.
    if (source.file) $('midi-file').value = '';
    $('example').value = state.source && state.source.example ? state.source.example : '';
    $('piece-info').textContent = state.piece ? pieceSummary() : '';
  }
}

function pieceSummary() {
  const p = state.piece;
  const name = state.source.file ? state.source.file.name : state.source.example;
  const pitched = p.tracks.filter((t) => !t.is_drum).length;
  const drums = p.tracks.length - pitched;
  return `${name}: ${seconds(p.duration)}, ${p.n_notes} pitched notes, ${pitched} pitched ` +
    `track${pitched === 1 ? '' : 's'}${drums ? `, ${drums} drum track${drums > 1 ? 's' : ''} (not rendered)` : ''}` +
    (p.notes.length < p.n_notes ? ` (roll shows the first ${p.notes.length})` : '');
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showPiece() {
  const p = state.piece;
  $('piece-info').textContent = pieceSummary();
  const body = $('tracks').querySelector('tbody');
  body.replaceChildren();
  for (const t of p.tracks) {
    const tr = document.createElement('tr');
    tr.dataset.index = String(t.index);
    if (t.is_drum) tr.className = 'drum';
    const sw = document.createElement('td');
    const box = document.createElement('span');
    box.className = 'swatch';
    box.style.background = t.is_drum ? '#c9ced6' : trackColour(t.index);
    sw.append(box);
    const range = t.is_drum || t.lowest === null ? '–' : `${noteName(t.lowest)}–${noteName(t.highest)}`;
    tr.append(sw, cell(String(t.index), 'num'), cell(t.name || '(no name)'),
      cell(t.is_drum ? 'drums' : `${t.program} ${t.program_name}`),
      cell(String(t.n_notes), 'num'), cell(range));
    const td = document.createElement('td');
    if (t.is_drum) {
      td.textContent = 'not rendered';
    } else {
      const input = document.createElement('input');
      input.type = 'text';
      input.className = 'track-timbre';
      input.dataset.index = String(t.index);
      input.setAttribute('list', 'instrument-names');
      input.spellcheck = false;
      input.autocomplete = 'off';
      input.placeholder = 'main timbre';
      input.setAttribute('aria-label', `timbre of track ${t.index}`);
      input.addEventListener('change', () => checkTrackTimbre(input));
      td.append(input);
    }
    tr.append(td);
    body.append(tr);
  }
  $('tracks').hidden = false;
  drawRoll();
}

/** A track's own timbre is checked as soon as it is typed, not only at render time. */
async function checkTrackTimbre(input) {
  const spec = input.value.trim();
  input.classList.remove('invalid');
  input.title = '';
  if (!spec) return;
  clearError();
  try {
    const { data } = await apiJson('/api/timbre', { method: 'POST', form: formOf({ spec }) });
    if (input.value.trim() === spec) input.title = data.describe;
  } catch (err) {
    if (input.value.trim() === spec) {
      input.classList.add('invalid');
      showError(`track ${input.dataset.index}: ${err.message}`);
    }
  }
}

let rollBase = null;

function drawRoll() {
  const canvas = $('roll');
  const { ctx, w, h, dpr } = fitCanvas(canvas);
  const p = state.piece;
  ctx.fillStyle = '#f0f2f5';
  ctx.fillRect(0, 0, w, h);
  if (!p) {
    ctx.fillStyle = '#8a92a0';
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText('choose a piece to see its notes', 12, h / 2);
    canvas.dataset.drawn = 'false';
    rollBase = null;
    return;
  }
  let lo = 127; let hi = 0;
  for (const n of p.notes) { lo = Math.min(lo, n[2]); hi = Math.max(hi, n[2]); }
  lo -= 2; hi += 2;
  const left = 30; const bottom = 16; const top = 4;
  const plotW = w - left - 6;
  const plotH = h - bottom - top;
  const rowH = plotH / (hi - lo + 1);
  const x = (t) => left + (t / Math.max(p.duration, 1e-6)) * plotW;
  const y = (pitch) => top + (hi - pitch) * rowH;
  // Octave lines at each C, labelled.
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  for (let c = Math.ceil(lo / 12) * 12; c <= hi; c += 12) {
    ctx.fillStyle = '#dde1e8';
    ctx.fillRect(left, y(c) + rowH - 0.5, plotW, 1);
    ctx.fillStyle = '#6d7585';
    ctx.fillText(noteName(c), 4, y(c) + rowH / 2);
  }
  // Time ticks.
  const step = tickStep(p.duration, 8);
  ctx.textBaseline = 'alphabetic';
  for (let t = 0; t <= p.duration + 1e-9; t += step) {
    ctx.fillStyle = '#dde1e8';
    ctx.fillRect(x(t), top, 1, plotH);
    ctx.fillStyle = '#6d7585';
    if (x(t) < w - 26) ctx.fillText(`${Number(t.toFixed(2))}s`, x(t) + 2, h - 4);
  }
  for (const [start, end, pitch, track] of p.notes) {
    ctx.fillStyle = trackColour(track);
    ctx.fillRect(x(start), y(pitch), Math.max(1.5, x(end) - x(start) - 0.5), Math.max(1.5, rowH - 0.5));
  }
  rollBase = { image: ctx.getImageData(0, 0, Math.round(w * dpr), Math.round(h * dpr)),
    x, top, plotH, duration: p.duration };
  canvas.dataset.drawn = 'true';
}

// ---------------------------------------------------------------------------------------
// Render, play, mel spectrogram
// ---------------------------------------------------------------------------------------
/** `INDEX=TIMBRE` lines for the tracks that have a timbre of their own. */
function trackRules() {
  return [...document.querySelectorAll('input.track-timbre')]
    .filter((input) => input.value.trim())
    .map((input) => `${input.dataset.index}=${input.value.trim()}`)
    .join('\n');
}

/** A running "label 3.2 s" in a status element until the returned function is called. */
function progress(el, label) {
  const started = performance.now();
  el.className = 'status busy';
  const tick = () => { el.textContent = `${label} ${((performance.now() - started) / 1000).toFixed(1)} s`; };
  tick();
  const timer = setInterval(tick, 100);
  return () => {
    clearInterval(timer);
    el.className = 'status muted';
    return (performance.now() - started) / 1000;
  };
}

async function doRender() {
  clearError();
  if (!state.source) {
    showError('choose an example or upload a MIDI file first');
    return;
  }
  const button = $('render');
  button.disabled = true;
  $('mel').dataset.drawn = 'false';
  const done = progress($('render-status'), 'rendering…');
  const src = state.source;
  const form = formOf({
    midi: src.file || null,
    example: src.file ? null : src.example,
    timbre: $('timbre').value.trim() || null,
    tracks: trackRules(),
    gm: $('gm').checked ? 'true' : 'false',
    vocoder: $('vocoder').value,
  });
  try {
    const res = await api('/api/render', { method: 'POST', form });
    const blob = await res.blob();
    const key = res.headers.get('X-Render-Key');
    let info = {};
    try { info = JSON.parse(res.headers.get('X-Render-Info') || '{}'); } catch (_) { /* keep {} */ }
    const took = done();
    if (state.render && state.render.url) URL.revokeObjectURL(state.render.url);
    const wav = blob.type ? blob : new Blob([blob], { type: 'audio/wav' });
    const url = URL.createObjectURL(wav);
    state.render = { key, url, info, mel: null };
    const player = $('player');
    player.src = url;
    player.load();
    const link = $('download');
    link.href = `/api/renders/${encodeURIComponent(key)}.wav`;
    link.download = `neuralsynth-${key.slice(0, 12)}.wav`;
    link.hidden = false;
    const status = $('render-status');
    status.className = 'status ok';
    status.textContent = info.cached
      ? `done in ${took.toFixed(1)} s (from the cache)`
      : `done in ${took.toFixed(1)} s (model ${Number(info.render_seconds || 0).toFixed(1)} s)`;
    const facts = [`${seconds(info.seconds || 0)} of audio`, info.vocoder && `vocoder ${info.vocoder}`,
      info.timbre && `timbre ${info.timbre}`].filter(Boolean);
    $('render-info').textContent = facts.join(' · ');
    const { data } = await apiJson(`/api/renders/${encodeURIComponent(key)}/mel`);
    state.render.mel = data;
    drawMel();
  } catch (err) {
    done();
    $('render-status').textContent = 'failed';
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

let melBase = null;

/** The render's mel picture: bytes 0-255 (0 = range_db below the peak), frames x mels
 *  row-major; time runs left to right, low mels at the bottom. */
function drawMel() {
  const canvas = $('mel');
  const { ctx, w, h, dpr } = fitCanvas(canvas);
  ctx.fillStyle = '#14121f';
  ctx.fillRect(0, 0, w, h);
  const mel = state.render && state.render.mel;
  if (!mel) {
    ctx.fillStyle = '#9a98b0';
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText('the mel spectrogram of a render shows here', 12, h / 2);
    melBase = null;
    return;
  }
  const bytes = Uint8Array.from(atob(mel.data), (c) => c.charCodeAt(0));
  const frames = mel.frames;
  const mels = mel.mels;
  // Long renders have more frames than pixels: keep each column's loudest value.
  const cols = Math.max(1, Math.min(frames, 2048));
  const img = new ImageData(cols, mels);
  for (let c = 0; c < cols; c++) {
    const f0 = Math.floor((c * frames) / cols);
    const f1 = Math.max(f0 + 1, Math.floor(((c + 1) * frames) / cols));
    for (let m = 0; m < mels; m++) {
      let v = 0;
      for (let f = f0; f < f1; f++) v = Math.max(v, bytes[f * mels + m]);
      const [r, g, b] = ramp(v / 255);
      const o = ((mels - 1 - m) * cols + c) * 4;
      img.data[o] = r; img.data[o + 1] = g; img.data[o + 2] = b; img.data[o + 3] = 255;
    }
  }
  const pic = document.createElement('canvas');
  pic.width = cols;
  pic.height = mels;
  pic.getContext('2d').putImageData(img, 0, 0);
  const bottom = 14;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(pic, 0, 0, w, h - bottom);
  const total = frames * mel.frame_seconds;
  const step = tickStep(total, 8);
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = '#c8c6da';
  for (let t = 0; t <= total + 1e-9; t += step) {
    const x = (t / total) * w;
    ctx.fillRect(x, h - bottom, 1, 4);
    if (x < w - 24) ctx.fillText(`${Number(t.toFixed(2))}s`, x + 2, h - 3);
  }
  ctx.fillText(`mel · top ${mel.range_db} dB`, w - 96, 12);
  melBase = { image: ctx.getImageData(0, 0, Math.round(w * dpr), Math.round(h * dpr)),
    total, plotH: h - bottom, w };
  canvas.dataset.drawn = 'true';
}

/** A play head on the mel picture and the piano roll while the audio plays. */
function drawPlayhead() {
  const player = $('player');
  const t = player.currentTime || 0;
  if (melBase) {
    const { ctx } = fitCanvas($('mel'));
    ctx.putImageData(melBase.image, 0, 0);
    const x = (t / melBase.total) * melBase.w;
    ctx.fillStyle = 'rgba(255,255,255,0.85)';
    ctx.fillRect(x, 0, 1.5, melBase.plotH);
  }
  if (rollBase) {
    const { ctx } = fitCanvas($('roll'));
    ctx.putImageData(rollBase.image, 0, 0);
    if (t > 0 && t <= rollBase.duration) {
      ctx.fillStyle = 'rgba(215,38,61,0.8)';
      ctx.fillRect(rollBase.x(t), rollBase.top, 1.5, rollBase.plotH);
    }
  }
  if (!player.paused && !player.ended) requestAnimationFrame(drawPlayhead);
}

// ---------------------------------------------------------------------------------------
// Fitting a recording
// ---------------------------------------------------------------------------------------
async function doFit(ev) {
  ev.preventDefault();
  clearError();
  const audio = $('fit-audio').files[0];
  const midi = $('fit-midi').files[0];
  const transcribe = !$('fit-transcribe-label').hidden && $('fit-transcribe').checked;
  const name = $('fit-name').value.trim();
  if (!audio) { showError('choose the recording (an audio file) to fit'); return; }
  if (!midi && !transcribe) {
    showError(state.model && state.model.transcribe
      ? 'give the recording\'s notes as a MIDI file, or tick "transcribe the notes"'
      : 'give the recording\'s notes as a MIDI file');
    return;
  }
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    showError('the name must be snake_case: lower-case letters, digits and _ (like my_cello)');
    return;
  }
  const limits = state.model && state.model.limits;
  if (limits && audio.size > limits.max_audio_bytes) {
    showError(`the recording is larger than this server accepts (${limits.max_audio_bytes.toLocaleString()} bytes)`);
    return;
  }
  const button = $('fit-submit');
  button.disabled = true;
  $('fit-result').textContent = '';
  const done = progress($('fit-status'), 'fitting (usually 20–60 s)…');
  try {
    const { data } = await apiJson('/api/fit', {
      method: 'POST',
      form: formOf({ audio, midi: transcribe ? null : midi, transcribe: transcribe ? 'true' : 'false',
        name, adapt: $('fit-adapt').value }),
    });
    const took = done();
    $('fit-status').className = 'status ok';
    $('fit-status').textContent = `added ${data.name} in ${took.toFixed(0)} s`;
    const near = (data.nearest || []).map(([n, d]) => `${n} (${Number(d).toFixed(3)})`).join(', ');
    const mix = Object.entries(data.mix || {}).map(([n, w]) => `${Math.round(w * 100)}% ${n}`).join(' + ');
    // notes_heard is one count per recording (a list); older servers sent one number.
    const heard = Array.isArray(data.notes_heard)
      ? data.notes_heard.reduce((sum, n) => sum + Number(n || 0), 0) : (data.notes_heard ?? '?');
    $('fit-result').textContent = `${data.name}: nearest ${near}; closest mix ${mix}; ` +
      `loss ${data.loss}; ${heard} notes heard; adapt ${data.adapt}. ` +
      `It is on the map and works in any timbre spec.`;
    state.highlight = data.name;
    setModel((await apiJson('/api/model')).data);
    drawMap();
    if (!$('morph-mode').checked) setSpec(data.name, data.xy ? { point: data.xy } : null);
  } catch (err) {
    done();
    $('fit-status').textContent = 'failed';
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------
function wire() {
  $('error-close').addEventListener('click', clearError);
  for (const radio of document.querySelectorAll('input[name=colour]')) {
    radio.addEventListener('change', () => {
      state.colourBy = radio.value;
      mapBase = null;
      drawMap();
    });
  }
  const map = $('map');
  map.addEventListener('pointerdown', onMapDown);
  map.addEventListener('pointermove', onMapMove);
  map.addEventListener('pointerup', onMapUp);
  map.addEventListener('pointercancel', onMapUp);
  $('timbre').addEventListener('change', () => {
    clearError();
    state.morph = [];
    updateMorphInfo();
    setSpec($('timbre').value.trim());
  });
  $('morph-mode').addEventListener('change', () => {
    state.morph = [];
    updateMorphInfo();
  });
  $('morph-clear').addEventListener('click', () => {
    state.morph = [];
    updateMorphInfo();
    setSpec('', null);
  });
  $('example').addEventListener('change', () => {
    const name = $('example').value;
    if (name) loadPiece({ example: name });
  });
  $('midi-file').addEventListener('change', () => {
    const file = $('midi-file').files[0];
    if (file) loadPiece({ file });
  });
  $('render').addEventListener('click', doRender);
  const player = $('player');
  player.addEventListener('play', () => requestAnimationFrame(drawPlayhead));
  player.addEventListener('seeked', drawPlayhead);
  $('fit-transcribe').addEventListener('change', () => {
    $('fit-midi').disabled = $('fit-transcribe').checked;
  });
  $('fit-form').addEventListener('submit', doFit);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      mapBase = null;
      drawMap();
      drawRoll();
      drawMel();
    }, 150);
  });
}

async function start() {
  wire();
  drawMap();
  drawRoll();
  drawMel();
  try {
    await loadModel();
  } catch (err) {
    showError(err.message);
    setMapStatus('');
    return;
  }
  updateMorphInfo();
  await loadMap();
}

document.addEventListener('DOMContentLoaded', start);
