// The simulator's Web Worker: loads the Go WebAssembly engine (wasm/) and
// answers the page's calls. Each message is {id, op, args}; each answer is
// {id, out, goMs} where out is the engine's JSON string (a frame or
// {"error"}). A classic worker, because wasm_exec.js is a classic script.
/* global Go, dledger */
'use strict';

// Errors logged here are forwarded to the page, so they show (and tests
// catch them) next to the page's own.
const workerConsoleError = console.error.bind(console);
console.error = (...args) => {
  workerConsoleError(...args);
  self.postMessage({ id: 0, consoleError: args.map((a) => String(a && a.stack || a)).join(' ') });
};
self.addEventListener('unhandledrejection', (e) => console.error('unhandled rejection in the worker:', e.reason));

let engineReady;
let engineFailed = null;
const ready = new Promise((resolve) => { engineReady = resolve; });
self.dledgerReady = () => engineReady();

async function start() {
  try {
    importScripts('wasm_exec.js');
    const go = new Go();
    let result;
    const resp = fetch('dledgerlab.wasm');
    try {
      result = await WebAssembly.instantiateStreaming(resp, go.importObject);
    } catch (streamErr) {
      // A server without application/wasm: fall back to bytes.
      const bytes = await (await fetch('dledgerlab.wasm')).arrayBuffer();
      result = await WebAssembly.instantiate(bytes, go.importObject);
    }
    go.run(result.instance); // resolves `ready` through dledgerReady
  } catch (err) {
    engineFailed = String(err && err.message || err);
    engineReady();
  }
}
start();

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  await ready;
  let out;
  const t0 = performance.now();
  if (engineFailed !== null) {
    out = JSON.stringify({ error: 'engine: ' + engineFailed, fatal: true });
  } else {
    try {
      const fn = self.dledger && self.dledger[op];
      out = typeof fn === 'function' ? fn(...(args || [])) : JSON.stringify({ error: 'unknown call ' + op });
    } catch (err) {
      out = JSON.stringify({ error: String(err && err.message || err) });
    }
  }
  self.postMessage({ id, out, goMs: performance.now() - t0 });
};
