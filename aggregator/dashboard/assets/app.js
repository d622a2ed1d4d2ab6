/* actiongap dashboard: plain ES2017, no dependencies.
 * Every stored string (campaign, advocate ref, subject, page, referrer) is
 * untrusted: it only ever reaches the page through textContent, text nodes
 * or setAttribute of non-URL attributes. Internal links are built with
 * encodeURIComponent. No innerHTML, no inline styles (CSP). */
'use strict';
(function () {
const SVGNS = 'http://www.w3.org/2000/svg';
const POLL_MS = 15000;
const COL = { blue: '#0072B2', orange: '#E69F00', green: '#009E73', verm: '#D55E00', sky: '#56B4E9', purple: '#CC79A7' };
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HOUR = 3600000, DAY = 86400000;
const RANGES = {
  '48h': { label: 'Last 48 hours', unit: 'hour', ms: 48 * HOUR },
  '7d': { label: 'Last 7 days', unit: 'day', ms: 7 * DAY },
  '30d': { label: 'Last 30 days', unit: 'day', ms: 30 * DAY },
  '90d': { label: 'Last 90 days', unit: 'day', ms: 90 * DAY }
};
const BUILTIN = 'open view click scroll signup donate convert followup value dup anonymous first_ts last_ts'.split(' ');

const token = new URLSearchParams(location.search).get('t') || '';
const app = document.getElementById('app');
const updatedEl = document.getElementById('updated');
const statusEl = document.getElementById('refresh-status');
let lastOk = 0;
let loadErr = null;         /* the notice shown while nothing has loaded yet */
let clockSkew = 0;          /* server now_ms - Date.now() */

// small DOM helpers

function add(parent, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(parent, k);
    else parent.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
  }
  return parent;
}
function attrs(e, a) {
  if (!a) return e;
  for (const k of Object.keys(a)) {
    const v = a[k];
    if (v === undefined || v === null || v === false || k === 'style') continue;
    if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  return e;
}
function el(tag, a, ...kids) { return add(attrs(document.createElement(tag), a), kids); }
function sv(tag, a, ...kids) { return add(attrs(document.createElementNS(SVGNS, tag), a), kids); }
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
function fill(e, ...kids) { return add(clear(e), kids); }
function link(path) {
  return token ? path + (path.indexOf('?') < 0 ? '?' : '&') + 't=' + encodeURIComponent(token) : path;
}
/* Re-renders box with fn, keeping an open <details> open and keyboard focus on the same link. */
function keep(box, fn) {
  const a = document.activeElement, key = e => e.getAttribute('href') || e.tagName;
  const k = a && a !== document.body && box.contains(a) ? key(a) : null;
  const open = Array.from(box.querySelectorAll('details'), x => x.open);
  fn();
  box.querySelectorAll('details').forEach((x, i) => { if (open[i]) x.open = true; });
  const f = k && Array.from(box.querySelectorAll('a, summary, button')).find(e => key(e) === k);
  if (f) f.focus({ preventScroll: true });
}
function campPath(prefix, name) { return link(prefix + encodeURIComponent(name)); }

// formatting

function isNum(v) { return typeof v === 'number' && isFinite(v); }
function dv(v) { return isNum(v) ? String(v) : ''; }
function num(v) { return isNum(v) ? v : 0; }
function pick(a, b) { return a === undefined ? b : a; }
function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '–'; }
function fmtRate(v) { return isNum(v) ? (v * 100).toFixed(1) + ' %' : '–'; }
function fmtMoney(c) {
  return isNum(c) ? (c / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : '–';
}
function fmtDur(sec) {
  if (!isNum(sec)) return '–';
  if (sec < 60) return Math.max(0, Math.floor(sec)) + ' s';
  const m = Math.floor(sec / 60);
  if (m < 60) return m + ' min';
  const h = Math.floor(m / 60), mm = m % 60;
  if (h < 24) return h + ' h' + (mm ? ' ' + mm + ' min' : '');
  const d = Math.floor(h / 24), hh = h % 24;
  return d + ' d' + (hh && d < 7 ? ' ' + hh + ' h' : '');
}
/* bucket bounds: 86400 s reads "24 h", not "1 d" */
function fmtBound(sec) {
  if (sec < 60) return sec + ' s';
  if (sec < 3600) return Math.round(sec / 60) + ' min';
  if (sec <= 86400) return Math.round(sec / 3600) + ' h';
  return Math.round(sec / 86400) + ' d';
}
function now() { return Date.now() + clockSkew; }
function learnNow(doc) { if (doc && isNum(doc.now_ms)) clockSkew = doc.now_ms - Date.now(); }
function iso(ms) { return isNum(ms) ? new Date(ms).toISOString() : ''; }
function timeAgo(ms) {
  if (!isNum(ms) || ms <= 0) return el('span', { text: '–' });
  const s = (now() - ms) / 1000;
  return el('time', { datetime: iso(ms), title: iso(ms), text: s < 1 ? 'just now' : fmtDur(s) + ' ago' });
}
function pad2(n) { return (n < 10 ? '0' : '') + n; }
function fmtHour(ms) { return pad2(new Date(ms).getUTCHours()) + ':00'; }
function fmtDay(ms) { const d = new Date(ms); return MON[d.getUTCMonth()] + ' ' + d.getUTCDate(); }
function fmtBucket(ms, unit) {
  const d = new Date(ms);
  return unit === 'hour' ? fmtDay(ms) + ' ' + pad2(d.getUTCHours()) + ':00 UTC' : fmtDay(ms) + ' ' + d.getUTCFullYear();
}
function plural(n, one, many) { return fmtInt(n) + ' ' + (n === 1 ? one : many); }

// API and polling

class ApiError extends Error {
  constructor(status, msg) { super(msg || (status ? 'HTTP ' + status : 'network error')); this.status = status; }
}
async function api(path) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(path, { headers: headers, cache: 'no-store', credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'network error');
  }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new ApiError(res.status, body && typeof body.error === 'string' ? body.error : '');
  if (!body || typeof body !== 'object') throw new ApiError(0, 'bad response');
  learnNow(body);
  return body;
}
function settle(ps) {
  return Promise.all(ps.map(p => p.then(v => ({ ok: true, v: v }), e => ({ ok: false, e: e }))));
}
function isAuth(e) { return !!e && (e.status === 401 || e.status === 403); }

const poll = { timer: 0, stopped: false, fn: null };
function startPolling(fn) { poll.fn = fn; runPoll(); }
async function runPoll() {
  clearTimeout(poll.timer);
  if (poll.stopped) return;
  try { await poll.fn(); } catch (e) { handleError(e); }
  if (!poll.stopped) poll.timer = setTimeout(runPoll, POLL_MS);
}
function markOk() {
  lastOk = Date.now();
  updatedEl.setAttribute('data-updated-ms', String(lastOk));
  statusEl.textContent = '';
  if (loadErr) { loadErr.remove(); loadErr = null; }
  tick();
}
function markFail() { statusEl.textContent = 'could not refresh'; }
function tick() {
  if (!lastOk) return;
  updatedEl.textContent = 'updated ' + Math.max(0, Math.floor((Date.now() - lastOk) / 1000)) + ' s ago';
}
function handleError(e) {
  if (isAuth(e)) {
    poll.stopped = true;
    clearTimeout(poll.timer);
    renderAuth();
  } else {
    markFail();
    if (!lastOk) {
      if (loadErr) loadErr.remove();
      const l = app.querySelector('.loading');
      if (l) l.remove();
      loadErr = el('div', { class: 'notice', role: 'alert' }, el('h1', { text: 'Could not load the figures' }),
        el('p', { text: 'The dashboard will retry every 15 s. (' + (e && e.message ? e.message : 'error') + ')' }));
      app.insertBefore(loadErr, app.firstChild);
    }
  }
}
function renderAuth() {
  statusEl.textContent = 'refresh stopped';
  document.body.classList.remove('tv');
  updatedEl.textContent = lastOk ? updatedEl.textContent : 'not updated';
  fill(app, el('div', { class: 'notice', role: 'alert', 'data-state': 'auth' },
    el('h1', { text: 'Access denied' }),
    el('p', {}, 'This link needs a valid token: ask the campaign\'s owner for a share link, or run ',
      el('code', { text: 'actiongap share CAMPAIGN' }), ' / use the ', el('code', { text: 'dashboard_token' }), '.')));
}
function renderNotFound(name) {
  fill(app, el('div', { class: 'notice', role: 'alert', 'data-state': 'not-found' },
    el('h1', { text: 'No such campaign' }),
    el('p', {}, 'There is no campaign named “', el('strong', { text: name }), '” (yet). ',
      el('a', { href: link('/'), text: 'See all campaigns' }), '.')));
}

// charts

function boxWidth(box) { return Math.max(260, Math.floor(box.clientWidth || 600)); }
function svgRoot(w, h, label) {
  return sv('svg', { class: 'chart', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img', 'aria-label': label });
}
function text(x, y, s, a) { return sv('text', Object.assign({ x: x, y: y }, a || {}), s); }
function figure(caption, svg, before, after, capClass) {
  return el('figure', {}, el('figcaption', { class: capClass || null, text: caption }), before, svg, after);
}
function legend(items) {
  return el('ul', { class: 'legend' }, items.map(it =>
    el('li', {}, el('span', { class: 'sw sw-' + it[0], 'aria-hidden': 'true' }), it[1])));
}
function niceMax(v) {
  if (!(v > 0)) return 2;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * e >= v) return Math.max(2, m * e);
  return Math.max(2, 10 * e);
}

/* Horizontal bars: rows of {label, frac (0..1 or null), text, color}. */
function hbars(w, rows, label, opt) {
  opt = opt || {};
  const lw = opt.labelW || 64, vw = opt.valueW || 120, rh = 32, bh = 20;
  const bw = Math.max(40, w - lw - vw - 8);
  const svg = svgRoot(w, rows.length * rh + 4, label);
  rows.forEach((r, i) => {
    const y = i * rh + 4;
    svg.appendChild(text(0, y + bh / 2 + 4, r.label));
    svg.appendChild(sv('rect', { class: 'track', x: lw, y: y, width: bw, height: bh, rx: 3 }));
    const fw = isNum(r.frac) ? Math.max(r.frac > 0 ? 2 : 0, Math.min(1, r.frac) * bw) : 0;
    if (fw > 0) svg.appendChild(sv('rect', { class: 'bar', x: lw, y: y, width: fw, height: bh, rx: 3, fill: r.color },
      sv('title', {}, r.label + ': ' + r.text)));
    svg.appendChild(text(lw + bw + 8, y + bh / 2 + 4, r.text, { class: 'v' }));
  });
  return svg;
}

function gapChart(box, c) {
  const w = boxWidth(box), reach = num(c.reach), actors = num(c.actors);
  const gap = Math.max(0, reach - actors);
  const frac = reach > 0 ? Math.min(1, actors / reach) : 0;
  const sentence = reach > 0
    ? fmtInt(actors) + ' of ' + fmtInt(reach) + ' people acted (' + fmtRate(c.conversion_rate) + '); the gap is ' + fmtRate(c.action_gap)
    : 'Nobody reached yet, so there is no gap to measure.';
  const svg = svgRoot(w, 86, sentence);
  const aw = Math.round(frac * w);
  svg.appendChild(text(0, 14, 'Acted: ' + fmtInt(actors) + ' (' + fmtRate(c.conversion_rate) + ')', { class: 'big' }));
  svg.appendChild(text(w, 14, 'Gap: ' + fmtInt(gap) + ' (' + fmtRate(c.action_gap) + ')', { class: 'big', 'text-anchor': 'end' }));
  svg.appendChild(sv('rect', { class: 'track', x: 0, y: 24, width: w, height: 34, rx: 4 }));
  if (reach > 0) {
    svg.appendChild(sv('rect', { class: 'bar', x: aw, y: 24, width: w - aw, height: 34, fill: COL.orange, rx: 4 },
      sv('title', {}, 'Did not act: ' + fmtInt(gap))));
    if (aw > 0) svg.appendChild(sv('rect', { class: 'bar', x: 0, y: 24, width: Math.max(aw, 3), height: 34, fill: COL.blue, rx: 4 },
      sv('title', {}, 'Acted: ' + fmtInt(actors))));
  }
  svg.appendChild(text(0, 78, '0', { class: 'ax' }));
  svg.appendChild(text(w, 78, 'Reach: ' + fmtInt(reach) + ' people', { class: 'ax', 'text-anchor': 'end' }));
  return figure(sentence, svg, legend([['blue', 'Acted (actors)'], ['orange', 'Reached but did not act (the gap)']]),
    el('p', { class: 'note', text: 'Reach: people who opened, viewed, clicked or acted. Actors: people who signed up, donated, converted or did a custom action. Each person counts once.' }), 'lead');
}

function funnelChart(box, c) {
  const w = boxWidth(box), reach = num(c.reach);
  const rows = [['Reached', num(c.reach), COL.blue], ['Clicked', num(c.clickers), COL.sky], ['Acted', num(c.actors), COL.green]];
  const max = Math.max(1, reach, rows[1][1], rows[2][1]);
  const pct = v => reach > 0 ? fmtRate(v / reach) : '–';
  const label = rows.map(r => r[0] + ' ' + fmtInt(r[1]) + ' (' + pct(r[1]) + ' of reach)').join(', ');
  const rh = 58, svg = svgRoot(w, rows.length * rh, 'Funnel: ' + label);
  rows.forEach((r, i) => {
    const y = i * rh, bw = r[1] > 0 ? Math.max(4, (r[1] / max) * w) : 0;
    svg.appendChild(text(w / 2, y + 15, r[0] + ': ' + fmtInt(r[1]) + ' (' + pct(r[1]) + ' of reach)',
      { class: 'big', 'text-anchor': 'middle' }));
    svg.appendChild(sv('rect', { class: 'track', x: 0, y: y + 22, width: w, height: 26, rx: 3 }));
    if (bw > 0) svg.appendChild(sv('rect', { class: 'bar', x: (w - bw) / 2, y: y + 22, width: bw, height: 26, fill: r[2], rx: 3 },
      sv('title', {}, r[0] + ': ' + fmtInt(r[1]))));
  });
  return figure('People at each step, as a share of reach', svg);
}

function scrollChart(box, c) {
  const w = boxWidth(box), sc = c.scroll || {}, sr = c.scroll_rate || {};
  const rows = ['25', '50', '75', '100'].map(k => ({
    label: k + ' %', frac: sr[k], color: COL.blue,
    text: fmtInt(num(sc[k])) + ' · ' + fmtRate(sr[k])
  }));
  const label = 'Scroll depth of ' + fmtInt(num(c.viewers)) + ' viewers: ' + rows.map(r => r.label + ' ' + r.text).join(', ');
  return figure('Share of the ' + plural(num(c.viewers), 'viewer', 'viewers') + ' who scrolled at least this far down the page',
    hbars(w, rows, label, { labelW: 52, valueW: 112 }));
}

function followupChart(box, c) {
  const f = c.followup || {}, w = boxWidth(box);
  const b = Array.isArray(f.buckets) ? f.buckets : [];
  const sla = isNum(c.sla_s) ? c.sla_s : null;
  let prevCum = 0, prevLe = 0;
  const bins = b.map((x, i) => {
    const cum = num(x.count), count = Math.max(0, cum - prevCum);
    let lab;
    if (!isNum(x.le_s)) lab = '> ' + fmtBound(prevLe);
    else if (i === 0) lab = '≤ ' + fmtBound(x.le_s);
    else {
      const a = fmtBound(prevLe), z = fmtBound(x.le_s), ua = a.split(' ')[1], uz = z.split(' ')[1];
      lab = ua === uz ? a.split(' ')[0] + '–' + z : a + '–' + z;
    }
    const late = sla !== null && i > 0 && prevLe >= sla;   /* the whole bin came after the SLA */
    prevCum = Math.max(prevCum, cum);
    if (isNum(x.le_s)) prevLe = x.le_s;
    return { label: lab, count: count, late: late };
  });
  const total = bins.reduce((s, x) => s + x.count, 0), max = Math.max(1, ...bins.map(x => x.count));
  const rows = bins.map(x => ({
    label: x.label, frac: x.count / max, color: x.late ? COL.verm : COL.green,
    text: fmtInt(x.count) + (total ? ' · ' + fmtRate(x.count / total) : '')
  }));
  const label = 'Follow-up latency of ' + plural(total, 'follow-up', 'follow-ups') + ': ' +
    rows.map(r => r.label + ' ' + r.text).join(', ');
  const lg = sla !== null ? legend([['green', 'Within the SLA (' + fmtDur(sla) + ')'], ['verm', 'Later than the SLA']]) : null;
  if (!rows.length) return el('p', { class: 'muted', text: 'No follow-up latency recorded yet.' });
  return figure('How long fresh signups waited for their follow-up', hbars(w, rows, label, { labelW: 92, valueW: 104 }), lg);
}

function timeTicks(points, unit, x0, band, w) {
  const n = points.length, maxTicks = Math.max(2, Math.floor((w - x0) / 56));
  const steps = unit === 'hour' ? [1, 2, 3, 4, 6, 12, 24, 48] : [1, 2, 3, 7, 14, 30];
  let step = steps[steps.length - 1];
  for (const s of steps) if (Math.ceil(n / s) <= maxTicks) { step = s; break; }
  const out = [];
  points.forEach((p, i) => {
    const k = Math.round(p.t_ms / (unit === 'hour' ? HOUR : DAY));
    if (k % step !== 0) return;
    const midnight = unit === 'hour' && new Date(p.t_ms).getUTCHours() === 0 && step < 48;
    const lab = unit === 'hour' && !midnight ? fmtHour(p.t_ms) : fmtDay(p.t_ms);
    const x = x0 + (i + 0.5) * band;
    if (x - 22 < 0 || x + 22 > w) return;
    out.push({ x: x, label: lab });
  });
  return out;
}

/* Column chart: series = [{key, color, name}], stacked or grouped. */
function columns(w, h, points, unit, series, stacked, label) {
  const x0 = 40, top = 12, bottom = 24, pw = w - x0 - 4, ph = h - top - bottom;
  const n = Math.max(1, points.length), band = pw / n;
  const tot = p => stacked ? series.reduce((s, se) => s + p.v[se.key], 0) : Math.max(...series.map(se => p.v[se.key]));
  const ymax = niceMax(Math.max(0, ...points.map(tot)));
  const y = v => top + ph - (v / ymax) * ph;
  const svg = svgRoot(w, h, label);
  [0, ymax / 2, ymax].forEach(g => {
    svg.appendChild(sv('line', { class: g ? 'grid' : 'axis', x1: x0, x2: w, y1: y(g), y2: y(g) }));
    svg.appendChild(text(x0 - 6, y(g) + 4, fmtInt(g), { class: 'ax', 'text-anchor': 'end' }));
  });
  const gapw = band > 6 ? band * 0.2 : band * 0.1;
  points.forEach((p, i) => {
    const bx = x0 + i * band + gapw / 2, bw = band - gapw;
    const when = fmtBucket(p.t_ms, unit);
    let acc = 0;
    series.forEach((se, j) => {
      const v = p.v[se.key];
      if (!(v > 0)) return;
      let rx, rw, ry, rhh;
      if (stacked) { rx = bx; rw = bw; ry = y(acc + v); rhh = y(acc) - y(acc + v); acc += v; }
      else { rw = bw / series.length; rx = bx + j * rw; ry = y(v); rhh = y(0) - y(v); }
      svg.appendChild(sv('rect', { class: 'bar', x: rx.toFixed(2), y: ry.toFixed(2), width: Math.max(1, rw).toFixed(2),
        height: Math.max(1, rhh).toFixed(2), fill: se.color }, sv('title', {}, when + ': ' + se.name + ' ' + fmtInt(v))));
    });
  });
  timeTicks(points, unit, x0, band, w).forEach(t => {
    svg.appendChild(sv('line', { class: 'axis', x1: t.x, x2: t.x, y1: top + ph, y2: top + ph + 4 }));
    svg.appendChild(text(t.x, h - 6, t.label, { class: 'ax', 'text-anchor': 'middle' }));
  });
  return svg;
}

function seriesPoints(doc) {
  return (Array.isArray(doc.points) ? doc.points : []).filter(p => p && isNum(p.t_ms)).map(p => {
    const c = p.counts || {};
    let custom = 0;
    for (const k of Object.keys(c)) {
      if (k.indexOf('machine_') !== 0 && BUILTIN.indexOf(k) < 0 && isNum(c[k])) custom += c[k];
    }
    return { t_ms: p.t_ms, v: {
      activity: num(c.open) + num(c.view) + num(c.click),
      actions: num(c.signup) + num(c.donate) + num(c.convert) + custom,
      human: num(c.open), machine: num(c.machine_open)
    } };
  });
}

function seriesCharts(box, doc, rangeKey) {
  const w = boxWidth(box), r = RANGES[rangeKey], unit = doc.unit === 'day' ? 'day' : 'hour';
  const pts = seriesPoints(doc);
  const sum = k => pts.reduce((s, p) => s + p.v[k], 0);
  const peak = k => pts.reduce((b, p) => (p.v[k] > (b ? b.v[k] : 0) ? p : b), null);
  const per = unit === 'hour' ? 'hour' : 'day';
  const peakText = k => { const p = peak(k); return p ? ', peak ' + fmtInt(p.v[k]) + ' (' + fmtBucket(p.t_ms, unit) + ')' : ''; };
  if (!pts.length) return el('p', { class: 'muted', text: 'No data in this range.' });
  const a = sum('activity'), b = sum('actions'), hu = sum('human'), ma = sum('machine');
  const l1 = r.label + ', per ' + per + ': reach activity ' + fmtInt(a) + peakText('activity') + '; actions ' + fmtInt(b) + peakText('actions');
  const c1 = columns(w, 220, pts, unit, [
    { key: 'activity', color: COL.blue, name: 'reach activity' },
    { key: 'actions', color: COL.verm, name: 'actions' }], false, l1);
  const l2 = r.label + ', per ' + per + ': human opens ' + fmtInt(hu) + ', machine opens ' + fmtInt(ma);
  const c2 = columns(w, 150, pts, unit, [
    { key: 'human', color: COL.blue, name: 'human opens' },
    { key: 'machine', color: COL.orange, name: 'machine opens' }], true, l2);
  const rows = pts.filter(p => p.v.activity || p.v.actions || p.v.human || p.v.machine);
  const numbers = el('details', {}, el('summary', { text: 'Show the numbers (' + plural(rows.length, 'non-empty ' + per, 'non-empty ' + per + 's') + ')' }),
    el('div', { class: 'table-wrap' }, el('table', {},
      el('caption', { text: r.label + ', per ' + per + ' (UTC), empty buckets left out' }),
      el('thead', {}, el('tr', {}, ['Time', 'Reach activity', 'Actions', 'Human opens', 'Machine opens'].map((t, i) =>
        el('th', { scope: 'col', class: i ? 'num' : null, text: t })))),
      el('tbody', {}, rows.map(p => el('tr', { 'data-t-ms': p.t_ms },
        el('th', { scope: 'row', text: fmtBucket(p.t_ms, unit) }),
        ['activity', 'actions', 'human', 'machine'].map(k => el('td', { class: 'num', 'data-col': k, 'data-value': p.v[k], text: fmtInt(p.v[k]) }))))))));
  return el('div', { 'data-range': rangeKey },
    el('div', { class: 'chart-pair' },
      figure('Reach activity (human opens + views + clicks) and actions (signups, donations, conversions, custom), per ' + per + ', UTC', c1,
        legend([['blue', 'Reach activity: ' + fmtInt(a)], ['verm', 'Actions: ' + fmtInt(b)]])),
      figure('Human vs machine opens, per ' + per + ' (machine opens: mail privacy proxies and scanners)', c2,
        legend([['blue', 'Human opens: ' + fmtInt(hu)], ['orange', 'Machine opens: ' + fmtInt(ma)]]))),
    numbers);
}

// tables

function table(caption, heads, rows, emptyText) {
  if (!rows.length) return el('p', { class: 'muted', text: emptyText });
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, heads.map(hd => el('th', { scope: 'col', class: hd[1] ? 'num' : null, text: hd[0] })))),
    el('tbody', {}, rows)));
}
function numCell(col, v, txt, label) {
  return el('td', { class: 'num', 'data-col': col, 'data-value': dv(v), 'data-label': label, text: txt === undefined ? fmtInt(v) : txt });
}

