// EventAck for browsers: one ES module, no dependency, no build step.
//
// Written from Spec/PROTOCOL.md and shaped like the Swift SDK (Sources/EventAckClient):
//   - `ClientCore` is the sans-I/O client machine (the rules of `ClientStateMachine`): every input is a method named for
//     what happened, takes `now` (milliseconds of a monotonic clock) and returns the actions to perform, in order.
//     No WebSocket, no timer, no storage: Node runs the client-role conformance transcripts against it.
//   - `EventAckClient` is the thin shell over the browser's `WebSocket`, timers and `sessionStorage`.
//   - `observeDisplay` confirms display when an event's element is really on screen (Spec/BROWSER.md).
// Documentation: README.md beside this file.

// MARK: - Protocol constants

/** The protocol versions this client offers, newest first. */
export const PROTOCOL_VERSIONS = Object.freeze(['1.1']);
/** The WebSocket subprotocol (PROTOCOL.md § 2). */
export const SUBPROTOCOL = 'eventack.v1';
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const MAX_ACK_RANGES = 64;
const MAX_VALUE_CONFIRMATIONS = 256;
const MAX_DEPTH = 64;
const MAX_IDENTIFIER_BYTES = 256;
const MAX_TEXT_BYTES = 4096;
const DAY_MS = 86_400_000;
const LEVELS = Object.freeze(['receipt', 'display', 'value']);
const levelRank = (level) => LEVELS.indexOf(level);
const SNAPSHOT_FORMAT = 'eventack-js-snapshot/1';

/** A frame that failed validation: `code` is the spec's error code, `seq` set when the event's seq was readable. */
export class ProtocolError extends Error {
  constructor(code, message, { path = '$', seq } = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.path = path;
    if (seq !== undefined) this.seq = seq;
  }
}

/** A mistake of the app using the client API (never sent on the wire): `not_delivered` or `level_not_requested`. */
export class ClientUsageError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'ClientUsageError';
    this.code = code;
  }

  static notDelivered(seq) {
    return new ClientUsageError('not_delivered', `seq ${seq} was never delivered in this session`);
  }

  static levelNotRequested(seq, level) {
    return new ClientUsageError('level_not_requested', `seq ${seq} does not ask for ${level} confirmation`);
  }
}

// MARK: - Ack sets (PROTOCOL.md § 4)

/**
 * A set of seqs in the canonical form of the wire: every seq up to `upTo`, plus sorted, disjoint, non-adjacent
 * inclusive `ranges` (`[low, high]` pairs) above `upTo + 1`. Operations cost time in ranges, never in members.
 */
export class AckSet {
  constructor(upTo = 0, ranges = []) {
    this.upTo = upTo;
    this.ranges = ranges.map(([low, high]) => [low, high]);
  }

  /** A set from its wire form `{upTo, ranges?}`, which must be canonical; throws `ProtocolError` otherwise. */
  static fromWire(object, path = '$') {
    const reader = new MemberReader(object, path);
    const upTo = reader.integer('upTo', { required: true });
    const rangesValue = reader.value('ranges');
    if (rangesValue === undefined) return new AckSet(upTo);
    const rangesPath = `${path}.ranges`;
    if (!Array.isArray(rangesValue)) throw new ProtocolError('invalid_message', '"ranges" must be an array', { path: rangesPath });
    if (rangesValue.length > MAX_ACK_RANGES) {
      throw new ProtocolError('too_many_ranges', `more than ${MAX_ACK_RANGES} ranges`, { path: rangesPath });
    }
    let floor = upTo;
    const ranges = rangesValue.map((pair, index) => {
      const at = `${rangesPath}[${index}]`;
      const integral = Array.isArray(pair) && pair.length === 2 && !pair[NON_INTEGER]?.size;
      if (!integral || !pair.every((n) => Number.isSafeInteger(n) && n >= 1)) {
        throw new ProtocolError('invalid_message', 'a range must be [lo, hi] with integers in 1...2^53-1', { path: at });
      }
      const [low, high] = pair;
      if (low > high) throw new ProtocolError('invalid_ack', `range [${low},${high}] has lo > hi`, { path: at });
      if (low <= floor + 1) throw new ProtocolError('invalid_ack', `range ${low}...${high} is not canonical`, { path: at });
      floor = high;
      return [low, high];
    });
    return new AckSet(upTo, ranges);
  }

  /** The wire form: `{upTo}` and `ranges` when there are any. */
  toWire() {
    return this.ranges.length ? { upTo: this.upTo, ranges: this.ranges.map((r) => [r[0], r[1]]) } : { upTo: this.upTo };
  }

  get isEmpty() {
    return this.upTo === 0 && this.ranges.length === 0;
  }

  /** The largest member, or 0. */
  get highest() {
    return this.ranges.length ? this.ranges[this.ranges.length - 1][1] : this.upTo;
  }

  /** Every member as `[low, high]` ranges, lowest first. */
  get memberRanges() {
    return this.upTo > 0 ? [[1, this.upTo], ...this.ranges] : this.ranges;
  }

  /** The index of the first range whose upper bound is ≥ `seq` (binary search). */
  #firstEndingAtOrAbove(seq) {
    let low = 0;
    let high = this.ranges.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.ranges[middle][1] < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  contains(seq) {
    if (seq < 1) return false;
    if (seq <= this.upTo) return true;
    const index = this.#firstEndingAtOrAbove(seq);
    return index < this.ranges.length && this.ranges[index][0] <= seq;
  }

  /** The maximal run of members holding `seq`, or `null`. */
  memberRange(seq) {
    if (seq < 1) return null;
    if (seq <= this.upTo) return [1, this.upTo];
    const index = this.#firstEndingAtOrAbove(seq);
    return index < this.ranges.length && this.ranges[index][0] <= seq ? this.ranges[index] : null;
  }

  /** Adds `low...high`. */
  insertRange(low, high) {
    if (high <= this.upTo || high < 1) return;
    low = Math.max(low, this.upTo + 1, 1);
    const first = this.#firstEndingAtOrAbove(low - 1);
    let last = first;
    while (last < this.ranges.length && this.ranges[last][0] - 1 <= high) {
      low = Math.min(low, this.ranges[last][0]);
      high = Math.max(high, this.ranges[last][1]);
      last += 1;
    }
    this.ranges.splice(first, last - first, [low, high]);
    if (this.ranges.length && this.ranges[0][0] === this.upTo + 1) this.upTo = this.ranges.shift()[1];
  }

  insert(seq) {
    this.insertRange(seq, seq);
  }

  union(other) {
    const result = new AckSet(this.upTo, this.ranges);
    for (const [low, high] of other.memberRanges) result.insertRange(low, high);
    return result;
  }

  isSuperset(other) {
    return other.memberRanges.every(([low, high]) => {
      if (high <= this.upTo) return true;
      const index = this.#firstEndingAtOrAbove(high);
      return index < this.ranges.length && this.ranges[index][0] <= Math.max(low, this.upTo + 1);
    });
  }

  /** The seqs of `low...high` that are not members, as ranges. */
  missing(low, high) {
    const pieces = [];
    let from = Math.max(low, this.upTo + 1);
    let index = this.#firstEndingAtOrAbove(from);
    while (from <= high) {
      if (index >= this.ranges.length || this.ranges[index][0] > high) {
        pieces.push([from, high]);
        break;
      }
      const [memberLow, memberHigh] = this.ranges[index];
      if (memberLow > from) pieces.push([from, memberLow - 1]);
      from = memberHigh + 1;
      index += 1;
    }
    return pieces;
  }

  /** At most `maxRanges` ranges, the lowest kept: what fits in one frame (EA-ACK-4). */
  capped(maxRanges = MAX_ACK_RANGES) {
    return new AckSet(this.upTo, this.ranges.slice(0, maxRanges));
  }
}

// MARK: - Strict JSON (EA-MSG-3, -4, -7, -9)

/** Marks, on a parsed object or array, the member names (or indices) whose number had a fraction or an exponent. */
const NON_INTEGER = Symbol('eventack.nonInteger');

/**
 * Parses JSON as the spec reads it: a member twice in one object and nesting deeper than 64 are `invalid_message`,
 * anything that is not JSON is `malformed_json`. `JSON.parse` keeps the last of two equal members and turns `1.0` into
 * an integer; the spec forbids both, so the text is read here, once.
 */
