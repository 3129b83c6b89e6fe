// Similarity search: click a face for its k nearest neighbours, or drop an image to find its faces and theirs, in
// the descriptor space chosen (human's descriptors or a trained run's ProS embeddings). The server searches the
// ANN index; this page only draws.
import { api, clear, el, faceTile, fmt, header, params, showError, showStatus, svg } from './common.js';

header('search.html');
const main = document.getElementById('main');
const results = el('div', { id: 'results' });
let state = params();

function neighbours(list) {
  if (list.length === 0) return el('p', { class: 'notice empty' }, 'no neighbours found');
  return el('div', { class: 'grid', id: 'neighbours' }, list.map((n) => faceTile(n, {
    caption: `#${n.id} · sim ${fmt(n.similarity, 3)}`,
    onclick: (e) => { if (!e.target.closest('a')) { e.preventDefault(); byFace(n.id); } },
    href: `image.html?sha=${n.image}&face=${n.id}`,
  })));
}

async function byFace(id) {
  state.set('face', String(id));
  history.replaceState(null, '', `search.html?${state}`);
  try {
    showStatus('searching…');
    const r = await api(`/api/search?face=${id}&k=${state.get('k') || 12}&space=${encodeURIComponent(state.get('space') || 'human')}`);
    clear(results, el('h2', {}, `Nearest to face #${r.query.id} in ${r.space}`),
      el('div', { class: 'query' }, faceTile(r.query, { href: `image.html?sha=${r.query.image}&face=${r.query.id}` })),
      neighbours(r.neighbours));
    showStatus(`${r.neighbours.length} neighbours`);
  } catch (err) {
    showError(err);
    clear(results, el('p', { class: 'notice empty' }, err.message));
  }
}

async function byUpload(file) {
  const form = new FormData();
  form.append('k', state.get('k') || '12');
  form.append('space', state.get('space') || 'human');
  form.append('image', file);
  try {
    showStatus('analysing the image…');
    const r = await api('/api/search/upload', { method: 'POST', body: form });
    const url = URL.createObjectURL(file);
    const img = el('img', { src: url, alt: 'uploaded image', id: 'uploaded' });
    const wrap = el('div', { class: 'picture' }, img);
    const list = el('div', { id: 'upload-neighbours' });
    const show = (i) => {
      for (const g of wrap.querySelectorAll('g.face')) g.classList.toggle('focus', Number(g.dataset.i) === i);
      clear(list, el('h3', {}, `Neighbours of face ${i + 1}`), neighbours(r.faces[i].neighbours));
    };
    img.addEventListener('load', () => {
      const W = img.naturalWidth;
      const s = W / (r.width || W);
      wrap.append(svg('svg', { class: 'overlay', viewBox: `0 0 ${W} ${img.naturalHeight}` },
        r.faces.map((f, i) => {
          const g = svg('g', { class: 'face accepted', dataset: { i } },
            svg('rect', { x: f.box[0] * s, y: f.box[1] * s, width: f.box[2] * s, height: f.box[3] * s, class: 'box accepted' }),
            svg('text', { x: f.box[0] * s + 3, y: f.box[1] * s - 4, class: 'face-label' }, String(i + 1)));
          g.addEventListener('click', () => show(i));
          return g;
        })));
    }, { once: true });
    clear(results, el('h2', {}, `${r.faces.length} face(s) in the upload (${r.space})`), wrap,
      r.faces.length ? el('div', { class: 'face-buttons' }, r.faces.map((f, i) =>
        el('button', { class: 'upload-face', onclick: () => show(i) }, `face ${i + 1} · score ${fmt(f.score)}`))) : null,
      list);
    if (r.faces.length) show(0);
    else clear(list, el('p', { class: 'notice empty' }, 'no face found in this image'));
    showStatus(`${r.faces.length} face(s) found`);
  } catch (err) {
    showError(err);
    clear(results, el('p', { class: 'notice empty' }, err.message));
  }
}

try {
  const { spaces, unavailable } = await api('/api/search/spaces');
  const space = el('select', { id: 'space', name: 'space' }, spaces.map((s) => el('option', { value: s }, s === 'human' ? 'human descriptors' : `ProS: ${s}`)));
  space.value = state.get('space') || 'human';
  const k = el('input', { id: 'k', type: 'number', min: 1, max: 100, value: state.get('k') || 12 });
  const faceId = el('input', { id: 'face-id', type: 'number', min: 1, placeholder: 'face id', value: state.get('face') || '' });
  const change = () => {
    state.set('space', space.value);
    state.set('k', k.value);
    if (state.get('face')) void byFace(Number(state.get('face')));
  };
  space.addEventListener('change', change);
  k.addEventListener('change', change);
  const file = el('input', { type: 'file', id: 'file', accept: 'image/*' });
  file.addEventListener('change', () => file.files[0] && byUpload(file.files[0]));
  const drop = el('div', { id: 'drop', class: 'drop' }, 'Drop an image here, or ', el('label', { class: 'button' }, 'choose a file', file));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) void byUpload(f);
  });
  clear(main, el('h1', {}, 'Similarity search'),
    unavailable ? el('p', { class: 'notice empty', id: 'unavailable' }, `Search is not available yet: ${unavailable}`) : null,
    el('div', { class: 'filters' }, el('label', {}, 'space ', space), el('label', {}, 'k ', k),
      el('label', {}, 'face ', faceId), el('button', { id: 'go', onclick: () => faceId.value && byFace(Number(faceId.value)) }, 'Search')),
    drop, results);
  if (!unavailable && state.get('face')) await byFace(Number(state.get('face')));
} catch (err) {
  showError(err);
}
