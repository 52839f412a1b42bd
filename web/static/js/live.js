// Live mode: the page watches real brokers instead of the simulator.
//
// When the page is opened with ?live (as `dledgerlab cluster` and
// `dledgerlab view` serve it), this module stands in for the simulator's
// worker (worker.js): it speaks the same protocol to the page ({id, op,
// args} in, {id, out, goMs} out, out a ClusterView as JSON), but its frames
// come from the launcher's GET /v1/watch WebSocket (one merged view of every
// broker) and the page's actions go to POST /v1/cluster/actions with the
// instructor's admin token. The rest of the page does not know the
// difference (ARCHITECTURE.md rule 2). `dledgerlab cluster --mode
// controller` sends Controller mode's frames (core/ctlsim.View, "mode":
// "controller", "live": true): the page draws them with ctlview.js, and
// the mode switch is hidden (a real cluster runs in one mode).
//
// The token is taken once from the address (#admin=TOKEN, then removed from
// it) or asked for with the "Unlock controls" button, and kept in
// sessionStorage. Without it the controls are disabled: watch only.
//
// Loaded before main.js; without ?live it does nothing.

const TOKEN_KEY = 'dledgerlab.adminToken';
const live = new URLSearchParams(location.search).has('live');

// Controls that act on the cluster (disabled without the token), and the
// simulator's own knobs (hidden: a real cluster has no seed, speed or past).
const ACTING = ['crash', 'restart', 'pause-broker', 'resume-broker', 'isolate', 'transfer', 'partition', 'heal', 'link',
  'produce', 'producer', 'producer-stop', 'consumer', 'move-group', 'rule',
  // Controller mode's (ctlview.js)
  'ctl-crash', 'ctl-restart', 'ctl-pause', 'ctl-resume', 'ctl-isolate', 'ctl-cut-brokers', 'ctl-heal',
  'ctl-produce', 'ctl-producer', 'ctl-producer-stop', 'ctl-consumer'];
// The mode switch is the simulator's too: a real cluster runs in one mode
// (`dledgerlab cluster --mode controller` serves Controller mode's frames).
// So is Controller mode's Link row (its processes take no link faults yet,
// docs/CONTROLLER.md); DLedger mode's works on real brokers.
const SIM_ONLY = ['step', 'speed', 'timeline', 'new-run', 'random-seed', 'share', 'campaign', 'jump-violation', 'lessons',
  'mode', 'ctl-new-run', 'ctl-link'];
// The switches real brokers take from the page (POST /v1/admin/rules through
// the launcher); the safety rules stay in the simulator.
const LIVE_RULES = ['check_quorum', 'pre_vote'];

// The launcher sends a frame 4 times a second: after LOST_AFTER_MS without
// one (a closed socket, or a launcher that stopped answering) the page says
// so and greys the picture instead of showing a cluster that may be gone.
const LOST_AFTER_MS = 1500;

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

function setToken(tok) {
  try {
    if (tok) sessionStorage.setItem(TOKEN_KEY, tok); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lasts as long as the page */ }
  memoryToken = tok;
  syncControls();
}

let memoryToken = '';

function currentToken() { return token() || memoryToken; }

/** takeTokenFromAddress moves #admin=TOKEN into sessionStorage. */
function takeTokenFromAddress() {
  const h = new URLSearchParams(location.hash.slice(1));
  const tok = h.get('admin');
  if (!tok) return;
  h.delete('admin');
  const rest = h.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  setToken(tok);
}

// Real processes have states the simulator's drawing does not: show a
// running broker as up, a killed or restarting one as down (crashed). The
// real state stays in live_state. A Controller-mode frame ("mode":
// "controller", core/ctlsim.View) has controllers and brokers instead of
// nodes; a paused process is "paused" in both.
function adapt(frame) {
  const procs = frame.mode === 'controller' ? [...(frame.controllers || []), ...(frame.brokers || [])] : frame.nodes || [];
  for (const n of procs) {
    n.live_state = n.state;
    if (n.state === 'running') n.state = 'up';
    else if (n.state === 'killed' || n.state === 'restarting') n.state = 'crashed';
  }
  return frame;
}

/** LiveWorker answers the page's engine calls from the launcher. */
class LiveWorker {
  constructor() {
    this.onmessage = null;
    this.onerror = null;
    this.frame = null; // latest frame (adapted), as JSON text
    this.seq = 0; // frames received
    this.waiting = []; // replies waiting for a frame newer than seq
    this.lastFrameAt = 0;
    this.connect();
    setInterval(() => {
      if (this.lastFrameAt && Date.now() - this.lastFrameAt > LOST_AFTER_MS) setLost(true);
    }, 250);
  }

  connect() {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/watch');
    ws.onmessage = (e) => {
      let f;
      try { f = adapt(JSON.parse(e.data)); } catch { return; }
      this.frame = JSON.stringify(f);
      this.seq++;
      this.lastFrameAt = Date.now();
      setLost(false);
      setTimeout(markWatchOnly); // after the page has drawn this frame's controls
      const due = this.waiting;
      this.waiting = [];
      for (const w of due) w();
    };
    ws.onclose = () => {
      if (this.lastFrameAt) setLost(true);
      setTimeout(() => this.connect(), 1000); // the launcher restarted or the network blinked
    };
  }

  reply(id, value) {
    const out = typeof value === 'string' ? value : JSON.stringify(value);
    if (this.onmessage) this.onmessage({ data: { id, out, goMs: 0 } });
  }

  /** nextFrame resolves with a frame newer than the last one handed out. */
  nextFrame(after) {
    return new Promise((resolve) => {
      if (this.frame && this.seq > after) { resolve(); return; }
      this.waiting.push(resolve);
    });
  }

