// mlpnas dashboard: a single-page UI over the read-only JSON API (src/http.rs).
// Pages: #/ (runs), #/run/ID, #/run/ID/trial/N, #/compare/ID,ID,...
// Every text from a run goes into the page as text (textContent), never as HTML.
'use strict';

const main = document.getElementById('main');
const live = document.getElementById('live');
// What the page shows, for end-to-end tests: charts by name, the current page's state.
window.mlpnas = { charts: {}, page: null, updates: 0 };
let timer = null;
let generation = 0;

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f'];
const enc = encodeURIComponent;
const REWARD_HELP = 'reward: the validation accuracy of every training epoch of the trial, averaged with weights 1..N (later epochs count more), as in MLPNAS; so it differs from the last epoch\'s "val acc"';
// The same for a run scored by another metric (search.metric).
function rewardHelp(f) {
  const m = f && f.metric;
  if (!m) return REWARD_HELP;
  return `reward: the validation ${m.name} of every training epoch of the trial${m.minimize ? ', negated (smaller is better)' : ''}, averaged with weights 1..N (later epochs count more); "val ${m.name}" is the last epoch's`;
}
// Metrics whose smaller values are better, and those of a regression (mlpnas_core::Metric).
const MINIMIZED = ['log_loss', 'rmse', 'mae'];
const REGRESSION = ['rmse', 'mae', 'r2'];
// The reward help of one trial: its epochs name the metric, if not the accuracy.
function trialRewardHelp(t) {
  const e = (t.epochs || []).find((x) => x.metric);
  return rewardHelp(e ? { metric: { name: e.metric.name, minimize: MINIMIZED.includes(e.metric.name) } } : null);
}
// A trial's last-epoch value of the run's metric, if the journal has it.
function lastMetric(t) {
  const e = t.epochs && t.epochs.length ? t.epochs[t.epochs.length - 1] : null;
  return e && e.metric ? e.metric.value : null;
}
const num = (x, d = 4) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const secs = (x) => (x === null || x === undefined ? '–' : x < 120 ? `${x.toFixed(1)} s` : `${(x / 60).toFixed(1)} min`);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
  return body;
}

function badge(status) { return el('span', { class: `badge ${status}`, text: status }); }

function setLive(on, text) {
  live.className = on ? 'on' : '';
  live.textContent = text || '';
}

function destroyCharts() {
  for (const u of Object.values(window.mlpnas.charts)) { try { u.destroy(); } catch (_) { /* gone */ } }
  window.mlpnas.charts = {};
}

// A chart: x values first, then one array per series. Recreated when its series change.
function chart(name, host, title, xLabel, yLabel, series, data, extra) {
  const charts = window.mlpnas.charts;
  const key = series.map((s) => s.label).join('|');
  const old = charts[name];
  if (old && old._key === key && old.root.isConnected) { old.setData(data); return old; }
  if (old) old.destroy();
  host.textContent = '';
  const width = Math.max(300, (host.clientWidth || host.parentElement.clientWidth || 600) - 4);
  const opts = Object.assign({
    title, width, height: 230,
    scales: { x: { time: false } },
    axes: [{ label: xLabel, size: 40 }, { label: yLabel, size: 60 }],
    // Legend values only under the cursor: uPlot's idle "--" read as missing data.
    series: [{ label: xLabel }].concat(series).map((s) => Object.assign({ value: legendValue }, s)),
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  }, extra || {});
  const u = new uPlot(opts, data, host);
  u._key = key;
  charts[name] = u;
  return u;
}

// A legend value: blank while the cursor is off the chart, else the number (4 decimals at most).
const legendValue = (u, v, si, idx) => (idx === null || idx === undefined || v === null || v === undefined ? '' : String(+Number(v).toFixed(4)));
const dots = (label, color, size) => ({ label, stroke: color, fill: color, width: 0, paths: () => null,
  points: { show: true, size: size || 5, fill: color, stroke: color } });
// Whole numbers only on axes of trials and epochs.
const EPOCH_AXIS = { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] };
const step = () => uPlot.paths.stepped({ align: 1 });
const line = (label, color, extra) => Object.assign({ label, stroke: color, width: 2, points: { show: false } }, extra || {});

// ---------------------------------------------------------------- runs page