export function parseStrictJSON(text) {
  let index = 0;
  const fail = (code, message) => {
    throw new ProtocolError(code, message);
  };
  const malformed = () => fail('malformed_json', `not JSON at offset ${index}`);
  const skip = () => {
    while (index < text.length) {
      const c = text.charCodeAt(index);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      index += 1;
    }
  };
  const numberPattern = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const stringPattern = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const readString = () => {
    stringPattern.lastIndex = index;
    const match = stringPattern.exec(text);
    if (!match) malformed();
    index = stringPattern.lastIndex;
    return JSON.parse(match[0]);
  };
  const readValue = (depth, container, key) => {
    skip();
    const c = text[index];
    if (c === '{' || c === '[') {
      if (depth >= MAX_DEPTH) fail('invalid_message', `nested deeper than ${MAX_DEPTH} levels`);
      index += 1;
      skip();
      const isObject = c === '{';
      const result = isObject ? {} : [];
      const close = isObject ? '}' : ']';
      const seen = isObject ? new Set() : null;
      if (text[index] === close) {
        index += 1;
        return result;
      }
      for (;;) {
        if (isObject) {
          skip();
          if (text[index] !== '"') malformed();
          const name = readString();
          if (seen.has(name)) fail('invalid_message', `duplicate member "${name.slice(0, 64)}"`);
          seen.add(name);
          skip();
          if (text[index] !== ':') malformed();
          index += 1;
          const value = readValue(depth + 1, result, name);
          // `__proto__` as a plain own member, never the prototype.
          Object.defineProperty(result, name, { value, enumerable: true, writable: true, configurable: true });
        } else {
          result.push(readValue(depth + 1, result, result.length));
        }
        skip();
        if (text[index] === ',') {
          index += 1;
          continue;
        }
        if (text[index] === close) {
          index += 1;
          return result;
        }
        malformed();
      }
    }
    if (c === '"') return readString();
    for (const [word, value] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, index)) {
        index += word.length;
        return value;
      }
    }
    numberPattern.lastIndex = index;
    const match = numberPattern.exec(text);
    if (!match || match[0] === '-') malformed();
    index = numberPattern.lastIndex;
    if ((match[1] || match[2]) && container) (container[NON_INTEGER] ??= new Set()).add(key);
    return Number(match[0]);
  };
  const value = readValue(0, null, null);
  skip();
  if (index !== text.length) malformed();
  return value;
}

