// The face grid: filters and sorting live in the URL and are applied by the server in SQL, one page at a time.
// Tiles link to their image's detail page; checkboxes build a selection for curation actions.
import { api, clear, el, faceTile, fmt, header, postJson, showError, showStatus, who } from './common.js';

header('grid.html');
const main = document.getElementById('main');
const FILTERS = ['set', 'status', 'reason', 'tag', 'minScore', 'maxScore', 'minRatio', 'maxRatio', 'maxYaw', 'maxPitch',
  'minSharpness', 'sort', 'order', 'limit'];
const selected = new Set();
let state = new URLSearchParams(location.search);

function select(name, options, label) {
  const s = el('select', { name, id: `f-${name}` }, options.map(([v, t]) => el('option', { value: v }, t)));
  s.value = state.get(name) ?? options[0][0];
  return el('label', {}, label, s);
}
function number(name, label, step = '0.01') {
  return el('label', {}, label, el('input', { type: 'number', name, id: `f-${name}`, step, min: 0, value: state.get(name) ?? '' }));
}

async function buildForm() {
  const choices = await api('/api/filters');
  const opt = (list) => [['', 'any'], ...list.map((v) => [v, v])];
  const form = el('form', { id: 'filters', class: 'filters' },
    select('set', opt(choices.sets), 'set'),
    select('status', [['', 'any'], ['accepted', 'accepted'], ['rejected', 'rejected'], ['duplicate', 'duplicate']], 'status'),
    select('reason', opt(choices.reasons), 'reason'),
    select('tag', opt(choices.tags), 'tag'),
    number('minScore', 'score ≥'), number('maxScore', 'score ≤'),
    number('minRatio', 'area ratio ≥'), number('maxRatio', 'area ratio ≤'),
    number('maxYaw', '|yaw| ≤', '1'), number('maxPitch', '|pitch| ≤', '1'), number('minSharpness', 'sharpness ≥', '1'),
    select('sort', [['id', 'newest'], ['score', 'score'], ['ratio', 'area ratio'], ['sharpness', 'sharpness'], ['yaw', '|yaw|']], 'sort'),
    select('order', [['desc', 'descending'], ['asc', 'ascending']], 'order'),
    select('limit', [['60', '60'], ['120', '120'], ['240', '240']], 'per page'),
    el('button', { type: 'submit', id: 'apply' }, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== '' && FILTERS.includes(k)) next.set(k, String(v));
    go(next);
  });
  return form;
}

function go(next) {
  state = next;
  history.pushState(null, '', `grid.html?${state}`);
  void load();
}

const results = el('div', { id: 'results' });
const pager = el('div', { class: 'pager' });
const count = el('span', { id: 'selection-count' }, '0 selected');

function toolbar() {
  const tagInput = el('input', { id: 'tag-name', placeholder: 'tag', size: 10 });
  const setInput = el('input', { id: 'set-name', placeholder: 'set name', size: 12 });
  const act = (action, value) => async () => {
    if (selected.size === 0) return showError(new Error('select faces first (tick their boxes)'));
    try {
      const r = await postJson('/api/curation', { action, faceIds: [...selected], value, who: who() });
      showStatus(`${action.replace(/_/g, ' ')}: ${r.applied} face(s)`);
      selected.clear();
      await load();
    } catch (err) {
      showError(err);
    }
  };
  return el('div', { class: 'toolbar' }, count,
    el('button', { id: 'select-page', onclick: () => { for (const t of results.querySelectorAll('figure')) selected.add(Number(t.dataset.id)); render(); } }, 'select page'),
    el('button', { id: 'select-none', onclick: () => { selected.clear(); render(); } }, 'clear'),
    el('button', { id: 'do-accept', class: 'accept', onclick: act('accept') }, 'Accept'),
    el('button', { id: 'do-reject', class: 'reject', onclick: act('reject') }, 'Reject'),
    tagInput, el('button', { id: 'do-tag', onclick: () => act('tag', tagInput.value.trim())() }, 'Tag'),
    setInput, el('button', { id: 'do-set', onclick: () => act('add_to_set', setInput.value.trim())() }, 'Add to set'));
}

let page = null;
function render() {
  count.textContent = `${selected.size} selected`;
  if (!page) return;
  if (page.faces.length === 0) {
    clear(results, el('p', { class: 'notice empty' }, page.total === 0 && state.toString() === ''
      ? 'no faces in this workspace yet — run `pros curate <source>`' : 'no faces match these filters'));
  } else {
    clear(results, el('div', { class: 'grid' }, page.faces.map((f) => {
      const box = el('input', { type: 'checkbox', class: 'pick', 'aria-label': `select face ${f.id}` });
      box.checked = selected.has(f.id);
      box.addEventListener('change', () => { box.checked ? selected.add(f.id) : selected.delete(f.id); count.textContent = `${selected.size} selected`; });
      const tile = faceTile(f, { href: `image.html?sha=${f.image}&face=${f.id}`, selected: selected.has(f.id),
        caption: `#${f.id} ${f.status}${f.reason ? ` · ${f.reason}` : ''} · s ${fmt(f.score)} · r ${fmt(f.faceRatio)}` });
      tile.querySelector('figcaption').prepend(box);
      tile.append(el('a', { class: 'similar', href: `search.html?face=${f.id}` }, 'similar'));
      return tile;
    })));
  }
  const offset = page.offset;
  const limit = page.limit;
  const nav = (delta) => () => {
    const next = new URLSearchParams(state);
    next.set('offset', String(Math.max(0, offset + delta)));
    go(next);
  };
  clear(pager,
    el('button', { id: 'prev', disabled: offset === 0, onclick: nav(-limit) }, '← previous'),
    el('span', { id: 'range' }, page.total === 0 ? '0 faces' : `${offset + 1}–${Math.min(offset + limit, page.total)} of ${page.total}`),
    el('button', { id: 'next', disabled: offset + limit >= page.total, onclick: nav(limit) }, 'next →'));
}

async function load() {
  try {
    page = await api(`/api/faces?${state}`);
    render();
  } catch (err) {
    showError(err);
  }
}

try {
  clear(main, el('h1', {}, 'Faces'), await buildForm(), toolbar(), pager, results);
  window.addEventListener('popstate', () => { state = new URLSearchParams(location.search); void load(); });
  await load();
} catch (err) {
  showError(err);
}