async function runsPage(gen) {
  const selected = new Set();
  main.textContent = '';
  const errors = el('div');
  const compare = el('button', { disabled: true, onclick: () => { location.hash = `#/compare/${[...selected].map(enc).join(',')}`; } }, 'Compare selected');
  const body = el('tbody');
  const head = ['', 'run', 'status', 'trials', 'best reward', 'best architecture', 'controller', 'data', 'seed', 'wall time', 'finalized'];
  main.append(
    el('h1', {}, 'Runs'),
    errors,
    el('div', { class: 'toolbar' }, compare, el('span', { class: 'muted', id: 'runs-count' })),
    el('div', { class: 'card' }, el('table', { id: 'runs' },
      el('thead', {}, el('tr', {}, head.map((t, i) => el('th', { class: [3, 4, 8].includes(i) ? 'num' : null, text: t, title: t === 'best reward' ? REWARD_HELP : null })))), body)),
  );
  const render = (data) => {
    errors.textContent = '';
    for (const e of data.errors) errors.append(el('div', { class: 'error', text: e }));
    body.textContent = '';
    for (const r of data.runs) {
      const link = `#/run/${enc(r.id)}`;
      const box = el('input', { type: 'checkbox', checked: selected.has(r.id), onchange: (ev) => {
        if (ev.target.checked) selected.add(r.id); else selected.delete(r.id);
        compare.disabled = selected.size < 1;
      } });
      const f = r.facts;
      body.append(el('tr', {},
        el('td', {}, box),
        el('td', {}, el('a', { href: link, text: r.id }), r.error ? el('div', { class: 'error', text: r.error }) : null),
        el('td', {}, badge(r.status)),
        el('td', { class: 'num', text: f.planned ? `${r.trials} / ${f.planned}` : String(r.trials) }),
        el('td', { class: 'num', text: r.best ? num(r.best.reward) : '–' }),
        el('td', { class: 'arch', text: r.best ? r.best.architecture : '–' }),
        el('td', { text: f.controller || '–' }),
        el('td', { text: f.data || '–', title: f.data || '' }),
        el('td', { class: 'num', text: f.seed ?? '–' }),
        el('td', { text: r.wall_seconds !== null ? secs(r.wall_seconds) : `${secs(r.train_seconds)} training` }),
        el('td', { class: 'finalized', text: r.finalized ? 'yes' : '–', title: r.finalized ? 'finalize wrote its leaderboard (final models on the run page)' : 'not finalized yet' }),
      ));
    }
    document.getElementById('runs-count').textContent = `${data.runs.length} run(s)`;
    window.mlpnas.page = { kind: 'runs', runs: data.runs };
  };
  const tick = async () => {
    try { const d = await getJSON('/api/runs'); if (gen !== generation) return; render(d); setLive(true, 'live'); }
    catch (e) { setLive(false, `cannot reach the dashboard: ${e.message}`); }
    if (gen === generation) timer = setTimeout(tick, 2000);
  };
  await tick();
}

// ---------------------------------------------------------------- run page

function runHeader(info) {
  const f = info.facts;
  const best = info.best;
  return el('div', { class: 'card' },
    el('div', { class: 'facts' },
      el('div', {}, el('span', { text: 'status' }), badge(info.status)),
      el('div', {}, el('span', { text: 'trials' }), el('b', { text: f.planned ? `${info.trials} / ${f.planned}` : String(info.trials) })),
      el('div', { title: f.measured ? null : rewardHelp(f) }, el('span', { text: 'best reward' }), el('b', { text: best ? num(best.reward) : '–' })),
      f.metric ? el('div', {}, el('span', { text: 'metric' }), el('b', { id: 'run-metric', text: `${f.metric.name} (${f.metric.minimize ? 'smaller is better; reward = −metric' : 'larger is better; reward = metric'})` })) : null,
      f.measured ? el('div', {}, el('span', { text: 'metric' }), el('b', { text: `${f.measured.metric} (${f.measured.minimize ? 'smaller is better; reward = −metric' : 'larger is better; reward = metric'})` })) : null,
      el('div', {}, el('span', { text: 'best architecture' }),
        best ? el('a', { class: 'arch', href: `#/run/${enc(info.id)}/trial/${best.trial}`, text: `${best.architecture} (trial ${best.trial})` }) : '–'),
      el('div', {}, el('span', { text: 'controller' }), el('b', { text: f.controller || '–' })),
      el('div', {}, el('span', { text: 'data' }), el('b', { text: f.data || '–' })),
      info.label ? el('div', {}, el('span', { text: 'label' }), el('b', { id: 'run-label', text: info.label })) : null,
      el('div', {}, el('span', { text: 'seed' }), el('b', { text: f.seed ?? '–' })),
      el('div', {}, el('span', { text: 'controller epochs' }), el('b', { text: String(info.epochs) })),
      el('div', {}, el('span', { text: 'wall time' }), el('b', { text: info.wall_seconds !== null ? secs(info.wall_seconds) : `${secs(info.train_seconds)} training so far` })),
      el('div', {}, el('span', { text: 'one-shot' }), el('b', { text: f.one_shot ? `on (batch ${f.batch})` : 'off' })),
      f.scheduler ? el('div', {}, el('span', { text: 'scheduler' }), el('b', { id: 'run-scheduler', text: f.scheduler })) : null,
    ),
    el('p', { class: 'muted', id: 'reward-help', text: f.measured ? `Each trial looks up ${f.measured.metric} in table ${f.measured.table}: nothing is trained, so trials have no accuracy, epochs or parameters.` : rewardHelp(f) }),
    info.writer ? el('div', { class: 'muted', text: `written by ${info.writer}` }) : null,
    el('div', { class: 'muted', text: info.location }),
  );
}

