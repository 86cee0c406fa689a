// Runs the client-role conformance transcripts (Spec/conformance, format in Spec/CONFORMANCE.md) against the
// JavaScript client's sans-I/O core, as `eventack replay` runs them against the Swift ClientStateMachine.
//
//   node Examples/web/conformance.mjs [Spec/conformance]
//
// Prints one line per transcript and a summary; exits 1 if any client-role transcript fails.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientCore, ClientUsageError } from './eventack.js';

/** Variables of a transcript: `"$name"` binds on first match; `"$*"` matches anything; `"$absent"` only absence. */
class Variables {
  bound = new Map();

  substitute(pattern) {
    if (typeof pattern === 'string' && pattern.startsWith('$')) return this.bound.has(pattern) ? this.bound.get(pattern) : pattern;
    if (Array.isArray(pattern)) return pattern.map((p) => this.substitute(p));
    if (pattern && typeof pattern === 'object') return Object.fromEntries(Object.entries(pattern).map(([k, v]) => [k, this.substitute(v)]));
    return pattern;
  }

  match(pattern, actual) {
    const trial = new Map(this.bound);
    if (!matchInto(trial, pattern, actual)) return false;
    this.bound = trial;
    return true;
  }
}

function matchInto(bound, pattern, actual) {
  if (typeof pattern === 'string' && pattern.startsWith('$')) {
    if (pattern === '$*') return actual !== undefined;
    if (pattern === '$absent') return actual === undefined;
    if (actual === undefined) return false;
    if (bound.has(pattern)) return equal(bound.get(pattern), actual);
    bound.set(pattern, actual);
    return true;
  }
  if (actual === undefined) return false;
  if (Array.isArray(pattern)) {
    return Array.isArray(actual) && pattern.length === actual.length && pattern.every((p, i) => matchInto(bound, p, actual[i]));
  }
  if (pattern && typeof pattern === 'object') {
    return actual && typeof actual === 'object' && !Array.isArray(actual) && Object.keys(pattern).sort().every((k) => matchInto(bound, pattern[k], actual[k]));
  }
  return pattern === actual;
}

const equal = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
const canonical = (v) => (Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])])) : v);

/** Compact JSON with members in name order, as the Swift runner writes frames it sends to the machine. */
const compact = (v) => JSON.stringify(canonical(v));

function signalName(signal) {
  switch (signal.type) {
    case 'connected': return signal.resumed ? 'resumed' : 'connected';
    case 'serverError': return `serverError:${signal.error.code}`;
    case 'protocolViolation': return `protocolViolation:${signal.code}`;
    default: return signal.type;
  }
}

class ClientRunner {
  constructor(config = {}) {
    const settings = {};
    const known = ['window', 'ackBatchSize', 'reorderBufferLimit', 'runIdleTimeoutMs', 'confirmationResendMs', 'handshakeTimeoutMs'];
    for (const [key, value] of Object.entries(config)) {
      if (!known.includes(key)) throw new Error(`unknown client setting ${key}`);
      if (!Number.isInteger(value)) throw new Error(`${key} must be an integer`);
      settings[key] = value;
    }
    this.machine = new ClientCore({ client: { name: 'conformance', version: '1' }, ...settings });
    this.now = 0;
    this.outbox = [];
    this.variables = new Variables();
    this.delivered = [];
    this.signals = [];
  }

  collect(actions) {
    for (const action of actions) {
      if (action.send) this.outbox.push({ frame: JSON.parse(encodeFrame(action.send)) });
      else if (action.deliver) this.delivered.push(action.deliver.seq);
      else if (action.signal) this.signals.push(signalName(action.signal));
      else if (action.closeConnection !== undefined) this.outbox.push({ close: true });
      else if (action.closed) this.signals.push(action.closed.isComplete ? 'closed' : 'closedIncomplete');
    }
  }

  advance(at) {
    if (!Number.isInteger(at) || at < this.now) throw new Error('`at` must be a time at or after the previous one');
    let firings = 0;
    for (let deadline; (deadline = this.machine.nextDeadline) !== null && deadline <= at; ) {
      if (++firings > 100_000) throw new Error('the timer keeps firing without progress (livelock)');
      this.now = Math.max(this.now, deadline);
      this.collect(this.machine.timerFired(this.now));
    }
    this.now = at;
    this.collect(this.machine.timerFired(this.now));
  }

