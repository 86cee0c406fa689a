// Unit tests of eventack.js under Node (`node --test Examples/web/test`): the strict decoder, ack sets, and the shell's
// write-ahead snapshot across a "reload" — with a fake WebSocket and a fake sessionStorage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckSet, ClientCore, EventAckClient, decodeMessage, parseStrictJSON } from '../eventack.js';

const event = (seq, extra = {}) => JSON.stringify({
  type: 'event', seq, run: 'r1', kind: 'agent_thinking', ts: 0, confirm: 'receipt', attempt: 1, payload: {}, ...extra,
});
const welcome = (resumed = false, token = 't1') => JSON.stringify({
  type: 'welcome', version: '1.1', session: 's1', token, resumed, heartbeatMs: 15000, ackDelayMs: 20, window: 256,
  maxFrameBytes: 1048576,
});

test('the decoder refuses what JSON.parse would accept: duplicate members, fractions for integers, depth, null', () => {
  const code = (text) => { try { decodeMessage(text); return 'ok'; } catch (error) { return error.code; } };
  assert.equal(code('{"type":"ping","id":1,"id":2}'), 'invalid_message');
  assert.equal(code('{"type":"ping","id":1.0}'), 'invalid_message');
  assert.equal(code('{"type":"ping","id":1e0}'), 'invalid_message');
  assert.equal(code('{"type":"ping","id":1}'), 'ok');
  assert.equal(code('{"type":"bye","reason":null}'), 'invalid_message');
  assert.equal(code(`{"type":"ping","id":1,"x":${'['.repeat(64)}${']'.repeat(64)}}`), 'invalid_message');
  assert.equal(code(`{"type":"ping","id":1,"x":${'['.repeat(62)}${']'.repeat(62)}}`), 'ok');
  assert.equal(code('{"type":"ping","id":1'), 'malformed_json');
  assert.equal(code('{"type":"teleport"}'), 'unknown_type');
  assert.equal(code(`{"type":"synced","receipt":{"upTo":0,"ranges":${JSON.stringify(Array.from({ length: 65 }, (_, i) => [3 * i + 2, 3 * i + 2]))}}}`), 'too_many_ranges');
  assert.equal(code('{"type":"synced","receipt":{"upTo":3,"ranges":[[4,5]]}}'), 'invalid_ack');
  assert.equal(code('{"type":"synced","receipt":{"upTo":3,"ranges":[[6,5]]}}'), 'invalid_ack');
  assert.equal(Object.getPrototypeOf(parseStrictJSON('{"__proto__":{"polluted":1}}')), Object.prototype);
  // An event whose seq is readable carries it, for the undecodable nack (EA-EVT-6).
  assert.throws(() => decodeMessage(event(7, { confirm: 'sometimes' })), (error) => error.seq === 7);
});

test('ack sets keep the canonical form under insertion, union and capping', () => {
  const set = new AckSet();
  for (const seq of [1, 2, 5, 7, 6, 9]) set.insert(seq);
  assert.deepEqual(set.toWire(), { upTo: 2, ranges: [[5, 7], [9, 9]] });
  set.insertRange(3, 4);
  assert.deepEqual(set.toWire(), { upTo: 7, ranges: [[9, 9]] });
  assert.ok(set.contains(9) && !set.contains(8));
  assert.deepEqual(set.missing(1, 10), [[8, 8], [10, 10]]);
  assert.ok(set.union(new AckSet(8)).isSuperset(new AckSet(9)));
  const many = new AckSet();
  for (let seq = 2; seq < 400; seq += 2) many.insert(seq);
  assert.equal(many.capped().ranges.length, 64);
});

/** A WebSocket the test drives: records what the client sends; `receive` hands it a frame. */
class FakeSocket {
  static last = null;
  constructor(url, protocols) {
    Object.assign(this, { url, protocols, sent: [], readyState: 0 });
    FakeSocket.last = this;
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; queueMicrotask(() => this.onclose?.({ code: 1000, reason: '' })); }
  receive(text) { this.onmessage({ data: text }); }
}

