// Controls: every button, form and shortcut of the page. Each control
// carries data-action (a stable hook for tests) and turns into simulator
// actions (core/sim/action.go) queued on the app.

import { t, currentLang, roleText, stateText } from './i18n.js';

const $ = (sel) => document.querySelector(sel);
const SPEEDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5];
const GROUPS = 3; // drop zones A, B, C (more when a partition has more groups)
const RULES = ['check_quorum', 'pre_vote', 'up_to_date_check', 'current_term_commit', 'persist_before_ack'];

/** producerFor names the producer of a "Send to" target (0: the leader). */
function producerFor(node) { return node ? 'to-broker-' + node : 'p1'; }

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

export class Controls {
  constructor(app) {
    this.app = app;
    this.nodeIds = [];
    // The chips show the frame's partition (frame.groups), unless the
    // learner is arranging a new one: draft maps broker id → group index
    // (0 = A), made from the frame whose groups were draftBase. A frame
    // with other groups (the split happened, a heal, an isolate, a
    // rewind) ends the draft.
    this.draft = null;
    this.draftBase = '';
    this.chipsKey = '';
    this.rulesKey = '';
    this.selKey = '';
    this.dragId = 0;
    this.dragging = false;

    document.addEventListener('click', (e) => {
      const b = e.target.closest('[data-action]');
      if (!b || b.tagName === 'SELECT' || b.tagName === 'INPUT') return;
      const action = b.dataset.action;
      if (action === 'jump-violation' || action === 'close-help') return; // handled elsewhere / by the form
      e.preventDefault();
      this.run(action, b);
    });
    $('#speed').addEventListener('change', (e) => { app.speed = Number(e.target.value) || 0.1; });
    app.speed = Number($('#speed').value);
    this.buildRules();
    this.bindGroups();
    document.addEventListener('keydown', (e) => this.key(e));
  }

  /** run performs one data-action. */
  run(action, el) {
    const app = this.app;
    const sel = app.selected;
    const needSel = () => {
      if (!sel) { app.notice(t('noBroker'), 'info'); return false; }
      return true;
    };
    switch (action) {
      case 'play': app.setPlaying(!app.playing); break;
      case 'step': app.step(); break;
      case 'crash': if (needSel()) app.act({ kind: 'crash', node: sel }); break;
      case 'restart': if (needSel()) app.act({ kind: 'restart', node: sel }); break;
      case 'pause-broker': if (needSel()) app.act({ kind: 'pause', node: sel }); break;
      case 'resume-broker': if (needSel()) app.act({ kind: 'resume', node: sel }); break;
      case 'isolate': if (needSel()) app.act({ kind: 'isolate', node: sel }); break;
      case 'transfer': if (needSel()) app.act({ kind: 'transfer', node: sel }); break;
      case 'campaign': if (needSel()) app.act({ kind: 'campaign', node: sel }); break;
      case 'partition': this.split(); break;
      case 'heal':
        app.act({ kind: 'heal' });
        this.startDraft();
        for (const id of this.nodeIds) this.draft.set(id, 0);
        this.drawGroups();
        break;
      case 'link': this.applyLink(); break;
      case 'produce': this.produce(); break;
      case 'producer': {
        const rate = Number($('#producer-rate').value);
        app.act({ kind: 'producer', id: 'steady', topic: this.topic(), rate: Number.isFinite(rate) ? rate : -1 });
        break;
      }
      case 'producer-stop': app.act({ kind: 'producer', id: 'steady', topic: this.topic(), rate: 0 }); break;
      case 'consumer': {
        const node = Number($('#consumer-node').value) || 0;
        const group = $('#consumer-group').value.trim();
        app.act({ kind: 'consumer', id: node ? 'c' + node : 'c', topic: this.topic(), node, group });
        break;
      }
      case 'new-run': this.newRun(); break;
      case 'random-seed':
        $('#cfg-seed').value = String(1 + Math.floor(Math.random() * 1e6));
        this.newRun();
        break;
      case 'share': app.share(); break;
      case 'lang': app.toggleLang(); break;
      case 'help': this.toggleHelp(); break;
      case 'dismiss-notice': $('#notice').hidden = true; break;
      case 'move-group': this.moveGroup(Number(el.dataset.chip), 1); break;
      case 'mode': app.switchMode(el.dataset.mode); break;
    }
  }

  topic() { return ($('#produce-topic').value || '').trim(); }

  /** produce sends one message with the producer of the "Send to" target:
   * one producer per target, so a message for Broker 2 never waits behind
   * retries to an isolated Broker 3 (each producer sends one message at a
   * time, in order). */
  produce() {
    const node = Number($('#produce-node').value) || 0;
    const a = { kind: 'produce', id: producerFor(node), topic: this.topic(), body: $('#produce-body').value };
    if (node) a.node = node;
    this.app.act(a);
  }

