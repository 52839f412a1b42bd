// Cluster view: the brokers as an SVG drawing. Role is shown by shape as
// well as colour (Leader 主 hexagon, Follower 从 circle, Candidate 候选者
// diamond); the ring around a broker is its election timer; messages in
// flight move along the links, coloured by kind; a partition draws its
// groups as boxes. State comes only from ClusterView frames.

import { t, roleText, stateText } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 430;
const RING_R = 40;
const RING_C = 2 * Math.PI * RING_R;
const DROP_SHOW_MS = 900; // real time a dropped message stays visible

// With prefers-reduced-motion: reduce nothing moves by itself: a message
// in flight is drawn standing on its link, a third of the way from its
// sender (its lane tells the direction), until it is delivered; brokers
// jump to new places; a dropped message's cross shows, then goes, without
// fading. The state (who holds what, what is in flight) is the same.
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
const STILL_AT = 0.33;

const GLYPH = { leader: '主', follower: '从', candidate: '候', 'pre-candidate': '候' };

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function shapePath(role) {
  switch (role) {
    case 'leader': { // hexagon
      const r = 33;
      const pts = [];
      for (let i = 0; i < 6; i++) {
        const a = Math.PI / 6 + i * Math.PI / 3;
        pts.push((r * Math.cos(a)).toFixed(1) + ',' + (r * Math.sin(a)).toFixed(1));
      }
      return 'M' + pts.join('L') + 'Z';
    }
    case 'candidate':
    case 'pre-candidate':
      return 'M0,-35L35,0L0,35L-35,0Z';
    default: // circle of radius 28
      return 'M-28,0a28,28 0 1,0 56,0a28,28 0 1,0 -56,0Z';
  }
}

/** msgClass maps a message type onto the three kinds the legend shows. */
export function msgClass(type) {
  switch (type) {
    case 'vote': case 'pre-vote': return 'm-vote';
    case 'vote-resp': case 'pre-vote-resp': return 'm-vote-resp';
    case 'push': return 'm-push';
    case 'heartbeat': return 'm-heartbeat';
    case 'push-resp': case 'heartbeat-resp': case 'snapshot-resp': return 'm-ack';
    case 'snapshot': return 'm-snapshot';
    default: return 'm-other';
  }
}

export class ClusterView {
  constructor(svg, { onSelect, onLink } = {}) {
    this.svg = svg;
    this.onSelect = onSelect || (() => {});
    this.onLink = onLink || (() => {});
    // Only the brokers (buttons) are for screen readers: the messages in
    // flight, the links and the group boxes are the raw event stream (the
    // Network card and the live region say what matters).
    const quiet = { 'aria-hidden': 'true' };
    this.gGroups = el('g', { class: 'groups-layer', ...quiet }, svg);
    this.gLinks = el('g', { class: 'links-layer', ...quiet }, svg);
    this.gMsgs = el('g', { class: 'msgs-layer', ...quiet }, svg);
    this.gNodes = el('g', { class: 'nodes-layer' }, svg);
    this.gDrops = el('g', { class: 'drops-layer', ...quiet }, svg);
    this.nodes = new Map(); // id → {g, parts, pos, target}
    this.links = new Map(); // "a-b" → {line, hit}
    this.msgs = new Map(); // message id → element
    this.drops = new Map(); // message id → {g, born}
    this.layoutKey = '';
    this.groupRects = [];
    this.frame = null;
    this.selected = 0;
    this.moving = false;
    this.scale = 1;
    this.compact = false;
    // A window resized across the narrow width (a phone turned, a desktop
    // window made small) crops or widens the drawing again and refits its
    // labels (layout decides both, and otherwise runs only when the
    // brokers or their groups change).
    window.addEventListener('resize', () => {
      const narrow = this.svg.clientWidth > 0 && this.svg.clientWidth < 600;
      if (narrow === this.narrow) { this.fitText(); return; }
      this.layoutKey = '';
      if (this.frame) this.update(this.frame, this.selected);
    });
  }

  /** update draws a new frame. */
  update(frame, selected) {
    this.frame = frame;
    this.selected = selected;
    this.ensureNodes(frame.nodes);
    this.layout(frame);
    this.updateNodes(frame);
    this.updateLinks(frame);
    this.updateGroups(frame);
    this.draw(true);
  }

  /** animate moves brokers toward their places and fades drops; it
   * returns whether more animation frames are needed. */
  animate() {
    if (!this.frame) return false;
    if (this.moving || this.drops.size > 0) this.draw(false);
    return this.moving || this.drops.size > 0;
  }

