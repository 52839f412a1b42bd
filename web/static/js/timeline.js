// Timeline: a slider over the recorded run. Dragging it rewinds (or
// fast-forwards) through the simulator's checkpoints; the marks above it
// are the recorded actions. An action taken in the past forks history.

import { t } from './i18n.js';

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

export function fmtTime(ms) {
  return (ms / 1000).toFixed(3) + ' s';
}

export class Timeline {
  constructor({ slider, marks, clock, forkNote, onSeek }) {
    this.slider = slider;
    this.marks = marks;
    this.clock = clock;
    this.forkNote = forkNote;
    this.dragging = false;
    this.marksKey = '';
    // nodeName names an action's node on a mark (Controller mode has its own).
    this.nodeName = (id) => t('broker', { id });
    this.reset();
    slider.addEventListener('input', () => { this.dragging = true; onSeek(Number(slider.value)); });
    slider.addEventListener('change', () => { this.dragging = false; onSeek(Number(slider.value)); });
  }

  /** reset forgets the recorded end (a new run). */
  reset() {
    this.reached = 0; // the furthest moment this run has been played to
    this.acts = ''; // the recorded actions of the last frame, as JSON
  }

  /** recordedEnd is how far the slider reaches: the furthest moment played
   * so far. Rewinding keeps it (the same run plays forward the same way,
   * so the learner can scrub back to it); an action taken in the past
   * forks the run, and the end is then where the fork begins. */
  recordedEnd(frame) {
    const tl = frame.timeline;
    const acts = tl && tl.actions ? tl.actions : [];
    const json = JSON.stringify(acts);
    if (json !== this.acts) {
      const before = this.acts ? JSON.parse(this.acts) : [];
      const kept = before.length <= acts.length && JSON.stringify(acts.slice(0, before.length)) === this.acts;
      const forked = !kept || acts.slice(before.length).some((a) => a.at < this.reached);
      if (forked) this.reached = frame.time_ms;
      this.acts = json;
    }
    this.reached = Math.max(this.reached, frame.time_ms);
    return Math.max(this.reached, tl ? tl.end_ms : 0);
  }

  update(frame) {
    const tl = frame.timeline;
    const end = this.recordedEnd(frame);
    this.slider.max = String(end);
    if (!this.dragging) this.slider.value = String(frame.time_ms);
    this.clock.textContent = fmtTime(frame.time_ms) + (end > frame.time_ms ? ' / ' + fmtTime(end) : '');
    this.slider.setAttribute('aria-valuetext', this.clock.textContent); // a time, not a number of milliseconds
    this.forkNote.hidden = !(end > frame.time_ms);
    const actions = tl && tl.actions ? tl.actions : [];
    const key = end + ':' + actions.length;
    if (key === this.marksKey) return;
    this.marksKey = key;
    this.marks.innerHTML = actions.map((a) => {
      const left = end > 0 ? (100 * a.at) / end : 0;
      return '<span class="mark k-' + esc(a.kind) + '" style="left:' + left.toFixed(2) + '%" title="' + esc(fmtTime(a.at) + ' · ' + a.kind + (a.node ? ' ' + this.nodeName(a.node) : '')) + '"></span>';
    }).join('');
  }
}
