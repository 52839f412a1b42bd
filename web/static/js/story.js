// Story mode: the seed's story (基于DLedger技术的Broker主从同步原理) told on
// the live simulator, one beat at a time. Each beat is a condition on the
// simulator's frames and events — never a timer — so the story holds for
// any seed: when it first holds the simulation pauses and a callout is
// drawn on the picture, anchored to the broker, message or log cell the
// beat is about. Next plays on to the next beat (the story's own actions,
// such as the produce or the crash, go through the page's action path);
// Back rewinds to the previous beat with the page's timeline. Anything
// the learner does to the run leaves the story, and the playground goes on
// from there.
//
// While the story plays, the page advances the simulator one virtual
// millisecond per call and hands each frame to onFrame before asking for
// the next (main.js), so a beat stops at the first millisecond its
// condition holds — the same moment on every replay.

import { currentLang, storyT } from './i18n.js';

const PLAYED_KEY = 'dledgerlab.played';
const SPEED = 0.25;
const DEFAULT_SEED = 1;
const SPEED_SELECT = '#speed';

const node = (f, id) => f.nodes.find((n) => n.id === id);
const upNodes = (f) => f.nodes.filter((n) => n.state === 'up');
const majority = (f) => Math.floor(f.nodes.length / 2) + 1;
const eventsSince = (f, since, kind) => (f.events || []).filter((e) => e.time_ms > since && e.kind === kind);
const inFlight = (f, type) => (f.messages || []).filter((m) => !m.dropped && m.type === type && m.sent_ms <= f.time_ms && m.deliver_ms > f.time_ms);
const entryOf = (n, body) => (n.log || []).find((e) => e.summary === 'orders: ' + body);
const leaderUp = (f) => f.nodes.find((n) => n.role === 'leader' && n.state === 'up');
const leftMs = (f, n) => Math.max(0, (n.election_timeout - n.election_elapsed) * (f.settings.tick_ms || 10));
const fraction = (n) => (n.election_timeout > 0 ? n.election_elapsed / n.election_timeout : 0);

/** soonest is the up, non-leader broker with the least election time left. */
function soonest(f) {
  let best = null;
  for (const n of upNodes(f)) {
    if (n.role === 'leader') continue;
    if (!best || leftMs(f, n) < leftMs(f, best)) best = n;
  }
  return best;
}

/** carries reports whether a push (its summary "… prev=P@T n=N …") holds index i. */
function carries(m, i) {
  const prev = /prev=(\d+)@/.exec(m.summary || '');
  const n = /\bn=(\d+)/.exec(m.summary || '');
  if (!prev || !n) return false;
  const p = Number(prev[1]);
  return p < i && i <= p + Number(n[1]);
}

function wonVotes(e, f) {
  const m = /won (\d+) of (\d+)/.exec(e.detail || '');
  return m ? { won: Number(m[1]), of: Number(m[2]) } : { won: majority(f), of: f.nodes.length };
}

const broker = (id) => '#cluster [data-node-id="' + id + '"] .timer-track';
const cell = (id, i) => '#logview .cells[data-log-node="' + id + '"] > .e[data-index="' + i + '"]';
const msgSel = (id) => '#cluster .msg[data-msg-id="' + id + '"]';

