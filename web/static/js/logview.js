// Log view: each broker's CommitLog, one column per index so logs line up.
// Entries are coloured by term; hollow = uncommitted, solid = committed,
// dashed = not yet on disk, struck out = truncated. The leader's match (m)
// and next (n) for each follower mark that follower's row. Below each row
// the CommitLog's segment files; below the table each topic's ConsumeQueue.

import { t, roleText, stateText, currentLang } from './i18n.js';

const MAX_COLS = 40;
const CELL_PX = 24; // a column's width in px, gap included (see style.css .cells)
const HEAD_PX = 170;
const MAX_SEGS = 8; // segments shown per broker (the last ones)
// While frames stream in, the table is rebuilt at most this often (ms);
// the cluster drawing still moves every animation frame.
const MIN_GAP_MS = 120;

/** termColor gives every term its own calm hue, as dark as it takes for
 * white digits on a committed cell (and coloured digits on a white,
 * uncommitted one) to keep a contrast of 4.5:1 or more (WCAG AA). */
export function termColor(term) {
  const hue = (103 + term * 67) % 360; // term 1 teal, 2 blue, 3 magenta…
  let light = 48;
  while (light > 20 && 1.05 / (luminance(hue, 55, light) + 0.05) < 4.6) light -= 1;
  return 'hsl(' + hue + ' 55% ' + light + '%)';
}

