// Controller mode (issue 20): the page's parts for a core/ctlsim run. The
// controllers — a Raft group on the same core as DLedger mode — are drawn
// above, apart from the broker group they govern; between them, the group
// state the controllers agreed on (master, master epoch, SyncStateSet, set
// epoch). Below, each broker's CommitLog with its epoch file and confirm
// offset, the clients, and what happened. State comes only from frames
// (ctlsim.View, "mode": "controller"); network ids are 1–3 for the
// controllers and 4–6 for brokers 1–3.

import { t, currentLang } from './i18n.js';
import { fmtTime } from './timeline.js';

const NS = 'http://www.w3.org/2000/svg';
const CTLS = 3;
const X = [160, 320, 480];
const CTL_Y = 78;
const BRK_Y = 300;
// Epoch colours: an entry's border (and fill once confirmed) says which
// master epoch wrote it. Dark enough for white text (4.5:1).
const EPOCH_COLOURS = ['#0f766e', '#7c3aed', '#b45309', '#be185d', '#1d4ed8', '#4d7c0f'];
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
// On a phone the picture is about 390 px wide: it draws fewer words, larger
// (the offsets and the rest are in the cards below it).
const narrow = window.matchMedia('(max-width: 480px)');

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

export function epochColour(epoch) {
  return epoch ? EPOCH_COLOURS[(epoch - 1) % EPOCH_COLOURS.length] : '#64748b';
}

/** pos is a network node's place on the stage. */
function pos(node) {
  return node <= CTLS ? { x: X[node - 1], y: CTL_Y } : { x: X[node - CTLS - 1], y: BRK_Y };
}

/** nodeName names a network node: "Controller 2", "Broker 1". */
export function nodeName(node) {
  return node <= CTLS ? t('controllerN', { id: node }) : t('broker', { id: node - CTLS });
}

const setText = (set) => '{' + (set || []).join(', ') + '}';

export class CtlView {
  constructor(app, { stage, logs, events, clients, selName, selInfo }) {
    this.app = app;
    this.stage = stage;
    this.logsRoot = logs;
    this.eventsRoot = events;
    this.clientsRoot = clients;
    this.selName = selName;
    this.selInfo = selInfo;
    this.selected = 0; // network id, 0: none
    this.keys = { logs: '', events: '', clients: '', nodes: '' };
    this.build();
    document.addEventListener('click', (e) => {
      const b = e.target.closest('[data-action]');
      if (!b || !b.dataset.action.startsWith('ctl-')) return;
      e.preventDefault();
      this.run(b.dataset.action);
    });
  }

  // --- the stage ---

