// Small views: the invariant badge, the event list and the clients panel.

import { t, eventText, storyT, currentLang, whyText } from './i18n.js';
import { fmtTime } from './timeline.js';

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

/** Badge is green while the checkers find nothing, red with the first
 * violation's sentence and a link that seeks to its moment. */
export class Badge {
  constructor({ root, text, jump, onJump }) {
    this.root = root; this.text = text; this.jump = jump;
    this.key = null;
    this.violation = null;
    jump.addEventListener('click', (e) => {
      e.preventDefault();
      if (this.violation) onJump(this.violation.time_ms);
    });
  }

  update(frame, force) {
    const v = (frame.violations || [])[0] || null;
    const key = v ? v.time_ms + v.rule + v.text : '';
    if (!force && key === this.key) return;
    this.key = key;
    this.violation = v;
    this.root.className = 'badge ' + (v ? 'bad' : 'ok');
    this.root.dataset.state = v ? 'violated' : 'ok';
    if (v) {
      this.text.textContent = t('violation') + ' (' + fmtTime(v.time_ms) + '): ' + v.text;
      this.text.title = v.rule + (v.event ? ' — ' + v.event : '');
    } else if (this.text.textContent !== t('invariantsHold')) {
      // Rewritten only when it changes: the badge is a live region.
      this.text.textContent = t('invariantsHold');
      this.text.title = '';
    }
    this.jump.hidden = !v;
  }
}

/** EventList shows the latest events, newest first, in the page's language. */
export class EventList {
  /** byStory(e) tells the story's own actions (story.js) from the learner's. */
  constructor(root, { byStory } = {}) {
    this.root = root; this.key = ''; this.drawnAt = -Infinity; this.dirty = null;
    this.byStory = byStory || (() => false);
  }

  update(frame, force) {
    const evs = frame.events || [];
    const last = evs[evs.length - 1];
    const key = evs.length + ':' + (last ? last.time_ms + last.kind + last.node : '');
    if (!force && key === this.key) return;
    this.key = key;
    this.dirty = frame;
    if (force) this.flush(true); // otherwise the animation loop flushes
  }

  /** flush draws the latest changed frame, at most every 150 ms; it
   * returns whether it drew. */
  flush(force) {
    if (!this.dirty) return false;
    const now = performance.now();
    if (!force && now - this.drawnAt < 150) return false;
    this.drawnAt = now;
    const frame = this.dirty;
    this.dirty = null;
    const evs = frame.events || [];
    if (!evs.length) { this.root.innerHTML = '<li class="muted">' + esc(t('noEvents')) + '</li>'; return true; }
    const out = [];
    for (let i = evs.length - 1; i >= 0 && out.length < 40; i--) {
      const e = evs[i];
      let extra = '';
      if (e.peer) extra += ' · ' + t('evPeer', { p: e.peer });
      if (e.index) extra += ' · ' + t('evIndex', { i: e.index });
      const detail = whyText(e.why, e.args, e.detail);
      if (detail) extra += ' · ' + detail;
      // An action is the learner's (or the story's), even when it names a
      // broker: "You acted · crash broker 2", not "Broker 2 … you acted".
      const act = e.kind === 'action';
      const story = act && this.byStory(e);
      const who = act ? (story ? storyT('button') : t('you')) : e.node ? t('broker', { id: e.node }) : t('you');
      out.push('<li data-kind="' + esc(e.kind) + '"><span class="ev-time">' + esc(fmtTime(e.time_ms)) + '</span> <b>'
        + esc(who) + '</b> ' + (e.node && !act ? '<span class="muted">t' + e.term + '</span> ' : '')
        + '<span class="ev-kind">' + esc(eventText(e.kind)) + '</span><span class="muted">' + esc(extra) + '</span></li>');
    }
    this.root.innerHTML = out.join('');
    return true;
  }
}

/** Clients lists producers and consumers. Each producer says where it
 * sends (a fixed broker, or the leader it guesses), what it is sending and
 * to whom, how many messages wait behind it, and its last answer. */
export class Clients {
  constructor(root) { this.root = root; this.key = ''; }

  update(frame, force) {
    const c = frame.clients || {};
    const key = JSON.stringify(c) + JSON.stringify((frame.nodes || []).map((n) => n.offsets)) + currentLang();
    if (!force && key === this.key) return;
    this.key = key;
    const out = [];
    for (const p of c.producers || []) {
      const broker = (id) => t('broker', { id });
      // Live frames (native brokers) carry only the pending sentence.
      const structured = p.node !== undefined;
      const to = p.node ? broker(p.node) : p.guess ? t('prodToLeaderGuess', { b: broker(p.guess) }) : t('prodToLeader');
      const state = p.target ? t('prodSending', { seq: p.seq, body: p.body, b: broker(p.target) })
        : p.pending ? t('pending', { p: p.pending }) : t('prodIdle');
      out.push('<div class="client" data-producer="' + esc(p.id) + '" data-node="' + esc(p.node || 0) + '" data-state="' + (p.target || p.pending ? 'sending' : 'idle') + '">'
        + '<b>' + esc(t('prodTitle', { id: p.id, topic: p.topic })) + '</b>' + (structured ? ' · ' + esc(t('prodSendsTo', { to })) : '')
        + '<br>' + esc(t('prodCounts', p))
        + '<br><span class="prod-state">' + esc(state) + (p.queued ? esc(' · ' + t(p.queued === 1 ? 'prodQueued1' : 'prodQueued', { n: p.queued })) : '') + '</span>'
        + (p.last ? '<br><span class="muted">' + esc(t('last', { l: whyText(p.last_why && 'last-' + p.last_why, p.last_args, p.last) })) + '</span>' : '') + '</div>');
    }
    for (const s of c.consumers || []) {
      const recent = (s.recent || []).slice(-5).map((r) => '<code>' + esc(r) + '</code>').join(' ');
      // A consumer without a group (live mode only) has no counts.
      const counts = s.group ? '<br>' + esc(t('consumerCounts', s)) : '';
      // Where the group would resume on each broker (its offsets there).
      const held = s.group ? (frame.nodes || []).map((n) => {
        const o = (n.offsets || []).find((x) => x.group === s.group && x.topic === s.topic);
        return '<span class="held" data-node="' + esc(n.id) + '">' + esc(t('heldOn', { id: n.id, offset: o ? o.offset : '–' })) + '</span>';
      }).join(' · ') : '';
      const redone = (s.redone || []).map((o) => '<code class="redone">@' + esc(o) + '</code>').join(' ');
      out.push('<div class="client" data-consumer="' + esc(s.id) + '" data-redelivered="' + esc(s.redelivered || 0) + '">'
        + esc(s.group ? t('consumerGroup', { ...s, where: s.node ? t('broker', { id: s.node }) : t('theLeader') }) : t('consumer', s)) + counts
        + (held ? '<br><span class="muted">' + esc(t('offsetsHeld')) + '</span> ' + held : '')
        + (redone ? '<br><span class="redone-list">' + esc(t('consumerRedone')) + ' ' + redone + '</span>' : '')
        + (recent ? '<br>' + recent : '') + '</div>');
    }
    this.root.innerHTML = out.length ? out.join('') : '<p class="muted">' + esc(t('noClients')) + '</p>';
  }
}
