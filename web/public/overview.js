// Overview: what the workspace holds — sets with counts, fetch outcomes by reason, faces accepted vs rejected by
// reason, and histograms of face-area ratio and detector score.
import { api, barChart, clear, el, header, histogram, showError } from './common.js';

header('index.html');
const main = document.getElementById('main');

function section(title, ...content) {
  return el('section', { class: 'card' }, el('h2', {}, title), ...content);
}

const statusColour = { ok: '#2f855a', accepted: '#2f855a', failed: '#9b2c2c', rejected: '#c05621', skipped: '#b7791f',
  duplicate: '#6b46c1', no_face: '#718096', pending: '#a0aec0' };
const rows = (counts) => counts.map((c) => ({ label: c.reason ? `${c.status}: ${c.reason}` : c.status, value: c.n,
  colour: statusColour[c.status.replace(/^page /, '')] }));

try {
  const o = await api('/api/overview');
  const t = o.totals;
  const totals = el('dl', { class: 'totals' },
    Object.entries(t).map(([k, v]) => [el('dt', {}, k), el('dd', { id: `total-${k}` }, String(v))]));
  const sets = o.sets.length === 0
    ? el('p', { class: 'notice empty' }, 'no sets yet — `pros curate --set NAME` or "add to set" in the grid makes one')
    : el('table', { class: 'data', id: 'sets' },
      el('thead', {}, el('tr', {}, ['set', 'kind', 'faces', 'accepted', 'created'].map((h) => el('th', {}, h)))),
      el('tbody', {}, o.sets.map((s) => el('tr', {},
        el('td', {}, el('a', { href: `grid.html?set=${encodeURIComponent(s.name)}` }, s.name)),
        el('td', {}, s.kind), el('td', { class: 'num' }, String(s.faces)), el('td', { class: 'num' }, String(s.accepted)),
        el('td', {}, s.createdAt)))));
  clear(main,
    section('Workspace', totals),
    section('Sets', sets),
    el('div', { class: 'cols' },
      section('Fetch outcomes', barChart(rows(o.items))),
      section('Images', barChart(rows(o.images))),
      section('Faces: accepted vs rejected, by reason', barChart(rows(o.faces)))),
    el('div', { class: 'cols' },
      section('Face-area ratio', histogram(o.faceRatio, { label: 'face box area / image area' })),
      section('Detector score', histogram(o.score, { label: 'detector score' }))),
    el('p', { class: 'legend' }, el('span', { class: 'key acc' }, 'accepted'), el('span', { class: 'key oth' }, 'rejected or duplicate')));
} catch (err) {
  showError(err);
}
