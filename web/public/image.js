// Detail of one image: every face with its box and landmarks drawn over the picture, scores and pose, the decision
// and its reason, where it came from (link and licence), its near-duplicates and the history of decisions.
import { api, clear, el, faceTile, fmt, header, params, postJson, showError, showStatus, svg, who } from './common.js';

header('');
const main = document.getElementById('main');
const sha = params().get('sha') || '';
const focus = Number(params().get('face')) || null;

/** Only http(s) origins become links; anything else (a file path, a data: or javascript: URL) stays text. */
function originLink(uri) {
  try {
    const u = new URL(uri);
    if (u.protocol === 'http:' || u.protocol === 'https:') {
      return el('a', { href: u.href, rel: 'noopener noreferrer nofollow', target: '_blank', class: 'origin' }, uri);
    }
  } catch { /* not a URL: a file path */ }
  return el('code', { class: 'origin' }, uri);
}

function picture(d) {
  const img = el('img', { src: `/api/images/${d.sha256}/thumb?size=1024`, alt: 'source image', id: 'picture' });
  const wrap = el('div', { class: 'picture' }, img);
  img.addEventListener('load', () => {
    const W = img.naturalWidth;
    const H = img.naturalHeight;
    const s = W / (d.width || W);
    const layer = svg('svg', { class: 'overlay', viewBox: `0 0 ${W} ${H}`, id: 'faces-overlay' });
    for (const f of d.faces) {
      const g = svg('g', { class: `face ${f.status}${f.id === focus ? ' focus' : ''}`, dataset: { id: f.id } },
        svg('rect', { x: f.box[0] * s, y: f.box[1] * s, width: f.box[2] * s, height: f.box[3] * s, class: `box ${f.status}` }),
        svg('text', { x: f.box[0] * s + 3, y: f.box[1] * s - 4, class: 'face-label' }, `#${f.id}`),
        f.landmarks.map(([x, y]) => svg('circle', { cx: x * s, cy: y * s, r: Math.max(1, 1.2 * Math.sqrt(s)), class: 'landmark' })));
      layer.append(g);
    }
    wrap.append(layer);
  }, { once: true });
  return wrap;
}

function actions(f) {
  const act = (action, input) => async () => {
    try {
      const value = input ? input.value.trim() : undefined;
      await postJson('/api/curation', { action, faceIds: [f.id], value, who: who() });
      showStatus(`${action.replace(/_/g, ' ')} face ${f.id}`);
      await load();
    } catch (err) {
      showError(err);
    }
  };
  const tag = el('input', { placeholder: 'tag', size: 8, class: 'tag-input' });
  const set = el('input', { placeholder: 'set', size: 8, class: 'set-input' });
  return el('div', { class: 'actions' },
    el('button', { class: 'accept', onclick: act('accept') }, 'Accept'),
    el('button', { class: 'reject', onclick: act('reject') }, 'Reject'),
    tag, el('button', { onclick: act('tag', tag) }, 'Tag'),
    set, el('button', { onclick: act('add_to_set', set) }, 'Add to set'),
    el('a', { href: `search.html?face=${f.id}`, class: 'button' }, 'Similar faces'),
    el('button', { class: 'forget', onclick: () => forgetPreview(f) }, 'Forget this person…'));
}

/**
 * "Forget this person": first the dry run (every face that would go, with its similarity), then the curator
 * confirms; only then is the forget request sent. The image may be gone afterwards.
 */
async function forgetPreview(f) {
  try {
    const p = await api(`/api/privacy/forget/preview?face=${f.id}`);
    const c = p.counts;
    const panel = el('section', { class: 'card forget-panel', id: 'forget-panel' },
      el('h2', {}, `Forget the person of face #${f.id}?`),
      el('p', {}, `${c.faces} face${c.faces === 1 ? '' : 's'} at same-person similarity ≥ ${p.threshold} would be removed everywhere `,
        `(${c.images} image${c.images === 1 ? '' : 's'} whole, ${c.files} files), and kept out of later crawls.`),
      p.runs.length ? el('p', { class: 'notice warn' }, `Runs that trained on them (they cannot forget; retrain): ${p.runs.map((r) => r.run).join(', ')}`) : null,
      el('div', { class: 'grid', id: 'forget-list' }, p.faces.map((x) => el('figure', { class: 'tile', dataset: { id: x.faceId } },
        el('img', { src: `${x.thumb}?size=96`, alt: `face ${x.faceId}`, width: 96, height: 96 }),
        el('figcaption', {}, `#${x.faceId} ${x.similarity === null ? '' : x.similarity.toFixed(3)}`)))),
      el('div', { class: 'actions' },
        el('button', { class: 'reject', id: 'forget-confirm', onclick: () => forgetNow(f, c.faces) }, `Forget ${c.faces} face${c.faces === 1 ? '' : 's'}`),
        el('button', { id: 'forget-cancel', onclick: () => panel.remove() }, 'Cancel')));
    document.getElementById('forget-panel')?.remove();
    main.prepend(panel);
    panel.scrollIntoView();
  } catch (err) {
    showError(err);
  }
}

