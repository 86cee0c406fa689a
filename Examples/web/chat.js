// The chat page: starts runs, shows their events as they arrive, confirms display when an event is really on screen
// (observeDisplay) and value when the user says so; connection state, stalls and resets are shown, never hidden.
import { EventAckClient, observeDisplay } from './eventack.js';
import { api, signIn, signOut, ticketFetcher } from './auth.js';

const TOKEN_KEY = 'eventack.chat.token';
const $ = (id) => document.getElementById(id);
const conversation = $('conversation');

/** What tests and curious people read: deliveries shown by this page load, and their display latencies. */
const LATENCY_KEY = 'eventack.chat.latencies';
const page = { shown: [], latencies: JSON.parse(sessionStorage.getItem(LATENCY_KEY) ?? '[]'), signals: [], client: null };
window.eventackPage = page;

const token = await signIn(TOKEN_KEY, $('sign-in'));
$('sign-out').onclick = () => signOut(TOKEN_KEY);
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/eventack`;
const client = new EventAckClient({ url, ticket: ticketFetcher(token), storageKey: `eventack.chat.snapshot.${token}` });
page.client = client;
$('cut').onclick = () => client.dropConnection();

// MARK: runs and events

const runs = new Map();   // run id → {card, state, messages: Map(messageId → element), tools: Map}

function runCard(run) {
  let entry = runs.get(run);
  if (entry) return entry;
  const card = document.createElement('section');
  card.className = 'run';
  card.dataset.run = run;
  card.innerHTML = '<h2><span class="run-name"></span> <span class="run-state" data-state="running">running</span></h2>';
  card.querySelector('.run-name').textContent = run;
  append(card);
  entry = { card, messages: new Map(), tools: new Map() };
  runs.set(run, entry);
  return entry;
}

function setRunState(run, state, text) {
  const label = runCard(run).card.querySelector('.run-state');
  label.dataset.state = state;
  label.textContent = text ?? state;
}

/** Appends to the conversation, keeping the view at the bottom only if it was there (as chat apps do). */
function append(element, parent = conversation) {
  const atBottom = conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 40;
  parent.append(element);
  if (atBottom) conversation.scrollTop = conversation.scrollHeight;
  else $('jump').hidden = false;
}
conversation.addEventListener('scroll', () => {
  if (conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 40) $('jump').hidden = true;
});
$('jump').onclick = () => { conversation.scrollTop = conversation.scrollHeight; };

const describe = {
  agent_started: (p) => `started${p.scenario ? ` (${p.scenario})` : ''}`,
  agent_thinking: (p) => p.text ?? 'thinking…',
  tool_executing: (p) => `running ${p.tool ?? 'a tool'} ${p.args ? JSON.stringify(p.args) : ''}`,
  tool_completed: (p) => `${p.isError ? '⚠ ' : ''}${p.output ?? 'done'}`,
  agent_completed: (p) => p.result ?? 'done',
  agent_failed: (p) => `failed: ${p.error ?? p.reason ?? 'no reason given'}`,
  RUN_STARTED: () => 'run started',
  RUN_FINISHED: () => 'run finished',
  RUN_ERROR: (p) => `run failed: ${p.message ?? p.code ?? ''}`,
  STEP_STARTED: (p) => `step ${p.stepName ?? ''} started`,
  STEP_FINISHED: (p) => `step ${p.stepName ?? ''} finished`,
  STATE_SNAPSHOT: (p) => `state ${JSON.stringify(p.snapshot ?? {})}`,
  STATE_DELTA: (p) => `state change ${JSON.stringify(p.delta ?? [])}`,
};

/** Renders one delivery; returns the element that shows it (its own row, or the message it streams into). */
function render(delivery) {
  const { run, kind, payload } = delivery;
  const entry = runCard(run);
  // Streamed text: one element per message; each delta is displayed with it (BROWSER.md EA-WEB-4).
  if (payload.messageId && /^(TEXT_MESSAGE|REASONING(_MESSAGE)?|THINKING_TEXT_MESSAGE)_/.test(kind)) {
    const assistant = kind.startsWith('TEXT');
    const label = assistant ? 'assistant' : 'reasoning';
    const element = streamInto(entry.messages, payload.messageId, delivery, assistant ? 'message' : 'reasoning', label, '');
    if (kind.endsWith('_END')) element.classList.add('complete');
    return element;
  }
  if (payload.toolCallId && /^TOOL_CALL_(START|ARGS|END)$/.test(kind)) {
    return streamInto(entry.tools, payload.toolCallId, delivery, 'tool', 'tool call', `${payload.toolCallName ?? 'tool'} `);
  }
  const element = row(delivery, 'event');
  element.dataset.seqs = String(delivery.seq);
  append(element, entry.card);
  return element;
}

/** The element one message or tool call streams into, made by its first event; each event's delta is appended. */
function streamInto(streams, id, delivery, className, label, initialText) {
  let element = streams.get(id);
  if (!element) {
    element = row(delivery, className);
    element.querySelector('.kind').textContent = label;
    element.querySelector('.text').textContent = initialText;
    streams.set(id, element);
    append(element, runCard(delivery.run).card);
  }
  if (delivery.payload.delta) element.querySelector('.text').textContent += delivery.payload.delta;
  element.dataset.seqs = `${element.dataset.seqs ?? ''} ${delivery.seq}`.trim();
  return element;
}

function row(delivery, className) {
  const element = document.createElement('div');
  element.className = className;
  element.id = `ev-${delivery.session}-${delivery.seq}`;
  element.dataset.kind = delivery.kind;
  const text = (describe[delivery.kind] ?? ((p) => p.content ?? p.text ?? JSON.stringify(p)))(delivery.payload);
  element.innerHTML = '<span class="kind"></span><span class="text"></span><span class="marks"></span>';
  element.querySelector('.kind').textContent = delivery.kind;
  element.querySelector('.text').textContent = text;
  return element;
}

/** Value: a thumbs-up confirms it, a thumbs-down rejects it with the reason typed. */
function addValueButtons(element, delivery) {
  const box = document.createElement('span');
  box.className = 'value';
  box.innerHTML = '<button class="up" type="button" title="this answer helped">👍 useful</button><button class="down" type="button" title="this answer did not help">👎 not useful</button>'
    + '<form hidden><input name="why" placeholder="why not?" maxlength="200"><button type="submit">send</button></form>';
  const [up, down] = box.querySelectorAll('button');
  const form = box.querySelector('form');
  up.onclick = () => settleValue(box, () => delivery.confirmValue({ signal: 'thumbs_up' }), 'valued ✓');
  down.onclick = () => { form.hidden = false; form.elements.why.focus(); };
  form.onsubmit = (event) => {
    event.preventDefault();
    const why = form.elements.why.value.trim() || 'not useful';
    // The user read the answer to reject it: it was displayed (a value nack alone says nothing of display).
    settleValue(box, () => {
      if (delivery.awaitsDisplay) delivery.markDisplayed();
      delivery.reject('value', 'rejected', why);
    }, `rejected: ${why}`);
  };
  element.querySelector('.marks').append(box);
}

function settleValue(box, call, text) {
  try {
    call();
    box.textContent = text;
  } catch (error) {
    box.textContent = `could not confirm: ${error.message}`;
  }
}

function show(delivery) {
  const element = render(delivery);
  page.shown.push(`${delivery.session}:${delivery.seq}`);
  element.dataset.delivered = 'true';
  if (delivery.awaitsValue) addValueButtons(element, delivery);
  if (delivery.awaitsDisplay) {
    element.dataset.awaitsDisplay = `${element.dataset.awaitsDisplay ?? ''} ${delivery.seq}`.trim();
    observeDisplay(element, delivery, {
      onDisplayed: (d, { paintedAt, visibleSince, displayedAt }) => {
        element.dataset.displayed = `${element.dataset.displayed ?? ''} ${d.seq}`.trim();
        if (d.deliveredAt === undefined) return;  // delivered before a reload: its clock is gone
        // Latencies in this tab, kept across reloads (bounded): delivered → painted → display confirmed, and whether
        // it was on screen when painted (else the wait for the user to scroll to it is in the figure).
        page.latencies.push({
          seq: d.seq, kind: d.kind, painted: paintedAt - d.deliveredAt, confirmed: displayedAt - d.deliveredAt,
          onScreenWhenPainted: visibleSince <= paintedAt + 50,
        });
        sessionStorage.setItem(LATENCY_KEY, JSON.stringify(page.latencies.slice(-1000)));
      },
    });
  }
  if (delivery.event.endsRun) setRunState(delivery.run, 'ended', delivery.kind === 'agent_failed' || delivery.kind === 'RUN_ERROR' ? 'ended (agent failed)' : 'ended');
}

// MARK: signals: shown, never hidden

function log(text, level = 'info') {
  const item = document.createElement('li');
  item.dataset.level = level;
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').prepend(item);
  while ($('log').children.length > 200) $('log').lastChild.remove();
}

function setConnection(state, text) {
  $('connection').dataset.state = state;
  $('connection').textContent = text;
  for (const button of $('starters').querySelectorAll('button')) button.disabled = state !== 'connected';
}

function banner(text) {
  $('banner').hidden = false;
  $('banner').textContent = text;
}

client.onSignal((signal) => {
  page.signals.push(signal.type);
  switch (signal.type) {
    case 'connected':
      setConnection('connected', signal.resumed ? 'connected (resumed)' : 'connected');
      log(`${signal.resumed ? 'resumed' : 'opened'} session ${signal.session}`);
      break;
    case 'disconnected':
      setConnection('disconnected', 'reconnecting…');
      log(`disconnected: ${signal.reason}`, 'warn');
      break;
    case 'connectFailed':
      setConnection('disconnected', `cannot connect (attempt ${signal.attempt})`);
      log(`connecting failed: ${signal.error}`, 'warn');
      break;
    case 'gaveUp':
      setConnection('failed', 'gave up');
      banner(`Could not reconnect after ${signal.attempts} attempts: ${signal.lastError}`);
      break;
    case 'connectionDead':
      log(`the connection went silent for ${Math.round(signal.silentMs)} ms; reconnecting`, 'warn');
      break;
    case 'runStalled':
      setRunState(signal.run, 'stalled', `stalled: nothing for ${Math.round(signal.idleMs / 1000)} s`);
      log(`run ${signal.run} stalled`, 'warn');
      break;
    case 'runResumed':
      setRunState(signal.run, 'running', 'running');
      log(`run ${signal.run} is alive again`);
      break;
    case 'runEnded':
      log(`run ${signal.run} ended (${signal.kind})`);
      break;
    case 'sessionReset':
      banner(`The earlier session ${signal.session} is gone (${signal.reason}): ${signal.message}. `
        + `Runs ended with it: ${signal.endedRuns.join(', ') || 'none'}; unconfirmed events: ${signal.unconfirmed.length}.`);
      for (const run of signal.endedRuns) setRunState(run, 'failed', `ended with the session (${signal.reason})`);
      log(`session reset: ${signal.reason}`, 'error');
      break;
    case 'eventsLost':
      log(`events ${signal.from}–${signal.through} were lost: the server gave up on them`, 'error');
      banner(`Events ${signal.from}–${signal.through} could not be delivered and were given up by the server.`);
      break;
    case 'serverError':
      log(`server error ${signal.error.code}: ${signal.error.message}`, 'error');
      break;
    case 'protocolViolation':
      log(`protocol violation ${signal.code}: ${signal.message}`, 'error');
      break;
    case 'snapshotDiscarded':
      if (signal.reason === 'duplicated_tab') {
        // This tab is a copy of another: what it showed is the other tab's; it starts a conversation of its own.
        conversation.replaceChildren();
        runs.clear();
        page.shown = [];
      }
      log(`stored session not resumed: ${signal.message}`, 'warn');
      break;
    default:
      log(`${signal.type} ${signal.message ?? ''}`, 'warn');
  }
});

// MARK: starting runs

async function start(body, path) {
  const session = client.sessionID;
  if (!session) return;
  try {
    const answer = await api(token, path, { method: 'POST', body: { session, ...body } });
    log(`started run ${answer.run ?? ''}`);
  } catch (error) {
    log(`could not start the run: ${error.message}`, 'error');
  }
}

const startable = await api(token, '/v1/agents').catch((error) => {
  banner(`Signed in with a token the server refuses (${error.message}).`);
  return { scenarios: [], agUIAgents: [] };
});
for (const scenario of startable.scenarios) {
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.scenario = scenario;
  button.textContent = `run “${scenario}”`;
  button.onclick = () => start({ scenario }, '/runs');
  $('starters').append(button);
}
for (const name of startable.agUIAgents) {
  const form = document.createElement('form');
  form.innerHTML = '<input name="prompt" placeholder="ask the AG-UI agent…"><button type="submit"></button>';
  form.querySelector('button').textContent = `ask ${name}`;
  form.querySelector('button').dataset.agent = name;
  form.onsubmit = (event) => {
    event.preventDefault();
    const prompt = form.elements.prompt.value.trim() || 'Find me a flight to Lisbon';
    const input = { messages: [{ id: `u-${Date.now()}`, role: 'user', content: prompt }] };
    // The assistant's answer asks for value: its 👍/👎 are the user's verdict.
    start({ agent: { name, input }, confirm: { TEXT_MESSAGE_END: 'value' } }, '/v1/runs');
  };
  $('starters').append(form);
}

// MARK: go

for (const delivery of client.history) show(delivery);
setConnection('connecting', 'connecting…');
client.start();
for await (const delivery of client.events) show(delivery);