// The beats, in order. when(f, c, since) returns the facts of the beat
// (merged into the story's context c) once it holds on frame f, else null;
// act(c) lists the story's own actions, done when the learner presses Next
// to play towards the beat; anchor(c) is what the callout points at (the
// first selector gets the arrow, the rest a ring each); key(c) picks the
// text in i18n.js's story block.
const BEATS = [
  {
    id: 'start',
    when: () => ({}),
    anchor: (c, f) => f.nodes.map((n) => broker(n.id)),
    noArrow: true,
  },
  {
    id: 'sleep',
    when: (f) => {
      if (f.time_ms <= 0 || f.nodes.some((n) => n.role !== 'follower')) return null;
      if (!f.nodes.some((n) => fraction(n) >= 0.5)) return null;
      const w = soonest(f);
      return { w: w.id, ms: leftMs(f, w), min: f.settings.tick_ms * 15, max: f.settings.tick_ms * 30 };
    },
    anchor: (c) => [broker(c.w)],
  },
  {
    id: 'candidate',
    when: (f, c, since) => {
      // Once its vote requests are on their way (after it persisted its
      // term and vote), so the picture shows them.
      const e = eventsSince(f, since, 'became-candidate')[0];
      if (!e || !inFlight(f, 'vote').some((m) => m.from === e.node)) return null;
      return { cand: e.node, term: e.term };
    },
    anchor: (c) => [broker(c.cand)],
  },
  {
    id: 'vote',
    when: (f, c) => {
      const m = inFlight(f, 'vote-resp').find((x) => !x.reject && node(f, x.to) && node(f, x.to).role === 'candidate');
      // retry: the first campaign did not win; another one is shown here.
      return m ? { voter: m.from, cand: m.to, term: m.term, msg: m.id, retry: m.term !== c.term, firstTerm: c.term } : null;
    },
    anchor: (c) => [msgSel(c.msg), broker(c.voter)],
    key: (c) => (c.retry ? 'voteRetry' : 'vote'),
    detours: ['split'],
  },
  {
    id: 'leader',
    when: (f, c, since) => {
      const e = eventsSince(f, since, 'became-leader')[0];
      return e ? { lead: e.node, term: e.term, ...wonVotes(e, f), maj: majority(f) } : null;
    },
    anchor: (c) => [broker(c.lead)],
    detours: ['split'],
  },
  {
    id: 'heartbeat',
    when: (f, c, since) => {
      const m = inFlight(f, 'heartbeat').find((x) => x.from === c.lead && x.sent_ms > since);
      if (!m) return null;
      const l = node(f, c.lead);
      const first = (l.log || []).find((e) => e.index === 1);
      const noop = !!first && (first.type === 'noop' || first.summary === 'no-op');
      return { hbTo: m.to, msg: m.id, hb: f.settings.tick_ms * 5, noop, noopSolid: f.nodes.filter((n) => n.commit >= 1).length };
    },
    anchor: (c) => [msgSel(c.msg), broker(c.hbTo)],
    key: (c) => (c.noop ? 'heartbeatNoop' : 'heartbeat'),
  },
  {
    id: 'produce',
    act: (c) => [{ kind: 'produce', topic: 'orders', body: 'hello', node: c.lead }],
    when: (f, c) => {
      const e = entryOf(node(f, c.lead), 'hello');
      return e && !e.committed ? { i: e.index, eterm: e.term, durable: e.durable } : null;
    },
    anchor: (c) => [cell(c.lead, c.i), broker(c.lead)],
    key: (c) => (c.durable ? 'produce' : 'produceVolatile'),
  },
  {
    id: 'push',
    when: (f, c) => {
      const m = inFlight(f, 'push').find((x) => x.from === c.lead && carries(x, c.i));
      return m ? { pushTo: m.to, msg: m.id } : null;
    },
    anchor: (c) => [msgSel(c.msg), broker(c.pushTo)],
  },
  {
    id: 'ack',
    when: (f, c) => {
      const m = inFlight(f, 'push-resp').find((x) => x.to === c.lead && !x.reject && Number((/match=(\d+)/.exec(x.summary) || [])[1]) >= c.i);
      return m ? { acker: m.from, msg: m.id } : null;
    },
    anchor: (c) => [cell(c.acker, c.i), msgSel(c.msg)],
  },
  {
    id: 'committed',
    when: (f, c) => {
      const solid = f.nodes.filter((n) => { const e = entryOf(n, 'hello'); return e && e.committed; }).map((n) => n.id);
      if (solid.length < majority(f)) return null;
      return { solid, k: solid.length, n: f.nodes.length, maj: majority(f) };
    },
    anchor: (c) => [cell(c.lead, c.i)].concat(c.solid.filter((id) => id !== c.lead).map((id) => cell(id, c.i))),
  },
  {
    id: 'crash',
    act: (c) => [{ kind: 'crash', node: c.lead }],
    when: (f, c) => (node(f, c.lead).state === 'crashed' ? { old: c.lead, oldTerm: c.term } : null),
    anchor: (c) => [broker(c.old)],
  },
  {
    id: 'silence',
    when: (f, c) => {
      if (leaderUp(f)) return null;
      const w = soonest(f);
      if (!w || w.role !== 'follower' || fraction(w) < 0.6) return null;
      return { w: w.id, ms: leftMs(f, w) };
    },
    anchor: (c, f) => [broker(c.w)].concat(upNodes(f).filter((n) => n.id !== c.w).map((n) => broker(n.id))),
  },
  {
    id: 'wake',
    when: (f, c, since) => {
      const e = eventsSince(f, since, 'became-candidate').find((x) => x.term > c.oldTerm);
      if (!e || !inFlight(f, 'vote').some((m) => m.from === e.node)) return null;
      const other = upNodes(f).find((n) => n.id !== e.node);
      return { cand: e.node, term: e.term, other: other ? other.id : 0, maj: majority(f), n: f.nodes.length };
    },
    anchor: (c) => [broker(c.cand), broker(c.old)],
  },
  {
    id: 'newleader',
    when: (f, c, since) => {
      const e = eventsSince(f, since, 'became-leader').find((x) => x.term > c.oldTerm);
      if (!e) return null;
      const has = !!entryOf(node(f, e.node), 'hello');
      return { lead: e.node, term: e.term, ...wonVotes(e, f), has };
    },
    anchor: (c) => [broker(c.lead), broker(c.old)],
    key: (c) => (c.has ? 'newleader' : 'newleaderPlain'),
    detours: ['split'],
  },
  {
    id: 'back',
    act: (c) => [{ kind: 'restart', node: c.old }],
    when: (f, c) => {
      const o = node(f, c.old);
      const l = node(f, c.lead);
      if (o.state !== 'up' || o.role !== 'follower' || o.lead !== c.lead || !l) return null;
      return o.last_index >= l.commit && entryOf(o, 'hello') ? {} : null;
    },
    anchor: (c) => [broker(c.old)],
  },
  {
    id: 'split',
    act: (c, f) => {
      const others = f.nodes.map((n) => n.id).filter((id) => id !== c.lead);
      return [
        { kind: 'partition', groups: [[c.lead], others] },
        { kind: 'produce', topic: 'orders', body: 'world', node: c.lead, id: 'p2' },
      ];
    },
    when: (f, c) => {
      if (!f.groups || f.groups.length !== 2) return null;
      const e = entryOf(node(f, c.lead), 'world');
      if (!e || e.committed) return null;
      const others = f.nodes.map((n) => n.id).filter((id) => id !== c.lead);
      return { alone: c.lead, aloneTerm: c.term, j: e.index, a: others[0], b: others[1] };
    },
    anchor: (c) => [cell(c.alone, c.j), broker(c.alone)],
  },
  {
    id: 'twoSides',
    when: (f, c) => {
      const l = f.nodes.find((n) => n.role === 'leader' && n.state === 'up' && n.id !== c.alone && n.term > c.aloneTerm);
      if (!l) return null;
      const old = node(f, c.alone);
      const mate = c.a === l.id ? c.b : c.a;
      return { lead: l.id, term: l.term, still: old.role === 'leader', mate };
    },
    anchor: (c) => [broker(c.lead), broker(c.alone)],
    key: (c) => (c.still ? 'twoLeaders' : 'steppedDown'),
  },
  {
    id: 'heal',
    act: () => [{ kind: 'heal' }],
    when: (f, c) => {
      const o = node(f, c.alone);
      if (f.groups && f.groups.length) return null;
      if (o.role !== 'follower' || !o.lead || entryOf(o, 'world')) return null;
      const cut = (o.truncated || []).find((e) => e.summary === 'orders: world');
      if (!cut) return null;
      const l = node(f, o.lead);
      return { healLead: o.lead, healTerm: l ? l.term : o.term, again: (l ? l.term : o.term) > c.term, cutIndex: cut.index };
    },
    anchor: (c) => ['#logview .cells[data-log-node="' + c.alone + '"] .trunc-row .e.truncated[data-index="' + c.cutIndex + '"]', broker(c.alone)],
    key: (c) => (c.again ? 'healAgain' : 'heal'),
  },
];