// Campaigns page

function pageCampaigns() {
  document.title = 'Campaigns – actiongap';
  document.getElementById('nav-campaigns').setAttribute('aria-current', 'page');
  const COLS = [
    { key: 'campaign', label: 'Campaign' }, { key: 'last_activity_ms', label: 'Last activity' },
    { key: 'reach', label: 'Reach', num: 1 }, { key: 'actors', label: 'Actors', num: 1 },
    { key: 'conversion_rate', label: 'Conversion rate', num: 1 }, { key: 'action_gap', label: 'Action gap', num: 1 },
    { key: 'pending', label: 'Follow-ups', num: 1 }];
  const st = { rows: null, key: 'last_activity_ms', dir: -1, q: '' };
  const search = el('input', { type: 'search', id: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'campaign name' });
  const count = el('p', { class: 'count', 'aria-live': 'polite' });
  const toolbar = el('div', { class: 'toolbar', hidden: true },
    el('div', { class: 'field' }, el('label', { for: 'search', text: 'Search' }), search), count);
  const caption = el('caption');
  const tbody = el('tbody');
  const ths = COLS.map(c => {
    const btn = el('button', { type: 'button', class: 'sort', 'data-sort': c.key },
      el('span', { text: c.label }), el('span', { class: 'arrow', 'aria-hidden': 'true' }));
    btn.addEventListener('click', () => {
      if (st.key === c.key) st.dir = -st.dir;
      else { st.key = c.key; st.dir = c.key === 'campaign' ? 1 : -1; }
      renderRows();
    });
    return el('th', { scope: 'col', class: c.num ? 'num' : null, 'data-col': c.key }, btn);
  });
  const wrap = el('div', { class: 'table-wrap', hidden: true },
    el('table', { id: 'campaigns' }, caption, el('thead', {}, el('tr', {}, ths)), tbody));
  const empty = el('div', { class: 'empty', hidden: true },
    el('p', {}, 'No campaigns yet: send a hit, e.g. ',
      el('code', { text: 'curl \'http://COLLECTOR/p.gif?c=spring&e=open&s=alice\'' })));
  fill(app, el('h1', { text: 'Campaigns' }),
    el('p', { class: 'sub', text: 'Reach: people who opened, viewed, clicked or acted. Actors: people who signed up, donated, converted or did a custom action. The action gap is the share of reach that has not acted yet.' }),
    toolbar, wrap, empty);
  search.addEventListener('input', () => { st.q = search.value.trim().toLowerCase(); renderRows(); });

  function cmp(a, b) {
    const k = st.key;
    let r;
    if (k === 'campaign') r = String(a.campaign).localeCompare(String(b.campaign));
    else {
      const va = a[k], vb = b[k];
      if (!isNum(va) || !isNum(vb)) {
        if (isNum(va) !== isNum(vb)) return isNum(va) ? -1 : 1;   /* nulls last */
        r = 0;
      } else r = va - vb;
      if (!r && k === 'pending') r = num(a.overdue) - num(b.overdue);
    }
    return st.dir * r || String(a.campaign).localeCompare(String(b.campaign));
  }
  function renderRows() {
    if (!st.rows) return;
    const all = st.rows;
    toolbar.hidden = wrap.hidden = !all.length;
    empty.hidden = !!all.length;
    const col = COLS.find(c => c.key === st.key);
    ths.forEach((th, i) => {
      const on = COLS[i].key === st.key;
      if (on) th.setAttribute('aria-sort', st.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      th.querySelector('.arrow').textContent = on ? (st.dir > 0 ? '▲' : '▼') : '↕';
    });
    const dirText = st.key === 'campaign' ? (st.dir > 0 ? 'A to Z' : 'Z to A')
      : st.key === 'last_activity_ms' ? (st.dir > 0 ? 'oldest first' : 'newest first')
        : (st.dir > 0 ? 'lowest first' : 'highest first');
    caption.textContent = 'Campaigns, sorted by ' + col.label.toLowerCase() + ', ' + dirText + '. Select a column heading to sort.';
    const shown = all.filter(c => !st.q || String(c.campaign).toLowerCase().indexOf(st.q) >= 0).sort(cmp);
    count.textContent = st.q ? 'Showing ' + shown.length + ' of ' + plural(all.length, 'campaign', 'campaigns') : plural(all.length, 'campaign', 'campaigns');
    keep(tbody, () => fill(tbody, shown.length ? shown.map(c => {
      const name = String(c.campaign);
      const od = num(c.overdue);
      return el('tr', { 'data-campaign': name },
        el('th', { scope: 'row' }, el('a', { href: campPath('/c/', name), text: name })),
        el('td', { 'data-col': 'last_activity_ms', 'data-value': dv(c.last_activity_ms), 'data-label': 'Last activity', title: iso(c.last_activity_ms) || null }, timeAgo(c.last_activity_ms)),
        numCell('reach', c.reach, undefined, 'Reach'), numCell('actors', c.actors, undefined, 'Actors'),
        numCell('conversion_rate', c.conversion_rate, fmtRate(c.conversion_rate), 'Conversion'),
        numCell('action_gap', c.action_gap, fmtRate(c.action_gap), 'Action gap'),
        el('td', { class: 'num', 'data-col': 'pending', 'data-value': dv(c.pending), 'data-label': 'Follow-ups' },
          el('span', { text: fmtInt(c.pending) + ' pending' }),
          el('span', od > 0 ? { class: 'badge badge-overdue', 'data-col': 'overdue', 'data-value': dv(c.overdue), text: fmtInt(od) + ' overdue' }
            : { 'data-col': 'overdue', 'data-value': dv(c.overdue) })));
    }) : el('tr', {}, el('td', { colspan: COLS.length, class: 'muted', text: 'No campaign matches “' + search.value + '”.' }))));
  }
  startPolling(async () => {
    const doc = await api('/api/v1/campaigns');
    st.rows = Array.isArray(doc.campaigns) ? doc.campaigns.filter(c => c && c.campaign !== undefined) : [];
    app.setAttribute('data-loaded', '1');
    renderRows();
    markOk();
  });
}

// Campaign page

function panel(id, title, ...kids) {
  return el('section', { class: 'panel', id: 'sec-' + id, 'aria-labelledby': 'h-' + id },
    el('h2', { id: 'h-' + id, text: title }), kids);
}

function pageCampaign(name) {
  document.title = name + ' – actiongap';
  const base = '/api/v1/campaigns/' + encodeURIComponent(name);
  const st = { range: '48h', c: null, series: null, seriesRange: null, pending: null, board: null, seq: 0, built: false };
  const B = {};
  ['cards', 'gap', 'funnel', 'series', 'scroll', 'pages', 'refs', 'adv', 'fu', 'wait', 'aud'].forEach(k => { B[k] = el('div', { class: 'chart-box' }); });
  const note = el('p', { class: 'note', hidden: true, text: 'rate kept within 0–100 % (estimates)' });
  const select = el('select', { id: 'range' }, Object.keys(RANGES).map(k => el('option', { value: k, text: RANGES[k].label })));
  select.value = st.range;

  function build() {
    st.built = true;
    fill(app,
      el('h1', { 'data-campaign': name, text: name }),
      el('p', { class: 'sub', text: 'All-time figures of this campaign; people are counted once each.' }),
      el('section', { 'aria-labelledby': 'h-figs', id: 'sec-figures' }, el('h2', { id: 'h-figs', class: 'vh', text: 'Headline figures' }), B.cards, note),
      el('div', { class: 'grid2' }, panel('gap', 'The action gap', B.gap), panel('funnel', 'Funnel', B.funnel)),
      el('section', { class: 'panel', id: 'sec-series', 'aria-labelledby': 'h-series' },
        el('div', { class: 'panel-head' }, el('h2', { id: 'h-series', text: 'Over time' }),
          el('div', { class: 'field' }, el('label', { for: 'range', text: 'Range' }), select)), B.series),
      el('div', { class: 'grid3' }, panel('scroll', 'Scroll depth', B.scroll), panel('pages', 'Top pages', B.pages),
        panel('referrers', 'Top referrers', B.refs)),
      panel('advocates', 'Advocates', B.adv,
        el('p', { class: 'note' }, el('a', { href: campPath('/l/', name), id: 'leaderboard-link', text: 'Open the leaderboard screen' }))),
      panel('followup', 'Follow-up', B.fu),
      panel('waiting', 'Waiting for follow-up', opForm, B.wait),
      panel('audiences', 'Audiences', B.aud));
    app.setAttribute('data-loaded', '1');
  }

  function card(label, key, v, txt, sub, cls) {
    return el('li', { class: 'card' + (cls ? ' ' + cls : '') },
      el('span', { class: 'card-label', text: label }),
      el('span', { class: 'card-value', 'data-figure': key, 'data-value': dv(v), text: txt === undefined ? fmtInt(v) : txt }),
      el('span', { class: 'card-sub' }, sub || ''));
  }
  function renderCards(c) {
    const don = c.donations || {}, od = num(c.overdue);
    fill(B.cards, el('ul', { class: 'cards' },
      card('Reach', 'reach', c.reach, undefined, 'people reached', 'key k-blue'),
      card('Actors', 'actors', c.actors, undefined, 'people who acted', 'key k-green'),
      card('Conversion rate', 'conversion_rate', c.conversion_rate, fmtRate(c.conversion_rate), 'actors ÷ reach', 'key k-sky'),
      card('Action gap', 'action_gap', c.action_gap, fmtRate(c.action_gap), 'reach that has not acted', 'key k-orange'),
      card('Click rate', 'click_rate', c.click_rate, fmtRate(c.click_rate), plural(num(c.clickers), 'person clicked', 'people clicked')),
      card('Opens', 'opens', c.opens, undefined, [el('span', { 'data-figure': 'machine_opens', 'data-value': dv(c.machine_opens), text: fmtInt(c.machine_opens) }), ' machine']),
      card('Signups', 'signups', c.signups),
      card('Donations', 'donations', don.count, undefined, [el('span', { 'data-figure': 'value_cents', 'data-value': dv(don.value_cents), text: fmtMoney(don.value_cents) }), ' given']),
      card('Pending follow-ups', 'pending', c.pending, undefined,
        el('span', { class: od > 0 ? 'hot' : null }, el('span', { 'data-figure': 'overdue', 'data-value': dv(c.overdue), text: fmtInt(c.overdue) }), ' overdue'))));
    note.hidden = !(Array.isArray(c.clamped) && c.clamped.length);
    if (!note.hidden) note.setAttribute('title', 'clamped: ' + c.clamped.join(', '));
  }

  function renderTops(c) {
    const pages = Array.isArray(c.top_pages) ? c.top_pages : [], refs = Array.isArray(c.top_referrers) ? c.top_referrers : [];
    fill(B.pages, table('Pages by views', [['Page'], ['Views', 1]],
      pages.map(p => el('tr', { 'data-path': String(p.path) }, el('td', { class: 'path', text: String(p.path) }), numCell('views', p.views))),
      'No page views yet.'));
    fill(B.refs, table('Referring sites by views', [['Referrer'], ['Views', 1]],
      refs.map(p => el('tr', { 'data-host': String(p.host) }, el('td', { class: 'host', text: String(p.host) }), numCell('views', p.views))),
      'No referrers yet.'));
  }

  function renderAdvocates(list) {
    fill(B.adv, table('Advocates ranked by actions attributed to their shares', [['#', 1], ['Advocate'], ['Actions', 1], ['Reach', 1], ['Conversion', 1], ['Link clicks', 1]],
      list.map((a, i) => {
        const conv = pick(a.conversion, a.conversion_rate);   /* the server's leaderboard says conversion_rate */
        return el('tr', { 'data-ref': String(a.ref) },
          el('td', { class: 'num rank', text: String(isNum(a.rank) ? a.rank : i + 1) }),
          el('th', { scope: 'row', text: String(a.ref) }),
          numCell('actions', a.actions), numCell('reach', a.reach),
          numCell('conversion', conv, fmtRate(conv)), numCell('clicks', a.clicks));
      }),
      'No advocate has brought anyone yet: share links with ref=NAME to credit colleagues and volunteers.'));
  }

  function renderFollowup(c) {
    const f = c.followup || {};
    const sla = isNum(c.sla_s) ? fmtDur(c.sla_s) : '–';
    const est = f.estimated ? ' (estimated from the buckets)' : '';
    const s = num(f.count) > 0
      ? 'Half of the follow-ups came within ' + fmtDur(f.p50_s) + ', 90 % within ' + fmtDur(f.p90_s) + est + '.'
      : 'No follow-up recorded yet.';
    const dd = (k, v, t) => el('dd', { 'data-figure': k, 'data-value': dv(v), text: t });
    const fig = el('div', { class: 'chart-box' });
    fill(B.fu, el('div', { class: 'fu-grid' }, fig, el('div', {},
      el('p', { class: 'sla-line' }, el('strong', { 'data-figure': 'within_sla', 'data-value': dv(f.within_sla), text: fmtRate(f.within_sla) }),
        ' within the SLA (' + sla + ')' + (isNum(f.within_sla) ? '' : ': no estimate yet')),
      el('p', { class: 'sentence', text: s }),
      el('dl', { class: 'stats' },
        el('div', {}, el('dt', { text: 'Median (p50)' }), dd('p50_s', f.p50_s, fmtDur(f.p50_s))),
        el('div', {}, el('dt', { text: '90th percentile' }), dd('p90_s', f.p90_s, fmtDur(f.p90_s))),
        el('div', {}, el('dt', { text: 'Slowest' }), dd('max_s', f.max_s, fmtDur(f.max_s))),
        el('div', {}, el('dt', { text: 'Follow-ups' }), dd('followups', f.count, fmtInt(f.count))),
        el('div', {}, el('dt', { text: 'Unmatched' }), dd('unmatched', f.unmatched, fmtInt(f.unmatched)))),
      el('p', { class: 'note', text: 'Unmatched: follow-ups that found no pending signup.' }))));
    fill(fig, followupChart(fig, c));
  }

  function followButton(subject) {
    const b = el('button', { type: 'button', class: 'btn-follow', 'data-action': 'followup', text: 'Followed up' });
    b.addEventListener('click', () => followedUp(subject, b));
    return b;
  }

  /* <dashboard_url>/c/<campaign>#pending, the link alerts carry: the
     waiting list, once it is drawn (the first time only) */
  let jumped = false;
  function jumpToPending() {
    if (jumped || location.hash !== '#pending') return;
    jumped = true;
    const sec = document.getElementById('sec-waiting');
    if (sec) sec.scrollIntoView();
  }
  window.addEventListener('hashchange', () => { jumped = false; if (st.pending) jumpToPending(); });

  function renderPending(doc) {
    const list = Array.isArray(doc.pending) ? doc.pending : [];
    const sla = isNum(doc.sla_s) ? fmtDur(doc.sla_s) : '–';
    fill(B.wait, table('Signups still waiting for a follow-up, oldest first (SLA ' + sla + ')' + (list.length >= 100 ? '; the oldest 100 shown' : ''),
      [['Subject'], ['Signed up'], ['Waited', 1]],
      list.map(p => {
        /* since_ms/waited_s, or signup_ts/waiting_s as the server's pending document names them */
        const since = pick(p.since_ms, p.signup_ts), waited = pick(p.waited_s, p.waiting_s);
        return el('tr', { 'data-subject': String(p.subject), 'data-overdue': p.overdue ? '1' : '0' },
          el('th', { scope: 'row', text: String(p.subject) }),
          el('td', { 'data-col': 'since_ms', 'data-value': dv(since), title: iso(since) || null }, timeAgo(since)),
          el('td', { class: 'num', 'data-col': 'waited_s', 'data-value': dv(waited) }, fmtDur(waited),
            p.overdue ? el('span', { class: 'badge badge-overdue', text: 'overdue' }) : null,
            opToken ? followButton(String(p.subject)) : null));
      }),
      'Nobody is waiting for a follow-up.'));
  }

  /* the "followed up" button: only with the operator token (api_token), kept
     for the visit in sessionStorage, never in the address bar */
  let opToken = '';
  try { opToken = sessionStorage.getItem('ag-op') || ''; } catch (e) { opToken = ''; }
  const opInput = el('input', { type: 'password', id: 'op-token', autocomplete: 'off', value: opToken });
  const opNote = el('span', { class: 'muted', id: 'op-note', role: 'status' });
  const opForm = el('p', { class: 'field op' }, el('label', { for: 'op-token', text: 'Operator token (to record follow-ups here)' }), opInput, opNote);
  opInput.addEventListener('change', () => {
    opToken = opInput.value.trim();
    try { if (opToken) sessionStorage.setItem('ag-op', opToken); else sessionStorage.removeItem('ag-op'); } catch (e) { /* private mode */ }
    opNote.textContent = '';
    if (st.pending) renderPending(st.pending);
  });
  async function followedUp(subject, btn) {
    btn.disabled = true;
    let res = null;
    try {
      res = await fetch(base + '/followup', { method: 'POST', cache: 'no-store', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + opToken },
        body: JSON.stringify({ subject: subject }) });
    } catch (e) { res = null; }
    if (res && res.status === 202) {
      btn.textContent = 'recorded';
      btn.setAttribute('data-recorded', '1');
      opNote.textContent = 'Follow-up of ' + subject + ' recorded; it leaves this list on the next refresh.';
      setTimeout(runPoll, 1500);
    } else {
      btn.disabled = false;
      opNote.textContent = res && res.status === 401 ? 'The operator token was refused.' : 'Could not record the follow-up (' + (res ? res.status : 'network') + ').';
    }
  }

  /* who is in each segment: sizes, and the people as CSV with the dashboard token */
  const SEGMENTS = [['gap', 'Reached, did not act'], ['clicked-not-acted', 'Clicked, did not act'],
    ['opened-not-clicked', 'Opened, did not click'], ['acted', 'Acted'],
    ['waiting', 'Signed up, not followed up'], ['reached', 'Everyone reached']];
  function renderAudience(doc) {
    const segs = doc.segments || {};
    fill(B.aud, table('People by what they did (last ' + fmtInt(doc.audience_days) + ' days); ' +
        (doc.lists ? 'download a segment to write to exactly those people' : 'the lists need the dashboard token'),
      [['Segment'], ['People', 1], ['List']],
      SEGMENTS.map(s => el('tr', { 'data-segment': s[0] },
        el('th', { scope: 'row', text: s[1] }),
        numCell('people', segs[s[0]], undefined, 'People'),
        el('td', {}, doc.lists ? el('a', { href: link(base + '/audience/' + s[0] + '.csv'), download: name + '-' + s[0] + '.csv', text: 'CSV' }) : '–'))),
      'No audience yet.'));
  }

  function drawCharts() {
    if (st.c) {
      fill(B.gap, gapChart(B.gap, st.c));
      fill(B.funnel, funnelChart(B.funnel, st.c));
      fill(B.scroll, scrollChart(B.scroll, st.c));
      renderFollowup(st.c);
    }
    if (st.series && st.seriesRange === st.range) keep(B.series, () => fill(B.series, seriesCharts(B.series, st.series, st.range)));
  }
  function fetchSeries(rangeKey) {
    const r = RANGES[rangeKey], unit = r.unit === 'day' ? DAY : HOUR, t = now();
    const from = Math.floor((t - r.ms) / unit) * unit;
    return api(base + '/series?unit=' + r.unit + '&from=' + from + '&to=' + t).then(d => ({ doc: d, range: rangeKey }));
  }
  function failBox(box, e) {
    if (!box.firstChild) fill(box, el('p', { class: 'err', text: 'Could not load this part (' + e.message + ').' }));
  }

  async function refresh() {
    const range = st.range;
    /* all four asked at once; the headline figures are drawn as soon as theirs arrives */
    const rest = settle([fetchSeries(range), api(base + '/pending'), api(base + '/leaderboard'), api(base + '/audience')]);
    let c;
    try { c = await api(base); } catch (e) {
      await rest;
      if (e.status === 404) { st.built = false; renderNotFound(name); app.setAttribute('data-loaded', '1'); markOk(); return; }
      throw e;   /* auth: stop; otherwise keep the last figures */
    }
    if (!st.built) build();
    st.c = c;
    renderCards(c);
    renderTops(c);
    if (window.performance && performance.mark && !performance.getEntriesByName('ag:figures').length) performance.mark('ag:figures');
    const res = await rest;
    const auth = res.find(r => !r.ok && isAuth(r.e));
    if (auth) throw auth.e;
    if (res[0].ok && res[0].v.range === st.range) { st.series = res[0].v.doc; st.seriesRange = range; }
    else if (!res[0].ok) failBox(B.series, res[0].e);
    drawCharts();
    if (res[1].ok) { st.pending = res[1].v; renderPending(st.pending); jumpToPending(); } else failBox(B.wait, res[1].e);
    if (res[3].ok) renderAudience(res[3].v); else failBox(B.aud, res[3].e);
    if (res[2].ok) { st.board = res[2].v; renderAdvocates(Array.isArray(st.board.advocates) ? st.board.advocates : []); }
    else if (!st.board) {
      renderAdvocates((st.c.top_advocates || []).map(a => Object.assign({ conversion: a.reach ? a.actions / a.reach : null }, a)));
    }
    if (res.every(r => r.ok)) markOk(); else markFail();
  }

  select.addEventListener('change', async () => {
    st.range = select.value;
    const my = ++st.seq;
    B.series.setAttribute('aria-busy', 'true');
    try {
      const r = await fetchSeries(st.range);
      if (my !== st.seq || r.range !== st.range) return;
      st.series = r.doc; st.seriesRange = r.range;
      keep(B.series, () => fill(B.series, seriesCharts(B.series, st.series, st.range)));
    } catch (e) {
      if (my === st.seq) { handleError(e); if (!isAuth(e)) fill(B.series, el('p', { class: 'err', text: 'Could not load this range (' + e.message + ').' })); }
    } finally { B.series.removeAttribute('aria-busy'); }
  });
  onResize(drawCharts);
  startPolling(refresh);
}

