// Log view: each broker's CommitLog, one column per index so logs line up.
// Entries are coloured by term; hollow = uncommitted, solid = committed,
// dashed = not yet on disk, struck out = truncated. The leader's match (m)
// and next (n) for each follower mark that follower's row. Below each row
// the CommitLog's segment files; below the table each topic's ConsumeQueue.

import { t, roleText } from './i18n.js';

const MAX_COLS = 40;

/** termColor gives every term its own calm hue. */
export function termColor(term) {
  const hue = (200 + term * 67) % 360;
  return 'hsl(' + hue + ' 55% 48%)';
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function nodeKey(n) {
  const p = (n.progress || []).map((x) => x.peer + ':' + x.match + ':' + x.next).join(',');
  const s = (n.segments || []).map((x) => x.size).join(',');
  const q = (n.topics || []).map((x) => x.name + x.len).join(',');
  return [n.state, n.role, n.term, n.commit, n.stabled, n.last_index, n.log_first, (n.log || []).length,
    (n.truncated || []).length, p, s, q].join('|');
}

export class LogView {
  constructor(logEl, queueEl) {
    this.logEl = logEl;
    this.queueEl = queueEl;
    this.key = '';
  }

  update(frame, selected, force) {
    const key = frame.nodes.map(nodeKey).join('#') + '@' + selected;
    if (!force && key === this.key) return;
    this.key = key;
    this.drawLogs(frame, selected);
    this.drawQueues(frame);
  }

  drawLogs(frame, selected) {
    const nodes = frame.nodes;
    let lo = Infinity;
    let hi = 0;
    for (const n of nodes) {
      for (const e of n.log || []) { lo = Math.min(lo, e.index); hi = Math.max(hi, e.index); }
      for (const e of n.truncated || []) { lo = Math.min(lo, e.index); hi = Math.max(hi, e.index); }
      hi = Math.max(hi, n.last_index);
    }
    if (lo === Infinity) lo = 1;
    hi += 1; // room for the next index
    if (hi - lo + 1 > MAX_COLS) lo = hi - MAX_COLS + 1;
    const cols = hi - lo + 1;
    const leader = nodes.find((n) => n.role === 'leader' && n.state === 'up');
    const progress = new Map();
    if (leader) for (const p of leader.progress || []) progress.set(p.peer, p);

    const parts = [];
    parts.push('<div class="log-grid" style="--cols:' + cols + '">');
    parts.push('<div class="log-head idx-head">' + esc(t('index')) + '</div><div class="cells idx">');
    for (let i = lo; i <= hi; i++) parts.push('<span class="ix">' + i + '</span>');
    parts.push('</div><div class="segs-head"></div>');
    for (const n of nodes) {
      const entries = new Map((n.log || []).map((e) => [e.index, e]));
      const pr = progress.get(n.id);
      const down = n.state !== 'up';
      parts.push('<div class="log-head' + (selected === n.id ? ' selected' : '') + '" data-log-node="' + n.id + '">'
        + '<b>' + esc(t('broker', { id: n.id })) + '</b> <span class="role-tag role-' + esc(n.role) + (down ? ' down' : '') + '">'
        + esc(down ? t('state_' + n.state) : roleText(n.role)) + '</span><br><span class="muted">'
        + esc(t('term', { t: n.term })) + ' · ' + esc(t('commitIdx', { c: n.commit })) + '</span></div>');
      parts.push('<div class="cells' + (down ? ' down' : '') + '" data-log-node="' + n.id + '">');
      const segOf = (pos) => (n.segments || []).findIndex((s) => pos >= s.start && pos < s.start + s.cap);
      let prevSeg = -2;
      for (let i = lo; i <= hi; i++) {
        const e = entries.get(i);
        let cls = 'e';
        let attrs = ' data-index="' + i + '"';
        let body = '';
        let style = '';
        let title = '';
        if (e) {
          cls += e.committed ? ' committed' : ' uncommitted';
          if (!e.durable) cls += ' volatile';
          if (e.type === 'noop' || e.summary === 'no-op') cls += ' noop';
          const seg = e.pos >= 0 ? segOf(e.pos) : -1;
          if (seg >= 0 && prevSeg !== -2 && seg !== prevSeg) cls += ' seg-start';
          prevSeg = seg;
          attrs += ' data-term="' + e.term + '" data-committed="' + e.committed + '"';
          style = ' style="--tc:' + termColor(e.term) + '"';
          body = String(e.term);
          title = t('entryTitle', { i: e.index, t: e.term, s: e.summary, pos: e.pos, size: e.size });
        } else {
          cls += ' empty';
        }
        if (pr && !down) {
          if (pr.match === i) cls += ' match';
          if (pr.next === i) cls += ' next';
        }
        parts.push('<span class="' + cls + '"' + attrs + style + (title ? ' title="' + esc(title) + '"' : '') + '>' + body + '</span>');
      }
      if (n.truncated && n.truncated.length) {
        const tr = new Map(n.truncated.map((e) => [e.index, e]));
        parts.push('<div class="trunc-row">');
        for (let i = lo; i <= hi; i++) {
          const e = tr.get(i);
          if (e) {
            parts.push('<span class="e truncated" data-index="' + i + '" data-term="' + e.term + '" style="--tc:' + termColor(e.term)
              + '" title="' + esc(t('truncated') + ': ' + t('entryTitle', { i: e.index, t: e.term, s: e.summary, pos: e.pos, size: e.size })) + '">' + e.term + '</span>');
          } else parts.push('<span class="e gap"></span>');
        }
        parts.push('</div>');
      }
      parts.push('</div>');
      parts.push('<div class="segs">' + this.segments(n) + '</div>');
    }
    parts.push('</div>');
    this.logEl.innerHTML = parts.join('');
  }

  segments(n) {
    const segs = n.segments || [];
    if (!segs.length) return '';
    return segs.map((s) => {
      const pct = s.cap > 0 ? Math.min(100, (100 * s.size) / s.cap) : 0;
      return '<span class="seg" title="' + esc(t('seg', { name: s.name, size: s.size, cap: s.cap })) + '"><i style="width:' + pct.toFixed(1)
        + '%"></i><em>' + esc(String(s.start)) + '</em></span>';
    }).join('');
  }

  drawQueues(frame) {
    const topics = [...new Set(frame.nodes.flatMap((n) => (n.topics || []).map((x) => x.name)))].sort();
    if (!topics.length) {
      this.queueEl.innerHTML = '<p class="muted">' + esc(t('noQueues')) + '</p>';
      return;
    }
    const parts = ['<table class="qtable"><thead><tr><th></th>'];
    for (const name of topics) parts.push('<th>' + esc(name) + '</th>');
    parts.push('</tr></thead><tbody>');
    for (const n of frame.nodes) {
      parts.push('<tr data-queue-node="' + n.id + '"><th>' + esc(t('broker', { id: n.id })) + '</th>');
      for (const name of topics) {
        const q = (n.topics || []).find((x) => x.name === name);
        if (!q) { parts.push('<td class="muted">–</td>'); continue; }
        const recs = (q.recent || []).slice(-6).map((r) => '<span class="qrec" title="' + esc('queue offset ' + r.queueOffset + ' → CommitLog index ' + r.index + ' (t' + r.term + ', pos ' + r.pos + ', ' + r.size + ' B)') + '" style="--tc:' + termColor(r.term) + '">'
          + r.queueOffset + '→#' + r.index + '</span>').join('');
        parts.push('<td data-topic="' + esc(name) + '" data-len="' + q.len + '"><span class="qlen">' + esc(t('queueLen', { len: q.len })) + '</span> ' + recs + '</td>');
      }
      parts.push('</tr>');
    }
    parts.push('</tbody></table>');
    this.queueEl.innerHTML = parts.join('');
  }
}