// Detours: beats that only some seeds reach, shown when they happen.
const DETOURS = {
  split: {
    id: 'splitVote',
    when: (f, c) => {
      const cands = upNodes(f).filter((n) => n.role === 'candidate');
      if (cands.length < 2) return null;
      const term = Math.max(...cands.map((n) => n.term));
      const same = cands.filter((n) => n.term === term).map((n) => n.id);
      if (same.length < 2 || c.splitTerm === term) return null;
      const first = same.includes(c.cand) ? c.cand : same[0];
      return { splitTerm: term, cands: same, all: same.length === upNodes(f).length, first, second: same.find((id) => id !== first) };
    },
    anchor: (c) => [c.second].concat(c.cands.filter((id) => id !== c.second)).map((id) => broker(id)),
    key: (c) => (c.all ? 'splitAll' : 'splitSome'),
  },
};

const BEAT_IDS = BEATS.map((b) => b.id);

export class Story {
  constructor(app, { live } = {}) {
    this.app = app;
    this.live = !!live;
    this.active = false;
    this.playing = false; // playing towards the next beat
    this.history = []; // shown beats: {id, main, time, ctx, frame}
    this.at = -1; // index into history of the beat on screen
    this.pending = []; // the story's actions still to do on the way
    this.ctx = {};
    this.lastKey = '';
    this.actionTimes = new Set(); // when the story acted in this run
    this.build();
  }

