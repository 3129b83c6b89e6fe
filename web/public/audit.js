// The audit log: every forget request (when, who, what was asked, what was removed, which runs had trained on the
// faces), the opt-out registry later crawls honour, and the runs to retrain. No biometric data is shown or held here.
import { api, clear, el, header, showError } from './common.js';

header('audit.html');
const main = document.getElementById('main');

function asked(a) {
  const parts = [];
  if (a.examples.images) parts.push(`${a.examples.images} example photo${a.examples.images > 1 ? 's' : ''}`);
  if (a.examples.faces.length) parts.push(`example face${a.examples.faces.length > 1 ? 's' : ''} #${a.examples.faces.join(', #')}`);
  if (a.urls.length) parts.push(`URL${a.urls.length > 1 ? 's' : ''} ${a.urls.join(', ')}`);
  if (a.domains.length) parts.push(`domain${a.domains.length > 1 ? 's' : ''} ${a.domains.join(', ')}`);
  if (a.set) parts.push(`set ${a.set}`);
  return parts.join('; ') + (a.threshold !== null ? ` (same person ≥ ${a.threshold})` : '');
}

function requests(list) {
  if (list.length === 0) return el('p', { class: 'notice empty' }, 'no forget requests yet');
  const cols = ['#', 'when', 'who', 'asked', 'state', 'faces', 'images', 'files', 'runs that saw them'];
  return el('table', { class: 'data', id: 'forget-requests' },
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, c)))),
    el('tbody', {}, list.map((r) => el('tr', { dataset: { id: r.id } },
      el('td', { class: 'num' }, String(r.id)), el('td', {}, r.finishedAt ?? r.createdAt), el('td', {}, r.who), el('td', {}, asked(r.asked)),
      el('td', {}, r.step === 'done' ? 'done' : `interrupted at ${r.step} (rerun pros forget)`),
      el('td', { class: 'num' }, String(r.counts?.faces ?? '–')), el('td', { class: 'num' }, String(r.counts?.images ?? '–')),
      el('td', { class: 'num' }, String(r.counts?.files ?? '–')),
      el('td', { class: 'runs' }, r.runs.length ? r.runs.map((x) => el('a', { href: `runs.html?run=${encodeURIComponent(x.run)}` }, x.run)) : '–')))));
}

function optouts(list) {
  if (list.length === 0) return el('p', { class: 'notice empty' }, 'no opt-outs');
  return el('table', { class: 'data', id: 'optouts' },
    el('thead', {}, el('tr', {}, ['#', 'kind', 'value', 'from request', 'note', 'added'].map((c) => el('th', {}, c)))),
    el('tbody', {}, list.map((o) => el('tr', {}, el('td', { class: 'num' }, String(o.id)), el('td', {}, o.kind),
      el('td', {}, o.value ?? '(a face: matched by descriptor)'), el('td', {}, o.requestId ? `#${o.requestId}` : '–'),
      el('td', {}, o.note ?? ''), el('td', {}, o.addedAt)))));
}

try {
  const d = await api('/api/privacy/audit');
  const runs = [...new Set(d.affected.map((a) => a.run))];
  clear(main,
    el('h1', {}, 'Forget requests'),
    el('p', {}, 'Forget a person from a face on an image page ("Forget this person"), or with ', el('code', {}, 'pros forget'), '.'),
    requests(d.requests),
    el('h2', {}, 'Runs to retrain'),
    runs.length
      ? el('ul', { id: 'affected-runs' }, runs.map((r) => el('li', {}, el('a', { href: `runs.html?run=${encodeURIComponent(r)}` }, r))))
      : el('p', { class: 'notice empty' }, 'no run trained on a forgotten face'),
    el('h2', {}, 'Opt-outs honoured by every crawl'),
    optouts(d.optouts));
} catch (err) {
  showError(err);
}
