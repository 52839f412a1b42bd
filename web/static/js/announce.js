// Announcer: the page's one polite live region, for screen readers. They
// hear each story beat's callout and each lesson step's text once, as it
// is shown, in the page's language; leader changes and commits as short
// sentences, at most one every STATUS_EVERY_MS and never right after a
// beat or a step; the raw event stream (the event list, the messages in
// flight) stays silent.

import { t, currentLang } from './i18n.js';

const STATUS_EVERY_MS = 5000;
const STATUS_AFTER_TEXT_MS = 3000; // a beat's or step's text is heard out first
const KEEP = 200; // announcements kept for tests

export class Announcer {
  constructor() {
    const el = document.createElement('div');
    el.id = 'announcer';
    el.className = 'sr-only';
    el.setAttribute('aria-live', 'polite');
    el.setAttribute('aria-atomic', 'true');
    document.body.appendChild(el);
    this.el = el;
    this.log = []; // {kind, text, lang, at}: what was said, oldest first
    this.lastTextAt = -Infinity; // a beat or a step
    this.lastStatusAt = -Infinity;
    this.timer = 0;
    this.said = { leader: null, commit: null }; // the cluster as last said
    this.seen = null; // the cluster in the latest frame
  }

  /** say announces a text now: kind names who says it (story, lesson). */
  say(text, kind) {
    if (!text) return;
    this.lastTextAt = performance.now();
    this.put(text, kind);
  }

  put(text, kind) {
    const lang = currentLang();
    this.el.lang = lang === 'zh' ? 'zh-CN' : 'en';
    this.el.textContent = text;
    this.log.push({ kind, text, lang, at: performance.now() });
    if (this.log.length > KEEP) this.log.shift();
  }

  /**
   * watch follows a frame: who leads and how far entries are committed.
   * quiet (the story tells these itself) only notes the cluster as said.
   */
  watch(frame, quiet) {
    const lead = frame.nodes.find((n) => n.role === 'leader' && n.state === 'up');
    const commit = Math.max(0, ...frame.nodes.filter((n) => n.state === 'up').map((n) => n.commit || 0));
    this.seen = { leader: lead ? lead.id + '@' + lead.term : '', id: lead ? lead.id : 0, term: lead ? lead.term : 0, commit };
    if (quiet || this.said.leader === null) {
      this.said = { leader: this.seen.leader, commit };
      return;
    }
    if (this.seen.leader !== this.said.leader || commit > this.said.commit) this.schedule();
    else if (commit < this.said.commit) this.said.commit = commit; // a rewind: said again when it grows
  }

  schedule() {
    if (this.timer) return;
    const now = performance.now();
    const wait = Math.max(0, this.lastStatusAt + STATUS_EVERY_MS - now, this.lastTextAt + STATUS_AFTER_TEXT_MS - now);
    this.timer = setTimeout(() => { this.timer = 0; this.sayStatus(); }, wait);
  }

  /** sayStatus says what changed since the last status, in one breath. */
  sayStatus() {
    const s = this.seen;
    if (!s) return;
    const out = [];
    if (s.leader !== this.said.leader) out.push(s.id ? t('sayLeader', { id: s.id, term: s.term }) : t('sayNoLeader'));
    if (s.commit > this.said.commit) out.push(t('sayCommit', { i: s.commit }));
    this.said = { leader: s.leader, commit: s.commit };
    if (!out.length) return;
    this.lastStatusAt = performance.now();
    this.put(out.join(currentLang() === 'zh' ? '' : ' '), 'status');
  }
}