async function forgetNow(f) {
  try {
    const r = await postJson('/api/privacy/forget', { face: f.id, confirm: true, who: who() });
    showStatus(`forget request #${r.request.id}: ${r.counts.faces} faces, ${r.counts.images} images, ${r.counts.files} files removed`);
    clear(main, el('h1', {}, 'Forgotten'),
      el('p', { class: 'notice', id: 'forget-done' }, `Forget request #${r.request.id} removed ${r.counts.faces} faces and ${r.counts.images} images. `,
        el('a', { href: 'audit.html' }, 'See the audit log'), '.'));
  } catch (err) {
    showError(err);
  }
}

function faceCard(f) {
  const facts = [
    ['status', f.status + (f.reason ? ` (${f.reason})` : '')], ['score', fmt(f.score, 3)], ['area ratio', fmt(f.faceRatio, 3)],
    ['yaw / pitch / roll', `${fmt(f.yaw, 1)} / ${fmt(f.pitch, 1)} / ${fmt(f.roll, 1)}`], ['sharpness', fmt(f.sharpness, 1)],
    ['box', `${Math.round(f.box[0])}, ${Math.round(f.box[1])}, ${Math.round(f.box[2])}×${Math.round(f.box[3])}`],
    ['landmarks', String(f.landmarks.length)], ['tags', f.tags.join(', ') || '–'], ['sets', f.sets.join(', ') || '–'],
  ];
  if (f.dupOf) facts.push(['duplicate of', `#${f.dupOf}`]);
  return el('div', { class: `card face-card ${f.id === focus ? 'focus' : ''}`, id: `face-${f.id}` },
    faceTile(f, { size: 160 }),
    el('dl', {}, facts.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    actions(f));
}

async function load() {
  try {
    const d = await api(`/api/images/${encodeURIComponent(sha)}`);
    const meta = [['status', d.status + (d.reason ? ` (${d.reason})` : '')], ['size', `${d.width ?? '?'}×${d.height ?? '?'} ${d.format ?? ''}`],
      ['bytes', String(d.bytes ?? '–')], ['faces', String(d.nFaces)], ['largest face ratio', fmt(d.faceRatio, 3)],
      ['licence', d.licence ?? 'unknown'], ['caption', d.caption ?? '–'], ['sha256', d.sha256], ['analysed', d.analysedAt]];
    clear(main,
      el('h1', {}, 'Image'),
      el('div', { class: 'detail' }, picture(d),
        el('section', { class: 'card meta' }, el('h2', {}, 'Source'), el('p', {}, originLink(d.origin)),
          el('dl', { id: 'image-meta' }, meta.map(([k, v]) => [el('dt', {}, k), el('dd', { class: `m-${k.replace(/\W+/g, '-')}` }, v)])),
          d.sources.length > 1 ? el('details', {}, el('summary', {}, `met at ${d.sources.length} places`),
            el('ul', {}, d.sources.map((s) => el('li', {}, originLink(s.uri), ` (${s.status})`)))) : null)),
      el('h2', {}, `Faces (${d.faces.length})`),
      d.faces.length ? el('div', { class: 'faces', id: 'faces' }, d.faces.map(faceCard)) : el('p', { class: 'notice empty' }, 'no faces found in this image'),
      el('h2', {}, 'Near-duplicates'),
      d.nearDuplicates.length
        ? el('div', { class: 'grid', id: 'near-duplicates' }, d.nearDuplicates.map((n) => faceTile(n, { size: 96,
          href: `image.html?sha=${n.image}&face=${n.id}`, caption: `#${n.id} ~ #${n.of}` })))
        : el('p', { class: 'notice empty' }, 'none recorded'),
      el('h2', {}, 'Decisions'),
      d.decisions.length
        ? el('table', { class: 'data', id: 'decisions' }, el('thead', {}, el('tr', {}, ['when', 'who', 'face', 'action', 'value'].map((h) => el('th', {}, h)))),
          el('tbody', {}, d.decisions.map((x) => el('tr', {}, el('td', {}, x.at), el('td', {}, x.who), el('td', {}, `#${x.faceId}`),
            el('td', {}, x.action), el('td', {}, x.value ?? '')))))
        : el('p', { class: 'notice empty' }, 'no decisions by people yet'));
  } catch (err) {
    showError(err);
    if (err.status === 404 || err.status === 400) clear(main, el('p', { class: 'notice empty' }, err.message));
  }
}

await load();
