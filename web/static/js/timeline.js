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
    slider.addEventListener('input', () => { this.dragging = true; onSeek(Number(slider.value)); });
    slider.addEventListener('change', () => { this.dragging = false; onSeek(Number(slider.value)); });
  }

  update(frame) {
    const tl = frame.timeline;
    const end = Math.max(frame.time_ms, tl ? tl.end_ms : 0);
    this.slider.max = String(end);
    if (!this.dragging) this.slider.value = String(frame.time_ms);
    this.clock.textContent = fmtTime(frame.time_ms) + (end > frame.time_ms ? ' / ' + fmtTime(end) : '');
    this.forkNote.hidden = !(end > frame.time_ms);
    const actions = tl && tl.actions ? tl.actions : [];
    const key = end + ':' + actions.length;
    if (key === this.marksKey) return;
    this.marksKey = key;
    this.marks.innerHTML = actions.map((a) => {
      const left = end > 0 ? (100 * a.at) / end : 0;
      return '<span class="mark k-' + esc(a.kind) + '" style="left:' + left.toFixed(2) + '%" title="' + esc(fmtTime(a.at) + ' · ' + a.kind + (a.node ? ' ' + t('broker', { id: a.node }) : '')) + '"></span>';
    }).join('');
  }
}