  newRun() {
    const nodes = Number($('#cfg-nodes').value);
    const seed = Number($('#cfg-seed').value);
    if (!Number.isInteger(nodes) || !Number.isInteger(seed) || seed < 0) {
      this.app.notice(t('badSetting', { err: 'brokers and seed must be whole numbers' }), 'error');
      return;
    }
    this.app.restart({ nodes, seed, offsets: $('#cfg-offsets').value });
  }

  applyLink() {
    const from = Number($('#link-from').value);
    const to = Number($('#link-to').value);
    const lat = Number($('#link-latency').value);
    const loss = Number($('#link-loss').value) / 100;
    const a = { latency_ms: Number.isFinite(lat) ? Math.round(lat) : -1, loss: Number.isFinite(loss) ? loss : -1 };
    if (!from && !to) { this.app.act({ kind: 'net', ...a }); return; }
    if (from && to) { this.app.act({ kind: 'link', from, to, ...a }); return; }
    // One end is "all": every link out of (or into) that broker.
    for (const x of this.nodeIds) {
      if (x === (from || to)) continue;
      this.app.act({ kind: 'link', from: from || x, to: to || x, ...a });
    }
  }

  /** pickLink fills the link form from a click on a link in the drawing. */
  pickLink(a, b) {
    $('#link-from').value = String(a);
    $('#link-to').value = String(b);
    $('#link-latency').focus();
  }

  // --- partition groups: drag and drop, click, arrow keys ---

