// The display rule of observeDisplay (BROWSER.md EA-WEB-4) under Node, with a fake page: IntersectionObserver,
// requestAnimationFrame, document visibility, timers and performance.now() are driven by the test.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';

let now = 0;
Object.defineProperty(globalThis, 'performance', { value: { now: () => now }, configurable: true, writable: true });
const frames = [];
globalThis.requestAnimationFrame = (callback) => frames.push(callback);
const listeners = new Set();
globalThis.document = {
  visibilityState: 'visible',
  addEventListener: (type, listener) => listeners.add(listener),
  removeEventListener: (type, listener) => listeners.delete(listener),
};
let observer = null;
globalThis.IntersectionObserver = class {
  constructor(callback) { this.callback = callback; this.targets = new Set(); observer = this; }
  observe(target) { this.targets.add(target); }
  unobserve(target) { this.targets.delete(target); }
};
const { observeDisplay } = await import('../eventack.js');

/** Runs the animation frames queued so far (and those they queue), one frame each. */
function paint() {
  for (let i = 0; i < 2; i += 1) for (const callback of frames.splice(0)) callback();
}

function advance(ms) {
  now += ms;
  mock.timers.tick(ms);
}

/** What the viewport shows of `element`: `visibleHeight` of its `height` px, in a viewport of `viewport` px. */
function view(element, visibleHeight, height = 100, viewport = 600) {
  observer.callback([{
    target: element, isIntersecting: visibleHeight > 0, intersectionRatio: visibleHeight / height,
    boundingClientRect: { height }, intersectionRect: { height: visibleHeight }, rootBounds: { height: viewport },
  }]);
}

function setVisibility(state) {
  document.visibilityState = state;
  for (const listener of [...listeners]) listener();
}

const delivery = (seq, displayed) => ({
  seq, awaitsDisplay: true, markDisplayed() { this.awaitsDisplay = false; displayed.push(seq); },
});
const element = () => ({ isConnected: true });

test('displayed only after painted and half in view for 500 ms without interruption, while the page is visible', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const displayed = [];
  const a = element();
  observeDisplay(a, delivery(1, displayed));
  view(a, 100);
  advance(1000);
  assert.deepEqual(displayed, [], 'not painted yet: nothing is displayed');
  paint();
  advance(499);
  assert.deepEqual(displayed, []);
  advance(1);
  assert.deepEqual(displayed, [1], '500 ms after the paint');

  const b = element();
  observeDisplay(b, delivery(2, displayed));
  paint();
  view(b, 40);
  advance(2000);
  assert.deepEqual(displayed, [1], '40 % in view is not half');
  view(b, 60);
  advance(300);
  view(b, 0);
  advance(1000);
  assert.deepEqual(displayed, [1], 'scrolled away before the dwell ended');
  view(b, 100);
  advance(250);
  setVisibility('hidden');
  advance(1000);
  assert.deepEqual(displayed, [1], 'a hidden page interrupts the dwell');
  setVisibility('visible');
  advance(499);
  assert.deepEqual(displayed, [1]);
  advance(1);
  assert.deepEqual(displayed, [1, 2], 'the dwell starts again when the page is shown');
  mock.timers.reset();
});

test('a tall element counts once it fills half the viewport; deltas wait their own dwell from their own paint', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const displayed = [];
  const tall = element();
  observeDisplay(tall, delivery(3, displayed));
  paint();
  view(tall, 350, 2000, 600);
  advance(500);
  assert.deepEqual(displayed, [3], '350 px of a 600 px viewport');

  const message = element();
  observeDisplay(message, delivery(4, displayed));
  paint();
  view(message, 100);
  advance(400);
  observeDisplay(message, delivery(5, displayed));  // more text streamed into the visible message
  advance(100);
  assert.deepEqual(displayed, [3, 4]);
  paint();
  advance(499);
  assert.deepEqual(displayed, [3, 4], 'the delta painted later waits its own 500 ms');
  advance(1);
  assert.deepEqual(displayed, [3, 4, 5]);
  assert.equal(listeners.size, 0, 'nothing left watched: the page listener is removed');
  mock.timers.reset();
});