  build() {
    const s = this.stage;
    const quiet = { 'aria-hidden': 'true' };
    el('rect', { class: 'cs-zone', x: 20, y: 8, width: 600, height: 138, rx: 12, ...quiet }, s);
    this.ctlZoneLabel = el('text', { class: 'cs-zone-label', x: 34, y: 28, ...quiet }, s);
    el('rect', { class: 'cs-zone', x: 20, y: 206, width: 600, height: 216, rx: 12, ...quiet }, s);
    this.brkZoneLabel = el('text', { class: 'cs-zone-label', x: 34, y: 226, ...quiet }, s);
    // The group state the controllers agreed on, between the two zones.
    this.inset = el('rect', { class: 'cs-inset', x: 70, y: 154, width: 500, height: 44, rx: 8, ...quiet }, s);
    this.groupText = el('text', { class: 'cs-state', x: 320, y: 172, 'text-anchor': 'middle', ...quiet }, s);
    this.groupText2 = el('text', { class: 'cs-state', x: 320, y: 190, 'text-anchor': 'middle', ...quiet }, s);
    this.gLinks = el('g', quiet, s);
    this.gMsgs = el('g', quiet, s);
    this.gNodes = el('g', {}, s);
    this.nodes = new Map();
    // Links: the controllers' Raft links and the brokers' HA links.
    this.links = [];
    for (const [a, b] of [[1, 2], [2, 3], [1, 3], [4, 5], [5, 6], [4, 6]]) {
      const p = pos(a);
      const q = pos(b);
      const bend = (a === 1 && b === 3) || (a === 4 && b === 6) ? (a === 1 ? -30 : 78) : 0;
      const d = bend ? 'M' + p.x + ',' + p.y + 'Q' + (p.x + q.x) / 2 + ',' + (p.y + bend) + ' ' + q.x + ',' + q.y
        : 'M' + p.x + ',' + p.y + 'L' + q.x + ',' + q.y;
      this.links.push({ a, b, path: el('path', { class: 'cs-link', d, fill: 'none' }, this.gLinks) });
    }
    for (let node = 1; node <= 6; node++) {
      const { x, y } = pos(node);
      // The button is the shape; its words are drawn beside it (hidden
      // from screen readers, which hear the button's label instead).
      const at = 'translate(' + x + ',' + y + ')';
      const g = el('g', { class: 'cs-node', transform: at, tabindex: 0, role: 'button', 'data-node': node }, this.gNodes);
      const ring = el('rect', { x: -34, y: -34, width: 68, height: 68, rx: 14, fill: 'none', stroke: 'none', 'stroke-width': 3, 'stroke-dasharray': '6 4' }, g);
      const shape = el('path', { class: 'cs-shape' }, g);
      const words = el('g', { class: 'cs-words', transform: at, 'aria-hidden': 'true' }, this.gNodes);
      const glyph = el('text', { class: 'cs-glyph' }, words);
      const name = el('text', { class: 'cs-name', y: node <= CTLS ? 42 : 46 }, words);
      const sub1 = el('text', { class: 'cs-sub', y: node <= CTLS ? 57 : 61 }, words);
      const sub2 = el('text', { class: 'cs-sub', y: 76 }, words);
      const sub3 = el('text', { class: 'cs-sub', y: 91 }, words);
      g.addEventListener('click', () => this.select(node));
      words.addEventListener('click', () => this.select(node));
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.select(node); }
      });
      this.nodes.set(node, { g, ring, shape, glyph, name, sub1, sub2, sub3 });
    }
    this.relabel();
    narrow.addEventListener('change', () => {
      this.relabel();
      if (this.app.frame && this.app.frame.mode === 'controller') this.update(this.app.frame, true);
    });
  }

  relabel() {
    const compact = narrow.matches;
    this.stage.classList.toggle('compact', compact);
    this.inset.setAttribute('y', compact ? 149 : 154);
    this.inset.setAttribute('height', compact ? 54 : 44);
    this.groupText.setAttribute('y', compact ? 171 : 172);
    this.groupText2.setAttribute('y', compact ? 196 : 190);
    this.ctlZoneLabel.textContent = t(compact ? 'ctlZoneShort' : 'ctlZone');
    this.brkZoneLabel.textContent = t(compact ? 'brkZoneShort' : 'brkZone');
    for (const [node, n] of this.nodes) {
      const c = node <= CTLS;
      n.name.setAttribute('y', compact ? (c ? 46 : 54) : (c ? 42 : 46));
      n.sub1.setAttribute('y', compact ? (c ? 66 : 78) : (c ? 57 : 61));
      n.sub3.setAttribute('y', compact ? 102 : 91);
    }
    for (const id of ['#ctl-link-from', '#ctl-link-to']) {
      const sel = document.querySelector(id);
      if (!sel) continue;
      const v = sel.value;
      sel.innerHTML = [1, 2, 3, 4, 5, 6].map((n) => '<option value="' + n + '">' + esc(nodeName(n)) + '</option>').join('');
      sel.value = v || (id === '#ctl-link-from' ? '4' : '5');
    }
    this.keys = { logs: '', events: '', clients: '', nodes: '' };
  }

  select(node) {
    this.selected = node;
    if (this.app.frame) this.update(this.app.frame, true);
  }

  update(f, force) {
    this.announce(f);
    this.drawNodes(f);
    this.drawMessages(f);
    this.drawGroup(f);
    this.drawSelected(f);
    if (force) this.keys = { logs: '', events: '', clients: '', nodes: this.keys.nodes };
    this.drawLogs(f);
    this.drawEvents(f);
    this.drawClients(f);
  }

  cut(f, a, b) {
    return f.cuts.some((c) => (c.from === a && c.to === b) || (c.from === b && c.to === a));
  }

  drawNodes(f) {
    const key = JSON.stringify([f.controllers, f.brokers.map((b) => [b.state, b.role, b.known, b.max_offset, b.confirm]), f.group, f.cuts, this.selected, currentLang()]);
    if (key === this.keys.nodes) return;
    this.keys.nodes = key;
    for (const l of this.links) l.path.setAttribute('class', 'cs-link' + (this.cut(f, l.a, l.b) ? ' cut' : ''));
    const set = f.group.sync_state_set || [];
    for (const c of f.controllers) {
      const n = this.nodes.get(c.id);
      const up = c.state === 'up';
      const role = up ? c.role : '';
      n.g.setAttribute('class', 'cs-node' + (up ? '' : c.state === 'paused' ? ' paused' : ' down') + (this.selected === c.id ? ' selected' : ''));
      n.shape.setAttribute('d', role === 'leader' ? hexagon(27) : 'M-24,0a24,24 0 1,0 48,0a24,24 0 1,0 -48,0Z');
      n.shape.setAttribute('class', 'cs-shape ' + (role || 'none'));
      n.glyph.textContent = 'C' + c.id;
      n.name.textContent = t('controllerN', { id: c.id });
      n.sub1.textContent = up ? t('ctlRoleTerm', { role: roleWord(role), term: c.term }) : stateWord(c.state);
      if (narrow.matches) {
        n.name.textContent = up ? t(role === 'leader' ? 'ctlLeaderShort' : role === 'follower' ? 'ctlFollowerShort' : 'ctlCandidateShort') : stateWord(c.state);
        n.sub1.textContent = up ? t('termN', { term: c.term }) : '';
      }
      n.sub2.textContent = '';
      n.sub3.textContent = '';
      const cutAll = [1, 2, 3].filter((x) => x !== c.id).every((x) => this.cut(f, c.id, x));
      n.sub1.setAttribute('class', 'cs-sub' + (cutAll ? ' warn' : ''));
      if (cutAll && up) n.sub1.textContent += ' · ' + t('cutOff');
      n.g.setAttribute('aria-label', nodeName(c.id) + ': ' + (up ? roleWord(role) + ', ' + t('termN', { term: c.term }) : stateWord(c.state)) + (cutAll ? ', ' + t('cutOff') : ''));
      n.g.setAttribute('aria-pressed', String(this.selected === c.id));
      Object.assign(n.g.dataset, { role: role || 'none', state: c.state, term: c.term });
    }
    for (const b of f.brokers) {
      const n = this.nodes.get(b.node);
      const up = b.state === 'up';
      const inSet = set.includes(b.id);
      n.g.setAttribute('class', 'cs-node' + (up ? '' : b.state === 'paused' ? ' paused' : ' down') + (this.selected === b.node ? ' selected' : ''));
      n.shape.setAttribute('d', b.role === 'master' ? 'M-26,-26h52v52h-52Z' : 'M-26,0a26,26 0 1,0 52,0a26,26 0 1,0 -52,0Z');
      n.shape.setAttribute('class', 'cs-shape ' + (up ? b.role : 'none'));
      n.glyph.textContent = b.role === 'master' && up ? '主' : b.role === 'slave' && up ? '从' : 'B' + b.id;
      n.ring.setAttribute('stroke', inSet ? '#16a34a' : 'none');
      n.name.textContent = t('broker', { id: b.id });
      // The epoch of the master it knows (its epoch file, below, gains the
      // epoch once it holds an entry written in it).
      n.sub1.textContent = (up ? brokerRole(b.role) : stateWord(b.state)) + ' · ' + t('epochN', { e: b.known.master_epoch });
      n.sub2.textContent = t('maxConfirm', { max: b.max_offset, confirm: b.confirm });
      const label = n.sub2.textContent;
      if (narrow.matches) {
        n.name.textContent = up ? brokerRole(b.role) : stateWord(b.state);
        n.sub1.textContent = t('epochN', { e: b.known.master_epoch });
        n.sub2.textContent = '';
      }
      const ctlCut = [1, 2, 3].every((x) => this.cut(f, b.node, x));
      const brkCut = [4, 5, 6].filter((x) => x !== b.node).every((x) => this.cut(f, b.node, x));
      const warn = ctlCut && brkCut ? t('cutOff') : ctlCut ? t('cutFromCtls') : brkCut ? t('cutFromBrks') : '';
      n.sub3.textContent = warn;
      n.sub3.setAttribute('class', 'cs-sub warn');
      n.g.setAttribute('aria-label', t('broker', { id: b.id }) + ': ' + (up ? brokerRole(b.role) : stateWord(b.state)) + ', ' + t('epochN', { e: b.known.master_epoch })
        + (inSet ? ', ' + t('inSet') : '') + ', ' + label + (warn ? ', ' + warn : ''));
      n.g.setAttribute('aria-pressed', String(this.selected === b.node));
      Object.assign(n.g.dataset, { role: b.role, state: b.state, inSet: String(inSet), epoch: b.known.master_epoch });
    }
  }

  drawMessages(f) {
    const g = this.gMsgs;
    g.textContent = '';
    const now = f.time_ms;
    for (const m of f.messages) {
      const p = pos(m.from);
      const q = pos(m.to);
      const span = Math.max(1, m.at_ms - m.sent_ms);
      const k = reducedMotion.matches ? 0.33 : Math.min(1, Math.max(0, (now - m.sent_ms) / span));
      // Each direction on its own lane, so a message and its answer pass.
      const dx = q.x - p.x;
      const dy = q.y - p.y;
      const len = Math.hypot(dx, dy) || 1;
      const ox = (-dy / len) * 5;
      const oy = (dx / len) * 5;
      el('circle', { class: 'cs-msg ' + m.kind, r: m.kind === 'push' ? 5 : 4, cx: (p.x + dx * k + ox).toFixed(1), cy: (p.y + dy * k + oy).toFixed(1) }, g);
    }
  }

  drawGroup(f) {
    const g = f.group;
    const master = g.master ? t('broker', { id: g.master }) : t('noMaster');
    const compact = narrow.matches;
    this.groupText.textContent = t(compact ? 'groupShort1' : 'groupLine1', { group: g.name || 'broker-a', master, epoch: g.master_epoch });
    this.groupText2.textContent = t(compact ? 'groupShort2' : 'groupLine2', { set: setText(g.sync_state_set), epoch: g.sync_state_set_epoch });
  }

  drawSelected(f) {
    const node = this.selected;
    if (!node) {
      this.selName.textContent = '';
      this.selInfo.textContent = t('ctlSelectHint');
      return;
    }
    this.selName.textContent = nodeName(node);
    if (node <= CTLS) {
      const c = f.controllers[node - 1];
      this.selInfo.textContent = c.state === 'up'
        ? t('ctlInfo', { role: roleWord(c.role), term: c.term, commit: c.commit, applied: c.applied })
        : stateWord(c.state);
    } else {
      const b = f.brokers[node - CTLS - 1];
      const known = b.known || {};
      let s = (b.state === 'up' ? brokerRole(b.role) : stateWord(b.state)) + ' · '
        + t('brokerKnows', { master: known.master ? t('broker', { id: known.master }) : t('noMaster'), epoch: known.master_epoch, set: setText(known.sync_state_set) });
      if (b.pending) s += ' · ' + t('pendingAlter', { set: setText(b.pending.sync_state_set) });
      this.selInfo.textContent = s;
    }
  }

  // --- below the stage ---

  drawLogs(f) {
    const key = JSON.stringify(f.brokers.map((b) => [b.state, b.role, b.log_first, b.max_offset, b.confirm, b.epochs, b.truncated && b.truncated.at_ms, b.log.length && b.log[b.log.length - 1].acked])) + currentLang();
    if (key === this.keys.logs) return;
    this.keys.logs = key;
    const out = [];
    const set = f.group.sync_state_set || [];
    for (const b of f.brokers) {
      const role = b.state === 'up' ? brokerRole(b.role) : stateWord(b.state);
      const epochs = (b.epochs || []).map((e) => '<span style="color:' + epochColour(e.epoch) + '">' + esc(t('epochLine', { e: e.epoch, from: e.start_offset })) + '</span>').join(' · ');
      const cells = [];
      if (b.log_first > 0) cells.push('<span class="muted small">… ' + esc(t('earlierEntries', { n: b.log_first })) + '</span>');
      let confirmDrawn = false;
      for (const e of b.log) {
        if (!confirmDrawn && e.offset === b.confirm && b.confirm > 0) {
          cells.push('<span class="cl-confirm" title="' + esc(t('confirmAt', { o: b.confirm })) + '"></span>');
          confirmDrawn = true;
        }
        cells.push(this.cell(e, e.offset < b.confirm, false));
      }
      if (!b.log.length) cells.push('<span class="muted small">' + esc(t('emptyLog')) + '</span>');
      let cut = '';
      if (b.truncated) {
        const tr = b.truncated;
        cut = '<p class="cl-cut-note">' + esc(t(tr.acked ? 'cutNoteAcked' : 'cutNote', { at: fmtTime(tr.at_ms), from: tr.from, to: tr.to, n: tr.from - tr.to, acked: tr.acked })) + '</p>'
          + '<div class="cl-cells">' + tr.entries.map((e) => this.cell(e, false, true)).join('') + '</div>';
      }
      out.push('<div class="cl-row" data-broker="' + b.id + '" data-role="' + esc(b.role) + '" data-state="' + esc(b.state) + '">'
        + '<h3>' + esc(t('broker', { id: b.id })) + ' <span class="muted">· ' + esc(role) + (set.includes(b.id) ? ' · ' + esc(t('inSet')) : '')
        + ' · ' + esc(t('maxConfirm', { max: b.max_offset, confirm: b.confirm })) + '</span></h3>'
        + '<p class="cl-epochs">' + esc(t('epochFile')) + ': ' + (epochs || esc(t('emptyEpochs'))) + '</p>'
        + '<div class="cl-cells">' + cells.join('') + '</div>' + cut + '</div>');
    }
    this.logsRoot.innerHTML = out.join('');
  }

  cell(e, confirmed, cut) {
    const title = t('ctlEntryTitle', { o: e.offset, body: e.body, e: e.epoch }) + (e.acked ? ' · ' + t('ackedWord') : '') + (cut ? ' · ' + t('truncated') : '');
    return '<span class="cl-cell' + (confirmed ? ' confirmed' : '') + (e.acked ? ' acked' : '') + (cut ? ' cut' : '') + '" style="--ep:' + epochColour(e.epoch)
      + '" title="' + esc(title) + '"><span class="off">#' + e.offset + '</span>' + esc(e.body) + '</span>';
  }

  drawEvents(f) {
    const evs = f.events || [];
    const last = evs[evs.length - 1];
    const key = evs.length + ':' + (last ? last.at_ms + last.kind : '') + currentLang();
    if (key === this.keys.events) return;
    this.keys.events = key;
    if (!evs.length) { this.eventsRoot.innerHTML = '<li class="muted">' + esc(t('noEvents')) + '</li>'; return; }
    const out = [];
    for (let i = evs.length - 1; i >= 0 && out.length < 40; i--) {
      const e = evs[i];
      out.push('<li data-kind="' + esc(e.kind) + '"><span class="ev-time">' + esc(fmtTime(e.at_ms)) + '</span> ' + esc(eventLine(e)) + '</li>');
    }
    this.eventsRoot.innerHTML = out.join('');
  }

  drawClients(f) {
    const c = f.clients;
    const key = JSON.stringify(c) + currentLang();
    if (key === this.keys.clients) return;
    this.keys.clients = key;
    const out = [];
    for (const p of c.producers) {
      const refused = Object.entries(p.refused || {}).map(([why, n]) => t('refusedN', { n, why: whyWord(why) })).join(' · ');
      out.push('<div class="client" data-producer="' + esc(p.id) + '"><b>' + esc(t('ctlProducer', { id: p.id, b: t('broker', { id: p.target }) })) + '</b>'
        + (p.rate ? ' · ' + esc(t('ctlRate', { r: Math.round(p.rate * 10) / 10 })) : '')
        + '<br>' + esc(t('ctlProdCounts', { sent: p.sent, acked: p.acked, gave: p.gave_up })) + (refused ? '<br><span class="muted">' + esc(refused) + '</span>' : '') + '</div>');
    }
    for (const s of c.consumers) {
      out.push('<div class="client" data-consumer="' + esc(s.id) + '">' + esc(t('ctlConsumer', { id: s.id, offset: s.offset })) + '</div>');
    }
    if (!out.length) out.push('<p class="muted">' + esc(t('ctlNoClients')) + '</p>');
    this.clientsRoot.innerHTML = out.join('');
  }

  // --- controls ---

  run(action) {
    const app = this.app;
    const node = this.selected;
    const need = () => {
      if (!node) { app.notice(t('ctlNoNode'), 'info'); return false; }
      return true;
    };
    switch (action) {
      case 'ctl-crash': if (need()) app.act({ kind: 'crash', node }); break;
      case 'ctl-restart': if (need()) app.act({ kind: 'restart', node }); break;
      case 'ctl-pause': if (need()) app.act({ kind: 'pause', node }); break;
      case 'ctl-resume': if (need()) app.act({ kind: 'resume', node }); break;
      case 'ctl-isolate': if (need()) app.act({ kind: 'isolate', node }); break;
      case 'ctl-cut-brokers':
        if (!need()) break;
        if (node <= CTLS) { app.notice(t('cutBrokersOnly'), 'info'); break; }
        app.act({ kind: 'partition', groups: [[node], [4, 5, 6].filter((x) => x !== node)] });
        break;
      case 'ctl-heal': app.act({ kind: 'heal' }); break;
      case 'ctl-link': {
        const from = Number(document.querySelector('#ctl-link-from').value);
        const to = Number(document.querySelector('#ctl-link-to').value);
        const lat = Number(document.querySelector('#ctl-link-latency').value);
        const loss = Number(document.querySelector('#ctl-link-loss').value) / 100;
        const conf = { latency_ms: Number.isFinite(lat) ? Math.round(lat) : -1, loss: Number.isFinite(loss) ? loss : -1 };
        if (from === to) { app.notice(t('ctlLinkSame'), 'info'); break; }
        // Both directions: a slow or lossy link is slow both ways.
        app.act({ kind: 'link', from, to, ...conf });
        app.act({ kind: 'link', from: to, to: from, ...conf });
        break;
      }
      case 'ctl-produce': app.act({ kind: 'produce', id: 'p1' }); break;
      case 'ctl-producer': {
        const rate = Number(document.querySelector('#ctl-rate').value);
        app.act({ kind: 'producer', id: 'p1', rate: Number.isFinite(rate) ? rate : -1 });
        break;
      }
      case 'ctl-producer-stop': app.act({ kind: 'producer', id: 'p1', rate: 0 }); break;
      case 'ctl-consumer': app.act({ kind: 'consumer', id: 'c' + (this.app.frame ? this.app.frame.clients.consumers.length + 1 : 1) }); break;
      case 'ctl-new-run': this.newRun(); break;
    }
  }

  /** settings are the run-and-switches form's values, as init takes them. */
  settings() {
    const seed = Number(document.querySelector('#ctl-seed').value);
    return {
      mode: 'controller',
      seed: Number.isInteger(seed) && seed >= 0 ? seed : -1,
      min_in_sync_replicas: Number(document.querySelector('#ctl-min-isr').value),
      all_ack_in_sync_state_set: document.querySelector('#ctl-all-ack').checked,
      enable_elect_unclean_master: document.querySelector('#ctl-unclean').checked,
    };
  }

  newRun() {
    const s = this.settings();
    if (s.seed < 0) { this.app.notice(t('badSetting', { err: t('seedWhole') }), 'error'); return; }
    this.app.restart(s);
  }

  /** announce tells screen readers when the controllers elect a master
   * (the polite live region; not for the first frame of a run). */
  announce(f) {
    const g = f.group;
    const key = g.master + '@' + g.master_epoch;
    if (this.said === undefined || this.said === null) { this.said = key; return; }
    if (key === this.said) return;
    this.said = key;
    this.app.announcer.say(g.master ? t('sayMaster', { b: t('broker', { id: g.master }), epoch: g.master_epoch }) : t('sayNoMaster', { epoch: g.master_epoch }), 'status');
  }

  /** onNewRun shows a new run's settings in the form. */
  onNewRun(f) {
    this.said = null;
    this.selected = 0;
    this.keys = { logs: '', events: '', clients: '', nodes: '' };
    document.querySelector('#ctl-seed').value = String(f.seed);
    document.querySelector('#ctl-min-isr').value = String(f.settings.min_in_sync_replicas);
    document.querySelector('#ctl-all-ack').checked = f.settings.all_ack_in_sync_state_set;
    document.querySelector('#ctl-unclean').checked = f.settings.enable_elect_unclean_master;
  }

  /** key handles a shortcut in Controller mode; false leaves it to the
   * page's common keys (play, step, speed, seek, language, help). */
  key(k) {
    const f = this.app.frame;
    if (k >= '1' && k <= '3') { this.select(CTLS + Number(k)); return true; }
    switch (k) {
      case 'c': this.run('ctl-crash'); return true;
      case 'r': this.run('ctl-restart'); return true;
      case 'p': {
        const st = f && this.selected ? (this.selected <= CTLS ? f.controllers[this.selected - 1] : f.brokers[this.selected - CTLS - 1]).state : '';
        this.run(st === 'paused' ? 'ctl-resume' : 'ctl-pause');
        return true;
      }
      case 'i': this.run('ctl-isolate'); return true;
      case 'h': this.run('ctl-heal'); return true;
      case 'm': this.run('ctl-produce'); return true;
      case 'g': case 's': return true; // DLedger mode's group chips
    }
    return false;
  }
}