class MemoryStorage {
  items = new Map();
  getItem(key) { return this.items.get(key) ?? null; }
  setItem(key, value) { this.items.set(key, String(value)); }
  removeItem(key) { this.items.delete(key); }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

test('a reload resumes the session: the snapshot is written before frames go out, nothing is delivered twice', async () => {
  const storage = new MemoryStorage();
  const tickets = [];
  // A reload: the first page is gone when the second starts, so no tab answers the second's claim.
  const options = {
    url: 'ws://test/eventack', storage, WebSocketImpl: FakeSocket, BroadcastChannelImpl: null,
    ticket: async () => { tickets.push(1); return `tk_${tickets.length}`; },
  };
  const first = new EventAckClient(options);
  first.start();
  await tick();
  assert.equal(FakeSocket.last.url, 'ws://test/eventack?ticket=tk_1');
  assert.deepEqual(FakeSocket.last.protocols, ['eventack.v1']);
  assert.equal(FakeSocket.last.sent[0].type, 'hello');
  FakeSocket.last.receive(welcome());
  FakeSocket.last.receive(event(1));
  FakeSocket.last.receive(event(2, { kind: 'tool_completed', confirm: 'display' }));
  const iterator = first.events[Symbol.asyncIterator]();
  const one = (await iterator.next()).value;
  const two = (await iterator.next()).value;
  assert.deepEqual([one.seq, two.seq], [1, 2]);
  assert.equal(two.awaitsDisplay, true);
  two.markDisplayed();
  await tick();  // the drained-inbound ack goes out
  const acks = FakeSocket.last.sent.filter((m) => m.type === 'ack');
  assert.ok(acks.length >= 1);
  // Write-ahead: whatever went out is covered by the stored snapshot.
  const stored = JSON.parse(storage.getItem('eventack.snapshot'));
  assert.deepEqual(stored.received, { upTo: 2 });
  assert.deepEqual(stored.displayed, { upTo: 0, ranges: [[2, 2]] });
  assert.deepEqual(stored.receiptOnly, { upTo: 1 });
  assert.equal(stored.history.length, 2);

  // "Reload": a new client on the same storage shows the history and resumes; the display is sent again.
  const second = new EventAckClient(options);
  assert.deepEqual(second.history.map((d) => d.seq), [1, 2]);
  assert.equal(second.history[1].restored, true);
  second.start();
  await tick();
  const hello = FakeSocket.last.sent[0];
  assert.deepEqual(hello.resume, { session: 's1', token: 't1', receipt: { upTo: 2 } });
  assert.equal(FakeSocket.last.url, 'ws://test/eventack?ticket=tk_2', 'a new ticket for each connection');
  FakeSocket.last.receive(welcome(true, 't2'));
  assert.deepEqual(FakeSocket.last.sent[1], { type: 'ack', receipt: { upTo: 2 }, display: { upTo: 2 } });
  FakeSocket.last.receive(event(2, { kind: 'tool_completed', confirm: 'display', attempt: 2 }));
  FakeSocket.last.receive(event(3));
  const next = (await second.events[Symbol.asyncIterator]().next()).value;
  assert.equal(next.seq, 3, 'the replayed seq 2 is not delivered again');
  assert.throws(() => second.history[0].markDisplayed(), /level_not_requested/);
  const report = await second.close(0);
  assert.equal(report.isComplete, false, 'nothing was echoed by a synced');
  await first.close(0);
});

test('a damaged snapshot is discarded with a signal, never half-used', async () => {
  const storage = new MemoryStorage();
  storage.setItem('eventack.snapshot', '{"format":"eventack-js-snapshot/1","session":"s1"}');
  const client = new EventAckClient({ url: 'ws://test/eventack', storage, WebSocketImpl: FakeSocket });
  const signals = [];
  client.onSignal((signal) => signals.push(signal.type));
  await tick();
  assert.deepEqual(signals, ['snapshotDiscarded']);
  assert.equal(client.core.sessionID, null);
  assert.equal(storage.getItem('eventack.snapshot'), null);
  await client.close(0);
});

test('a core restored from its own snapshot is equivalent: same hello, same outstanding', () => {
  const core = new ClientCore();
  core.connected(0);
  core.frameReceived(welcome(), 0);
  core.frameReceived(event(1, { confirm: 'value', kind: 'agent_completed' }), 1);
  core.frameReceived(event(3), 2);
  assert.deepEqual(JSON.parse(core.snapshotText), JSON.parse(JSON.stringify(core.snapshot)), 'the text written is the snapshot');
  const restored = ClientCore.restoring(JSON.parse(core.snapshotText));
  assert.equal(restored.snapshotText, core.snapshotText, 'and restores to itself');
  assert.deepEqual(restored.outstanding(), core.outstanding());
  assert.deepEqual(restored.connected(5), core.connected(5));
  assert.equal(restored.buffered.get(3).seq, 3);
});

test('a duplicated tab does not take its original\'s session: it starts its own (EA-WEB-3)', async () => {
  const storage = new MemoryStorage();
  const original = new EventAckClient({ url: 'ws://test/eventack', storage, WebSocketImpl: FakeSocket });
  original.start();
  await tick();
  const originalSocket = FakeSocket.last;
  originalSocket.receive(welcome());
  originalSocket.receive(event(1));
  await tick();
  // Duplicating a tab copies its sessionStorage.
  const copy = new MemoryStorage();
  copy.items = new Map(storage.items);
  const duplicate = new EventAckClient({ url: 'ws://test/eventack', storage: copy, WebSocketImpl: FakeSocket, claimWaitMs: 200 });
  const signals = [];
  duplicate.onSignal((signal) => signals.push(signal));
  assert.equal(duplicate.history.length, 1, 'before it asks, the copy looks like a reload');
  duplicate.start();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(signals.map((s) => [s.type, s.reason]), [['snapshotDiscarded', 'duplicated_tab']]);
  assert.equal(duplicate.history.length, 0);
  await tick();
  assert.notEqual(FakeSocket.last, originalSocket);
  assert.equal(FakeSocket.last.sent[0].type, 'hello');
  assert.equal(FakeSocket.last.sent[0].resume, undefined, 'a new session, not a resume of the original\'s');
  assert.equal(originalSocket.readyState, 1, 'the original keeps its connection');
  await duplicate.close(0);
  await original.close(0);
});

test('back online, a client waiting out its backoff reconnects at once', async () => {
  const handlers = {};
  globalThis.addEventListener = (type, handler) => { handlers[type] = handler; };
  globalThis.removeEventListener = (type) => { delete handlers[type]; };
  let opened = 0;
  class Unreachable {
    constructor() {
      opened += 1;
      this.readyState = 0;
      queueMicrotask(() => { this.readyState = 3; this.onclose?.({ code: 1006, reason: '' }); });
    }
    send() {}
    close() {}
  }
  const client = new EventAckClient({
    url: 'ws://test/eventack', storage: null, WebSocketImpl: Unreachable, reconnect: { initialMs: 60_000 },
  });
  const signals = [];
  client.onSignal((signal) => signals.push(signal.type));
  client.start();
  await tick();
  assert.deepEqual([opened, signals], [1, ['connectFailed']], 'the next try is a minute away');
  handlers.online();
  await tick();
  assert.equal(opened, 2, 'the online event tried again at once');
  await client.close(0);
  assert.equal(handlers.online, undefined, 'the listener goes with the client');
  delete globalThis.addEventListener;
  delete globalThis.removeEventListener;
});
