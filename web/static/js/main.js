// The playground: owns the simulator worker and the animation loop, and
// hands every ClusterView frame to the views. About once per animation
// frame it sends the queued actions and the virtual time to run, and gets
// one frame back (ARCHITECTURE.md rule 2: state comes only from frames).

import { Engine } from './engine.js';
import { ClusterView } from './cluster.js';
import { LogView } from './logview.js';
import { Timeline } from './timeline.js';
import { Badge, EventList, Clients } from './panels.js';
import { Controls } from './controls.js';
import { LessonPanel } from './lessons.js';
import { Story } from './story.js';
import { live } from './live.js';
import { installFolding } from './phone.js';
import { Announcer } from './announce.js';
import { CtlView, nodeName as ctlNodeName } from './ctlview.js';
import { applyStatic, currentLang, setLang, t, whyText } from './i18n.js';

const $ = (sel) => document.querySelector(sel);
const PERF_KEEP = 1200;
const brokerName = (id) => t('broker', { id });
// What a refused action says: real brokers (the live view) are not the simulator.
const refused = (vars) => t(live ? 'liveRefused' : 'actionRefused', vars);

class App {
  constructor() {
    this.engine = new Engine('worker.js');
    // One engine per mode, each in its own worker: Controller mode's is
    // fetched the first time the learner switches to it.
    this.engines = { dledger: this.engine };
    this.mode = 'dledger'; // the mode of the run asked for last
    this.frame = null;
    this.selected = 0;
    this.playing = true;
    this.speed = 0.1;
    this.carry = 0; // virtual ms owed to the simulator
    this.stepMs = 0;
    this.actions = [];
    this.pendingInit = null; // {arg, share, t}
    this.pendingSeek = null;
    this.calls = []; // other engine calls: {op, args, resolve}
    this.arrived = null; // the latest answered frame, drawn at the next animation frame
    this.lastTs = null;
    this.firstFrameMs = null;
    this.frameTimes = []; // main-thread ms per frame (parse + draw)
    this.goTimes = []; // ms inside Go per frame
    this.frames = 0;
    this.viewTimes = {}; // total ms per view since the last resetPerf
    this.perfSince = 0;
    this.hashSet = '';
    this.noticeTimer = 0;
    this.lastNotice = '';

    this.cluster = new ClusterView($('#cluster'), {
      onSelect: (id) => this.select(id),
      onLink: (a, b) => this.controls.pickLink(a, b),
    });
    this.logs = new LogView($('#logview'), $('#queues'));
    this.timeline = new Timeline({
      slider: $('#timeline'), marks: $('#timeline-marks'), clock: $('#clock'), forkNote: $('#fork-note'),
      onSeek: (ms) => this.seek(ms),
    });
    this.badge = new Badge({ root: $('#badge'), text: $('#badge-text'), jump: $('#badge-jump'), onJump: (ms) => this.seek(ms) });
    this.events = new EventList($('#events'), { byStory: (e) => this.story.owns(e) });
    this.clients = new Clients($('#clients'));
    this.controls = new Controls(this);
    // The polite live region (announce.js): story beats, lesson steps,
    // leader changes and commits.
    this.announcer = new Announcer();
    this.lesson = new LessonPanel(this, { live });
    // Story mode (story.js): the seed's story told beat by beat.
    this.story = new Story(this, { live });
    // Controller mode's views and controls (ctlview.js).
    this.ctl = new CtlView(this, {
      stage: $('#ctl-stage'), logs: $('#ctl-logs'), events: $('#events'), clients: $('#ctl-clients'),
      selName: $('#ctl-sel-name'), selInfo: $('#ctl-sel-info'),
    });

    applyStatic(document);
    installFolding();
    this.controls.syncLang();
    window.addEventListener('hashchange', () => {
      if (location.hash !== this.hashSet) this.startFromHash();
    });
    this.startFromHash();
    requestAnimationFrame((ts) => this.loop(ts));
  }

  // --- what the controls call ---

  /** act queues an action; it happens at the current virtual time. */
  act(a, byStory) {
    if (!byStory) this.story.interrupted('act', a);
    this.actions.push(a);
  }

  select(id) {
    this.selected = id;
    this.redraw(true);
  }

  setPlaying(on) {
    this.playing = on;
    this.carry = 0;
    this.controls.syncPlay();
  }

  step() {
    this.story.interrupted('step');
    this.setPlaying(false);
    this.stepMs += this.frame ? this.frame.settings.tick_ms || 10 : 10;
  }

  seek(ms, byStory) {
    if (!byStory) this.story.interrupted('seek');
    if (this.playing) this.setPlaying(false);
    this.pendingSeek = Math.max(0, Math.round(ms));
  }