function bestSoFar(trials) {
  let b = -Infinity;
  return trials.map((t) => { b = Math.max(b, t.reward); return b; });
}

// Columns of the trials table: header, value, text, numeric. A table run's trials train
// nothing: its metric replaces accuracy, parameters and transfers.
function trialColumns(facts) {
  const m = facts && facts.measured;
  const cols = [
    ['trial', (t) => t.trial, (t) => String(t.trial), true],
    ['epoch', (t) => t.epoch, (t) => String(t.epoch), true],
    [m ? 'configuration' : 'architecture', (t) => t.architecture, (t) => t.architecture, false],
    ['reward', (t) => t.reward, (t) => num(t.reward), true],
  ];
  if (m) cols.push([m.metric, (t) => t.metric ?? null, (t) => num(t.metric), true]);
  else if (!(facts && facts.metric && facts.metric.regression)) cols.push(['val acc', (t) => t.val_acc_last, (t) => num(t.val_acc_last), true]);
  // A trial without the value (diverged before its first epoch) sorts below every value.
  if (!m && facts && facts.metric) cols.push([`val ${facts.metric.name}`, (t) => lastMetric(t) ?? -Infinity, (t) => num(lastMetric(t)), true]);
  cols.push(['predicted', (t) => t.predicted ?? -1, (t) => num(t.predicted), true]);
  if (!m) {
    cols.push(['params', (t) => t.params, (t) => t.params.toLocaleString('en-US'), true]);
    cols.push(['transfers', (t) => t.transfers, (t) => String(t.transfers), true]);
  }
  // Under a multi-fidelity scheduler: the epochs of each rung a trial reached, and whether it
  // stopped before the last rung of the run ([stopped]).
  if (facts && facts.scheduler) cols.push(['rungs', (t) => rungEpochs(t), (t) => rungsText(t, facts), false]);
  cols.push(['seconds', (t) => t.seconds, (t) => num(t.seconds, 2), true], ['status', (t) => t.status, (t) => t.status, false]);
  return cols;
}

// The epochs of a trial's last rung (0 without rungs).
function rungEpochs(t) { return t.rungs && t.rungs.length ? t.rungs[t.rungs.length - 1].epochs : 0; }

// `1 → 3 → 10`, and `stopped` when the trial stopped before the run's highest rung.
function rungsText(t, facts) {
  if (!t.rungs || !t.rungs.length) return '–';
  const path = t.rungs.map((r) => r.epochs).join(' → ');
  return rungEpochs(t) < (facts.fullEpochs || 0) ? `${path} stopped` : path;
}

function trialsTable(st) {
  // The highest rung any trial reached: a trial below it stopped early.
  st.info.facts.fullEpochs = st.trials.reduce((m, t) => Math.max(m, rungEpochs(t)), 0);
  const TRIAL_COLUMNS = trialColumns(st.info.facts);
  const body = el('tbody');
  const count = el('span', { class: 'muted', id: 'trial-count' });
  const filter = el('input', { type: 'search', id: 'trial-filter', placeholder: 'filter: architecture or status, e.g. relu, dropout, diverged', oninput: () => draw() });
  const heads = TRIAL_COLUMNS.map(([name, , , numeric], i) => el('th', { class: `sortable ${numeric ? 'num' : ''}`, text: name, title: name === 'reward' && !st.info.facts.measured ? rewardHelp(st.info.facts) : null, onclick: () => {
    st.sort = st.sort && st.sort.col === i ? { col: i, asc: !st.sort.asc } : { col: i, asc: !numeric || i <= 1 };
    draw();
  } }));
  const draw = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    st.info.facts.fullEpochs = st.trials.reduce((m, t) => Math.max(m, rungEpochs(t)), 0);
    const rung = (t) => (st.info.facts.scheduler ? rungsText(t, st.info.facts) : '');
    let rows = st.trials.filter((t) => words.every((w) => `${t.architecture} ${t.status} ${rung(t)}`.toLowerCase().includes(w)));
    if (st.sort) {
      const [, key] = TRIAL_COLUMNS[st.sort.col];
      rows = rows.slice().sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : a.trial - b.trial) * (st.sort.asc ? 1 : -1); });
    }
    heads.forEach((h, i) => { h.classList.toggle('sorted', !!st.sort && st.sort.col === i); h.classList.toggle('asc', !!st.sort && st.sort.col === i && st.sort.asc); });
    const bestTrial = st.info.best ? st.info.best.trial : -1;
    body.textContent = '';
    for (const t of rows) {
      body.append(el('tr', { class: `click ${t.trial === bestTrial ? 'best' : ''}`, onclick: () => { location.hash = `#/run/${enc(st.id)}/trial/${t.trial}`; } },
        TRIAL_COLUMNS.map(([name, , text, numeric], i) => el('td', { class: numeric ? 'num' : i === 2 ? 'arch' : null },
          name === 'status' && t.status !== 'ok' ? badge(t.status) : text(t)))));
    }
    const stopped = st.info.facts.scheduler ? st.trials.filter((t) => rungsText(t, st.info.facts).endsWith('stopped')).length : 0;
    count.textContent = `${rows.length} of ${st.trials.length} trials` + (st.info.facts.scheduler ? ` (${stopped} stopped early)` : '');
  };
  st.drawTable = draw;
  return el('div', { class: 'card' }, el('h2', {}, 'Trials'),
    el('div', { class: 'toolbar' }, filter, count),
    el('div', { class: 'scroll' }, el('table', { id: 'trials' }, el('thead', {}, el('tr', {}, heads)), body)));
}

