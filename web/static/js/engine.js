// The page's side of the simulator worker: one call at a time, each
// resolving to the parsed answer (a ClusterView frame, or {error}).

export class Engine {
  constructor(url = 'worker.js') {
    this.worker = new Worker(url);
    this.nextId = 1;
    this.waiting = new Map();
    this.inFlight = 0;
    /** Milliseconds the last call spent inside Go (measured in the worker). */
    this.lastGoMs = 0;
    this.worker.onmessage = (e) => {
      const { id, out, goMs, consoleError } = e.data;
      if (consoleError) { console.error('[simulator worker]', consoleError); return; }
      const w = this.waiting.get(id);
      if (!w) return;
      this.waiting.delete(id);
      this.inFlight--;
      this.lastGoMs = goMs;
      const t0 = performance.now();
      let value;
      try {
        value = JSON.parse(out);
      } catch (err) {
        value = { error: 'unreadable answer from the simulator: ' + err.message };
      }
      w.resolve({ value, parseMs: performance.now() - t0 });
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      const msg = e.message || 'worker failed';
      for (const w of this.waiting.values()) w.resolve({ value: { error: msg, fatal: true }, parseMs: 0 });
      this.waiting.clear();
      this.inFlight = 0;
    };
  }

  /** busy reports whether a call is still being answered. */
  get busy() { return this.inFlight > 0; }

  /** call runs op(...args) in the worker; resolves to {value, parseMs}. */
  call(op, ...args) {
    const id = this.nextId++;
    this.inFlight++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve });
      this.worker.postMessage({ id, op, args });
    });
  }
}