  // --- what main.js asks ---

  /** wanted reports whether this page load starts with the story. */
  wanted() {
    if (this.live) return false;
    const q = new URLSearchParams(location.search);
    if (q.has('play')) return false;
    if (q.has('story')) return true;
    try { return localStorage.getItem(PLAYED_KEY) === null; } catch { return false; }
  }

  /** fine: the page should step one millisecond at a time and show each frame to onFrame. */
  get fine() { return this.active && this.playing && this.app.playing; }

  /** start begins the story in a new run (seed: ?story=SEED, else the default). */
  start(seed) {
    if (this.live) return;
    if (seed === undefined) {
      const q = Number(new URLSearchParams(location.search).get('story'));
      seed = Number.isInteger(q) && q > 0 ? q : DEFAULT_SEED;
    }
    try { localStorage.setItem(PLAYED_KEY, '1'); } catch { /* storage disabled */ }
    this.seed = seed;
    this.active = false;
    this.starting = true;
    this.app.restart({ nodes: 3, seed, disable_pre_vote: true }, { story: true });
  }

  onInit(frame, init) {
    if (!init.story) return;
    this.starting = false;
    this.active = true;
    this.history = [];
    this.at = -1;
    this.saidAt = -1;
    this.ctx = {};
    this.pending = [];
    this.actionTimes = new Set();
    this.app.speed = SPEED;
    document.querySelector(SPEED_SELECT).value = String(SPEED);
    this.app.setPlaying(false);
    this.playing = false;
    this.reach(BEATS[0], true, frame, {});
    document.documentElement.classList.add('story-mode');
  }

  /** interrupted: the learner did something to the run; the story ends there. */
  interrupted(kind, a) {
    if (!this.active) return;
    let key = 'leftAction';
    let vars = {};
    if (kind === 'act' && a) {
      const who = a.node ? storyT('brokerN', { id: a.node }) : '';
      key = { crash: 'leftCrash', restart: 'leftRestart', partition: 'leftPartition', isolate: 'leftPartition', heal: 'leftHeal', produce: 'leftProduce', producer: 'leftProduce' }[a.kind] || 'leftAction';
      vars = { who };
    } else if (kind === 'seek') key = 'leftSeek';
    else if (kind === 'step') key = 'leftStep';
    else if (kind === 'restart') key = 'leftRestartRun';
    else if (kind === 'lesson') key = 'leftLesson';
    else if (kind === 'speed') key = 'leftSpeed';
    this.leave(storyT(key, vars), kind === 'restart' || kind === 'lesson' || kind === 'step' || kind === 'seek' ? null : true);
  }

  /** owns reports whether event e is one of the story's own actions. */
  owns(e) {
    return e.kind === 'action' && this.actionTimes.has(e.time_ms);
  }

  /** onFrame judges each frame while the story plays (main.js calls it). */
  onFrame(f) {
    if (!this.fine) return;
    const cur = this.history[this.at];
    if (this.pending.length && f.time_ms > cur.time) {
      for (const a of this.pending) {
        this.actionTimes.add(f.time_ms); // they happen at this frame's moment
        this.app.act(a, true);
      }
      this.pending = [];
      return; // judged on the next frame, which shows what they did
    }
    if (this.pending.length) return;
    const want = this.nextMain();
    if (!want) return;
    for (const name of want.detours || []) {
      const d = DETOURS[name];
      const facts = d.when(f, this.ctx, cur.time);
      if (facts) { this.reach(d, false, f, facts); return; }
    }
    const facts = want.when(f, this.ctx, cur.time);
    if (facts) this.reach(want, true, f, facts);
  }

  update() {
    if (this.active) this.place();
  }

  relabel() {
    if (this.helpKeys) this.helpKeys.textContent = storyT('helpKeys');
    this.button.textContent = storyT('button');
    this.button.title = storyT('buttonTitle');
    this.saidAt = -1; // said again in the new language
    if (this.active) this.render();
  }