function drawRunCharts(st, hosts) {
  const t = st.trials;
  const x = t.map((r) => r.trial);
  chart('reward', hosts.reward, 'Reward per trial', 'trial', 'reward',
    [dots('reward', COLORS[0]), line('best so far', COLORS[1], { paths: step() })],
    [x, t.map((r) => r.reward), bestSoFar(t)],
    { axes: [Object.assign({ label: 'trial', size: 40 }, EPOCH_AXIS), { label: 'reward', size: 60 }] });

  // Each epoch's trials spread across [epoch - 0.4, epoch + 0.4], with the epoch's mean.
  const perEpoch = new Map();
  for (const r of t) { if (!perEpoch.has(r.epoch)) perEpoch.set(r.epoch, []); perEpoch.get(r.epoch).push(r); }
  const ex = [], ey = [], em = [];
  for (const [epoch, rs] of [...perEpoch.entries()].sort((a, b) => a[0] - b[0])) {
    const mean = rs.reduce((s, r) => s + r.reward, 0) / rs.length;
    rs.forEach((r, i) => { ex.push(epoch - 0.4 + (0.8 * (i + 0.5)) / rs.length); ey.push(r.reward); em.push(mean); });
  }
  chart('epochs', hosts.epochs, 'Reward by controller epoch', 'controller epoch', 'reward',
    [dots('reward', COLORS[2], 4), line('epoch mean', COLORS[3], { paths: step() })], [ex, ey, em],
    { axes: [Object.assign({ label: 'controller epoch', size: 40 }, EPOCH_AXIS), { label: 'reward', size: 60 }] });

  // A multi-objective run: reward against its second criterion, the Pareto front highlighted.
  const multi = t.length && t[0].objectives && t[0].objectives.length > 1;
  hosts.paretoCard.style.display = multi ? '' : 'none';
  if (multi) {
    const other = t[0].objectives[1].name;
    const onFront = new Set(st.front);
    const pts = t.filter((r) => r.status === 'ok' && !('rescore_of' in r) && r.objectives && r.objectives.length > 1)
      .map((r) => ({ x: r.objectives[1].value, y: r.objectives[0].value, front: onFront.has(r.trial) }))
      .sort((a, b) => a.x - b.x || a.y - b.y);
    hosts.paretoSummary.textContent = `Pareto front: ${st.front.length} of ${t.length} trials (${t[0].objectives.map((o) => o.name).join(' against ')}; report --front lists them, finalize --front retrains them)`;
    chart('pareto', hosts.pareto, `Reward against ${other}`, other, 'reward',
      [dots('trial', '#98a2b3', 4), Object.assign(dots('Pareto front', COLORS[1], 7), { paths: step(), width: 1, spanGaps: true, fill: undefined })],
      [pts.map((p) => p.x), pts.map((p) => p.y), pts.map((p) => (p.front ? p.y : null))],
      // Sizes and times span decades: a log axis where every value is positive.
      { axes: [{ label: `${other} (log scale)`, size: 40 }, { label: 'reward', size: 60 }],
        scales: { x: pts.every((p) => p.x > 0) ? { time: false, distr: 3 } : { time: false } } });
  }

  const pred = t.filter((r) => r.predicted !== null && r.predicted !== undefined).sort((a, b) => a.predicted - b.predicted);
  hosts.predictedCard.style.display = pred.length ? '' : 'none';
  hosts.predictorCard.style.display = pred.length ? '' : 'none';
  if (pred.length) {
    const px = pred.map((r) => r.predicted);
    chart('predicted', hosts.predicted, 'Predicted vs actual reward', 'predicted', 'actual',
      [dots('trial', COLORS[4]), line('predicted = actual', '#98a2b3', { dash: [4, 4], width: 1 })],
      [px, pred.map((r) => r.reward), px]);
    const ep = st.epochs.filter((e) => e.predictor_mae !== null);
    chart('predictor', hosts.predictor, 'Predictor error per controller epoch', 'controller epoch', 'MAE',
      [line('MAE', COLORS[4], { scale: 'y' }), line('Spearman', COLORS[5], { scale: 's' })],
      [ep.map((e) => e.epoch), ep.map((e) => e.predictor_mae), ep.map((e) => e.predictor_spearman)],
      { axes: [Object.assign({ label: 'controller epoch', size: 40 }, EPOCH_AXIS), { label: 'MAE', size: 60 }, { label: 'Spearman', side: 1, scale: 's', size: 50, grid: { show: false } }],
        scales: { x: { time: false }, s: { range: [-1, 1] } } });
  }

  // Controller statistics: one small chart per metric the controller reports.
  const keys = [...new Set(st.epochs.flatMap((e) => Object.keys(e.metrics || {})))].sort();
  const ex2 = st.epochs.map((e) => e.epoch);
  hosts.statsCard.style.display = keys.length ? '' : 'none';
  const want = keys.join('|');
  if (hosts.stats._keys !== want) {
    hosts.stats.textContent = '';
    for (const k of Object.keys(window.mlpnas.charts)) if (k.startsWith('stat:')) { window.mlpnas.charts[k].destroy(); delete window.mlpnas.charts[k]; }
    hosts.stats._keys = want;
    hosts.statHosts = {};
    for (const k of keys) { const d = el('div', { class: 'chart' }); hosts.stats.append(d); hosts.statHosts[k] = d; }
  }
  keys.forEach((k, i) => {
    chart(`stat:${k}`, hosts.statHosts[k], k, 'epoch', k, [line(k, COLORS[i % COLORS.length], { points: { show: true, size: 4 } })],
      [ex2, st.epochs.map((e) => (e.metrics && k in e.metrics ? e.metrics[k] : null))],
      { height: 170, legend: { show: false }, axes: [Object.assign({ label: 'epoch', size: 36 }, EPOCH_AXIS), { size: 60 }] });
  });
}

