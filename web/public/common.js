// Shared by every page: the API client, DOM and SVG builders, face tiles with their boxes drawn over them, and the
// small SVG charts. Text from the workspace is only ever put in the page through textContent or attribute values,
// never parsed as HTML, so a crawled caption or file name shows as the text it is.

const SVG = 'http://www.w3.org/2000/svg';

export async function api(path, options = {}) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, ...options });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = new Error((body && body.error) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

export function postJson(path, data) {
  return api(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(data) });
}

/** el('div', {class: 'x', onclick: fn}, child, 'text', ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  for (const c of children.flat(Infinity)) if (c) node.append(c instanceof Node ? c : String(c));
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return node;
}

export const fmt = (v, digits = 2) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));

export function who() {
  return localStorage.getItem('pros.who') || 'web';
}

/** The header on every page: navigation and the curator's name, recorded with each decision. */
export function header(active) {
  const pages = [['index.html', 'Overview'], ['grid.html', 'Faces'], ['images.html', 'Images'], ['search.html', 'Search'],
    ['runs.html', 'Runs'], ['audit.html', 'Privacy']];
  const name = el('input', { id: 'who', value: who(), size: 10, title: 'recorded as "who" on curation decisions',
    'aria-label': 'curator name' });
  name.addEventListener('change', () => localStorage.setItem('pros.who', name.value.trim() || 'web'));
  const nav = el('nav', {}, el('strong', {}, 'pros'),
    pages.map(([href, label]) => el('a', { href, class: href === active ? 'active' : '' }, label)),
    el('span', { class: 'grow' }), el('label', {}, 'curator ', name));
  document.body.prepend(nav);
}

export function notice(container, text, kind = 'empty') {
  clear(container, el('p', { class: `notice ${kind}` }, text));
}

/** Shows an error in a page's status line; returns it for chaining. */
export function showError(err) {
  const bar = document.getElementById('status') || document.body.appendChild(el('div', { id: 'status' }));
  bar.className = 'error';
  bar.textContent = err.message || String(err);
  return err;
}

export function showStatus(text) {
  const bar = document.getElementById('status') || document.body.appendChild(el('div', { id: 'status' }));
  bar.className = 'ok';
  bar.textContent = text;
}

/**
 * A face thumbnail with its detector box drawn over it. `face.crop` is the square [x, y, side, side] of the source
 * image the thumbnail shows (the export's crop, padded black past the image's edges), so the box [x, y, w, h] maps
 * into it by a shift and a scale. Replies are typed in src/contracts/api.ts (Face).
 */
export function faceTile(face, { size = 160, caption, onclick, href, selected } = {}) {
  const img = el('img', { src: `/api/faces/${face.id}/thumb?size=${size}`, alt: `face ${face.id}`, loading: 'lazy',
    width: size, height: size });
  const [cx, cy, side] = face.crop;
  const [bx, by, bw, bh] = face.box;
  const s = size / side;
  const box = svg('svg', { class: 'overlay', viewBox: `0 0 ${size} ${size}`, width: size, height: size },
    svg('rect', { x: (bx - cx) * s, y: (by - cy) * s, width: bw * s, height: bh * s, class: `box ${face.status}` }));
  const frame = el('div', { class: 'frame' }, img, box);
  const link = href ? el('a', { href }, frame) : frame;
  const tile = el('figure', { class: `tile ${face.status}${selected ? ' selected' : ''}`, dataset: { id: face.id } },
    link, el('figcaption', {}, caption ?? `#${face.id} ${face.status}${face.reason ? ` (${face.reason})` : ''}`));
  if (onclick) tile.addEventListener('click', (e) => onclick(e, face, tile));
  return tile;
}

// ---- charts: plain SVG --------------------------------------------------------------------------------------

const PALETTE = ['#2b6cb0', '#c05621', '#2f855a', '#9b2c2c', '#6b46c1', '#b7791f', '#319795', '#97266d'];
export const colour = (i) => PALETTE[i % PALETTE.length];

/** Horizontal bars: [{label, value}], for counts by reason. */
export function barChart(rows, { width = 420 } = {}) {
  if (rows.length === 0) return el('p', { class: 'notice empty' }, 'nothing recorded yet');
  const max = Math.max(...rows.map((r) => r.value), 1);
  const rowH = 20;
  const labelW = 150;
  const chart = svg('svg', { class: 'chart bars', width, height: rows.length * rowH + 4, role: 'img' });
  rows.forEach((r, i) => {
    const w = ((width - labelW - 60) * r.value) / max;
    chart.append(
      svg('text', { x: labelW - 6, y: i * rowH + 14, 'text-anchor': 'end' }, r.label),
      svg('rect', { x: labelW, y: i * rowH + 3, width: Math.max(1, w), height: rowH - 6, fill: r.colour || colour(0) }),
      svg('text', { x: labelW + w + 4, y: i * rowH + 14 }, String(r.value)),
    );
  });
  return chart;
}