  /** state is what tests read: where the story stands. */
  state() {
    if (!this.active) return null;
    const b = this.history[this.at];
    return {
      beat: b ? b.id : '', index: this.at, main: b ? b.main : false, time_ms: b ? b.time : 0, playing: this.playing,
      ids: this.history.slice(0, this.at + 1).map((h) => h.id), all: BEAT_IDS, ctx: b ? b.ctx : {},
    };
  }

  // --- moving through the story ---

  nextMain() {
    let last = -1;
    for (let k = this.at; k >= 0; k--) {
      if (this.history[k].main) { last = BEAT_IDS.indexOf(this.history[k].id); break; }
    }
    return BEATS[last + 1] || null;
  }

  reach(beat, main, f, facts) {
    this.ctx = { ...this.ctx, ...facts };
    this.history = this.history.slice(0, this.at + 1);
    this.history.push({ id: beat.id, main, time: f.time_ms, ctx: { ...this.ctx }, frame: f, beat });
    this.at = this.history.length - 1;
    this.playing = false;
    if (this.app.playing) this.app.setPlaying(false);
    this.render();
  }

  next() {
    if (!this.active) return;
    if (this.playing) return; // already on the way
    const want = this.nextMain();
    if (!want) { this.finish(); return; }
    const cur = this.history[this.at];
    // After Back this plays the same moments again: the run replays the
    // recorded actions, and the story does not repeat its own.
    // The story's actions happen one millisecond after the beat, so the
    // beat's own moment (where Back returns) is without them.
    const acts = want.act ? want.act(this.ctx, cur.frame) : [];
    const recorded = ((this.app.frame.timeline || {}).actions || []).filter((a) => a.at === cur.time + 1);
    this.pending = acts.filter((a) => !recorded.some((r) => r.kind === a.kind && (r.node || 0) === (a.node || 0)));
    // Keep the keyboard where it was: a press on Next (which is disabled
    // while the story plays) gets the focus back at the next beat.
    const f = document.activeElement;
    this.refocus = !!(f && f.closest && f.closest('.story-callout'));
    this.playing = true;
    this.saidAt = -1;
    this.render();
    this.app.setPlaying(true);
  }

  back() {
    if (!this.active || this.at <= 0) return;
    this.at--;
    this.saidAt = -1;
    this.ctx = { ...this.history[this.at].ctx };
    this.playing = false;
    this.pending = [];
    if (this.app.playing) this.app.setPlaying(false);
    this.app.seek(this.history[this.at].time, true);
    this.render();
  }

  finish() {
    this.leave(storyT('finished'), true);
  }

  /** leave ends the story; text (if any) says why; play: let the run go on. */
  leave(text, play) {
    if (!this.active && !this.starting) return;
    // The keyboard was in the callout: it goes on at Play / Pause, just
    // under the picture, instead of being lost with the callout.
    const f = document.activeElement;
    if (this.box && f && this.box.contains(f)) document.querySelector('#play-btn').focus({ preventScroll: true });
    this.active = false;
    this.starting = false;
    this.playing = false;
    this.pending = [];
    this.box.hidden = true;
    this.overlay.replaceChildren();
    this.overlay.style.display = 'none';
    document.documentElement.classList.remove('story-mode');
    if (text) this.app.notice(text, 'info');
    if (play && !this.app.playing) this.app.setPlaying(true);
  }

  // --- drawing ---