function drawBigrams(st, host) {
  host.textContent = '';
  if (!st.info.facts.one_shot) { host.append(el('p', { class: 'muted', text: 'This run shares no weights (one-shot off or no store).' })); return; }
  const total = st.bigrams.reduce((s, b) => s + b.reused, 0);
  host.append(el('p', { class: 'muted', text: `${st.bigrams.length} bigrams; ${total} layer starts from stored weights (the journal's transfers: ${st.trials.reduce((s, t) => s + t.transfers, 0)}).` }),
    el('div', { class: 'scroll' }, el('table', { id: 'bigrams' },
      el('thead', {}, el('tr', {}, el('th', { text: 'bigram (previous layer > layer)' }), el('th', { class: 'num', text: 'trials' }), el('th', { class: 'num', text: 'reused' }), el('th', { class: 'num', text: 'first trial' }))),
      el('tbody', {}, st.bigrams.map((b) => el('tr', {}, el('td', { class: 'arch', text: b.bigram }), el('td', { class: 'num', text: String(b.trials) }), el('td', { class: 'num', text: String(b.reused) }), el('td', { class: 'num', text: String(b.first_trial) })))))));
}

function drawLeaderboard(st, card) {
  const lb = st.leaderboard;
  card.style.display = lb ? '' : 'none';
  if (!lb) return;
  card.textContent = '';
  // The ranking (validation accuracy) first, then the test score, then how each was trained.
  const ORDER = ['val_acc', 'test_acc', 'val_loss', 'test_loss', 'rank', 'search_reward', 'trial', 'init', 'transfers', 'epochs_run', 'max_epochs', 'best_epoch', 'stopped_early', 'patience', 'seconds'];
  const present = lb.entries.length ? Object.keys(lb.entries[0].metrics).filter((k) => typeof lb.entries[0].metrics[k] !== 'object') : [];
  // A run scored by another metric: finalize ranked by it; its values lead the columns (a
  // regression's leaderboard has no accuracy).
  const named = lb.entries.length && lb.entries[0].metrics.val_metric ? lb.entries[0].metrics.val_metric.name : null;
  const regression = !!(st.info && st.info.facts && st.info.facts.metric && st.info.facts.metric.regression);
  const metrics = ORDER.filter((k) => present.includes(k)).concat(present.filter((k) => !ORDER.includes(k)))
    .filter((k) => !(regression && (k === 'val_acc' || k === 'test_acc')));
  const metricValue = (v) => (v && typeof v.value === 'number' ? num(v.value) : '–');
  const lead = named ? [[`val ${named}`, (e) => metricValue(e.metrics.val_metric)], [`test ${named}`, (e) => metricValue(e.metrics.test_metric)]] : [];
  card.append(el('h2', {}, `Final models (finalize leaderboard, ranked by val ${named || 'acc'})`),
    el('p', { class: 'muted', text: `data ${lb.data_source}; test rows ${lb.test_carved_from_train ? 'carved from the training rows' : 'from the run\'s split'}` }),
    el('div', { class: 'scroll' }, el('table', { id: 'leaderboard' },
      el('thead', {}, el('tr', {}, el('th', { text: 'architecture' }), el('th', { text: 'model' }), lead.map(([h]) => el('th', { class: 'num', text: h })), metrics.map((m) => el('th', { class: 'num', text: m.replace(/_/g, ' ') })))),
      el('tbody', {}, lb.entries.map((e) => el('tr', {}, el('td', { class: 'arch', text: e.architecture }), el('td', { text: e.model_dir }),
        lead.map(([, v]) => el('td', { class: 'num', text: v(e) })),
        metrics.map((m) => el('td', { class: 'num', text: typeof e.metrics[m] === 'number' ? (Number.isInteger(e.metrics[m]) ? String(e.metrics[m]) : num(e.metrics[m])) : String(e.metrics[m]) }))))))));
}