function hexagon(r) {
  const pts = [];
  for (let i = 0; i < 6; i++) {
    const a = Math.PI / 6 + i * Math.PI / 3;
    pts.push((r * Math.cos(a)).toFixed(1) + ',' + (r * Math.sin(a)).toFixed(1));
  }
  return 'M' + pts.join('L') + 'Z';
}

function roleWord(role) {
  switch (role) {
    case 'leader': return t('ctlLeader');
    case 'follower': return t('ctlFollower');
    case 'candidate': case 'pre-candidate': return t('ctlCandidate');
  }
  return role || '';
}

function brokerRole(role) {
  return role === 'master' ? t('roleMaster') : role === 'slave' ? t('roleSlave') : t('roleNone');
}

function stateWord(state) {
  return state === 'crashed' ? t('stCrashed') : state === 'paused' ? t('stPaused') : state;
}

/** whyWord says a refusal in the learner's language. */
function whyWord(why) {
  switch (why) {
    case 'not the master': return t('whyNotMaster');
    case 'IN_SYNC_REPLICAS_NOT_ENOUGH': return t('whyISR');
    case 'deposed before the write was acknowledged': return t('whyDeposed');
  }
  return why;
}

/** eventLine words one ctlsim event. */
export function eventLine(e) {
  const b = (id) => t('broker', { id });
  switch (e.kind) {
    case 'action': {
      const a = e.action || {};
      const who = a.node ? nodeName(a.node) : '';
      return t('you') + ' · ' + actionWord(a) + (who ? ' ' + who : '');
    }
    case 'leader': return t('evCtlLeader', { c: nodeName(e.node), term: e.term });
    case 'elected': return e.broker ? t('evElected', { b: b(e.broker), epoch: e.epoch, set: setText(e.set) }) : t('evElectedNone', { epoch: e.epoch });
    case 'set': return t('evSet', { set: setText(e.set), epoch: e.set_epoch });
    case 'master': return t('evMaster', { b: b(e.broker), epoch: e.epoch });
    case 'slave': return t('evSlave', { b: b(e.broker), epoch: e.epoch });
    case 'deposed': return t('evDeposed', { b: b(e.broker), epoch: e.epoch });
    case 'truncated': return t('evTruncated', { b: b(e.broker), from: e.from, to: e.to });
    case 'alter': return t('evAlter', { b: b(e.broker), set: setText(e.set) });
    case 'refused': return t('evRefused', { b: b(e.broker), why: whyWord(e.why) });
    case 'violation': return t('evViolation', { rule: e.why });
  }
  return e.kind;
}

function actionWord(a) {
  switch (a.kind) {
    case 'producer': return a.rate ? t('actProducer', { r: a.rate }) : t('actProducerStop');
    case 'partition': return t('actCut', { b: (a.groups && a.groups[0] || []).map((n) => nodeName(n)).join(', ') });
  }
  return t('act_' + a.kind);
}