  /** placeLabels spaces a broker's name, term and votes for the text size. */
  placeLabels(parts) {
    const b = this.boost || 1;
    const label = 46 + 12 * b;
    const term = label + 15 * b;
    parts.label.setAttribute('y', label.toFixed(1));
    parts.term.setAttribute('y', term.toFixed(1));
    parts.votes.setAttribute('transform', 'translate(0,' + (term + 11 * b).toFixed(1) + ')');
  }

  /**
   * fitText makes every label at least 11 CSS px however small the drawing
   * is shown (a phone): --boost scales the text sizes in style.css.
   */
  fitText() {
    const vb = this.svg.viewBox.baseVal;
    if (!vb || !vb.width || !this.svg.clientWidth) return;
    const scale = Math.min(this.svg.clientWidth / vb.width, this.svg.clientHeight / vb.height);
    const boost = Math.ceil(Math.max(1, 11 / (12 * scale)) * 100) / 100;
    if (boost === this.boost) return;
    this.boost = boost;
    this.svg.style.setProperty('--boost', String(boost));
    this.svg.classList.toggle('small-text', boost > 1);
    for (const n of this.nodes.values()) this.placeLabels(n.parts);
  }

  ensureNodes(nodes) {
    const ids = new Set(nodes.map((n) => n.id));
    for (const [id, n] of this.nodes) {
      if (!ids.has(id)) { n.g.remove(); this.nodes.delete(id); }
    }
    for (const n of nodes) {
      if (this.nodes.has(n.id)) continue;
      const g = el('g', { class: 'broker', 'data-node-id': n.id, tabindex: '0', role: 'button' }, this.gNodes);
      const parts = {
        sel: el('circle', { class: 'sel-ring', r: RING_R + 8 }, g),
        track: el('circle', { class: 'timer-track', r: RING_R }, g),
        ring: el('circle', { class: 'timer', r: RING_R, transform: 'rotate(-90)', 'stroke-dasharray': RING_C.toFixed(1) }, g),
        // The name and term come first: a broker's accessible name is the
        // text it shows, in this order (cluster.js updateNodes).
        label: el('text', { class: 'label', y: '58', 'text-anchor': 'middle' }, g),
        term: el('text', { class: 'term', y: '73', 'text-anchor': 'middle' }, g),
        shape: el('path', { class: 'shape' }, g),
        glyph: el('text', { class: 'glyph', y: '-9', 'text-anchor': 'middle' }, g),
        num: el('text', { class: 'num', y: '16', 'text-anchor': 'middle' }, g),
        cross: el('path', { class: 'cross', d: 'M-18,-18L18,18M18,-18L-18,18' }, g),
        pause: el('path', { class: 'pause-glyph', d: 'M-9,-12v24M9,-12v24' }, g),
        disk: el('circle', { class: 'disk', cx: '30', cy: '-30', r: '5' }, g),
        votes: el('g', { class: 'votes', transform: 'translate(0,84)' }, g),
        title: el('title', null, g),
      };
      // A space after each text (not drawn: text directly in a <g> is not
      // rendered), so the words shown read apart for assistive technology.
      for (const k of ['label', 'term', 'glyph', 'num']) parts[k].after(document.createTextNode(' '));
      g.addEventListener('click', () => this.onSelect(n.id));
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.onSelect(n.id); }
      });
      const start = { x: W / 2, y: H / 2 };
      this.nodes.set(n.id, { g, parts, pos: { ...start }, target: { ...start }, key: '' });
      this.placeLabels(parts);
    }
  }

  layout(frame) {
    const groups = frame.groups && frame.groups.length > 1 ? frame.groups : null;
    const key = frame.nodes.map((n) => n.id).join(',') + '|' + (groups ? JSON.stringify(groups) : '');
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    this.groupRects = [];
    const place = (ids, cx, cy, r, ry = r) => {
      const out = [];
      if (ids.length === 1) return [{ id: ids[0], x: cx, y: cy }];
      ids.forEach((id, i) => {
        const a = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
        out.push({ id, x: cx + r * Math.cos(a), y: cy + ry * Math.sin(a) });
      });
      return out;
    };
    // Many brokers: smaller shapes on a wide ellipse, so labels stay apart.
    this.scale = frame.nodes.length >= 6 ? 0.78 : frame.nodes.length >= 5 ? 0.9 : 1;
    this.compact = frame.nodes.length >= 5 || !!groups;
    let spots = [];
    if (!groups) {
      const ids = frame.nodes.map((n) => n.id);
      if (ids.length === 2) spots = place(ids, W / 2, H / 2 - 20, 150);
      else if (ids.length >= 5) spots = place(ids, W / 2, H / 2 - 22, 235, 138);
      else spots = place(ids, W / 2, H / 2 - 10, 140);
    } else {
      // Each group gets a column as wide as its share of the brokers.
      const weights = groups.map((ids) => ids.length + 1);
      const total = weights.reduce((a, b) => a + b, 0);
      let x0 = 0;
      groups.forEach((ids, gi) => {
        const colW = (W * weights[gi]) / total;
        const cx = x0 + colW / 2;
        x0 += colW;
        const rx = ids.length === 2 ? 0 : Math.max(40, colW / 2 - 80);
        const ry = ids.length === 2 ? 100 : 125;
        const s = place(ids, cx, H / 2 - 18, rx, ry);
        spots = spots.concat(s);
        const xs = s.map((p) => p.x);
        const ys = s.map((p) => p.y);
        this.groupRects.push({
          x: Math.max(4, Math.min(...xs) - 70), y: Math.max(4, Math.min(...ys) - 72),
          x2: Math.min(W - 4, Math.max(...xs) + 70), y2: Math.min(H - 4, Math.max(...ys) + 100),
          label: t('group', { g: String.fromCharCode(65 + gi) }),
        });
      });
    }
    // On a narrow screen the drawing is cropped to the brokers (and their
    // groups) so they stay readable; a wide one keeps the margins (where
    // the story's callout goes).
    const narrow = this.svg.clientWidth > 0 && this.svg.clientWidth < 600;
    this.narrow = narrow;
    if (narrow && spots.length) {
      const xs = spots.map((p) => p.x); const ys = spots.map((p) => p.y);
      let x0 = Math.min(...xs) - 100; let y0 = Math.max(0, Math.min(...ys) - 52);
      let x1 = Math.max(...xs) + 100; let y1 = Math.max(...ys) + 100;
      for (const r of this.groupRects) { x0 = Math.min(x0, r.x - 4); y0 = Math.min(y0, r.y - 4); x1 = Math.max(x1, r.x2 + 4); y1 = Math.max(y1, r.y2 + 4); }
      x0 = Math.max(0, x0); x1 = Math.min(W, x1);
      this.svg.setAttribute('viewBox', x0.toFixed(0) + ' ' + y0.toFixed(0) + ' ' + (x1 - x0).toFixed(0) + ' ' + (y1 - y0).toFixed(0));
    } else {
      this.svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    }
    this.fitText();
    for (const s of spots) {
      const n = this.nodes.get(s.id);
      if (!n) continue;
      n.target = { x: s.x, y: s.y };
      if (n.key === '') { n.pos = { x: s.x, y: s.y }; n.key = 'placed'; }
    }
    this.moving = true;
  }

  updateNodes(frame) {
    const byId = new Map(frame.nodes.map((n) => [n.id, n]));
    for (const n of frame.nodes) {
      const v = this.nodes.get(n.id);
      const p = v.parts;
      const down = n.state !== 'up';
      const role = n.state === 'crashed' || n.state === 'refused' ? 'follower' : n.role;
      const key = [n.role, n.state, n.term, n.busy, this.selected === n.id, this.compact, JSON.stringify(n.votes || null), n.vote, n.lead].join('|');
      const frac = n.election_timeout > 0 && n.role !== 'leader' && !down
        ? Math.min(1, n.election_elapsed / n.election_timeout) : 0;
      const off = (RING_C * (1 - frac)).toFixed(1);
      if (v.off !== off) { v.off = off; p.ring.setAttribute('stroke-dashoffset', off); }
      if (v.key === key) continue;
      v.key = key;
      const g = v.g;
      g.setAttribute('data-role', n.role);
      g.setAttribute('data-state', n.state);
      g.setAttribute('data-term', n.term);
      g.setAttribute('class', 'broker role-' + (n.role || 'none') + ' state-' + n.state + (this.selected === n.id ? ' selected' : '') + (n.busy ? ' busy' : ''));
      p.shape.setAttribute('d', shapePath(role));
      p.glyph.textContent = down ? '' : (GLYPH[n.role] || '');
      p.num.textContent = String(n.id);
      p.label.textContent = t('broker', { id: n.id }) + (down || this.compact ? '' : ' · ' + roleText(n.role).split(' ')[0]);
      // While no leader is known, a follower shows whom it voted for.
      const voted = !down && n.role === 'follower' && !n.lead && n.vote ? ' · ' + t('votedFor', { v: n.vote }) : '';
      p.term.textContent = (down ? stateText(n) : t('term', { t: n.term })) + voted;
      const state = stateText(n);
      p.title.textContent = t('broker', { id: n.id }) + ': ' + t('selInfo', {
        role: roleText(n.role), term: n.term, state, lead: n.lead ? t('broker', { id: n.lead }) : t('none'),
        last: n.last_index, commit: n.commit,
      });
      // The accessible name holds what the broker shows, in the order it is
      // drawn (WCAG 2.5.3, label in name), then the details in parentheses.
      const shown = [p.label.textContent, p.term.textContent, p.glyph.textContent, p.num.textContent].filter(Boolean).join(' · ');
      g.setAttribute('aria-label', shown + ' (' + p.title.textContent + ')');
      this.drawVotes(p.votes, n, byId);
    }
  }

  drawVotes(gv, n, byId) {
    while (gv.firstChild) gv.firstChild.remove();
    if (!n.votes || (n.role !== 'candidate' && n.role !== 'pre-candidate')) return;
    const peers = [...byId.keys()];
    const step = 13;
    const x0 = -((peers.length - 1) * step) / 2;
    peers.forEach((id, i) => {
      const v = n.votes[String(id)];
      const cls = v === true ? 'vote-yes' : v === false ? 'vote-no' : 'vote-none';
      const c = el('circle', { class: 'vote-dot ' + cls, cx: x0 + i * step, cy: 0, r: 4.5 }, gv);
      el('title', null, c).textContent = t('broker', { id }) + ': ' + (v === true ? '✓' : v === false ? '✗' : '…');
    });
  }

  updateLinks(frame) {
    const ids = frame.nodes.map((n) => n.id);
    const cut = new Set((frame.cuts || []).map((c) => c.from + '>' + c.to));
    const want = new Set();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = ids[i]; const b = ids[j];
        const k = a + '-' + b;
        want.add(k);
        let l = this.links.get(k);
        if (!l) {
          const g = el('g', { class: 'link', 'data-link': k }, this.gLinks);
          l = { g, line: el('line', { class: 'link-line' }, g), hit: el('line', { class: 'link-hit' }, g), a, b };
          el('title', null, l.hit).textContent = t('link') + ' ' + a + ' ↔ ' + b;
          l.hit.addEventListener('click', () => this.onLink(a, b));
          this.links.set(k, l);
          this.linksPlaced = false;
        }
        const ab = cut.has(a + '>' + b);
        const ba = cut.has(b + '>' + a);
        const cls = 'link' + (ab && ba ? ' cut' : ab || ba ? ' cut-one' : '');
        if (l.cls !== cls) { l.cls = cls; l.g.setAttribute('class', cls); }
      }
    }
    for (const [k, l] of this.links) if (!want.has(k)) { l.g.remove(); this.links.delete(k); }
  }

  updateGroups(frame) {
    const key = this.layoutKey;
    if (this.gGroups.dataset.key === key) return;
    this.gGroups.dataset.key = key;
    while (this.gGroups.firstChild) this.gGroups.firstChild.remove();
    for (const r of this.groupRects) {
      el('rect', { class: 'group-box', x: r.x, y: r.y, width: r.x2 - r.x, height: r.y2 - r.y, rx: 18 }, this.gGroups);
      el('text', { class: 'group-label', x: r.x + 10, y: r.y + 16 }, this.gGroups).textContent = r.label;
    }
  }

  /** draw places brokers, links, messages and drops (every animation frame
   * while something moves; on every new frame). */
  draw(withMessages) {
    let moving = false;
    const still = reducedMotion.matches;
    for (const v of this.nodes.values()) {
      const dx = v.target.x - v.pos.x;
      const dy = v.target.y - v.pos.y;
      if (!still && (Math.abs(dx) > 0.5 || Math.abs(dy) > 0.5)) {
        v.pos.x += dx * 0.18; v.pos.y += dy * 0.18; moving = true;
      } else { v.pos.x = v.target.x; v.pos.y = v.target.y; }
      const tr = 'translate(' + v.pos.x.toFixed(1) + ',' + v.pos.y.toFixed(1) + ')' + (this.scale !== 1 ? ' scale(' + this.scale + ')' : '');
      if (v.tr !== tr) { v.tr = tr; v.g.setAttribute('transform', tr); }
    }
    const placeLinks = moving || this.moving || !this.linksPlaced;
    this.moving = moving;
    this.linksPlaced = true;
    if (placeLinks) for (const l of this.links.values()) {
      const pa = this.nodes.get(l.a).pos; const pb = this.nodes.get(l.b).pos;
      for (const line of [l.line, l.hit]) {
        line.setAttribute('x1', pa.x.toFixed(1)); line.setAttribute('y1', pa.y.toFixed(1));
        line.setAttribute('x2', pb.x.toFixed(1)); line.setAttribute('y2', pb.y.toFixed(1));
      }
    }
    if (withMessages || moving) this.drawMessages();
    this.drawDrops();
  }

  where(m, now) {
    const a = this.nodes.get(m.from); const b = this.nodes.get(m.to);
    if (!a || !b) return null;
    const span = Math.max(1, m.deliver_ms - m.sent_ms);
    let f = (now - m.sent_ms) / span;
    f = reducedMotion.matches ? STILL_AT : Math.max(0, Math.min(1, f));
    // Start and end at the shapes' edges, in a lane per direction.
    const dx = b.pos.x - a.pos.x; const dy = b.pos.y - a.pos.y;
    const len = Math.hypot(dx, dy) || 1;
    const ux = dx / len; const uy = dy / len;
    const lane = m.from < m.to ? 6 : -6;
    const edge = 44 * this.scale;
    const usable = Math.max(0, len - 2 * edge);
    const d = edge + usable * f;
    return { x: a.pos.x + ux * d - uy * lane, y: a.pos.y + uy * d + ux * lane };
  }

  drawMessages() {
    const frame = this.frame;
    const now = frame.time_ms;
    const seen = new Set();
    for (const m of frame.messages || []) {
      if (m.dropped) {
        if (!this.drops.has(m.id)) {
          const p = this.where(m, Math.min(now, (m.sent_ms + m.deliver_ms) / 2));
          if (p) {
            const g = el('g', { class: 'drop ' + msgClass(m.type), transform: 'translate(' + p.x.toFixed(1) + ',' + p.y.toFixed(1) + ')' }, this.gDrops);
            el('path', { d: 'M-6,-6L6,6M6,-6L-6,6' }, g);
            el('title', null, g).textContent = t('msgDrop') + ': ' + m.summary;
            this.drops.set(m.id, { g, born: performance.now() });
          }
        }
        continue;
      }
      seen.add(m.id);
      let e = this.msgs.get(m.id);
      if (!e) {
        const cls = msgClass(m.type);
        e = el('g', { class: 'msg ' + cls + (m.reject ? ' reject' : ''), 'data-type': m.type, 'data-msg-id': m.id }, this.gMsgs);
        if (cls === 'm-snapshot') {
          el('path', { d: 'M-7,-8h9l5,5v11h-14z' }, e); // a page: the snapshot's data in chunks
        } else if (cls === 'm-push') {
          el('rect', { x: -8, y: -6, width: 16, height: 12, rx: 2 }, e);
          if (m.entries) el('text', { y: 3.5, 'text-anchor': 'middle' }, e).textContent = String(m.entries);
        } else if (cls === 'm-vote') {
          el('path', { d: 'M0,-7L7,0L0,7L-7,0Z' }, e);
        } else {
          el('circle', { r: cls === 'm-heartbeat' ? 4.5 : 4 }, e);
        }
        el('title', null, e).textContent = m.summary;
        this.msgs.set(m.id, e);
      }
      const p = this.where(m, now);
      if (p) e.setAttribute('transform', 'translate(' + p.x.toFixed(1) + ',' + p.y.toFixed(1) + ')');
    }
    for (const [id, e] of this.msgs) if (!seen.has(id)) { e.remove(); this.msgs.delete(id); }
  }

  drawDrops() {
    const now = performance.now();
    for (const [id, d] of this.drops) {
      const age = now - d.born;
      if (age > DROP_SHOW_MS) { d.g.remove(); this.drops.delete(id); continue; }
      if (!reducedMotion.matches) d.g.setAttribute('opacity', (1 - age / DROP_SHOW_MS).toFixed(2));
    }
  }

  /** clear forgets drawn messages (after a rewind, ids may repeat). */
  clearMessages() {
    for (const e of this.msgs.values()) e.remove();
    this.msgs.clear();
    for (const d of this.drops.values()) d.g.remove();
    this.drops.clear();
  }

  /** relabel rewrites texts after a language switch. */
  relabel() {
    for (const v of this.nodes.values()) v.key = '';
    this.layoutKey = '';
    this.gGroups.dataset.key = '';
    if (this.frame) this.update(this.frame, this.selected);
  }
}