async function runPage(gen, id) {
  const st = { id, trials: [], epochs: [], bigrams: [], front: [], leaderboard: null, info: null, version: null, sort: null };
  main.textContent = '';
  const title = el('h1', {}, el('a', { href: '#/', text: 'Runs' }), ' / ', id);
  const error = el('div');
  const headerHost = el('div');
  const mk = () => el('div', { class: 'chart' });
  const hosts = { reward: mk(), epochs: mk(), predicted: mk(), predictor: mk(), pareto: mk(), stats: el('div', { class: 'small-grid' }) };
  hosts.paretoSummary = el('p', { class: 'muted', id: 'pareto-summary' });
  hosts.paretoCard = el('div', { class: 'card', id: 'pareto-card', style: 'display:none' }, hosts.paretoSummary, hosts.pareto);
  hosts.predictedCard = el('div', { class: 'card' }, hosts.predicted);
  hosts.predictorCard = el('div', { class: 'card' }, hosts.predictor);
  hosts.statsCard = el('div', { class: 'card' }, el('h2', {}, 'Controller statistics per epoch'), hosts.stats);
  const bigramHost = el('div');
  const board = el('div', { class: 'card', style: 'display:none' });
  main.append(title, error, headerHost,
    el('div', { class: 'grid' }, el('div', { class: 'card' }, hosts.reward), el('div', { class: 'card' }, hosts.epochs), hosts.paretoCard, hosts.predictedCard, hosts.predictorCard),
    hosts.statsCard, board);
  let tableAdded = false;
  const tick = async () => {
    try {
      const d = await getJSON(`/api/runs/${enc(id)}?from=${st.trials.length}${st.version !== null ? `&version=${st.version}` : ''}`);
      if (gen !== generation) return;
      error.textContent = '';
      if (d.info.error) error.append(el('div', { class: 'error', text: d.info.error }));
      if (!d.unchanged) {
        st.info = d.info;
        st.trials.length = d.from;
        st.trials.push(...d.trials);
        st.epochs = d.epochs;
        st.bigrams = d.bigrams;
        st.front = d.front || [];
        st.leaderboard = d.leaderboard;
        st.version = d.info.version;
        headerHost.textContent = '';
        headerHost.append(runHeader(st.info));
        if (!tableAdded) {
          main.insertBefore(trialsTable(st), board);
          main.append(el('div', { class: 'card' }, el('h2', {}, 'Weight store: bigrams and their reuse'), bigramHost));
          tableAdded = true;
        }
        drawRunCharts(st, hosts);
        st.drawTable();
        drawBigrams(st, bigramHost);
        drawLeaderboard(st, board);
        window.mlpnas.updates += 1;
      }
      window.mlpnas.page = { kind: 'run', id, trials: st.trials.length, version: st.version };
      setLive(st.info.status === 'running', st.info.status === 'running' ? 'live: updates within a second' : st.info.status);
    } catch (e) {
      if (gen !== generation) return;
      error.textContent = '';
      error.append(el('div', { class: 'error', text: e.message }));
      setLive(false, '');
    }
    if (gen === generation) timer = setTimeout(tick, 1000);
  };
  await tick();
}

// ---------------------------------------------------------------- trial page