const utf8Length = (string) => {
  let bytes = 0;
  for (let i = 0; i < string.length; i += 1) {
    const c = string.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
};

/** Typed access to the members of one object, each failure with the spec's code and a path. */
class MemberReader {
  constructor(object, path) {
    this.members = object;
    this.path = path;
  }

  fail(name, message, code = 'invalid_message') {
    return new ProtocolError(code, message, { path: `${this.path}.${name}` });
  }

  value(name, { required = false } = {}) {
    const value = Object.hasOwn(this.members, name) ? this.members[name] : undefined;
    if (value === undefined && required) throw this.fail(name, `missing required member "${name}"`);
    // EA-MSG-10: null is not a value of any member.
    if (value === null) throw this.fail(name, `"${name}" must not be null`);
    return value;
  }

  integer(name, { required = false, minimum = 0 } = {}) {
    const value = this.value(name, { required });
    if (value === undefined) return undefined;
    const integral = Number.isSafeInteger(value) && !this.members[NON_INTEGER]?.has(name);
    if (!integral || value < minimum) throw this.fail(name, `"${name}" must be an integer in ${minimum}...2^53-1`);
    return value;
  }

  string(name, { required = false, maxBytes = MAX_IDENTIFIER_BYTES, allowEmpty = false } = {}) {
    const value = this.value(name, { required });
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw this.fail(name, `"${name}" must be a string`);
    if (!allowEmpty && value.length === 0) throw this.fail(name, `"${name}" must not be empty`);
    if (utf8Length(value) > maxBytes) throw this.fail(name, `"${name}" is longer than ${maxBytes} UTF-8 bytes`);
    return value;
  }

  text(name, options = {}) {
    return this.string(name, { maxBytes: MAX_TEXT_BYTES, allowEmpty: true, ...options });
  }

  bool(name, options = {}) {
    const value = this.value(name, options);
    if (value !== undefined && typeof value !== 'boolean') throw this.fail(name, `"${name}" must be true or false`);
    return value;
  }

  level(name) {
    const value = this.value(name, { required: true });
    if (!LEVELS.includes(value)) throw this.fail(name, `"${name}" must be "receipt", "display" or "value"`);
    return value;
  }

  object(name, options = {}) {
    const value = this.value(name, options);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw this.fail(name, `"${name}" must be an object`);
    return value;
  }

  ackSet(name) {
    const value = this.object(name);
    return value === undefined ? undefined : AckSet.fromWire(value, `${this.path}.${name}`);
  }
}

// MARK: - Messages (PROTOCOL.md § 3)

const parseVersion = (text) => {
  const match = typeof text === 'string' ? /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/.exec(text) : null;
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : null;
};

/**
 * Decodes one frame sent to a client, with the spec's validation: a message `{type, …}` with its members typed
 * (ack sets as `AckSet`), or a thrown `ProtocolError`. An event whose seq was readable carries it in the error, so
 * that it can be nacked `undecodable` (EA-EVT-6).
 */
export function decodeMessage(text) {
  const value = parseStrictJSON(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('invalid_message', 'a message is a JSON object');
  }
  const reader = new MemberReader(value, '$');
  const type = reader.value('type', { required: true });
  if (typeof type !== 'string') throw reader.fail('type', '"type" must be a string');
  switch (type) {
    case 'welcome': {
      const version = parseVersion(reader.value('version', { required: true }));
      if (!version) throw reader.fail('version', '"version" must be a "MAJOR.MINOR" string');
      return {
        type,
        version,
        session: reader.string('session', { required: true }),
        token: reader.string('token', { required: true }),
        resumed: reader.bool('resumed', { required: true }),
        heartbeatMs: reader.integer('heartbeatMs', { required: true, minimum: 1 }),
        ackDelayMs: reader.integer('ackDelayMs', { required: true }),
        window: reader.integer('window', { required: true, minimum: 1 }),
        maxFrameBytes: reader.integer('maxFrameBytes', { required: true, minimum: 1024 }),
      };
    }
    case 'event': {
      const seq = reader.integer('seq', { required: true, minimum: 1 });
      try {
        const payload = reader.object('payload', { required: true });
        return {
          type,
          seq,
          run: reader.string('run', { required: true }),
          kind: reader.string('kind', { required: true }),
          ts: reader.integer('ts', { required: true }),
          confirm: reader.level('confirm'),
          attempt: reader.integer('attempt', { required: true, minimum: 1 }),
          payload,
          endsRun: reader.bool('endsRun') ?? false,
        };
      } catch (error) {
        if (error instanceof ProtocolError) error.seq = seq;
        throw error;
      }
    }
    case 'synced':
      return { type, receipt: reader.ackSet('receipt'), display: reader.ackSet('display'), value: reader.ackSet('value') };
    case 'progress':
      return {
        type,
        run: reader.string('run', { required: true }),
        ts: reader.integer('ts', { required: true }),
        note: reader.text('note'),
      };
    case 'ping':
    case 'pong':
      return { type, id: reader.integer('id', { required: true }) };
    case 'error':
      return {
        type,
        code: reader.string('code', { required: true }),
        message: reader.text('message', { required: true }),
        fatal: reader.bool('fatal', { required: true }),
        seq: reader.integer('seq', { minimum: 1 }),
      };
    case 'bye':
      return { type, reason: reader.text('reason') };
    case 'hello': case 'ack': case 'nack':
      return { type };  // valid types a client never accepts: answered by the machine (EA-MSG-13)
    default:
      throw new ProtocolError('unknown_type', `unknown message type "${type.slice(0, 64)}"`, { path: '$.type' });
  }
}

/** Compact JSON of a message this client sends, members in the spec's order (EA-MSG-3). */
export function encodeMessage(message) {
  const wire = { type: message.type };
  const copy = (names) => {
    for (const name of names) {
      const value = message[name];
      if (value !== undefined) wire[name] = value instanceof AckSet ? value.toWire() : value;
    }
  };
  switch (message.type) {
    case 'hello': copy(['versions', 'client', 'window', 'resume']); break;
    case 'ack': copy(['receipt', 'display', 'value']); break;
    case 'nack': copy(['seq', 'level', 'reason', 'detail']); break;
    case 'error': copy(['code', 'message', 'fatal', 'seq']); break;
    case 'ping': case 'pong': copy(['id']); break;
    case 'bye': copy(['reason']); break;
    default: throw new TypeError(`a client does not send ${message.type}`);
  }
  if (wire.resume) wire.resume = { ...wire.resume, receipt: wire.resume.receipt.toWire() };
  return JSON.stringify(wire);
}

// MARK: - Configuration

/** The defaults of `ClientConfiguration` in the Swift SDK; every duration in milliseconds. */
export const DEFAULT_CONFIGURATION = Object.freeze({
  client: { name: 'eventack-js', version: '1.0.0' },
  versions: PROTOCOL_VERSIONS,
  window: undefined,
  ackBatchSize: 32,
  acksWhenDrained: true,
  reorderBufferLimit: 1024,
  runIdleTimeoutMs: 60_000,
  terminalKinds: ['agent_completed', 'agent_failed'],
  confirmationResendMs: 3_000,
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  historyLimit: 500,
});

const clamp = (value, low, high) => Math.min(Math.max(low, value), high);

/** The one place where settings are brought into range (as `ClientConfiguration.normalized()`). */
export function normalizeConfiguration(settings = {}) {
  const c = { ...DEFAULT_CONFIGURATION, ...settings };
  c.ackBatchSize = clamp(Math.trunc(c.ackBatchSize), 1, 4096);
  c.reorderBufferLimit = clamp(Math.trunc(c.reorderBufferLimit), 1, 65_536);
  c.runIdleTimeoutMs = clamp(c.runIdleTimeoutMs, 1, DAY_MS);
  c.confirmationResendMs = clamp(c.confirmationResendMs, 1, DAY_MS);
  c.handshakeTimeoutMs = clamp(c.handshakeTimeoutMs, 1, DAY_MS);
  c.closeTimeoutMs = clamp(c.closeTimeoutMs, 0, DAY_MS);
  c.historyLimit = clamp(Math.trunc(c.historyLimit), 0, 10_000);
  if (c.window !== undefined) c.window = clamp(Math.trunc(c.window), 1, MAX_SEQ);
  if (!c.versions?.length) c.versions = PROTOCOL_VERSIONS;
  c.terminalKinds = new Set(c.terminalKinds);
  return Object.freeze(c);
}

// MARK: - The client machine

/**
 * The client side of EventAck as a pure state machine (the rules of the Swift `ClientStateMachine`).
 *
 * Inputs return arrays of actions: `{send: message}`, `{deliver: event}`, `{signal: {type, …}}`,
 * `{closeConnection: reason}` and `{closed: report}`. After every input the shell arms one timer for `nextDeadline`
 * and calls `timerFired(now)` when it passes. The session survives connections: it is resumed on the next one.
 */
export class ClientCore {
  /** Each `history` entry's JSON, made once when it is delivered: the snapshot is written before every ack, and
   *  serialising 500 events again each time cost ~300 µs per event in a burst (Node 20, 150-byte deltas). */
  #historyText = [];

  constructor(settings = {}) {
    this.configuration = normalizeConfiguration(settings);
    this.connection = { state: 'disconnected' };
    this.session = null;
    this.#resetSessionState();
    this.nextPingID = 1;
    this.closing = null;
    this.pendingRejection = null;
  }

  #resetSessionState() {
    // Delivery: the receipt set (held + skipped seqs), the next seq for the app, events above a hole, and delivered
    // events that still need display or value.
    this.received = new AckSet();
    this.highestSeen = 0;
    this.nextToDeliver = 1;
    this.buffered = new Map();
    this.outstandingEvents = new Map();
    this.unackedCount = 0;
    this.ackDue = null;
    // Confirmations, retained until a `synced` covers them (EA-SYNC-3).
    this.displayed = new AckSet();
    this.receiptOnly = new AckSet();
    this.valued = new AckSet();
    this.unsyncedValues = new Map();
    this.unsyncedNacks = new Map();
    this.freshNacks = [];
    this.awaitingEchoSince = null;
    this.synced = { receipt: new AckSet(), display: new AckSet(), value: new AckSet() };
    // Runs: idle deadlines (EA-LIVE-2), bounded like the Swift client's.
    this.runs = new Map();
    this.restoredRuns = [];
    // The events delivered (`{session, event}`), newest last, bounded: what a page shows again after a reload.
    this.history = [];
    this.#historyText = [];
  }

  get sessionID() {
    return this.session?.id ?? null;
  }

  get isConnected() {
    return this.connection.state === 'connected';
  }

  get isClosing() {
    return this.closing !== null;
  }

  // MARK: Inputs

  /** A connection opened: send `hello`, resuming the session if there is one (EA-HS-1, EA-RES-1). */
  connected(now) {
    if (this.connection.state === 'closed') return [];
    this.#leaveConnection({ state: 'handshaking', since: now });
    for (const run of this.restoredRuns) if (!this.runs.has(run)) this.runs.set(run, this.#activeRun(now));
    this.restoredRuns = [];
    const hello = {
      type: 'hello',
      versions: [...this.configuration.versions],
      client: { ...this.configuration.client },
      window: this.configuration.window,
    };
    if (this.session) hello.resume = { session: this.session.id, token: this.session.token, receipt: this.received.capped() };
    return [{ send: hello }];
  }

  /** A text frame arrived. Frames that do not decode are answered as the spec says (EA-EVT-6, EA-MSG-11). */
  frameReceived(text, now) {
    let message;
    try {
      message = decodeMessage(text);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#noteReceived(now);
      const detail = error.message.slice(0, 1024);
      if (error.seq === undefined || !this.isConnected) return this.#refuse(error.code, detail, now);
      const nack = { type: 'nack', seq: error.seq, level: 'receipt', reason: 'undecodable', detail };
      return [...this.#sent(nack, now), { signal: { type: 'protocolViolation', code: error.code, message: detail } }];
    }
    return this.messageReceived(message, now);
  }

  /** A binary frame is no EventAck message (EA-MSG-12). */
  binaryFrameReceived(now) {
    this.#noteReceived(now);
    return this.#sent({ type: 'error', code: 'malformed_json', message: 'a binary frame is not an EventAck message', fatal: false }, now);
  }

  /** A decoded message arrived. */
  messageReceived(message, now) {
    this.#noteReceived(now);
    const state = this.connection.state;
    if (state === 'closed' || state === 'disconnected') return [];
    if (state === 'handshaking') {
      switch (message.type) {
        case 'welcome': return this.#welcomeReceived(message, now);
        case 'error':
          if (message.code === 'resume_rejected') {
            // A fresh welcome follows (EA-RES-2); the reset is reported when it arrives.
            this.pendingRejection = message;
            return [{ signal: { type: 'serverError', error: message } }];
          }
          return this.#serverErrorReceived(message, now);
        case 'ping': return this.#sent({ type: 'pong', id: message.id }, now);
        default: {
          // EA-HS-2: nothing but welcome precedes the session.
          this.#leaveConnection({ state: 'disconnected' });
          return this.#refuse('handshake_required', `${message.type} before welcome`, now, { fatal: true });
        }
      }
    }
    switch (message.type) {
      case 'event': return this.#eventReceived(message, now);
      case 'progress': return this.#runActivity(message.run, now);
      case 'synced': return this.#syncedReceived(message, now);
      case 'ping': return this.#sent({ type: 'pong', id: message.id }, now);
      case 'pong': return [];
      case 'error': return this.#serverErrorReceived(message, now);
      case 'bye':
        // EA-BYE-3: the server is going away; reconnect and resume, unless closing.
        this.#leaveConnection({ state: 'disconnected' });
        return [
          { signal: { type: 'disconnected', reason: message.reason ?? 'server said bye' } },
          { closeConnection: 'bye' },
          ...this.#finishCloseIfDone(now),
        ];
      default: {
        return this.#refuse('invalid_message', `a client does not accept ${message.type} here`, now);
      }
    }
  }

  /** The connection ended. The session is kept for resuming. */
  connectionClosed(now, reason = 'connection closed') {
    const state = this.connection.state;
    if (state === 'closed' || state === 'disconnected') return [];
    this.#leaveConnection({ state: 'disconnected' });
    return [{ signal: { type: 'disconnected', reason } }, ...this.#finishCloseIfDone(now)];
  }

  /** Every frame that had arrived is processed: the burst's receipt ack goes now (EA-DEL-3). */
  inboundDrained(now) {
    if (!this.configuration.acksWhenDrained || !this.isConnected || this.unackedCount === 0) return [];
    return this.#flushAck(now);
  }

  // MARK: Confirmations (EA-LVL-1, EA-NACK-2)

  /** The delivered events still waiting for display or value, lowest seq first; optionally of one run. */
  outstanding(run) {
    return [...this.outstandingEvents.values()].filter((e) => run === undefined || e.run === run).sort((a, b) => a.seq - b.seq);
  }

  /** The app rendered `seq`. Idempotent. Throws `ClientUsageError`. */
  markDisplayed(seq, now) {
    this.#checkDelivered(seq);
    if (this.displayed.contains(seq)) return [];
    const pending = this.outstandingEvents.get(seq);
    if (!pending) throw ClientUsageError.levelNotRequested(seq, 'display');
    this.displayed.insert(seq);
    pending.displayed = true;
    if (pending.needs === 'display') this.outstandingEvents.delete(seq);
    return this.#scheduleAck(now);
  }

  /** The user got the value of `seq`; implies display. Idempotent. Throws `ClientUsageError`. */
  confirmValue(seq, { signal, score } = {}, now) {
    this.#checkDelivered(seq);
    if (this.valued.contains(seq)) return [];
    const pending = this.outstandingEvents.get(seq);
    if (!pending || pending.needs !== 'value') throw ClientUsageError.levelNotRequested(seq, 'value');
    this.displayed.insert(seq);
    this.valued.insert(seq);
    const confirmation = { seq };
    if (signal !== undefined) confirmation.signal = signal;
    if (score !== undefined) confirmation.score = score;
    this.unsyncedValues.set(seq, confirmation);
    this.outstandingEvents.delete(seq);
    return this.#scheduleAck(now);
  }

  /** The app could not display `seq`, or the user rejected its value: a nack, final for that level. */
  reject(seq, level, reason, detail, now) {
    this.#checkDelivered(seq);
    const pending = this.outstandingEvents.get(seq);
    if (levelRank(level) < 1 || !pending || levelRank(level) > levelRank(pending.needs)) {
      throw ClientUsageError.levelNotRequested(seq, level);
    }
    this.outstandingEvents.delete(seq);
    const nack = { type: 'nack', seq, level, reason };
    if (detail !== undefined) nack.detail = detail;
    this.unsyncedNacks.set(seq, nack);
    this.freshNacks.push(seq);
    return this.isConnected ? this.#flushAck(now, true) : [];
  }

  #checkDelivered(seq) {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq >= this.nextToDeliver) throw ClientUsageError.notDelivered(seq);
  }

  // MARK: Close (EA-BYE-1, EA-BYE-2)

  /**
   * The app is done: flush everything, wait until `synced` covers it (or `timeoutMs`), then say `bye`. Ends with a
   * `{closed: report}` action naming what the server never echoed.
   */
  close(now, timeoutMs) {
    if (this.connection.state === 'closed' || this.closing) return [];
    this.closing = { deadline: now + Math.min(timeoutMs ?? this.configuration.closeTimeoutMs, DAY_MS) };
    const flushed = this.isConnected ? this.#flushAck(now, true) : [];
    return [...flushed, ...this.#finishCloseIfDone(now)];
  }

  #finishCloseIfDone(now) {
    if (!this.closing) return [];
    const settled = this.session === null || (this.isConnected && this.#isFullyEchoed());
    if (!settled && now < this.closing.deadline) return [];
    const actions = this.isConnected ? this.#sent({ type: 'bye', reason: 'client closed' }, now) : [];
    const report = this.#closeReport(settled);
    this.closing = null;
    this.#leaveConnection({ state: 'closed' });
    actions.push({ closed: report });
    return actions;
  }

  #isFullyEchoed() {
    if (this.#hasUnechoed()) return false;
    return this.received.isEmpty || this.synced.receipt.isSuperset(this.received);
  }

  #closeReport(isComplete) {
    const unechoedReceipts = this.received.memberRanges.flatMap(([low, high]) => this.synced.receipt.missing(low, high));
    const unsynced = new Set([...this.#unsyncedSeqs(), ...this.unsyncedNacks.keys()]);
    return { isComplete, unsynced: [...unsynced].sort((a, b) => a - b), unechoedReceipts, outstanding: this.outstanding() };
  }

  // MARK: Time (EA-SYNC-4, EA-LIVE-2, EA-LIVE-4, EA-HS-4)

  /** When the machine next needs `timerFired`, or `null`. */
  get nextDeadline() {
    if (this.connection.state === 'closed') return null;
    let earliest = Infinity;
    for (const run of this.runs.values()) if (!run.stalled) earliest = Math.min(earliest, run.deadline);
    if (this.closing) earliest = Math.min(earliest, this.closing.deadline);
    const link = this.connection;
    if (link.state === 'connected') {
      if (this.ackDue !== null) earliest = Math.min(earliest, this.ackDue);
      earliest = Math.min(earliest, link.lastSentAt + link.heartbeatMs, link.lastReceivedAt + 2 * link.heartbeatMs);
      if (this.awaitingEchoSince !== null) earliest = Math.min(earliest, this.awaitingEchoSince + this.configuration.confirmationResendMs);
    } else if (link.state === 'handshaking') {
      earliest = Math.min(earliest, link.since + this.configuration.handshakeTimeoutMs);
    }
    return earliest === Infinity ? null : earliest;
  }

  /** Time passed: the due ack, overdue echoes, stalled runs, the idle ping, a dead connection or handshake. */
  timerFired(now) {
    if (this.connection.state === 'closed') return [];
    const actions = [];
    if (this.isConnected && this.ackDue !== null && this.ackDue <= now) actions.push(...this.#flushAck(now));
    if (this.isConnected && this.awaitingEchoSince !== null && now >= this.awaitingEchoSince + this.configuration.confirmationResendMs) {
      this.awaitingEchoSince = null;
      actions.push(...this.#flushAck(now, true));
    }
    for (const name of [...this.runs.keys()].sort()) {
      const run = this.runs.get(name);
      if (run.stalled || run.deadline > now) continue;
      run.stalled = true;
      actions.push({ signal: { type: 'runStalled', run: name, idleMs: now - run.lastActivity } });
    }
    const link = this.connection;
    if (link.state === 'handshaking' && now >= link.since + this.configuration.handshakeTimeoutMs) {
      this.#leaveConnection({ state: 'disconnected' });
      return [
        ...actions,
        { signal: { type: 'connectionDead', silentMs: now - link.since } },
        { closeConnection: `no welcome within ${this.configuration.handshakeTimeoutMs} ms` },
        ...this.#finishCloseIfDone(now),
      ];
    }
    if (link.state !== 'connected') return [...actions, ...this.#finishCloseIfDone(now)];
    const silence = Math.max(0, now - link.lastReceivedAt);
    if (silence >= 2 * link.heartbeatMs) {
      this.#leaveConnection({ state: 'disconnected' });
      return [
        ...actions,
        { signal: { type: 'connectionDead', silentMs: silence } },
        { closeConnection: `no frame for ${silence} ms` },
        ...this.#finishCloseIfDone(now),
      ];
    }
    if (now >= link.lastSentAt + link.heartbeatMs) {
      actions.push(...this.#sent({ type: 'ping', id: this.nextPingID++ }, now));
    }
    return [...actions, ...this.#finishCloseIfDone(now)];
  }

  // MARK: Handshake and errors

  #welcomeReceived(welcome, now) {
    if (!this.configuration.versions.some((v) => parseVersion(v)?.major === welcome.version.major)) {
      this.#leaveConnection({ state: 'disconnected' });
      const text = `server chose ${welcome.version.major}.${welcome.version.minor}, not offered`;
      return this.#refuse('unsupported_version', text, now, { fatal: true });
    }
    const actions = [];
    if (this.session && (!welcome.resumed || this.session.id !== welcome.session)) {
      const why = this.pendingRejection?.message ?? 'the server opened a new session instead of resuming';
      actions.push(...this.#resetSession('resume_rejected', why));
    }
    this.pendingRejection = null;
    this.session = { id: welcome.session, token: welcome.token };
    this.connection = {
      state: 'connected',
      version: welcome.version,
      window: welcome.window,
      heartbeatMs: welcome.heartbeatMs,
      ackDelayMs: welcome.ackDelayMs,
      lastReceivedAt: now,
      lastSentAt: now,
    };
    actions.push({ signal: { type: 'connected', session: welcome.session, resumed: welcome.resumed } });
    // EA-RES-4: re-send every confirmation the server has not echoed, at once.
    if (welcome.resumed || this.closing) actions.push(...this.#flushAck(now, true));
    return [...actions, ...this.#finishCloseIfDone(now)];
  }

  #serverErrorReceived(error, now) {
    const actions = [{ signal: { type: 'serverError', error } }];
    if (error.code === 'session_expired' && this.session) actions.push(...this.#resetSession('session_expired', error.message));
    if (error.fatal) {
      this.#leaveConnection({ state: 'disconnected' });
      actions.push({ closeConnection: error.code }, ...this.#finishCloseIfDone(now));
    }
    return actions;
  }

  /** Forgets the session and reports what can no longer be confirmed and which runs it ends. */
  #resetSession(reason, message) {
    const buffered = [...this.buffered.keys()];
    const reset = {
      type: 'sessionReset',
      session: this.session.id,
      reason,
      message,
      unconfirmed: [...new Set([...this.outstandingEvents.keys(), ...this.#unsyncedSeqs()])].sort((a, b) => a - b),
      lost: buffered.length ? [Math.min(...buffered), Math.max(...buffered)] : null,
      endedRuns: [...new Set([...this.runs.keys(), ...this.restoredRuns])].sort(),
    };
    const [history, historyText] = [this.history, this.#historyText];
    this.#resetSessionState();
    [this.history, this.#historyText] = [history, historyText];  // what the page showed stays shown
    this.session = null;
    return [{ signal: reset }];
  }

  /** Answers what this client cannot accept: an `error` with the spec's code, a signal, and for a fatal one the close. */
  #refuse(code, message, now, { fatal = false, seq } = {}) {
    const error = { type: 'error', code, message, fatal };
    if (seq !== undefined) error.seq = seq;
    const actions = [...this.#sent(error, now), { signal: { type: 'protocolViolation', code, message } }];
    if (fatal) actions.push({ closeConnection: code });
    return actions;
  }

  #leaveConnection(next) {
    this.connection = next;
    this.ackDue = null;
    this.awaitingEchoSince = null;
  }

  #sent(message, now) {
    if (this.connection.state === 'connected') this.connection.lastSentAt = now;
    return [{ send: message }];
  }

  #noteReceived(now) {
    if (this.connection.state === 'connected') this.connection.lastReceivedAt = now;
  }

  // MARK: Delivery (EA-DEL-1, EA-DEL-2, EA-SYNC-5)

  #eventReceived(event, now) {
    this.highestSeen = Math.max(this.highestSeen, event.seq);
    const actions = this.#runActivity(event.run, now);
    if (this.received.contains(event.seq)) {
      // A duplicate is acknowledged again, never delivered twice.
      this.unackedCount += 1;
      return [...actions, ...this.#scheduleAck(now)];
    }
    if (event.seq < this.nextToDeliver) return actions;  // a late copy of a seq skipped as lost
    if (event.seq > this.nextToDeliver) {
      if (this.buffered.size >= this.configuration.reorderBufferLimit) return actions;
      this.buffered.set(event.seq, event);
      this.received.insert(event.seq);
      this.unackedCount += 1;
      return [...actions, ...this.#flushAck(now)];
    }
    this.received.insert(event.seq);
    this.unackedCount += 1;
    actions.push(...this.#deliver(event));
    for (let next; (next = this.buffered.get(this.nextToDeliver)); ) {
      this.buffered.delete(next.seq);
      actions.push(...this.#deliver(next));
    }
    return [...actions, ...this.#scheduleAck(now)];
  }

  #deliver(event) {
    this.nextToDeliver = event.seq + 1;
    if (levelRank(event.confirm) > 0) {
      this.outstandingEvents.set(event.seq, { seq: event.seq, run: event.run, kind: event.kind, needs: event.confirm, displayed: false });
    } else {
      this.receiptOnly.insert(event.seq);
    }
    if (this.configuration.historyLimit > 0) {
      const entry = { session: this.session.id, event };
      this.history.push(entry);
      this.#historyText.push(JSON.stringify(entry));
      const excess = this.history.length - this.configuration.historyLimit;
      if (excess > 0) {
        this.history.splice(0, excess);
        this.#historyText.splice(0, excess);
      }
    }
    const actions = [{ deliver: event }];
    if (this.#endsRun(event)) {
      this.runs.delete(event.run);
      actions.push({ signal: { type: 'runEnded', run: event.run, kind: event.kind } });
    }
    return actions;
  }

  #endsRun(event) {
    const version = this.connection.version;
    if (this.connection.state !== 'connected' || version.major > 1 || version.minor >= 1) return event.endsRun;
    return this.configuration.terminalKinds.has(event.kind);
  }

  #skipFailedSeqs(settled) {
    const held = [...this.buffered.keys()].sort((a, b) => a - b);
    if (!held.length) return [];
    const highestHeld = held[held.length - 1];
    const actions = [];
    let nextHeld = 0;
    while (this.nextToDeliver < highestHeld) {
      const next = this.nextToDeliver;
      while (held[nextHeld] < next) nextHeld += 1;
      const event = this.buffered.get(next);
      if (event) {
        this.buffered.delete(next);
        actions.push(...this.#deliver(event));
        continue;
      }
      const failed = settled.memberRange(next);
      if (!failed) break;
      const lost = [next, Math.min(failed[1], held[nextHeld] - 1)];
      actions.push({ signal: { type: 'eventsLost', from: lost[0], through: lost[1] } });
      this.received.insertRange(lost[0], lost[1]);
      this.nextToDeliver = lost[1] + 1;
    }
    for (let next; (next = this.buffered.get(this.nextToDeliver)); ) {
      this.buffered.delete(next.seq);
      actions.push(...this.#deliver(next));
    }
    return actions;
  }

  #scheduleAck(now) {
    if (!this.isConnected) return [];
    if (this.unackedCount >= this.configuration.ackBatchSize) return this.#flushAck(now);
    if (this.ackDue === null) this.ackDue = now + this.connection.ackDelayMs;
    return [];
  }

  #flushAck(now, force = false) {
    if (!this.isConnected) return [];
    this.ackDue = null;
    const hasNewReceipts = this.unackedCount > 0 || force;
    this.unackedCount = 0;
    const display = this.#displayToSend();
    const value = this.#valueToSend();
    const nackSeqs = force ? [...this.unsyncedNacks.keys()].sort((a, b) => a - b) : this.freshNacks;
    const nacks = nackSeqs.map((seq) => this.unsyncedNacks.get(seq)).filter(Boolean);
    this.freshNacks = [];
    if (!hasNewReceipts && !display && !value && !nacks.length) return [];
    const ack = { type: 'ack', receipt: this.received.capped() };
    if (display) ack.display = display;
    if (value) ack.value = value;
    const actions = this.#sent(ack, now);
    for (const nack of nacks) actions.push(...this.#sent(nack, now));
    this.awaitingEchoSince = this.#hasUnechoed() || this.buffered.size ? now : null;
    return actions;
  }

  // MARK: Echoes (EA-SYNC-1…6)

  #syncedReceived(synced, now) {
    const link = this.connection;
    const reach = this.highestSeen + link.window;
    const highest = Math.max(0, ...LEVELS.map((level) => synced[level]?.highest ?? 0));
    if (highest > reach) {
      const text = `synced covers seq ${highest}, beyond the ${link.window}-event window above seq `
        + `${this.highestSeen}, the highest received`;
      return this.#refuse('ack_unknown_seq', text, now, { seq: highest });
    }
    for (const level of LEVELS) {
      const set = synced[level];
      if (!set) continue;
      this.synced[level] = this.synced[level].union(set).capped(4 * MAX_ACK_RANGES);
      if (level === 'value') for (const seq of [...this.unsyncedValues.keys()]) if (set.contains(seq)) this.unsyncedValues.delete(seq);
      for (const [seq, nack] of [...this.unsyncedNacks]) {
        if (nack.level === level && set.contains(seq)) {
          this.unsyncedNacks.delete(seq);
          this.receiptOnly.insert(seq);
        }
      }
    }
    if (!this.#hasUnechoed()) this.awaitingEchoSince = null;
    const actions = synced.receipt ? this.#skipFailedSeqs(synced.receipt) : [];
    if (this.buffered.size && this.awaitingEchoSince === null) this.awaitingEchoSince = now;
    return [...actions, ...this.#finishCloseIfDone(now)];
  }

  #hasUnechoed() {
    return this.#displayToSend() !== null || this.unsyncedValues.size > 0 || this.unsyncedNacks.size > 0;
  }

  #displayToSend() {
    if (this.displayed.isEmpty || this.synced.display.isSuperset(this.displayed)) return null;
    return this.displayed.union(this.receiptOnly).capped();
  }

  #valueToSend() {
    if (!this.unsyncedValues.size) return null;
    return [...this.unsyncedValues.values()].sort((a, b) => a.seq - b.seq).slice(0, MAX_VALUE_CONFIRMATIONS);
  }

  #unsyncedSeqs() {
    const seqs = new Set(this.unsyncedValues.keys());
    for (const [low, high] of this.displayed.memberRanges) {
      if (high - low >= 10_000) continue;
      for (let seq = low; seq <= high; seq += 1) if (!this.synced.display.contains(seq)) seqs.add(seq);
    }
    return seqs;
  }

  // MARK: Runs (EA-LIVE-2)

  #activeRun(now) {
    return { lastActivity: now, deadline: now + this.configuration.runIdleTimeoutMs, stalled: false };
  }

  #runActivity(name, now) {
    const run = this.runs.get(name);
    const actions = [];
    if (run) {
      this.runs.delete(name);  // re-inserted last: the map stays ordered by activity
      if (run.stalled) actions.push({ signal: { type: 'runResumed', run: name } });
    } else if (this.runs.size >= 4096) {
      const [oldest, dropped] = this.runs.entries().next().value;
      this.runs.delete(oldest);
      if (!dropped.stalled) actions.push({ signal: { type: 'runStalled', run: oldest, idleMs: now - dropped.lastActivity } });
    }
    this.runs.set(name, this.#activeRun(now));
    return actions;
  }

  // MARK: Snapshot (what survives a page reload)

  /** The state to save before the actions of an input are performed (write-ahead), or `null` before a session. */
  get snapshot() {
    const snapshot = this.#snapshotWithoutHistory();
    return snapshot && { ...snapshot, history: this.history };
  }

  /** `JSON.stringify(snapshot)`, with the history's JSON made once per event rather than on every write. */
  get snapshotText() {
    const snapshot = this.#snapshotWithoutHistory();
    if (!snapshot) return null;
    return `${JSON.stringify(snapshot).slice(0, -1)},"history":[${this.#historyText.join(',')}]}`;
  }

  #snapshotWithoutHistory() {
    if (!this.session) return null;
    return {
      format: SNAPSHOT_FORMAT,
      session: this.session.id,
      token: this.session.token,
      received: this.received.toWire(),
      nextToDeliver: this.nextToDeliver,
      buffered: [...this.buffered.values()].sort((a, b) => a.seq - b.seq),
      outstanding: this.outstanding(),
      displayed: this.displayed.toWire(),
      receiptOnly: this.receiptOnly.toWire(),
      valued: this.valued.toWire(),
      unsyncedValues: [...this.unsyncedValues.values()].sort((a, b) => a.seq - b.seq),
      unsyncedNacks: [...this.unsyncedNacks.values()].sort((a, b) => a.seq - b.seq),
      synced: { receipt: this.synced.receipt.toWire(), display: this.synced.display.toWire(), value: this.synced.value.toWire() },
      openRuns: [...new Set([...this.runs.keys(), ...this.restoredRuns])].sort(),
    };
  }

  /** A machine that resumes the session of `snapshot` on its first connection; throws on a damaged snapshot. */
  static restoring(snapshot, settings = {}) {
    if (snapshot?.format !== SNAPSHOT_FORMAT) throw new TypeError('not an eventack-js snapshot');
    const core = new ClientCore(settings);
    const set = (wire) => AckSet.fromWire(parseStrictJSON(JSON.stringify(wire)));
    core.session = { id: String(snapshot.session), token: String(snapshot.token) };
    core.received = set(snapshot.received);
    core.nextToDeliver = snapshot.nextToDeliver;
    core.buffered = new Map(snapshot.buffered.map((e) => [e.seq, e]));
    core.outstandingEvents = new Map(snapshot.outstanding.map((e) => [e.seq, { ...e }]));
    core.displayed = set(snapshot.displayed);
    core.receiptOnly = set(snapshot.receiptOnly);
    core.valued = set(snapshot.valued);
    core.unsyncedValues = new Map(snapshot.unsyncedValues.map((v) => [v.seq, v]));
    core.unsyncedNacks = new Map(snapshot.unsyncedNacks.map((n) => [n.seq, n]));
    core.synced = { receipt: set(snapshot.synced.receipt), display: set(snapshot.synced.display), value: set(snapshot.synced.value) };
    core.highestSeen = Math.max(core.received.highest, ...snapshot.buffered.map((e) => e.seq));
    core.restoredRuns = [...snapshot.openRuns];
    core.history = Array.isArray(snapshot.history) ? snapshot.history.slice(-core.configuration.historyLimit) : [];
    core.#historyText = core.history.map((entry) => JSON.stringify(entry));
    if (!Number.isSafeInteger(core.nextToDeliver) || core.nextToDeliver < 1) throw new TypeError('damaged snapshot');
    return core;
  }
}

// MARK: - The browser shell

/** One event handed to the app, with the calls that confirm it (the Swift SDK's `Delivery`). */
export class Delivery {
  #client;

  constructor(client, event, { session, restored = false } = {}) {
    this.#client = client;
    this.event = event;
    /** The session it was delivered in: seqs count from 1 again after a session reset. */
    this.session = session;
    /** Whether it was delivered before this page was loaded (shown again from the snapshot). */
    this.restored = restored;
    /** `performance.now()` when it was handed to the app (absent for restored ones). */
    this.deliveredAt = restored ? undefined : performance.now();
  }

  get seq() { return this.event.seq; }
  get run() { return this.event.run; }
  get kind() { return this.event.kind; }
  get payload() { return this.event.payload; }
  get confirm() { return this.event.confirm; }

  /** Whether it still waits for display (as far as this client knows). */
  get awaitsDisplay() {
    if (this.session !== this.#client.sessionID) return false;
    const pending = this.#client.core.outstandingEvents.get(this.seq);
    return pending !== undefined && !pending.displayed;
  }

  /** Whether it still waits for a value confirmation or rejection. */
  get awaitsValue() {
    if (this.session !== this.#client.sessionID) return false;
    return this.#client.core.outstandingEvents.get(this.seq)?.needs === 'value';
  }

  /** The event is on screen (EA-LVL-1); idempotent. Throws `ClientUsageError`. */
  markDisplayed() { this.#current().markDisplayed(this.seq); }

  /** The user got its value; implies display. Throws `ClientUsageError`. */
  confirmValue({ signal, score } = {}) { this.#current().confirmValue(this.seq, { signal, score }); }

  /** Could not display it, or the user rejected its value: final for that level. Throws `ClientUsageError`. */
  reject(level, reason, detail) { this.#current().reject(this.seq, level, reason, detail); }

  /** The client, if this delivery belongs to its session: after a reset its seqs name other events. */
  #current() {
    if (this.session !== this.#client.sessionID) throw ClientUsageError.notDelivered(this.seq);
    return this.#client;
  }
}

/** An async iterable fed by the shell; `end()` finishes every iteration. */
class Channel {
  #items = [];
  #waiters = [];
  #ended = false;

  push(item) {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter({ value: item, done: false });
    else this.#items.push(item);
  }

  end() {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this.#items.length) return Promise.resolve({ value: this.#items.shift(), done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
    };
  }
}

/**
 * The browser client: a `ClientCore` over `WebSocket`, with reconnect, resume and a `sessionStorage` snapshot.
 *
 * ```js
 * const client = new EventAckClient({ url: 'ws://host/eventack', ticket: () => getTicket() });
 * client.start();
 * for await (const delivery of client.events) { render(delivery); observeDisplay(element, delivery); }
 * ```
 */
export class EventAckClient {
  #socket = null;
  #timer = null;
  #drainTimer = null;
  #started = false;
  #attempts = 0;
  #reconnectTimer = null;
  #closeWaiters = [];
  #reconnectNow;
  /** This origin's other tabs (BROWSER.md EA-WEB-3): a duplicated tab copies the snapshot of a session in use. */
  #tabs = null;
  #nonce = Math.random();
  /** The session this tab asked the others about, while it waits for an answer. */
  #claiming = null;
  /** Whether this tab serves its session: it answers other tabs that restored a copy of it. */
  #holding = false;

  /**
   * @param {object} options
   * @param {string} options.url - the server's `ws:` or `wss:` URL of `/eventack`.
   * @param {() => Promise<string>} [options.ticket] - a fresh single-use ticket for each connection
   *   (Spec/BROWSER.md § 1), appended as `?ticket=`; browsers cannot set `Authorization` on a WebSocket.
   * @param {Storage|null} [options.storage] - where the snapshot lives (`sessionStorage` by default; `null`: nowhere).
   * @param {string} [options.storageKey] - the key of the snapshot in `storage`.
   * @param {object} [options.configuration] - settings of `ClientCore` (`DEFAULT_CONFIGURATION`).
   * @param {{initialMs:number, maxMs:number, maxAttempts:number}} [options.reconnect] - the backoff.
   * @param {number} [options.claimWaitMs] - how long a restored tab waits for another tab to say it holds the session
   *   (150 ms); `BroadcastChannelImpl: null` turns the check off.
   */
  constructor({
    url, ticket, storage, storageKey = 'eventack.snapshot', configuration = {}, reconnect = {}, WebSocketImpl,
    BroadcastChannelImpl, claimWaitMs = 150,
  } = {}) {
    if (!url) throw new TypeError('EventAckClient needs a url');
    this.configuration = configuration;
    this.claimWaitMs = claimWaitMs;
    this.url = url;
    this.ticket = ticket;
    this.storage = storage === undefined ? globalThis.sessionStorage ?? null : storage;
    this.storageKey = storageKey;
    this.reconnect = { initialMs: 250, maxMs: 10_000, maxAttempts: Infinity, ...reconnect };
    this.WebSocketImpl = WebSocketImpl ?? globalThis.WebSocket;
    /** Deliveries, in order, each once (an async iterable). */
    this.events = new Channel();
    /** Signals `{type, …}`: connected, disconnected, runStalled, runResumed, runEnded, serverError, protocolViolation,
     *  sessionReset, eventsLost, connectionDead, connectFailed, gaveUp, snapshotDiscarded (an async iterable). */
    this.signals = new Channel();
    this.#signalListeners = new Set();
    let core = null;
    const saved = this.storage?.getItem(this.storageKey);
    if (saved) {
      try {
        core = ClientCore.restoring(JSON.parse(saved), configuration);
      } catch (error) {
        this.storage.removeItem(this.storageKey);
        const message = String(error.message ?? error);
        queueMicrotask(() => this.#emitSignal({ type: 'snapshotDiscarded', reason: 'unreadable', message }));
      }
    }
    this.core = core ?? new ClientCore(configuration);
    /** The deliveries of earlier page loads of this tab, shown again (oldest first): render them before `events`. */
    this.history = this.core.history.map(({ session, event }) => new Delivery(this, event, { session, restored: true }));
    // Back online (or shown again after the browser froze a background tab): reconnect now, not after the backoff.
    this.#reconnectNow = () => {
      if (!this.#reconnectTimer || this.core.connection.state === 'closed') return;
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
      this.#attempts = 0;
      this.#connect();
    };
    globalThis.addEventListener?.('online', this.#reconnectNow);
    const Broadcast = BroadcastChannelImpl === undefined ? globalThis.BroadcastChannel : BroadcastChannelImpl;
    if (Broadcast && this.storage) {
      this.#tabs = new Broadcast(`eventack:${storageKey}`);
      this.#tabs.onmessage = (message) => this.#tabMessage(message.data);
    }
  }

  #signalListeners;

  /** Calls `listener(signal)` for every signal, beside the `signals` iterable. Returns a function that removes it. */
  onSignal(listener) {
    this.#signalListeners.add(listener);
    return () => this.#signalListeners.delete(listener);
  }

  get sessionID() { return this.core.sessionID; }
  get isConnected() { return this.core.isConnected; }

  /** Connects, and reconnects after every cut until `close()`. */
  start() {
    if (this.#started) return;
    this.#started = true;
    const session = this.core.sessionID;
    if (!session || !this.#tabs) {
      this.#holding = true;
      this.#connect();
      return;
    }
    // A restored session: a reload's (its old page is gone), or a duplicated tab's (the original still serves it).
    // Ask; without an answer the session is this tab's.
    this.#claiming = session;
    this.#tabs.postMessage({ type: 'claim', session, nonce: this.#nonce });
    setTimeout(() => {
      if (this.#claiming !== session) return;
      this.#claiming = null;
      this.#holding = true;
      this.#connect();
    }, this.claimWaitMs);
  }

  /** Another tab asks about a session (`claim`) or says it serves it (`held`). */
  #tabMessage(message) {
    const session = this.#claiming ?? (this.#holding ? this.core.sessionID : null);
    if (!message || session === null || message.session !== session) return;
    if (message.type === 'claim') {
      // Two tabs restoring one snapshot at once (a browser restoring both): the smaller nonce keeps it.
      if (this.#holding || message.nonce > this.#nonce) this.#tabs.postMessage({ type: 'held', session, nonce: this.#nonce });
    } else if (message.type === 'held' && this.#claiming) {
      this.#claiming = null;
      this.#startOwnSession();
    }
  }

  /** This tab restored a copy of a session another tab serves: it starts its own, and the copied history is not its. */
  #startOwnSession() {
    this.core = new ClientCore(this.configuration);
    this.history = [];
    this.storage?.removeItem(this.storageKey);
    this.#emitSignal({
      type: 'snapshotDiscarded', reason: 'duplicated_tab',
      message: 'another tab serves this session (a duplicated tab); this tab starts its own',
    });
    this.#holding = true;
    this.#connect();
  }

  markDisplayed(seq) { this.#perform(this.core.markDisplayed(seq, performance.now())); }
  confirmValue(seq, options) { this.#perform(this.core.confirmValue(seq, options, performance.now())); }
  reject(seq, level, reason, detail) { this.#perform(this.core.reject(seq, level, reason, detail, performance.now())); }
  outstanding(run) { return this.core.outstanding(run); }

  /** Closes the current connection without ending the session (a test hook and a "network cut"): it resumes. */
  dropConnection() {
    this.#socket?.close(4000, 'dropped by the app');
  }

  /**
   * Flushes, waits for the server to echo everything (or `timeoutMs`), says `bye`, and resolves with the report of
   * what the server never echoed (`{isComplete, unsynced, unechoedReceipts, outstanding}`).
   */
  close(timeoutMs) {
    const done = new Promise((resolve) => this.#closeWaiters.push(resolve));
    this.#perform(this.core.close(performance.now(), timeoutMs));
    return done;
  }

  async #connect() {
    if (this.core.connection.state === 'closed') return;
    let url = this.url;
    try {
      if (this.ticket) {
        const ticket = await this.ticket();
        url += (url.includes('?') ? '&' : '?') + 'ticket=' + encodeURIComponent(ticket);
      }
    } catch (error) {
      this.#connectFailed(`no ticket: ${error.message ?? error}`);
      return;
    }
    let opened = false;
    let socket;
    try {
      socket = new this.WebSocketImpl(url, [SUBPROTOCOL]);
    } catch (error) {
      this.#connectFailed(`cannot open ${this.url}: ${error.message ?? error}`);
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      opened = true;
      this.#perform(this.core.connected(performance.now()));
    };
    socket.onmessage = (message) => {
      if (socket !== this.#socket) return;
      const now = performance.now();
      this.#perform(typeof message.data === 'string' ? this.core.frameReceived(message.data, now) : this.core.binaryFrameReceived(now));
      // Frames of one burst arrive as separate tasks: ack once the burst is drained (EA-DEL-3).
      clearTimeout(this.#drainTimer);
      this.#drainTimer = setTimeout(() => this.#perform(this.core.inboundDrained(performance.now())), 0);
    };
    socket.onclose = (close) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      if (!opened) {
        this.#connectFailed(`the upgrade failed (close ${close.code})`);
        return;
      }
      this.#attempts = 0;
      this.#perform(this.core.connectionClosed(performance.now(), close.reason || `closed (${close.code})`));
      this.#scheduleReconnect();
    };
  }

  #connectFailed(error) {
    this.#attempts += 1;
    this.#emitSignal({ type: 'connectFailed', attempt: this.#attempts, error });
    if (this.#attempts >= this.reconnect.maxAttempts) {
      this.#emitSignal({ type: 'gaveUp', attempts: this.#attempts, lastError: error });
      return;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    if (this.core.connection.state === 'closed' || this.#reconnectTimer) return;
    const base = Math.min(this.reconnect.maxMs, this.reconnect.initialMs * 2 ** Math.max(0, this.#attempts - 1));
    const delay = this.#attempts === 0 ? this.reconnect.initialMs : base / 2 + Math.random() * base / 2;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, delay);
  }

  /** Performs the actions of one input: the snapshot is written first (write-ahead), then frames go out. */
  #perform(actions) {
    if (actions.some((a) => a.send || a.deliver || a.closed || a.signal?.type === 'sessionReset')) this.#persist();
    for (const action of actions) {
      if (action.send) {
        if (this.#socket?.readyState === 1) this.#socket.send(encodeMessage(action.send));
      } else if (action.deliver) {
        this.events.push(new Delivery(this, action.deliver, { session: this.core.sessionID }));
      } else if (action.signal) {
        this.#emitSignal(action.signal);
      } else if (action.closeConnection !== undefined) {
        this.#socket?.close(1000, String(action.closeConnection).slice(0, 120));
      } else if (action.closed) {
        this.#socket?.close(1000, 'client closed');
        clearTimeout(this.#reconnectTimer);
        this.#tabs?.close();
        this.#holding = false;
        globalThis.removeEventListener?.('online', this.#reconnectNow);
        this.storage?.removeItem(this.storageKey);
        this.events.end();
        this.signals.end();
        for (const resolve of this.#closeWaiters.splice(0)) resolve(action.closed);
      }
    }
    this.#armTimer();
  }

  #persist() {
    if (!this.storage) return;
    const snapshot = this.core.snapshotText;
    try {
      if (snapshot) this.storage.setItem(this.storageKey, snapshot);
      else this.storage.removeItem(this.storageKey);
    } catch (error) {
      // A full storage must not stop delivery: the session then resumes only within this page.
      this.#emitSignal({ type: 'snapshotFailed', message: String(error.message ?? error) });
    }
  }

  #emitSignal(signal) {
    this.signals.push(signal);
    for (const listener of this.#signalListeners) {
      try { listener(signal); } catch (error) { console.error(error); }
    }
  }

  #armTimer() {
    clearTimeout(this.#timer);
    const deadline = this.core.nextDeadline;
    if (deadline === null) return;
    this.#timer = setTimeout(() => this.#perform(this.core.timerFired(performance.now())), Math.max(0, deadline - performance.now()));
  }
}

// MARK: - Display confirmation in the browser (Spec/BROWSER.md § 4)

/** The dwell time and visible fraction of the display rule. */
export const DISPLAY_RULE = Object.freeze({ dwellMs: 500, threshold: 0.5 });

/** Elements being watched, each with its pending deliveries; one IntersectionObserver per threshold and one
 *  `visibilitychange` listener serve them all, so a conversation of thousands of events costs no more observers. */
const observed = new Map();
const observers = new Map();
const STEPS = Array.from({ length: 21 }, (_, i) => i / 20);

function observerFor(threshold) {
  let observer = observers.get(threshold);
  if (!observer) {
    observer = new IntersectionObserver((records) => {
      for (const record of records) {
        const entry = observed.get(record.target);
        if (!entry) continue;
        // An element removed from the page will never be seen: stop watching it (its events stay unconfirmed).
        if (!record.target.isConnected) stop(entry);
        else intersectionChanged(entry, record);
      }
    }, { threshold: STEPS });
    observers.set(threshold, observer);
  }
  return observer;
}

function intersectionChanged(entry, record) {
  // The share of the element on screen — or, for one taller than the viewport, of the viewport it fills.
  const fillable = Math.min(record.boundingClientRect.height, record.rootBounds?.height ?? Infinity);
  const shown = fillable > 0 ? record.intersectionRect.height / fillable : record.intersectionRatio;
  const intersecting = record.isIntersecting && shown >= entry.threshold;
  if (intersecting === entry.intersecting) return;  // a finer step of the same state: the dwell goes on
  entry.intersecting = intersecting;
  entry.visibleSince = intersecting && document.visibilityState === 'visible' ? performance.now() : null;
  settle(entry);
}

function pageVisibilityChanged() {
  const visible = document.visibilityState === 'visible';
  for (const entry of observed.values()) {
    entry.visibleSince = visible && entry.intersecting ? performance.now() : null;
    settle(entry);
  }
}

/**
 * Confirms display of `delivery` (or of several, for one element showing streamed deltas) once `element` has been
 * painted and at least half of it has been in the viewport for `dwellMs` without interruption, while the page is
 * visible. Deliveries added to an element later (more streamed text) wait their own dwell from their own paint.
 * Receipt-only deliveries are ignored. Calls `onDisplayed(delivery, {paintedAt, visibleSince, displayedAt})` (times of
 * `performance.now()`) after each confirmation.
 * Returns a function that stops observing.
 */
export function observeDisplay(element, deliveries, options = {}) {
  const { dwellMs = DISPLAY_RULE.dwellMs, threshold = DISPLAY_RULE.threshold, onDisplayed } = options;
  const list = (Array.isArray(deliveries) ? deliveries : [deliveries]).filter((d) => d.awaitsDisplay);
  let entry = observed.get(element);
  if (!entry) {
    if (observed.size === 0) document.addEventListener('visibilitychange', pageVisibilityChanged);
    entry = { element, dwellMs, threshold, pending: [], intersecting: false, visibleSince: null, timer: null };
    observed.set(element, entry);
    observerFor(threshold).observe(element);
  }
  if (onDisplayed) entry.onDisplayed = onDisplayed;
  for (const delivery of list) {
    const item = { delivery, paintedAt: null };
    entry.pending.push(item);
    // Painted: the frame after the one that laid it out has begun, so the first was presented.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      item.paintedAt = performance.now();
      settle(entry);
    }));
  }
  return () => stop(entry);
}

function settle(entry) {
  clearTimeout(entry.timer);
  entry.timer = null;
  if (entry.visibleSince === null) return;
  const now = performance.now();
  let wait = Infinity;
  for (const item of [...entry.pending]) {
    if (item.paintedAt === null) continue;
    const due = Math.max(entry.visibleSince, item.paintedAt) + entry.dwellMs;
    if (due > now) {
      wait = Math.min(wait, due - now);
      continue;
    }
    entry.pending.splice(entry.pending.indexOf(item), 1);
    if (!item.delivery.awaitsDisplay) continue;
    try {
      item.delivery.markDisplayed();
      const times = { paintedAt: item.paintedAt, visibleSince: entry.visibleSince, displayedAt: now };
      entry.onDisplayed?.(item.delivery, times);
    } catch (error) {
      if (!(error instanceof ClientUsageError)) throw error;
    }
  }
  if (wait !== Infinity) entry.timer = setTimeout(() => settle(entry), wait);
  else if (!entry.pending.length) stop(entry);
}

function stop(entry) {
  clearTimeout(entry.timer);
  if (observed.get(entry.element) !== entry) return;
  observed.delete(entry.element);
  observerFor(entry.threshold).unobserve(entry.element);
  if (observed.size === 0) document.removeEventListener('visibilitychange', pageVisibilityChanged);
}