  async postMessage({ id, op, args }) {
    switch (op) {
      case 'init': {
        await this.nextFrame(0);
        this.given = this.seq;
        this.reply(id, this.frame);
        return;
      }
      case 'step': {
        const acts = args && args[0] ? JSON.parse(args[0]) : [];
        for (const a of acts) {
          const err = await act(a);
          if (err) { this.reply(id, '{"error":' + JSON.stringify(err) + (this.frame ? ',"frame":' + this.frame : '') + '}'); return; }
        }
        await this.nextFrame(this.given || 0);
        this.given = this.seq;
        this.reply(id, this.frame);
        return;
      }
      default:
        this.reply(id, { error: 'live view of real brokers: "' + op + '" is the simulator\'s (no rewind, no share links)' });
    }
  }

  terminate() {}
}

/** act sends one action to the launcher; resolves to an error text or ''. */
async function act(a) {
  const tok = currentToken();
  if (!tok) return 'watch only: the instructor\'s admin token is needed to act (Unlock controls)';
  try {
    const resp = await fetch('/v1/cluster/actions', {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tok }, body: JSON.stringify(a),
    });
    if (resp.ok) return '';
    let msg = 'HTTP ' + resp.status;
    try { const e = await resp.json(); msg = e.error.code + ': ' + e.error.message; } catch { /* not JSON */ }
    if (resp.status === 401 || resp.status === 403) setToken('');
    return msg;
  } catch (err) {
    return 'the launcher did not answer: ' + err.message;
  }
}

/** setLost shows or hides the disconnected banner and greys the picture. */
function setLost(lost) {
  const root = document.documentElement;
  if (root.classList.contains('live-lost') === lost) return;
  root.classList.toggle('live-lost', lost);
  const b = document.getElementById('live-lost');
  if (b) b.hidden = !lost;
}

function syncControls() {
  const root = document.documentElement;
  root.classList.toggle('live-watch-only', !currentToken());
  const b = document.getElementById('live-unlock');
  if (b) b.hidden = !!currentToken();
  markWatchOnly();
}

const ACTING_SELECTOR = ACTING.map((a) => '[data-action="' + a + '"]').join(', ');

/** markWatchOnly tells assistive technology that the acting controls are
 * unavailable without the token (aria-disabled: they stay focusable, and
 * pressing one says why). Controls drawn later (the group chips) are marked
 * as frames arrive. */
function markWatchOnly() {
  const off = !currentToken();
  for (const el of document.querySelectorAll(ACTING_SELECTOR)) {
    if (off) el.setAttribute('aria-disabled', 'true');
    else if (el.getAttribute('aria-disabled') === 'true') el.removeAttribute('aria-disabled');
  }
}

function installPage() {
  const style = document.createElement('style');
  style.textContent = SIM_ONLY.map((a) => '.live-mode [data-action="' + a + '"]').join(', ') + ', .live-mode .timeline, .live-mode .speed, .live-mode .link-form:has([data-action="ctl-link"]), .live-mode #fork-note, .live-mode #settings-title ~ .form-grid, .live-mode #settings-title ~ .btn-row { display: none !important; }\n'
    + '.live-mode .mode-switch, .live-mode section:has(#ctl-settings-title) { display: none !important; }\n'
    + '.live-mode .rules label:not(' + LIVE_RULES.map((r) => ':has([data-rule="' + r + '"])').join(', ') + ') { display: none !important; }\n'
    + ACTING.map((a) => '.live-watch-only [data-action="' + a + '"]').join(', ') + ' { pointer-events: none; opacity: 0.45; }\n'
    + '.live-dots { flex: 1 1 16rem; margin: 0; font-size: 0.85rem; color: var(--muted); }\n'
    + '.live-tag { font-weight: 600; padding: 2px 8px; border-radius: 10px; background: #e6f4ea; color: #137333; }';
  document.head.appendChild(style);
  document.documentElement.classList.add('live-mode');
  const banner = document.createElement('div');
  banner.id = 'live-lost';
  banner.className = 'live-lost-banner';
  banner.setAttribute('role', 'alert');
  banner.hidden = true;
  banner.innerHTML = '<strong data-i18n="liveLostTitle"></strong> <span data-i18n="liveLostText"></span>';
  const main = document.querySelector('main');
  if (main) main.before(banner); else document.body.prepend(banner);
  // A real message is too fast to see: say how the dots are paced
  // (native/server/view.go). Controller mode's live frames carry none.
  const transport = document.querySelector('.stage .transport');
  if (transport) {
    const dots = document.createElement('p');
    dots.id = 'live-dots';
    dots.className = 'live-dots dl-only';
    dots.dataset.i18n = 'liveDots';
    transport.append(dots);
  }
  const top = document.querySelector('.top-actions');
  if (top) {
    const tag = document.createElement('span');
    tag.className = 'live-tag';
    tag.dataset.live = 'true';
    tag.textContent = 'LIVE · real brokers / 真实 Broker';
    top.prepend(tag);
    const unlock = document.createElement('button');
    unlock.type = 'button';
    unlock.id = 'live-unlock';
    unlock.dataset.action = 'live-unlock';
    unlock.textContent = 'Unlock controls / 解锁操作';
    unlock.addEventListener('click', () => {
      const tok = window.prompt('Admin token (printed by dledgerlab cluster):');
      if (tok) setToken(tok.trim());
    });
    top.prepend(unlock);
  }
  syncControls();
}

if (live) {
  takeTokenFromAddress();
  const RealWorker = window.Worker;
  window.Worker = function LiveOrRealWorker(url, opts) {
    return String(url).endsWith('worker.js') ? new LiveWorker() : new RealWorker(url, opts);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', installPage);
  else installPage();
}

export { live, adapt };