async function trialPage(gen, id, n) {
  main.textContent = '';
  const error = el('div');
  main.append(el('h1', {}, el('a', { href: '#/', text: 'Runs' }), ' / ', el('a', { href: `#/run/${enc(id)}`, text: id }), ` / trial ${n}`), error);
  let d;
  try { d = await getJSON(`/api/runs/${enc(id)}/trials/${enc(n)}`); } catch (e) { error.append(el('div', { class: 'error', text: e.message })); return; }
  if (gen !== generation) return;
  const t = d.trial;
  if (t.metric !== null && t.metric !== undefined) {
    main.append(el('div', { class: 'card' }, el('div', { class: 'facts' },
      el('div', {}, el('span', { text: 'configuration' }), el('b', { class: 'arch', text: t.architecture })),
      el('div', {}, el('span', { text: 'metric' }), el('b', { text: num(t.metric) })),
      el('div', {}, el('span', { text: 'reward' }), el('b', { text: num(t.reward) })),
      el('div', {}, el('span', { text: 'controller epoch' }), el('b', { text: String(t.epoch) })),
      el('div', {}, el('span', { text: 'tokens' }), el('b', { class: 'arch', text: t.tokens.join(' ') })),
    ), el('p', { class: 'muted', text: 'A benchmark table\'s configuration: its metric was looked up, nothing was trained.' })));
    window.mlpnas.page = { kind: 'trial', id, trial: t.trial, epochs: 0 };
    setLive(false, '');
    return;
  }
  main.append(el('div', { class: 'card' }, el('div', { class: 'facts' },
    el('div', {}, el('span', { text: 'architecture' }), el('b', { class: 'arch', text: t.architecture })),
    el('div', { title: trialRewardHelp(t) }, el('span', { text: 'reward' }), el('b', { text: num(t.reward) })),
    REGRESSION.includes(((t.epochs.find((e) => e.metric) || {}).metric || {}).name)
      ? el('div', {}, el('span', { text: `val ${t.epochs.find((e) => e.metric).metric.name} (last epoch)` }), el('b', { text: num(lastMetric(t)) }))
      : el('div', {}, el('span', { text: 'val acc (last epoch)' }), el('b', { text: num(t.val_acc_last) })),
    el('div', {}, el('span', { text: 'predicted' }), el('b', { text: num(t.predicted) })),
    el('div', {}, el('span', { text: 'controller epoch' }), el('b', { text: String(t.epoch) })),
    el('div', {}, el('span', { text: 'params' }), el('b', { text: t.params.toLocaleString('en-US') })),
    el('div', {}, el('span', { text: 'transfers' }), el('b', { text: String(t.transfers) })),
    el('div', {}, el('span', { text: 'seconds' }), el('b', { text: num(t.seconds, 2) })),
    el('div', {}, el('span', { text: 'status' }), badge(t.status)),
    t.rungs && t.rungs.length ? el('div', {}, el('span', { text: 'rungs (epochs: reward)' }),
      el('b', { id: 'trial-rungs', text: t.rungs.map((r) => `${r.epochs}: ${num(r.reward)}`).join(', ') })) : null,
    el('div', {}, el('span', { text: 'tokens' }), el('b', { class: 'arch', text: t.tokens.join(' ') })),
  )));
  const loss = el('div', { class: 'chart' }), acc = el('div', { class: 'chart' });
  main.append(el('div', { class: 'grid' }, el('div', { class: 'card' }, loss), el('div', { class: 'card' }, acc)));
  const x = t.epochs.map((_, i) => i + 1);
  const axes = (y) => ({ axes: [Object.assign({ label: 'epoch', size: 40 }, EPOCH_AXIS), { label: y, size: 60 }] });
  chart('loss', loss, 'Loss per epoch', 'epoch', 'loss',
    [line('train loss', COLORS[0], { points: { show: true } }), line('validation loss', COLORS[1], { points: { show: true } })],
    [x, t.epochs.map((e) => e.train_loss), t.epochs.map((e) => e.val_loss)], axes('loss'));
  // A regression has no accuracy: its metric (in the label's units) instead.
  const named = (t.epochs.find((e) => e.metric) || {}).metric;
  if (named && REGRESSION.includes(named.name)) {
    chart('accuracy', acc, `Validation ${named.name} per epoch`, 'epoch', named.name,
      [line(`validation ${named.name}`, COLORS[2], { points: { show: true } })], [x, t.epochs.map((e) => (e.metric ? e.metric.value : null))], axes(named.name));
  } else {
    chart('accuracy', acc, 'Validation accuracy per epoch', 'epoch', 'accuracy',
      [line('validation accuracy', COLORS[2], { points: { show: true } })], [x, t.epochs.map((e) => e.val_acc)], axes('accuracy'));
  }
  window.mlpnas.page = { kind: 'trial', id, trial: t.trial, epochs: t.epochs.length };
  setLive(false, '');
}

// ---------------------------------------------------------------- compare page

function quantile(sorted, q) {
  const p = (sorted.length - 1) * q, lo = Math.floor(p), hi = Math.ceil(p);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (p - lo);
}