// Leaderboard screen

function pageLeaderboard(name) {
  document.title = name + ' – leaderboard – actiongap';
  document.body.classList.add('tv');
  const list = el('ol', { class: 'board', id: 'board' });
  const h1 = el('h1', { 'data-campaign': name, text: name });
  let built = false;
  startPolling(async () => {
    let doc;
    try { doc = await api('/api/v1/campaigns/' + encodeURIComponent(name) + '/leaderboard'); } catch (e) {
      if (e.status === 404) { built = false; document.body.classList.remove('tv'); renderNotFound(name); markOk(); return; }
      throw e;
    }
    if (!built) {
      document.body.classList.add('tv');
      fill(app, h1, el('section', { 'aria-labelledby': 'h-adv' }, el('h2', { id: 'h-adv', text: 'Advocates' }), list));
      app.setAttribute('data-loaded', '1');
      built = true;
    }
    const adv = (Array.isArray(doc.advocates) ? doc.advocates : []).slice(0, 10);
    if (!adv.length) fill(list, el('li', { class: 'empty' }, 'No advocate has brought anyone yet.'));
    else fill(list, adv.map((a, i) => el('li', { 'data-ref': String(a.ref), 'data-rank': i + 1 },
      el('span', { class: 'b-rank' }, el('span', { class: 'vh', text: 'Rank ' }), String(i + 1)),
      el('span', { class: 'b-ref', text: String(a.ref) }),
      el('span', { class: 'b-fig' },
        el('span', { class: 'b-actions', 'data-col': 'actions', 'data-value': dv(a.actions) }, fmtInt(a.actions),
          el('span', { class: 'b-unit', text: num(a.actions) === 1 ? 'action' : 'actions' })),
        el('span', { class: 'b-reach', 'data-col': 'reach', 'data-value': dv(a.reach), text: 'reach ' + fmtInt(a.reach) }),
        el('span', { class: 'b-reach', 'data-col': 'clicks', 'data-value': dv(a.clicks),
          text: fmtInt(a.clicks) + (num(a.clicks) === 1 ? ' link click' : ' link clicks') })))));
    markOk();
  });
}

// boot

function onResize(fn) {
  let t = 0, w = window.innerWidth;
  window.addEventListener('resize', () => {
    clearTimeout(t);
    t = setTimeout(() => { if (window.innerWidth !== w) { w = window.innerWidth; fn(); } }, 150);
  });
}
function route() {
  const nav = document.getElementById('nav-campaigns');
  if (nav) nav.setAttribute('href', link('/'));
  setInterval(tick, 1000);
  const p = location.pathname;
  const m = /^\/([cl])\/(.+)$/.exec(p);
  if (p === '/' || p === '/index.html') return pageCampaigns();
  if (m) {
    let name;
    try { name = decodeURIComponent(m[2]); } catch (e) { return renderNotFound(m[2]); }
    return m[1] === 'c' ? pageCampaign(name) : pageLeaderboard(name);
  }
  document.title = 'Not found – actiongap';
  fill(app, el('div', { class: 'notice' }, el('h1', { text: 'Page not found' }),
    el('p', {}, el('a', { href: link('/'), text: 'See all campaigns' }), '.')));
}
route();
})();