  perform(step) {
    if (step.at !== undefined) this.advance(step.at);
    if (step.connect !== undefined) this.collect(this.machine.connected(this.now));
    if (step.in !== undefined) this.collect(this.machine.frameReceived(compact(this.variables.substitute(step.in)), this.now));
    if (step.inRaw !== undefined) this.collect(this.machine.frameReceived(step.inRaw, this.now));
    if (step.disconnect !== undefined) this.collect(this.machine.connectionClosed(this.now));
    if (step.app !== undefined) this.app(step);
    if (step.out !== undefined) this.checkOut(step.out, step.unordered === true);
    if (step.delivered !== undefined) {
      const got = this.delivered;
      this.delivered = [];
      if (!equal(got, step.delivered)) throw new Error(`delivered ${JSON.stringify(got)}, expected ${JSON.stringify(step.delivered)}`);
    }
    if (step.signals !== undefined) {
      const got = this.signals;
      this.signals = [];
      if (!equal(got, step.signals)) throw new Error(`signalled ${JSON.stringify(got)}, expected ${JSON.stringify(step.signals)}`);
    }
  }

  app(step) {
    const seq = step.seq ?? 0;
    const calls = {
      display: () => this.machine.markDisplayed(seq, this.now),
      value: () => this.machine.confirmValue(seq, { signal: step.signal }, this.now),
      reject: () => this.machine.reject(seq, step.level ?? 'display', step.reason ?? 'rejected', undefined, this.now),
      close: () => this.machine.close(this.now),
    };
    if (!calls[step.app]) throw new Error(`unknown app call ${step.app}`);
    let actions;
    try {
      actions = calls[step.app]();
    } catch (error) {
      if (!(error instanceof ClientUsageError)) throw error;
      if (error.code !== step.error) throw new Error(`${step.app} failed: ${error.message}`);
      return;
    }
    if (step.error) throw new Error(`${step.app} should fail with ${step.error}`);
    this.collect(actions);
  }

  checkOut(patterns, unordered) {
    const items = this.outbox;
    this.outbox = [];
    const sent = items.map((i) => (i.frame ? JSON.stringify(i.frame) : 'close')).join('\n    ') || '(nothing)';
    if (patterns.length !== items.length) throw new Error(`expected ${patterns.length} outputs, got ${items.length}:\n    ${sent}`);
    const unused = [...items];
    patterns.forEach((pattern, index) => {
      const candidates = unordered ? unused.map((_, i) => i) : [index - (items.length - unused.length)];
      const found = candidates.find((i) => this.matches(pattern, unused[i]));
      if (found === undefined) throw new Error(`output ${index + 1} does not match ${JSON.stringify(pattern)}; sent:\n    ${sent}`);
      unused.splice(found, 1);
    });
  }

  matches(pattern, item) {
    if (item.close) return pattern.close === true;
    return pattern.message !== undefined && this.variables.match(pattern.message, item.frame);
  }
}

import { encodeMessage as encodeFrame } from './eventack.js';

const directory = process.argv[2] ?? new URL('../../Spec/conformance', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
for (const name of readdirSync(directory).filter((n) => n.endsWith('.json')).sort()) {
  const transcript = JSON.parse(readFileSync(join(directory, name), 'utf8'));
  if (transcript.role !== 'client') {
    skipped += 1;
    continue;
  }
  let failure = null;
  try {
    if (transcript.format !== 'eventack-conformance/1') throw new Error(`format ${transcript.format}`);
    const runner = new ClientRunner(transcript.config ?? {});
    transcript.steps.forEach((step, index) => {
      try {
        runner.perform(step);
      } catch (error) {
        throw new Error(`step ${index + 1} ${JSON.stringify(step)}: ${error.message}`);
      }
    });
  } catch (error) {
    failure = error.message;
  }
  if (failure) {
    failed += 1;
    console.log(`FAIL ${transcript.name} [${transcript.covers.join(', ')}]\n  ${failure}`);
  } else {
    passed += 1;
    console.log(`pass ${transcript.name} [${transcript.covers.join(', ')}]`);
  }
}
console.log(`JavaScript client: ${passed} of ${passed + failed} client-role transcripts pass (${skipped} server-role ones are not the client's)`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