  bindGroups() {
    const root = $('#groups');
    root.addEventListener('dragstart', (e) => {
      const chip = e.target.closest('[data-chip]');
      if (!chip) return;
      this.dragId = Number(chip.dataset.chip);
      this.dragging = true; // frames do not redraw the chips under the pointer
      e.dataTransfer.setData('text/plain', chip.dataset.chip);
      e.dataTransfer.effectAllowed = 'move';
    });
    root.addEventListener('dragover', (e) => {
      if (e.target.closest('[data-group]')) e.preventDefault();
    });
    root.addEventListener('dragend', () => { this.dragging = false; this.drawGroups(); });
    root.addEventListener('drop', (e) => {
      this.dragging = false;
      const zone = e.target.closest('[data-group]');
      if (!zone) return;
      e.preventDefault();
      const id = Number(e.dataTransfer.getData('text/plain')) || this.dragId;
      if (!id) return;
      this.startDraft();
      this.draft.set(id, Number(zone.dataset.group));
      this.drawGroups(id);
    });
    root.addEventListener('keydown', (e) => {
      const chip = e.target.closest('[data-chip]');
      if (!chip) return;
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault();
        e.stopPropagation();
        this.moveGroup(Number(chip.dataset.chip), e.key === 'ArrowRight' ? 1 : -1);
      }
    });
  }

  moveGroup(id, by) {
    if (!this.nodeIds.includes(id)) return;
    this.startDraft();
    const zones = this.zoneCount();
    this.draft.set(id, (this.draft.get(id) + by + zones) % zones);
    this.drawGroups(id);
  }

  /** framePlace maps each broker onto its group in the frame's partition
   * (0 = A; every broker in A while the network is whole). */
  framePlace() {
    const f = this.app.frame;
    const place = new Map(this.nodeIds.map((id) => [id, 0]));
    const groups = f && f.groups && f.groups.length > 1 ? f.groups : [];
    groups.forEach((ids, g) => { for (const id of ids) place.set(id, g); });
    return place;
  }

  groupsKey() {
    const f = this.app.frame;
    return f && f.groups && f.groups.length > 1 ? JSON.stringify(f.groups) : '';
  }

  /** startDraft begins arranging a new partition from what is shown. */
  startDraft() {
    if (this.draft) return;
    this.draft = this.framePlace();
    this.draftBase = this.groupsKey();
  }

  /** place is where each chip sits now: the draft, or the frame's groups. */
  place() { return this.draft || this.framePlace(); }

  zoneCount() {
    const f = this.app.frame;
    return Math.max(GROUPS, f && f.groups ? f.groups.length : 0);
  }

  /** drawGroups draws the chips (a broker's role or state from the latest
   * frame, its zone from place()); it rebuilds them only when something
   * shown changed, and keeps the keyboard focus on the chip that had it. */
  drawGroups(focusId) {
    const f = this.app.frame;
    if (this.draft && this.groupsKey() !== this.draftBase) this.draft = null;
    const place = this.place();
    const zones = this.zoneCount();
    const byId = new Map(f ? f.nodes.map((n) => [n.id, n]) : []);
    const look = (id) => {
      const n = byId.get(id);
      if (!n) return { role: '', label: t('broker', { id }) };
      if (n.state === 'crashed' || n.state === 'refused') return { role: 'down', state: n.state, label: t('broker', { id }) + ' · ' + stateText(n) };
      return { role: n.role, state: n.state, label: t('broker', { id }) + ' · ' + roleText(n.role) };
    };
    const key = zones + '|' + this.nodeIds.map((id) => { const l = look(id); return id + ':' + place.get(id) + ':' + l.role + ':' + l.label; }).join(',');
    if (!focusId) {
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('#groups [data-chip]');
      if (focused) focusId = Number(focused.dataset.chip);
      if (key === this.chipsKey || this.dragging) return;
    }
    this.chipsKey = key;
    const out = [];
    for (let g = 0; g < zones; g++) {
      const chips = this.nodeIds.filter((id) => place.get(id) === g).map((id) => {
        const l = look(id);
        return '<button type="button" class="chip role-' + esc(l.role) + (l.state && l.state !== 'up' ? ' state-' + esc(l.state) : '') + '" draggable="true" data-action="move-group" data-chip="' + id
          + '" data-role="' + esc(l.role) + '" title="' + esc(l.label) + '" aria-label="' + esc(l.label + ' · ' + t('group', { g: String.fromCharCode(65 + g) })) + '">' + id + '</button>';
      }).join('');
      out.push('<div class="zone" data-group="' + g + '"><span class="zone-label">' + esc(t('group', { g: String.fromCharCode(65 + g) })) + '</span>' + chips + '</div>');
    }
    const root = $('#groups');
    root.innerHTML = out.join('');
    root.style.setProperty('--zones', String(zones));
    if (focusId) {
      const chip = document.querySelector('[data-chip="' + focusId + '"]');
      if (chip) chip.focus();
    }
  }

  split() {
    const place = this.place();
    const groups = [];
    for (let g = 0; g < this.zoneCount(); g++) {
      const ids = this.nodeIds.filter((id) => place.get(id) === g);
      if (ids.length) groups.push(ids);
    }
    if (groups.length < 2) { this.app.notice(t('needTwoGroups'), 'info'); return; }
    this.app.act({ kind: 'partition', groups });
  }

  // --- rules ---

  buildRules() {
    $('#rules').innerHTML = RULES.map((r) => '<label class="rule"><input type="checkbox" data-action="rule" data-rule="' + r + '"> <span data-i18n="rule_' + r + '">'
      + esc(t('rule_' + r)) + '</span></label>').join('');
    $('#rules').addEventListener('change', (e) => {
      const box = e.target.closest('[data-rule]');
      if (box) this.app.act({ kind: 'rule', rule: box.dataset.rule, on: box.checked });
    });
  }

  // --- keyboard ---

  key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = (e.target.tagName || '').toLowerCase();
    // The timeline slider keeps its own keys (arrows, Home, End, Page Up
    // and Down move it); every other shortcut still works while it has
    // the focus.
    const slider = tag === 'input' && e.target.type === 'range';
    if (slider && /^(Arrow|Home$|End$|Page)/.test(e.key)) return;
    if ((tag === 'input' && !slider) || tag === 'select' || tag === 'textarea') return;
    const app = this.app;
    const k = e.key;
    // Space and Enter on a control are the control's own: a keyboard user
    // presses a focused button (or broker, or checkbox) with them.
    const control = e.target.closest && e.target.closest('button, a[href], summary, [role="button"], input[type="checkbox"], input[type="radio"]');
    if (control && (k === ' ' || k === 'Enter')) return;
    if ($('#help').open && k !== '?') return; // the dialog handles Escape
    if ($('#lessons-menu').open) return;
    const speed = (d) => {
      const i = SPEEDS.indexOf(app.speed);
      const next = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, (i < 0 ? 1 : i) + d))];
      app.speed = next;
      $('#speed').value = String(next);
    };
    let handled = true;
    // Controller mode has its own node keys (ctlview.js); the rest are common.
    if (app.mode === 'controller' && app.ctl.key(k)) {
      e.preventDefault();
      return;
    }
    if (k >= '1' && k <= '9') {
      const id = Number(k);
      if (this.nodeIds.includes(id)) app.select(id);
    } else {
      switch (k) {
        case ' ': app.setPlaying(!app.playing); break;
        case '.': app.step(); break;
        case '[': speed(-1); break;
        case ']': speed(1); break;
        case 'ArrowLeft': if (app.frame) app.seek(app.frame.time_ms - 100); break;
        case 'ArrowRight': if (app.frame) app.seek(app.frame.time_ms + 100); break;
        case 'c': this.run('crash'); break;
        case 'r': this.run('restart'); break;
        case 'p': {
          const n = app.frame && app.frame.nodes.find((x) => x.id === app.selected);
          this.run(n && n.state === 'paused' ? 'resume-broker' : 'pause-broker');
          break;
        }
        case 'i': this.run('isolate'); break;
        case 'g': if (app.selected) this.moveGroup(app.selected, 1); else app.notice(t('noBroker'), 'info'); break;
        case 's': this.split(); break;
        case 'h': this.run('heal'); break;
        case 'm': this.produce(); break;
        case 'l': app.toggleLang(); break;
        case '?': this.toggleHelp(); break;
        default: handled = false;
      }
    }
    if (handled) e.preventDefault();
  }

  toggleHelp() {
    const d = $('#help');
    if (d.open) d.close(); else d.showModal();
  }

  // --- following frames ---

  onNewRun(frame) {
    this.nodeIds = frame.nodes.map((n) => n.id);
    this.draft = null;
    this.chipsKey = '';
    $('#cfg-nodes').value = String(frame.settings.nodes || frame.nodes.length);
    if (frame.seed !== undefined) $('#cfg-seed').value = String(frame.seed);
    if (frame.settings.offsets) $('#cfg-offsets').value = frame.settings.offsets;
    this.fillNodeSelects();
    this.drawGroups();
    this.rulesKey = '';
  }

  fillNodeSelects() {
    const opts = (ids) => ids.map((id) => '<option value="' + id + '">' + esc(t('broker', { id })) + '</option>').join('');
    const all = '<option value="0">' + esc(t('allLinks')) + '</option>';
    for (const s of ['#link-from', '#link-to']) {
      const keep = $(s).value;
      $(s).innerHTML = all + opts(this.nodeIds);
      if (keep) $(s).value = keep;
    }
    const pn = $('#produce-node').value;
    $('#produce-node').innerHTML = '<option value="0">' + esc(t('leaderGuess')) + '</option>' + opts(this.nodeIds);
    if (pn) $('#produce-node').value = pn;
    const cn = $('#consumer-node').value;
    $('#consumer-node').innerHTML = '<option value="0">' + esc(t('theLeader')) + '</option>' + opts(this.nodeIds);
    if (cn) $('#consumer-node').value = cn;
  }

  update(frame, force) {
    if (force) this.chipsKey = '';
    this.drawGroups();
    const s = frame.settings || {};
    const rk = RULES.map((r) => s[r]).join(',');
    if (force || rk !== this.rulesKey) {
      this.rulesKey = rk;
      for (const box of document.querySelectorAll('[data-rule]')) box.checked = !!s[box.dataset.rule];
    }
    const n = frame.nodes.find((x) => x.id === this.app.selected);
    const key = n ? [n.id, n.state, n.role, n.term, n.lead, n.last_index, n.commit, currentLang()].join('|') : 'none' + currentLang();
    if (!force && key === this.selKey) return;
    this.selKey = key;
    $('#sel-name').textContent = n ? t('broker', { id: n.id }) : '';
    $('#sel-info').textContent = n ? t('selInfo', {
      role: roleText(n.role), term: n.term, state: stateText(n), lead: n.lead ? t('broker', { id: n.lead }) : t('none'),
      last: n.last_index, commit: n.commit,
    }) : t('selectHint');
    const up = n && n.state === 'up';
    const set = (a, on) => { const b = document.querySelector('[data-action="' + a + '"]'); if (b) b.disabled = !on; };
    set('crash', n && n.state !== 'crashed');
    set('restart', n && n.state === 'crashed');
    set('pause-broker', up);
    set('resume-broker', n && n.state === 'paused');
    set('isolate', !!n);
    set('transfer', up && n.role !== 'leader');
    set('campaign', up && n.role !== 'leader');
  }

  syncPlay() {
    const b = $('#play-btn');
    b.setAttribute('aria-pressed', String(this.app.playing));
    b.firstElementChild.dataset.i18n = this.app.playing ? 'pause' : 'play';
    b.firstElementChild.textContent = t(this.app.playing ? 'pause' : 'play');
    b.classList.toggle('paused', !this.app.playing);
  }

  syncLang() {
    $('#lang-toggle').textContent = currentLang() === 'en' ? '中文' : 'English';
    $('#lang-toggle').setAttribute('aria-label', currentLang() === 'en' ? '切换到简体中文' : 'Switch to English');
    this.syncPlay();
    if (this.nodeIds.length) { this.fillNodeSelects(); this.chipsKey = ''; this.drawGroups(); }
  }
}
