// The operator's live dashboard: the confirmation report (Spec/REPORT.md) pushed once a second over Server-Sent
// Events (`GET /v1/dashboard/events`, a native EventSource with a single-use ticket, Spec/BROWSER.md § 1). No framework, no build.
import { api, signIn, signOut, ticketFetcher } from './auth.js';

const TOKEN_KEY = 'eventack.dashboard.token';
const $ = (id) => document.getElementById(id);
const token = await signIn(TOKEN_KEY, $('sign-in'));
$('sign-out').onclick = () => signOut(TOKEN_KEY);
const ticket = ticketFetcher(token);
window.eventackDashboard = { frames: 0, last: null };

/** Opens the feed; an EventSource reconnects with its old URL, whose ticket is spent, so each retry takes a new one. */
async function follow(delayMs = 0) {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  let source;
  try {
    source = new EventSource(`/v1/dashboard/events?ticket=${encodeURIComponent(await ticket())}`);
  } catch (error) {
    setFeed('failed', `cannot get a ticket: ${error.message}`);
    return follow(Math.min(10_000, 2 * delayMs + 1000));
  }
  source.addEventListener('open', () => setFeed('connected', 'live'));
  source.addEventListener('report', (message) => {
    window.eventackDashboard.frames += 1;
    window.eventackDashboard.last = JSON.parse(message.data);
    draw(window.eventackDashboard.last);
  });
  source.addEventListener('error', () => {
    source.close();
    setFeed('disconnected', 'reconnecting…');
    follow(1000);
  });
}

function setFeed(state, text) {
  $('feed').dataset.state = state;
  $('feed').textContent = text;
}

const LEVELS = ['receipt', 'display', 'value'];
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const percent = (rate) => `${(100 * rate).toFixed(1)} %`;

function draw({ node, report, cluster }) {
  $('node').textContent = `node ${node} · ${new Date(report.generatedAt).toLocaleTimeString()}`;
  const overall = report.overall;
  $('overall').innerHTML = [
    tile('events', overall.events),
    ...LEVELS.map((level) => {
      const f = overall[level];
      return tile(level, `${f.confirmed} / ${f.requested}`, `${percent(f.rate)} · ${f.pending} pending · ${f.failed} failed`, f.failed ? 'bad' : f.pending ? 'wait' : 'good');
    }),
    tile('overdue', overall.overdue, 'passed an overdue deadline', overall.overdue ? 'wait' : ''),
    tile('retransmissions', overall.retransmissions),
  ].join('');
  $('latency').innerHTML = LEVELS.map((level) => histogram(level, overall[level].latencyMs)).join('');
  $('verdicts').textContent = Object.entries(report.runVerdicts ?? {}).map(([v, n]) => `${n} ${v}`).join(' · ');
  $('runs').innerHTML = '<tr><th>run</th><th>user</th><th>verdict</th><th>outcome</th>'
    + LEVELS.map((l) => `<th>${l}</th>`).join('') + '<th>failures</th></tr>'
    + [...report.runs].sort((a, b) => (b.startedAt ?? b.requestedAt ?? 0) - (a.startedAt ?? a.requestedAt ?? 0)).slice(0, 100).map((run) => `<tr data-verdict="${escape(run.verdict)}">
      <td>${escape(run.run)}</td><td>${escape(run.principal)}</td>
      <td class="verdict">${escape(run.verdict)}${run.endedBy ? ` (${escape(run.endedBy)})` : ''}</td>
      <td>${escape(run.outcome ?? '…')}</td>
      ${LEVELS.map((l) => levelCell(run.stats[l])).join('')}
      <td>${run.failures.map((f) => `<span class="failure">${escape(f.code)}${f.seq ? ` #${f.seq}` : ''}${f.detail ? `: ${escape(f.detail)}` : ''}</span>`).join(' ')}</td>
    </tr>`).join('');
  const reasons = Object.entries(overall.failuresByReason ?? {});
  $('failures').innerHTML = reasons.length ? reasons.map(([r, n]) => `<span class="failure">${escape(r)}: ${n}</span>`).join(' ') : 'none';
  $('sessions').innerHTML = '<tr><th>session</th><th>user</th><th>state</th><th>retained</th><th>open runs</th><th>events</th></tr>'
    + report.sessions.slice(0, 100).map((s) => `<tr><td>${escape(s.session)}</td><td>${escape(s.principal)}</td>
      <td>${escape(s.state)}</td><td>${s.retainedEvents}</td><td>${s.openRuns}</td><td>${s.stats.events}</td></tr>`).join('');
  $('cluster-card').hidden = !cluster;
  if (cluster) {
    $('nodes').innerHTML = '<tr><th>node</th><th>last heartbeat</th></tr>' + Object.entries(cluster.nodes).sort()
      .map(([id, age]) => `<tr data-stale="${age > 10_000}"><td>${escape(id)}</td><td>${(age / 1000).toFixed(1)} s ago</td></tr>`).join('');
  }
}

function tile(title, value, detail = '', state = '') {
  return `<div class="tile" data-state="${state}"><div class="title">${escape(title)}</div><div class="value">${escape(value)}</div><div class="detail">${escape(detail)}</div></div>`;
}

function levelCell(figures) {
  if (!figures.requested) return '<td class="muted">–</td>';
  const state = figures.failed ? 'bad' : figures.pending ? 'wait' : 'good';
  return `<td data-state="${state}">${figures.confirmed}/${figures.requested}${figures.pending ? ` · ${figures.pending} pending` : ''}${figures.failed ? ` · ${figures.failed} failed` : ''}</td>`;
}

/** A bar per non-empty bucket (upper bound, samples), and the percentiles. */
function histogram(level, latency) {
  if (!latency?.count) return `<div class="histogram"><h3>${level}</h3><p class="muted">no samples</p></div>`;
  const most = Math.max(...latency.buckets.map(([, n]) => n));
  const bars = latency.buckets.map(([bound, n]) => `<div class="bar" title="≤ ${bound} ms: ${n}" style="height:${Math.max(4, (100 * n) / most)}%"></div>`).join('');
  return `<div class="histogram"><h3>${level}</h3><div class="bars">${bars}</div>
    <p>p50 ${latency.p50} · p90 ${latency.p90} · p99 ${latency.p99} · max ${latency.max} ms (${latency.count})</p></div>`;
}

await api(token, '/v1/agents').catch((error) => setFeed('failed', `the token is refused: ${error.message}`));
follow();
