// The simulator's Web Worker: loads the Go WebAssembly engine (wasm/) and
// answers the page's calls. Each message is {id, op, args}; each answer is
// {id, out, goMs} where out is the engine's JSON string (a frame or
// {"error"}). Calls are answered one at a time, in order. A classic worker,
// because wasm_exec.js is a classic script.
//
// Share links are made and opened here, around the engine: a link is the
// run's JSON (the engine's shareJSON / load) compressed with raw DEFLATE —
// CompressionStream('deflate-raw'), the format of Go's compress/flate — in
// unpadded base64url. So the engine carries neither compress/flate nor a
// base64 codec, and a link made here opens natively (sim.Load) and the
// other way round.
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

// worker.js?engine=controller runs Controller mode's engine (wasm/controller).
const WASM = new URL(self.location.href).searchParams.get('engine') === 'controller' ? 'dledgerlab-controller.wasm' : 'dledgerlab.wasm';

async function start() {
  try {
    importScripts('wasm_exec.js');
    const go = new Go();
    let result;
    const resp = fetch(WASM);
    try {
      result = await WebAssembly.instantiateStreaming(resp, go.importObject);
    } catch (streamErr) {
      // A server without application/wasm: fall back to bytes.
      const r = await fetch(WASM);
      if (!r.ok) throw new Error(WASM + ': HTTP ' + r.status + ' ' + r.statusText);
      const bytes = await r.arrayBuffer();
      result = await WebAssembly.instantiate(bytes, go.importObject);
    }
    go.run(result.instance); // resolves `ready` through dledgerReady
  } catch (err) {
    engineFailed = String(err && err.message || err);
    engineReady();
  }
}
start();

// One call at a time, in the order they came: the engine is a single run.
// (answer settles every call; the catch only keeps the chain going.)
let queue = Promise.resolve();
self.onmessage = (e) => {
  queue = queue.then(() => answer(e.data)).catch((err) => console.error('answering a call:', err));
};

async function answer({ id, op, args }) {
  await ready;
  let out;
  const t0 = performance.now();
  if (engineFailed !== null) {
    out = JSON.stringify({ error: 'engine: ' + engineFailed, fatal: true });
  } else {
    try {
      out = await call(op, args || []);
    } catch (err) {
      out = JSON.stringify({ error: String(err && err.message || err) });
    }
  }
  self.postMessage({ id, out, goMs: performance.now() - t0 });
}

async function call(op, args) {
  const engine = self.dledger;
  if (op === 'share') return share(engine);
  if (op === 'init' && isLink(args[0])) {
    let json;
    try {
      json = await openLink(args[0].trim());
    } catch (err) {
      return JSON.stringify({ error: 'malformed share link: ' + err.message });
    }
    return engine.load(json);
  }
  const fn = engine && engine[op];
  return typeof fn === 'function' ? fn(...args) : JSON.stringify({ error: 'unknown call ' + op });
}

/** isLink tells a share string from settings (JSON, or empty for defaults). */
function isLink(arg) {
  return typeof arg === 'string' && arg.trim() !== '' && !arg.trim().startsWith('{');
}

// The longest JSON a link may inflate to (sim.LoadJSON's limit).
const MAX_SHARE_JSON = 4 << 20;

/** share answers {"share": link} for the current run, or the engine's {"error"}. */
async function share(engine) {
  const json = engine.shareJSON();
  if (json.startsWith('{"error"')) return json;
  const packed = await pipe(new TextEncoder().encode(json), new CompressionStream('deflate-raw'), Infinity);
  return JSON.stringify({ share: base64url(packed) });
}

/** openLink turns a share string back into the run's JSON bytes. */
async function openLink(link) {
  let packed;
  try {
    packed = unbase64url(link);
  } catch (err) {
    throw new Error('not base64url: ' + err.message);
  }
  try {
    return await pipe(packed, new DecompressionStream('deflate-raw'), MAX_SHARE_JSON);
  } catch (err) {
    throw new Error('cannot decompress: ' + (err && err.message || err));
  }
}

/** pipe runs bytes through a (de)compression stream; at most limit bytes out. */
async function pipe(bytes, transform, limit) {
  const reader = new Blob([bytes]).stream().pipeThrough(transform).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel();
      throw new Error('more than ' + limit + ' bytes');
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** base64url is RFC 4648 §5 without padding, as Go's base64.RawURLEncoding. */
function base64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** unbase64url reads what base64url writes; like Go's decoder it refuses
 * other characters, padding and an impossible length. */
function unbase64url(s) {
  const bad = s.search(/[^A-Za-z0-9_-]/);
  if (bad >= 0) throw new Error('illegal character ' + JSON.stringify(s[bad]) + ' at input byte ' + bad);
  if (s.length % 4 === 1) throw new Error('illegal length ' + s.length);
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