  /** restart begins a new run from settings (an object) or a share string.
   * Settings with mode "controller" (or opts.mode) start a Controller-mode run. */
  restart(arg, opts = {}) {
    if (!opts.story) this.story.interrupted('restart');
    const mode = opts.mode || (arg && arg.mode === 'controller' ? 'controller' : 'dledger');
    this.pendingInit = { arg: typeof arg === 'string' ? arg : JSON.stringify(arg), ...opts, mode };
  }

  /** switchMode starts a run in the other mode (the mode switch), and
   * keeps the mode in the address, so a reload or a copied URL opens it. */
  switchMode(mode) {
    if (live || mode === this.mode) return;
    if (this.lesson.active) this.lesson.end();
    this.hashSet = mode === 'controller' ? '#mode=controller' : '';
    history.replaceState(null, '', mode === 'controller' ? '#mode=controller' : location.pathname + location.search);
    this.restart(mode === 'controller' ? this.ctl.settings() : {});
    if (!this.playing) this.setPlaying(true); // a new run plays, as a fresh page does
  }

  /** engineFor returns the engine of a mode, starting it the first time. */
  engineFor(mode) {
    if (!this.engines[mode]) this.engines[mode] = new Engine('worker.js?engine=' + mode);
    return this.engines[mode];
  }

  /** startLesson begins a guided lesson (a guide.Lesson from /lessons.json)
   * in a new run with the lesson's cluster. */
  startLesson(lesson) {
    this.story.interrupted('lesson');
    const mode = lesson.mode === 'controller' ? 'controller' : 'dledger';
    if (mode !== this.mode) {
      this.hashSet = mode === 'controller' ? '#mode=controller' : '';
      history.replaceState(null, '', mode === 'controller' ? '#mode=controller' : location.pathname + location.search);
    }
    this.pendingInit = { lesson, mode };
  }

  /** lessonCall runs a lesson call (lessonGoto, lessonShowSolution,
   * lessonStop) in turn and shows the frame it answers. */
  lessonCall(op, ...args) {
    this.calls.push({
      op, args, resolve: (v) => {
        if (v.error) { this.notice(t('actionRefused', { err: v.error }), 'error'); return; }
        this.arrived = { value: v, parseMs: 0, rewound: op === 'lessonGoto' || !!(this.arrived && this.arrived.rewound) };
      },
    });
  }

  /** request runs any other engine call in turn; resolves to its value. */
  request(op, ...args) {
    return new Promise((resolve) => this.calls.push({ op, args, resolve }));
  }

  async share() {
    const v = await this.request('share');
    if (v.error) { this.notice(t('actionRefused', { err: v.error }), 'error'); return; }
    const hash = '#' + (this.mode === 'controller' ? 'mode=controller&' : '') + 'run=' + v.share + '&t=' + (this.frame ? this.frame.time_ms : 0);
    this.hashSet = hash;
    history.replaceState(null, '', hash);
    const url = location.href;
    try {
      await navigator.clipboard.writeText(url);
      this.notice(t('linkCopied'), 'info');
    } catch {
      this.notice(t('linkInAddress'), 'info');
    }
    return url;
  }