async function comparePage(gen, ids) {
  main.textContent = '';
  const error = el('div');
  const host = el('div', { class: 'chart' });
  const table = el('tbody');
  main.append(el('h1', {}, el('a', { href: '#/', text: 'Runs' }), ' / compare'), error,
    el('div', { class: 'card' }, host, el('p', { class: 'muted', text: 'Runs whose configs differ only by the seed form a group: its median best-so-far reward, with a band from the lowest to the highest run.' })),
    el('div', { class: 'card' }, el('table', { id: 'compare' }, el('thead', {}, el('tr', {}, ['run', 'group', 'status', 'trials', 'best reward'].map((h, i) => el('th', { class: i >= 3 ? 'num' : null, text: h })))), table)));
  const runs = new Map(ids.map((id) => [id, { trials: [], info: null, version: null }]));
  const draw = () => {
    const groups = new Map();
    for (const [id, r] of runs) {
      if (!r.info) continue;
      const g = r.info.facts.group;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push({ id, best: bestSoFar(r.trials) });
    }
    const len = Math.max(0, ...[...groups.values()].flat().map((r) => r.best.length));
    const x = Array.from({ length: len }, (_, i) => i);
    const series = [], data = [x], bands = [];
    [...groups.entries()].forEach(([g, members], gi) => {
      const color = COLORS[gi % COLORS.length];
      const at = (i) => members.map((m) => m.best[i]).filter((v) => v !== undefined).sort((a, b) => a - b);
      const label = members.length > 1 ? `${g} (median of ${members.length})` : `${g} (${members[0].id})`;
      series.push(line(label, color, { paths: step() }));
      data.push(x.map((i) => { const v = at(i); return v.length ? quantile(v, 0.5) : null; }));
      if (members.length > 1) {
        series.push(line(`${g}: highest`, `${color}bb`, { width: 1, dash: [5, 3], paths: step() }), line(`${g}: lowest`, `${color}bb`, { width: 1, dash: [2, 3], paths: step() }));
        data.push(x.map((i) => { const v = at(i); return v.length ? v[v.length - 1] : null; }));
        data.push(x.map((i) => { const v = at(i); return v.length ? v[0] : null; }));
        bands.push({ series: [series.length - 1, series.length], fill: `${color}14` });
      }
    });
    chart('compare', host, 'Best reward so far', 'trial', 'best reward', series, data,
      { bands, height: 320, axes: [Object.assign({ label: 'trial', size: 40 }, EPOCH_AXIS), { label: 'best reward', size: 60 }] });
    table.textContent = '';
    for (const [id, r] of runs) {
      if (!r.info) continue;
      table.append(el('tr', {}, el('td', {}, el('a', { href: `#/run/${enc(id)}`, text: id })), el('td', { text: r.info.facts.group }),
        el('td', {}, badge(r.info.status)), el('td', { class: 'num', text: String(r.trials.length) }), el('td', { class: 'num', text: r.info.best ? num(r.info.best.reward) : '–' })));
    }
    window.mlpnas.page = { kind: 'compare', runs: [...runs.values()].map((r) => r.trials.length), groups: groups.size };
  };
  const tick = async () => {
    const problems = [];
    let changed = false;
    for (const [id, r] of runs) {
      try {
        const d = await getJSON(`/api/runs/${enc(id)}?from=${r.trials.length}${r.version !== null ? `&version=${r.version}` : ''}`);
        if (!d.unchanged) { r.info = d.info; r.trials.length = d.from; r.trials.push(...d.trials); r.version = d.info.version; changed = true; }
      } catch (e) { problems.push(`${id}: ${e.message}`); }
    }
    if (gen !== generation) return;
    error.textContent = '';
    for (const p of problems) error.append(el('div', { class: 'error', text: p }));
    if (changed) { draw(); window.mlpnas.updates += 1; }
    const running = [...runs.values()].some((r) => r.info && r.info.status === 'running');
    setLive(running, running ? 'live' : '');
    if (gen === generation) timer = setTimeout(tick, 2000);
  };
  await tick();
}

// ---------------------------------------------------------------- routing

function route() {
  generation += 1;
  clearTimeout(timer);
  destroyCharts();
  window.mlpnas.page = null;
  const gen = generation;
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const dec = (s) => { try { return decodeURIComponent(s); } catch (_) { return s; } };
  // A run id holds no "/" once encoded, but a hand-typed one may: everything between the page
  // and its "/trial/N" suffix is the id.
  const trialAt = parts.length >= 4 && parts[parts.length - 2] === 'trial' ? parts.length - 2 : -1;
  if (parts[0] === 'run' && parts[1] && trialAt > 1) trialPage(gen, dec(parts.slice(1, trialAt).join('/')), dec(parts[trialAt + 1]));
  else if (parts[0] === 'run' && parts[1]) runPage(gen, dec(parts.slice(1).join('/')));
  else if (parts[0] === 'compare' && parts[1]) comparePage(gen, parts.slice(1).join('/').split(',').filter(Boolean).map(dec));
  else runsPage(gen);
}

window.addEventListener('hashchange', route);
route();