/** Stacked histogram from the API's {min, max, bins, accepted[], other[]}. */
export function histogram(h, { width = 420, height = 160, label = '' } = {}) {
  const total = h.accepted.reduce((a, b) => a + b, 0) + h.other.reduce((a, b) => a + b, 0);
  if (total === 0) return el('p', { class: 'notice empty' }, 'no faces yet');
  const pad = { l: 36, r: 8, t: 8, b: 28 };
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const max = Math.max(...h.accepted.map((a, i) => a + h.other[i]), 1);
  const bw = iw / h.bins;
  const chart = svg('svg', { class: 'chart hist', width, height, role: 'img', 'aria-label': label });
  for (let i = 0; i < h.bins; i++) {
    const a = (h.accepted[i] / max) * ih;
    const o = (h.other[i] / max) * ih;
    const x = pad.l + i * bw;
    chart.append(
      svg('rect', { x: x + 1, y: pad.t + ih - a, width: bw - 2, height: a, class: 'accepted' },
        svg('title', {}, `${h.accepted[i]} accepted`)),
      svg('rect', { x: x + 1, y: pad.t + ih - a - o, width: bw - 2, height: o, class: 'other' },
        svg('title', {}, `${h.other[i]} rejected or duplicate`)),
    );
  }
  axis(chart, pad, iw, ih, h.min, h.max, 0, max);
  chart.append(svg('text', { x: pad.l + iw / 2, y: height - 2, 'text-anchor': 'middle', class: 'axis-label' }, label));
  return chart;
}

function axis(chart, pad, iw, ih, x0, x1, y0, y1) {
  chart.append(
    svg('line', { x1: pad.l, y1: pad.t + ih, x2: pad.l + iw, y2: pad.t + ih, class: 'axis' }),
    svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: pad.t + ih, class: 'axis' }),
    svg('text', { x: pad.l, y: pad.t + ih + 14, 'text-anchor': 'start' }, short(x0)),
    svg('text', { x: pad.l + iw, y: pad.t + ih + 14, 'text-anchor': 'end' }, short(x1)),
    svg('text', { x: pad.l - 4, y: pad.t + ih, 'text-anchor': 'end' }, short(y0)),
    svg('text', { x: pad.l - 4, y: pad.t + 10, 'text-anchor': 'end' }, short(y1)),
  );
}

function short(v) {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** Lines over steps: series is {name: [value|null]}. */
export function lineChart(steps, series, { width = 460, height = 180, title = '' } = {}) {
  const names = Object.keys(series);
  const values = names.flatMap((n) => series[n].filter((v) => v !== null && Number.isFinite(v)));
  const box = el('div', { class: 'plot' }, el('h4', {}, title));
  if (steps.length === 0 || values.length === 0) return box.appendChild(el('p', { class: 'notice empty' }, 'no points')) && box;
  const pad = { l: 48, r: 8, t: 8, b: 22 };
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const x0 = steps[0];
  const x1 = steps[steps.length - 1] === x0 ? x0 + 1 : steps[steps.length - 1];
  let y0 = Math.min(...values);
  let y1 = Math.max(...values);
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const X = (s) => pad.l + ((s - x0) / (x1 - x0)) * iw;
  const Y = (v) => pad.t + ih - ((v - y0) / (y1 - y0)) * ih;
  const chart = svg('svg', { class: 'chart line', width, height, role: 'img', 'aria-label': title });
  names.forEach((n, i) => {
    let d = '';
    let pen = 'M';
    series[n].forEach((v, k) => {
      if (v === null || !Number.isFinite(v)) { pen = 'M'; return; }
      d += `${pen}${X(steps[k]).toFixed(1)},${Y(v).toFixed(1)} `;
      pen = 'L';
    });
    chart.append(svg('path', { d, fill: 'none', stroke: colour(i), 'stroke-width': 1.5 }, svg('title', {}, n)));
  });
  axis(chart, pad, iw, ih, x0, x1, y0, y1);
  box.append(chart, el('div', { class: 'legend' },
    names.map((n, i) => el('span', { class: `key k${i % 8}` }, n))));
  return box;
}

/** Query-string helpers for pages whose state lives in the URL. */
export function params() {
  return new URLSearchParams(location.search);
}