  notice(text, kind) {
    const box = $('#notice');
    $('#notice-text').textContent = text;
    box.className = 'notice ' + (kind || 'error');
    box.hidden = false;
    this.lastNotice = text;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => { box.hidden = true; }, kind === 'info' ? 5000 : 15000);
  }

  setLang(lang) {
    setLang(lang);
    this.controls.syncLang();
    this.cluster.relabel();
    this.ctl.relabel();
    this.lesson.relabel();
    this.story.relabel();
    this.redraw(true);
  }

  toggleLang() { this.setLang(currentLang() === 'en' ? 'zh' : 'en'); }

  // --- the loop ---

  startFromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const run = params.get('run');
    const mode = params.get('mode') === 'controller' && !live ? 'controller' : 'dledger';
    this.hashSet = location.hash;
    if (run) {
      const at = Number(params.get('t'));
      this.restart(run, { share: true, t: Number.isFinite(at) && at > 0 ? at : null, mode });
    } else if (mode === 'controller') {
      this.restart(this.ctl.settings());
    } else if (this.story.wanted()) {
      this.story.start();
    } else {
      this.restart({});
    }
  }

  loop(ts) {
    requestAnimationFrame((x) => this.loop(x));
    const dt = this.lastTs === null ? 0 : Math.min(ts - this.lastTs, 250);
    this.lastTs = ts;
    if (this.playing && this.frame) this.carry += dt * this.speed;
    const t0 = performance.now();
    // Ask for the next frame first, so the worker computes it while this
    // thread draws the frame that arrived since the last animation frame.
    if (!this.engine.busy) this.dispatch();
    let parseMs = null;
    if (this.arrived) {
      const r = this.arrived;
      this.arrived = null;
      if (r.rewound) this.cluster.clearMessages();
      // A frame the other mode's engine answered before a switch is stale.
      if ((r.value.mode === 'controller') === (this.mode === 'controller')) this.show(r.value);
      parseMs = r.parseMs || 0;
    }
    if (this.mode !== 'controller') {
      this.cluster.animate();
      // The heavier tables take turns: at most one rebuild per animation frame.
      if (!this.logs.flush(false)) this.events.flush(false);
    }
    if (parseMs !== null) {
      // Per-frame work: decoding the frame (when it arrived) plus this whole
      // callback (drawing it and everything else done in this frame).
      this.record(parseMs + performance.now() - t0);
    }
  }

  record(ms) {
    this.frameTimes.push(ms);
    if (this.frameTimes.length > PERF_KEEP) this.frameTimes.shift();
    this.goTimes.push(this.engine.lastGoMs);
    if (this.goTimes.length > PERF_KEEP) this.goTimes.shift();
  }

  /** dispatch sends the one engine call that is due, if any. */
  dispatch() {
    if (this.pendingInit) {
      const init = this.pendingInit;
      this.pendingInit = null;
      this.arrived = null;
      this.mode = init.mode || 'dledger';
      this.engine = this.engineFor(this.mode);
      if (this.engine.busy) { this.pendingInit = init; return; } // after its last answer
      if (init.lesson) this.engine.call('lesson', JSON.stringify(init.lesson)).then((r) => this.onInit(r, init));
      else this.engine.call('init', init.arg).then((r) => this.onInit(r, init));
      return;
    }
    if (!this.frame) return;
    if (this.calls.length) {
      const c = this.calls.shift();
      this.engine.call(c.op, ...c.args).then((r) => c.resolve(r.value));
      return;
    }
    if (this.pendingSeek !== null) {
      const ms = this.pendingSeek;
      this.pendingSeek = null;
      this.engine.call('seek', ms).then((r) => {
        if (r.value.error) { this.notice(t('actionRefused', { err: r.value.error }), 'error'); return; }
        this.arrived = { value: r.value, parseMs: r.parseMs, rewound: true };
      });
      return;
    }
    let adv = Math.floor(this.carry);
    // While the story plays, one virtual millisecond per call, each frame
    // judged before the next is asked for, so a beat stops exactly where
    // its condition first holds (the same moment for every replay).
    if (this.story.fine) {
      adv = Math.min(adv, 1);
      this.carry = Math.min(this.carry, 8); // a slow machine plays slower, not in bursts
    }
    this.carry -= adv;
    adv += this.stepMs;
    this.stepMs = 0;
    if (adv === 0 && this.actions.length === 0) return;
    const acts = this.actions;
    this.actions = [];
    this.engine.call('step', acts.length ? JSON.stringify(acts) : '', adv).then((r) => {
      let v = r.value;
      if (v.error) {
        // A refusal the engine names (why and args) is said in the
        // learner's language; anything else in the engine's English.
        const said = (v.refusals || []).map((r) => whyText('refuse-' + r.why, r.args, ''));
        const err = said.length && said.every(Boolean) ? said.join('；') : v.error;
        this.notice(refused({ err }), 'error');
        if (!v.frame) return;
        v = v.frame;
      }
      this.arrived = { value: v, parseMs: r.parseMs, rewound: !!(this.arrived && this.arrived.rewound) };
      if (this.story.fine) {
        this.story.onFrame(v);
        if (!this.engine.busy) this.dispatch();
      }
    });
  }

  onInit(r, init) {
    const v = r.value;
    if (v.error) {
      if (v.fatal) { this.notice(t('engineFailed', { err: v.error }), 'error'); return; }
      if (init.lesson) {
        this.notice(t('lessonFailed', { err: v.error }), 'error');
      } else if (init.share) {
        this.notice(t('badShare', { err: v.error }), 'error');
        this.hashSet = '';
        history.replaceState(null, '', location.pathname + location.search);
        this.restart({});
      } else {
        this.notice(t('badSetting', { err: v.error }), 'error');
        if (!this.frame) this.restart({});
      }
      return;
    }
    this.cluster.clearMessages();
    this.timeline.reset();
    this.actions = [];
    this.carry = 0;
    const ctl = v.mode === 'controller';
    // A live view shows the real cluster's one mode, whichever it is.
    if (live) this.mode = ctl ? 'controller' : 'dledger';
    document.body.dataset.mode = ctl ? 'controller' : 'dledger';
    // The picture's card is named by the shown mode's heading.
    document.querySelector('.stage').setAttribute('aria-labelledby', ctl ? 'ctl-title' : 'cluster-title');
    for (const b of document.querySelectorAll('[data-action="mode"]')) b.setAttribute('aria-pressed', String(b.dataset.mode === (ctl ? 'controller' : 'dledger')));
    if (ctl) {
      this.ctl.onNewRun(v);
      if (init.lesson) {
        this.lesson.onStarted(init.lesson, v);
        this.setPlaying(false); // each lesson step starts paused: lessons.js plays it
      } else {
        this.lesson.end();
      }
      this.show(v);
      if (init.t !== null && init.t !== undefined) {
        this.setPlaying(false);
        this.pendingSeek = init.t;
      }
      return;
    }
    if (this.frame && this.frame.mode === 'controller') this.frame = null; // the controls look at the latest frame
    this.events.key = ''; // the list showed the other mode's events
    if (this.selected > v.nodes.length) this.selected = 0;
    this.controls.onNewRun(v);
    if (init.lesson) {
      this.lesson.onStarted(init.lesson, v);
      this.setPlaying(false); // each lesson step starts paused: lessons.js plays it
    } else {
      this.lesson.end();
    }
    this.story.onInit(v, init);
    this.show(v);
    if (init.t !== null && init.t !== undefined) {
      this.setPlaying(false);
      this.pendingSeek = init.t;
    }
  }

  show(frame) {
    this.frame = frame;
    this.redraw(false);
    this.frames++;
    if (this.firstFrameMs === null) {
      this.firstFrameMs = performance.now();
      document.body.dataset.ready = 'true';
    }
  }

  redraw(force) {
    const f = this.frame;
    if (!f) return;
    const vt = this.viewTimes;
    let t = performance.now();
    const lap = (name) => { const now = performance.now(); vt[name] = (vt[name] || 0) + now - t; t = now; };
    this.timeline.nodeName = f.mode === 'controller' ? ctlNodeName : brokerName;
    if (f.mode === 'controller') {
      this.ctl.update(f, force); lap('cluster');
      this.timeline.update(f); lap('timeline');
      this.badge.update(f, force);
      this.lesson.update(f); lap('other');
      return;
    }
    this.cluster.update(f, this.selected); lap('cluster');
    this.logs.update(f, this.selected, force); lap('logs');
    this.timeline.update(f); lap('timeline');
    this.badge.update(f, force);
    this.events.update(f, force); lap('events');
    this.clients.update(f, force);
    this.controls.update(f, force);
    this.lesson.update(f);
    this.story.update(f); lap('other');
    // The story tells who leads and what is committed itself.
    this.announcer.watch(f, this.story.active);
  }
}