/** luminance is the WCAG relative luminance of hsl(h s% l%). */
function luminance(h, s, l) {
  s /= 100; l /= 100;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * f(0) + 0.7152 * f(8) + 0.0722 * f(4);
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function nodeKey(n) {
  const p = (n.progress || []).map((x) => x.peer + ':' + x.match + ':' + x.next).join(',');
  const s = (n.segments || []).map((x) => x.size).join(',');
  const q = (n.topics || []).map((x) => x.name + x.len).join(',');
  return [n.state, n.role, n.term, n.commit, n.stabled, n.last_index, n.log_first, n.snapshot_index || 0, (n.log || []).length,
    (n.truncated || []).length, p, s, q].join('|');
}

export class LogView {
  constructor(logEl, queueEl) {
    this.logEl = logEl;
    this.queueEl = queueEl;
    this.key = '';
    this.dirty = null; // {frame, selected} not drawn yet
    this.queuesDirty = null; // a frame whose queues are not drawn yet
    this.drawnAt = -Infinity;
    this.shape = '';
    this.rows = new Map();
    this.lo = 0;
    this.cols = 0;
    this.maxCols = this.fitCols();
    window.addEventListener('resize', () => {
      const c = this.fitCols();
      if (c !== this.maxCols) { this.maxCols = c; this.shape = ''; this.key = ''; }
    });
  }

  /** fitCols is how many index columns fit the card's width. */
  fitCols() {
    const w = this.logEl.clientWidth || 900;
    return Math.max(8, Math.min(MAX_COLS, Math.floor((w - HEAD_PX) / CELL_PX)));
  }

  update(frame, selected, force) {
    // The queues also mark the offsets a group got again: a redelivery
    // can come in a frame where no broker changed.
    const again = ((frame.clients && frame.clients.consumers) || []).map((c) => c.topic + ':' + (c.redone || []).join(',')).join(';');
    const key = frame.nodes.map(nodeKey).join('#') + '@' + selected + '@' + again;
    if (!force && key === this.key) return;
    this.key = key;
    this.dirty = { frame, selected };
    if (force) this.flush(true); // otherwise the animation loop flushes
  }

  /** flush draws the latest changed frame if enough time has passed: the
   * logs, or on the next call the queues. It returns whether it drew. */
  flush(force) {
    if (this.queuesDirty && !force) {
      this.drawQueues(this.queuesDirty);
      this.queuesDirty = null;
      return true;
    }
    if (!this.dirty) return false;
    const now = performance.now();
    if (!force && now - this.drawnAt < MIN_GAP_MS) return false;
    const { frame, selected } = this.dirty;
    this.dirty = null;
    this.drawnAt = now;
    this.drawLogs(frame, selected);
    if (force) this.drawQueues(frame);
    else this.queuesDirty = frame;
    return true;
  }

  drawLogs(frame, selected) {
    const nodes = frame.nodes;
    let lo = Infinity;
    let hi = 0;
    for (const n of nodes) {
      for (const e of n.log || []) { lo = Math.min(lo, e.index); hi = Math.max(hi, e.index); }
      for (const e of n.truncated || []) { lo = Math.min(lo, e.index); hi = Math.max(hi, e.index); }
      hi = Math.max(hi, n.last_index);
      if (n.snapshot_index) lo = Math.min(lo, n.snapshot_index); // show where the log was compacted
    }
    if (lo === Infinity) lo = 1;
    hi += 1; // room for the next index
    const maxCols = this.maxCols;
    if (hi - lo + 1 > maxCols) {
      // Move the window in steps of 8 so most frames change a few cells.
      hi = Math.ceil(hi / 8) * 8;
      lo = hi - maxCols + 1;
    }
    const cols = hi - lo + 1;
    const leader = nodes.find((n) => n.role === 'leader' && n.state === 'up');
    const progress = new Map();
    if (leader) for (const p of leader.progress || []) progress.set(p.peer, p);

    const shape = nodes.map((n) => n.id).join(',') + ':' + cols + ':' + currentLang();
    const segIndex = (n) => {
      const segs = n.segments || [];
      return (pos) => {
        for (let k = segs.length - 1; k >= 0; k--) if (pos >= segs[k].start) return pos < segs[k].start + segs[k].cap ? k : -1;
        return -1;
      };
    };
    if (shape !== this.shape || Math.abs(lo - this.lo) >= cols) this.build(nodes, lo, cols, shape);
    else if (lo !== this.lo) this.shift(lo);

    for (const n of nodes) {
      const row = this.rows.get(n.id);
      const down = n.state !== 'up';
      const head = '<b>' + esc(t('broker', { id: n.id })) + '</b> <span class="role-tag role-' + esc(n.role) + (down ? ' down' : '') + '">'
        + esc(down ? stateText(n) : roleText(n.role)) + '</span><br><span class="muted">'
        + esc(t('term', { t: n.term })) + ' · ' + esc(t('commitIdx', { c: n.commit })) + '</span>';
      if (row.headHTML !== head) { row.head.innerHTML = head; row.headHTML = head; }
      row.head.classList.toggle('selected', selected === n.id);
      row.cellsEl.classList.toggle('down', down);

      const entries = new Map((n.log || []).map((e) => [e.index, e]));
      const pr = progress.get(n.id);
      const segOf = segIndex(n);
      let prevSeg = -2;
      for (let c = 0; c < cols; c++) {
        const i = lo + c;
        const e = entries.get(i);
        let cls = 'e';
        let term = '';
        let title = '';
        if (e) {
          cls += e.committed ? ' committed' : ' uncommitted';
          if (!e.durable) cls += ' volatile';
          if (e.type === 'noop' || e.summary === 'no-op') cls += ' noop';
          const seg = e.pos >= 0 ? segOf(e.pos) : -1;
          if (seg >= 0 && prevSeg !== -2 && seg !== prevSeg) cls += ' seg-start';
          prevSeg = seg;
          term = String(e.term);
          title = e.summary + '|' + e.pos;
        } else if (i <= (n.snapshot_index || 0)) {
          // Compacted into the broker's snapshot (Raft §7).
          cls += ' compacted' + (i === n.snapshot_index ? ' snap-mark' : '');
          title = 'compacted';
        } else {
          cls += ' empty';
        }
        if (pr && !down) {
          if (pr.match === i) cls += ' match';
          if (pr.next === i) cls += ' next';
        }
        const desc = cls + '|' + term + '|' + title;
        const cell = row.cells[c];
        if (cell.desc === desc) continue;
        cell.desc = desc;
        cell.className = cls;
        cell.textContent = term;
        cell.title = e ? t('entryTitle', { i: e.index, t: e.term, s: e.summary, pos: e.pos, size: e.size })
          : title === 'compacted' ? t('compactedTitle', { i, s: n.snapshot_index }) : '';
        if (e) {
          cell.dataset.term = term;
          cell.dataset.committed = String(e.committed);
          cell.style.setProperty('--tc', termColor(e.term));
        } else {
          delete cell.dataset.term;
          delete cell.dataset.committed;
          cell.style.removeProperty('--tc');
        }
      }

      let trunc = '';
      if (n.truncated && n.truncated.length) {
        const tr = new Map(n.truncated.map((e) => [e.index, e]));
        const parts = [];
        for (let i = lo; i <= hi; i++) {
          const e = tr.get(i);
          if (e) {
            parts.push('<span class="e truncated" data-index="' + i + '" data-term="' + e.term + '" style="--tc:' + termColor(e.term)
              + '" title="' + esc(t('truncated') + ': ' + t('entryTitle', { i: e.index, t: e.term, s: e.summary, pos: e.pos, size: e.size })) + '">' + e.term + '</span>');
          } else parts.push('<span class="e gap"></span>');
        }
        trunc = parts.join('');
      }
      if (row.truncHTML !== trunc) {
        row.truncHTML = trunc;
        row.trunc.innerHTML = trunc;
        row.trunc.hidden = trunc === '';
      }
      const segs = this.segments(n);
      if (row.segsHTML !== segs) { row.segsHTML = segs; row.segs.innerHTML = segs; }
    }
  }

  /** shift slides the window to start at lo, keeping the cells of the
   * indexes still shown (only new columns need drawing). */
  shift(lo) {
    const d = lo - this.lo;
    const cols = this.cols;
    const newCell = (i) => {
      const c = document.createElement('span');
      c.className = 'e empty';
      c.dataset.index = String(i);
      c.desc = '';
      return c;
    };
    const slide = (cells, parent, before, make) => {
      if (d > 0) {
        for (const c of cells.splice(0, d)) c.remove();
        for (let k = 0; k < d; k++) {
          const c = make(this.lo + cols + k);
          parent.insertBefore(c, before);
          cells.push(c);
        }
      } else {
        for (const c of cells.splice(cols + d, -d)) c.remove();
        for (let k = -d - 1; k >= 0; k--) {
          const c = make(lo + k);
          parent.insertBefore(c, cells[0] || before);
          cells.unshift(c);
        }
      }
    };
    slide(this.idxCells, this.idxEl, null, (i) => {
      const c = document.createElement('span');
      c.className = 'ix';
      c.textContent = String(i);
      return c;
    });
    for (const row of this.rows.values()) slide(row.cells, row.cellsEl, row.trunc, newCell);
    this.lo = lo;
  }

  /** build lays out the table for these brokers and index columns. */
  build(nodes, lo, cols, shape) {
    this.shape = shape;
    this.lo = lo;
    this.cols = cols;
    this.rows = new Map();
    const grid = document.createElement('div');
    grid.className = 'log-grid';
    grid.style.setProperty('--cols', cols);
    const idxHead = document.createElement('div');
    idxHead.className = 'log-head idx-head';
    idxHead.textContent = t('index');
    const idx = document.createElement('div');
    idx.className = 'cells idx';
    this.idxEl = idx;
    this.idxCells = [];
    for (let c = 0; c < cols; c++) {
      const s = document.createElement('span');
      s.className = 'ix';
      s.textContent = String(lo + c);
      idx.appendChild(s);
      this.idxCells.push(s);
    }
    grid.append(idxHead, idx);
    for (const n of nodes) {
      const head = document.createElement('div');
      head.className = 'log-head';
      head.dataset.logNode = n.id;
      const cellsEl = document.createElement('div');
      cellsEl.className = 'cells';
      cellsEl.dataset.logNode = n.id;
      const cells = [];
      for (let c = 0; c < cols; c++) {
        const s = document.createElement('span');
        s.className = 'e empty';
        s.dataset.index = String(lo + c);
        s.desc = '';
        cells.push(s);
        cellsEl.appendChild(s);
      }
      const trunc = document.createElement('div');
      trunc.className = 'trunc-row';
      trunc.hidden = true;
      cellsEl.appendChild(trunc);
      const segs = document.createElement('div');
      segs.className = 'segs';
      grid.append(head, cellsEl, segs);
      this.rows.set(n.id, { head, headHTML: '', cellsEl, cells, trunc, truncHTML: '', segs, segsHTML: '' });
    }
    this.logEl.replaceChildren(grid);
  }

  segments(n) {
    const all = n.segments || [];
    if (!all.length) return '';
    const segs = all.slice(-MAX_SEGS);
    const more = all.length > segs.length ? '<span class="seg-more">CommitLog: ' + all.length + ' segments …</span>' : '<span class="seg-more">CommitLog:</span>';
    return more + segs.map((s) => {
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
    // Offsets a consumer group got again (at least once), by topic.
    const again = new Map();
    for (const c of (frame.clients && frame.clients.consumers) || []) {
      for (const o of c.redone || []) again.set(c.topic + '@' + o, c.group);
    }
    const parts = ['<table class="qtable"><thead><tr><th></th>'];
    for (const name of topics) parts.push('<th>' + esc(name) + '</th>');
    parts.push('</tr></thead><tbody>');
    for (const n of frame.nodes) {
      parts.push('<tr data-queue-node="' + n.id + '"><th>' + esc(t('broker', { id: n.id })) + '</th>');
      for (const name of topics) {
        const q = (n.topics || []).find((x) => x.name === name);
        if (!q) { parts.push('<td class="muted">–</td>'); continue; }
        const recs = (q.recent || []).slice(-6).map((r) => {
          const g = again.get(name + '@' + r.queueOffset);
          return '<span class="qrec' + (g ? ' redone' : '') + '" title="' + esc(t('qRecord', { off: r.queueOffset, index: r.index, term: r.term, pos: r.pos, size: r.size })
            + (g ? ' · ' + t('qAgain', { group: g }) : '')) + '" style="--tc:' + termColor(r.term) + '">'
            + r.queueOffset + '→#' + r.index + '</span>';
        }).join('');
        parts.push('<td data-topic="' + esc(name) + '" data-len="' + q.len + '"><span class="qlen">' + esc(t(q.len === 1 ? 'queueLen1' : 'queueLen', { len: q.len })) + '</span> ' + recs + '</td>');
      }
      parts.push('</tr>');
    }
    parts.push('</tbody></table>');
    const html = parts.join('');
    if (html !== this.queueHTML) { this.queueHTML = html; this.queueEl.innerHTML = html; }
  }
}