  build() {
    const head = document.querySelector('.top-actions');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.action = 'story';
    b.className = 'story-btn';
    b.textContent = storyT('button');
    b.title = storyT('buttonTitle');
    b.hidden = this.live;
    b.addEventListener('click', () => {
      const seed = Number(document.querySelector('#cfg-seed').value);
      this.start(Number.isInteger(seed) && seed >= 0 ? seed : DEFAULT_SEED);
    });
    if (head) head.insertBefore(b, head.firstElementChild ? head.firstElementChild.nextSibling : null);
    this.button = b;

    const box = document.createElement('div');
    box.id = 'story-callout';
    box.className = 'story-callout';
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-labelledby', 'story-title');
    box.hidden = true;
    box.innerHTML = '<div class="story-top"><span class="story-count" id="story-count"></span>'
      + '<button type="button" class="story-x" data-action="story-exit" aria-label="Esc">×</button></div>'
      + '<h3 id="story-title" class="story-title"></h3><p id="story-text" class="story-text"></p>'
      + '<div class="story-nav"><button type="button" data-action="story-back" class="story-back"></button>'
      + '<button type="button" data-action="story-next" class="primary story-next"></button>'
      + '<span class="story-keys small muted"></span></div>';
    const stage = document.querySelector('.stage-body');
    if (stage) stage.appendChild(box);
    this.box = box;
    box.querySelector('[data-action="story-next"]').addEventListener('click', () => this.next());
    box.querySelector('[data-action="story-back"]').addEventListener('click', () => this.back());
    box.querySelector('[data-action="story-exit"]').addEventListener('click', () => this.leave(storyT('leftEsc'), true));

    // The help dialog lists the story's keys too.
    const keys = document.querySelector('#help .keys tbody');
    if (keys && !this.live) {
      const tr = document.createElement('tr');
      tr.innerHTML = '<td><kbd>→</kbd> <kbd>Space</kbd> <kbd>←</kbd> <kbd>Esc</kbd></td><td id="story-help-keys"></td>';
      keys.appendChild(tr);
      this.helpKeys = tr.lastElementChild;
      this.helpKeys.textContent = storyT('helpKeys');
    }

    const ov = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    ov.id = 'story-overlay';
    ov.setAttribute('aria-hidden', 'true');
    ov.style.display = 'none';
    document.body.appendChild(ov);
    this.overlay = ov;

    // Keys before the page's own shortcuts (capture): → / Space next,
    // ← back, Esc leave.
    window.addEventListener('keydown', (e) => {
      if (!this.active || e.ctrlKey || e.metaKey || e.altKey) return;
      const tag = (e.target.tagName || '').toLowerCase();
      if (tag === 'input' || tag === 'select' || tag === 'textarea') return;
      if (document.querySelector('dialog[open]')) return;
      if (tag === 'button' && (e.key === ' ' || e.key === 'Enter')) {
        if (!e.target.closest('.story-callout') && e.target.dataset.action !== 'play') return; // the button's own click
      }
      let done = true;
      switch (e.key) {
        case 'ArrowRight': case ' ': case 'n': this.next(); break;
        case 'ArrowLeft': case 'b': this.back(); break;
        case 'Escape': this.leave(storyT('leftEsc'), true); break;
        default: done = false;
      }
      if (done) { e.preventDefault(); e.stopImmediatePropagation(); }
    }, true);
    // Space must not scroll the page either (its keypress, where a browser
    // or an automation tool sends one on its own).
    window.addEventListener('keypress', (e) => {
      const tag = (e.target.tagName || '').toLowerCase();
      if (this.active && e.key === ' ' && tag !== 'input' && tag !== 'textarea' && tag !== 'button') e.preventDefault();
    }, true);
    // The play button plays to the next beat while the story lasts.
    document.addEventListener('click', (e) => {
      if (!this.active) return;
      const b2 = e.target.closest('[data-action="play"]');
      if (!b2) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      this.next();
    }, true);
    window.addEventListener('resize', () => this.place());
    const watch = () => {
      if (this.active) {
        if (this.app.speed !== SPEED) this.interrupted('speed');
        else this.place();
      }
      requestAnimationFrame(watch);
    };
    requestAnimationFrame(watch);
  }

  render() {
    const h = this.history[this.at];
    if (!h) return;
    const c = h.ctx;
    const key = h.beat.key ? h.beat.key(c) : h.id;
    const vars = { ...c };
    for (const k of Object.keys(vars)) if (Array.isArray(vars[k])) vars[k] = vars[k].join(currentLang() === 'zh' ? '、' : ', ');
    this.box.querySelector('#story-title').textContent = storyT(key + '.title', vars);
    this.box.querySelector('#story-text').textContent = storyT(key + '.text', vars);
    const mainIndex = BEAT_IDS.indexOf(this.lastMainId());
    this.box.querySelector('#story-count').textContent = storyT('count', { i: mainIndex + 1, n: BEATS.length });
    const last = !this.nextMain();
    const nextB = this.box.querySelector('.story-next');
    nextB.textContent = this.playing ? storyT('playing') : last ? storyT('finish') : storyT('next');
    nextB.disabled = this.playing;
    const backB = this.box.querySelector('.story-back');
    backB.textContent = storyT('back');
    backB.disabled = this.at <= 0;
    this.box.querySelector('.story-keys').textContent = storyT('keys');
    this.box.querySelector('.story-x').setAttribute('aria-label', storyT('leave'));
    this.box.querySelector('.story-x').title = storyT('leave');
    // A screen reader hears each beat once, as it is reached (announce.js).
    if (!this.playing && this.saidAt !== this.at) {
      this.saidAt = this.at;
      const title = this.box.querySelector('#story-title').textContent;
      const end = /[.!?。！？：:]$/.test(title) ? ' ' : currentLang() === 'zh' ? '。' : '. ';
      this.app.announcer.say(title + end + this.box.querySelector('#story-text').textContent, 'story');
    }
    this.box.dataset.beat = h.id;
    this.box.classList.toggle('playing', this.playing);
    this.box.hidden = false;
    if (!this.playing && this.refocus) {
      this.refocus = false;
      nextB.focus({ preventScroll: true });
    }
    this.overlay.style.display = '';
    this.lastKey = '';
    this.place();
  }