function pct(xs, q) {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const p95 = (xs) => pct(xs, 0.95);

const app = new App();

// A small, stable surface for tests and measurements.
window.dledgerLab = {
  get frame() { return app.frame; },
  /** mode: "dledger" or "controller" (the mode of the run shown or starting). */
  get mode() { return app.mode; },
  get firstFrameMs() { return app.firstFrameMs; },
  get frames() { return app.frames; },
  get playing() { return app.playing; },
  /** moving: brokers are still gliding to new places (after a split or heal). */
  get moving() { return app.cluster.moving; },
  get lastNotice() { return app.lastNotice; },
  /** lesson: where the guided lesson stands (frame.lesson), or null. */
  get lesson() { return app.lesson.active && app.frame ? app.frame.lesson || null : null; },
  /** story: where the story stands ({beat, index, id, time_ms, playing}), or null. */
  get story() { return app.story.state(); },
  /** announced: what the live region said, oldest first ({kind, text, lang, at}: at in performance.now() ms). */
  get announced() { return app.announcer.log.slice(); },
  /** drawn: the log table and the event list show the latest frame. */
  get drawn() { return !app.logs.dirty && !app.events.dirty; },
  perf() {
    return {
      frames: app.frames, p95: p95(app.frameTimes), goP95: p95(app.goTimes),
      max: Math.max(0, ...app.frameTimes), samples: app.frameTimes.length, views: app.viewTimes,
      p50: pct(app.frameTimes, 0.5), fps: (1000 * app.frameTimes.length) / Math.max(1, performance.now() - app.perfSince),
    };
  },
  resetPerf() { app.frameTimes = []; app.goTimes = []; app.viewTimes = {}; app.perfSince = performance.now(); },
  share: () => app.share(),
};
