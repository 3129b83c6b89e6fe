// The image grid: every image the crawl analysed, those without a usable face included (no_face, crowds), with
// all its faces' boxes drawn over the thumbnail; filters and paging in SQL, state in the URL.
import { api, clear, el, fmt, header, showError, svg } from './common.js';

header('images.html');
const main = document.getElementById('main');
let state = new URLSearchParams(location.search);
const results = el('div', { id: 'results' });
const pager = el('div', { class: 'pager' });
const SIZE = 256;

function select(name, options, label) {
  const s = el('select', { name, id: `f-${name}` }, options.map(([v, t]) => el('option', { value: v }, t)));
  s.value = state.get(name) ?? options[0][0];
  return el('label', {}, label, s);
}

function go(next) {
  state = next;
  history.pushState(null, '', `images.html?${state}`);
  void load();
}

function tile(img) {
  const pic = el('img', { src: `/api/images/${img.sha256}/thumb?size=${SIZE}`, alt: `image ${img.sha256.slice(0, 8)}`, loading: 'lazy' });
  const frame = el('div', { class: 'frame' }, pic);
  pic.addEventListener('load', () => {
    const s = pic.naturalWidth / (img.width || pic.naturalWidth);
    frame.append(svg('svg', { class: 'overlay', viewBox: `0 0 ${pic.naturalWidth} ${pic.naturalHeight}`, width: pic.naturalWidth, height: pic.naturalHeight },
      img.faces.map((f) => svg('rect', { x: f.box[0] * s, y: f.box[1] * s, width: f.box[2] * s, height: f.box[3] * s, class: `box ${f.status}` }))));
  }, { once: true });
  return el('figure', { class: `tile image-tile ${img.status}`, dataset: { sha: img.sha256 } },
    el('a', { href: `image.html?sha=${img.sha256}` }, frame),
    el('figcaption', {}, `${img.status}${img.reason ? ` · ${img.reason}` : ''} · ${img.nFaces} face(s) · r ${fmt(img.faceRatio)}`));
}

async function load() {
  try {
    const page = await api(`/api/images?${state}`);
    clear(results, page.images.length
      ? el('div', { class: 'grid' }, page.images.map(tile))
      : el('p', { class: 'notice empty' }, page.total === 0 && !state.get('status') && !state.get('reason')
        ? 'no images in this workspace yet — run `pros curate <source>`' : 'no images match these filters'));
    const nav = (delta) => () => {
      const next = new URLSearchParams(state);
      next.set('offset', String(Math.max(0, page.offset + delta)));
      go(next);
    };
    clear(pager,
      el('button', { id: 'prev', disabled: page.offset === 0, onclick: nav(-page.limit) }, '← previous'),
      el('span', { id: 'range' }, page.total === 0 ? '0 images' : `${page.offset + 1}–${Math.min(page.offset + page.limit, page.total)} of ${page.total}`),
      el('button', { id: 'next', disabled: page.offset + page.limit >= page.total, onclick: nav(page.limit) }, 'next →'));
  } catch (err) {
    showError(err);
  }
}

try {
  const choices = await api('/api/filters');
  const form = el('form', { id: 'filters', class: 'filters' },
    select('status', [['', 'any'], ['accepted', 'accepted'], ['rejected', 'rejected'], ['no_face', 'no face'], ['failed', 'failed']], 'status'),
    select('reason', [['', 'any'], ...choices.imageReasons.map((r) => [r, r])], 'reason'),
    select('sort', [['newest', 'newest'], ['ratio', 'largest face ratio'], ['faces', 'number of faces']], 'sort'),
    select('order', [['desc', 'descending'], ['asc', 'ascending']], 'order'),
    el('button', { type: 'submit', id: 'apply' }, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== '') next.set(k, String(v));
    go(next);
  });
  clear(main, el('h1', {}, 'Images'), form, pager, results);
  window.addEventListener('popstate', () => { state = new URLSearchParams(location.search); void load(); });
  await load();
} catch (err) {
  showError(err);
}