  lastMainId() {
    for (let k = this.at; k >= 0; k--) if (this.history[k].main) return this.history[k].id;
    return 'start';
  }

  /** place puts the callout next to what it is about and draws the arrow and rings. */
  place() {
    if (!this.active || this.box.hidden) return;
    const h = this.history[this.at];
    if (!h) return;
    const frame = this.app.frame;
    const sels = h.beat.anchor(h.ctx, h.frame);
    // While playing, or before the rewound frame is back, no arrow: the
    // picture is not (yet) the beat's.
    const onBeat = !this.playing && frame && frame.time_ms === h.time;
    const els = onBeat ? sels.map((s) => document.querySelector(s)).filter(Boolean) : [];
    const rects = els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0);
    const stage = this.box.parentElement;
    const sr = stage.getBoundingClientRect();
    const docked = sr.width < 620;
    this.box.classList.toggle('docked', docked);
    if (!docked) {
      // As wide as the wider margin beside the brokers allows, so the box
      // can sit beside the drawing instead of on it.
      let l = Infinity; let r = -Infinity;
      for (const g of document.querySelectorAll('#cluster .broker')) {
        const b = g.getBoundingClientRect();
        l = Math.min(l, b.left - sr.left); r = Math.max(r, b.right - sr.left);
      }
      const free = Number.isFinite(l) ? Math.max(l, sr.width - r) - 24 : 300;
      this.box.style.width = Math.round(Math.max(250, Math.min(330, free))) + 'px';
    } else {
      this.box.style.width = '';
    }
    const bw = this.box.offsetWidth;
    const bh = this.box.offsetHeight;
    let key = docked + ':' + Math.round(sr.left) + ',' + Math.round(sr.top) + ':' + sr.width + 'x' + sr.height + ':' + bw + 'x' + bh + ':'
      + rects.map((r) => Math.round(r.left) + ',' + Math.round(r.top) + ',' + Math.round(r.width)).join(';') + ':' + scrollX + ',' + scrollY;
    if (key === this.lastKey) return;
    this.lastKey = key;
    if (!docked) {
      const pos = this.bestSpot(sr, bw, bh, rects);
      this.box.style.left = pos.x + 'px';
      this.box.style.top = pos.y + 'px';
    } else {
      this.box.style.left = '';
      this.box.style.top = '';
    }
    this.draw(rects, h.beat.noArrow);
    if (docked && rects.length) this.reveal(rects[0]);
  }

  /** reveal scrolls a narrow page so the callout and its target are both
   * on screen (once per beat). */
  reveal(r) {
    const h = this.history[this.at];
    if (this.scrolledFor === h) return;
    this.scrolledFor = h;
    const b = this.box.getBoundingClientRect();
    const top = Math.min(b.top, r.top) - 8;
    const bottom = Math.max(b.bottom, r.bottom) + 8;
    let by = 0;
    if (bottom > innerHeight) by = Math.min(bottom - innerHeight, top);
    else if (top < 0) by = top;
    if (by) window.scrollBy(0, by);
  }

  /** bestSpot picks where the box covers the least of the brokers, none of
   * what it points at, and stays close to it (coordinates in the stage). */
  bestSpot(sr, bw, bh, rects) {
    const avoid = [...document.querySelectorAll('#cluster .broker')].map((g) => g.getBoundingClientRect())
      .map((r) => ({ l: r.left - sr.left, t: r.top - sr.top, r: r.right - sr.left, b: r.bottom - sr.top }));
    const targets = rects.map((r) => ({ l: r.left - sr.left - 10, t: r.top - sr.top - 10, r: r.right - sr.left + 10, b: r.bottom - sr.top + 10 }));
    const main = targets[0];
    // The brokers other than the one the arrow points at (or into).
    const others = main ? avoid.filter((a) => !((main.l + main.r) / 2 > a.l && (main.l + main.r) / 2 < a.r && (main.t + main.b) / 2 > a.t && (main.t + main.b) / 2 < a.b)) : [];
    const overlap = (a, x, y) => Math.max(0, Math.min(a.r, x + bw) - Math.max(a.l, x)) * Math.max(0, Math.min(a.b, y + bh) - Math.max(a.t, y));
    let best = { x: 8, y: 8, s: Infinity };
    const maxX = Math.max(8, sr.width - bw - 8);
    const maxY = Math.max(8, sr.height - bh - 8);
    for (let x = 8; x <= maxX; x += 12) {
      for (let y = 8; y <= maxY; y += 12) {
        let s = 0;
        for (const a of avoid) s += overlap(a, x, y) * 3;
        for (const a of targets) s += overlap(a, x, y) * 40;
        if (main) {
          const mx = (main.l + main.r) / 2; const my = (main.t + main.b) / 2;
          // The arrow starts at the box's point nearest the target; it
          // should not cross another broker on its way (ringed or not).
          const sx = Math.max(x, Math.min(mx, x + bw)); const sy = Math.max(y, Math.min(my, y + bh));
          s += Math.hypot(sx - mx, sy - my) * 2;
          for (let k = 1; k < 12; k++) {
            const px = sx + ((mx - sx) * k) / 12; const py = sy + ((my - sy) * k) / 12;
            if (px > main.l && px < main.r && py > main.t && py < main.b) continue;
            for (const a of others) if (px > a.l && px < a.r && py > a.t && py < a.b) s += 400;
          }
        }
        if (s < best.s) best = { x, y, s };
      }
    }
    return best;
  }

  draw(rects, noArrow) {
    const ov = this.overlay;
    const W = document.documentElement.scrollWidth;
    const H = document.documentElement.scrollHeight;
    ov.setAttribute('width', W);
    ov.setAttribute('height', H);
    ov.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const NS = 'http://www.w3.org/2000/svg';
    const parts = [];
    const mk = (name, attrs) => {
      const e = document.createElementNS(NS, name);
      for (const k in attrs) e.setAttribute(k, attrs[k]);
      parts.push(e);
      return e;
    };
    const defs = mk('defs', {});
    const marker = document.createElementNS(NS, 'marker');
    for (const [k, v] of Object.entries({ id: 'story-arrowhead', viewBox: '0 0 10 10', refX: '8', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' })) marker.setAttribute(k, v);
    const tip = document.createElementNS(NS, 'path');
    tip.setAttribute('d', 'M0,0L10,5L0,10Z');
    tip.setAttribute('class', 'story-tip');
    marker.appendChild(tip);
    defs.appendChild(marker);
    const rings = rects.map((r, k) => {
      const cx = r.left + r.width / 2 + scrollX;
      const cy = r.top + r.height / 2 + scrollY;
      const rad = Math.max(r.width, r.height) / 2 + (k === 0 ? 7 : 5);
      mk('circle', { cx, cy, r: rad, class: k === 0 && !noArrow ? 'story-ring' : 'story-ring other' });
      return { cx, cy, rad };
    });
    if (rings.length && !noArrow) {
      const b = this.box.getBoundingClientRect();
      const g = rings[0];
      // From the box's edge point nearest the target to the ring's edge.
      const bx = Math.max(b.left, Math.min(g.cx - scrollX, b.right)) + scrollX;
      const by = Math.max(b.top, Math.min(g.cy - scrollY, b.bottom)) + scrollY;
      const dx = g.cx - bx; const dy = g.cy - by;
      const len = Math.hypot(dx, dy);
      if (len > g.rad + 6) {
        const ex = g.cx - (dx / len) * (g.rad + 2);
        const ey = g.cy - (dy / len) * (g.rad + 2);
        mk('line', { x1: bx, y1: by, x2: ex, y2: ey, class: 'story-arrow', 'marker-end': 'url(#story-arrowhead)' });
      }
    }
    ov.replaceChildren(...parts);
  }
}

/** storyKeys lists, per beat id, every text key the beat may show (for the
 * tests: each must exist in English and 简体中文). */
export function storyKeys() {
  const variants = {
    vote: ['vote', 'voteRetry'], heartbeat: ['heartbeat', 'heartbeatNoop'], produce: ['produce', 'produceVolatile'], newleader: ['newleader', 'newleaderPlain'],
    twoSides: ['twoLeaders', 'steppedDown'], heal: ['heal', 'healAgain'], splitVote: ['splitAll', 'splitSome'],
  };
  const out = {};
  for (const id of [...BEAT_IDS, 'splitVote']) out[id] = variants[id] || [id];
  return out;
}
