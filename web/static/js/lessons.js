// Lesson panel: the guided mode. The lessons menu lists GET /lessons.json;
// opening one starts a run with the lesson's cluster in the engine, which
// plays it with guide.Session (wasm/main.go). Every frame then carries
// frame.lesson (step, played, slow, checks with ok/failed/why, names); this
// panel narrates the step, ticks its checks, and offers Next / Back, the
// "try it yourself" goal with its "Show me", and the quiz. Each step starts
// paused: the panel stops time when it shows a step, and the step happens
// when the learner presses its Play button (or the page's Play, Space);
// the engine then plays the moments the step is about in slow motion. The texts come from the lesson in
// both languages; the panel's own words come from i18n.js.
//
// Pages: 0..steps-1 are the steps, steps is the goal (the engine's last
// step), steps+1 is the quiz (page only; the engine stays at the goal).

import { t, currentLang } from './i18n.js';

const $ = (sel) => document.querySelector(sel);

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

/** tx picks a lesson text ({en, zh}) in the page's language. */
function tx(text) {
  if (!text) return '';
  return (currentLang() === 'zh' ? text.zh : text.en) || text.en || text.zh || '';
}

const CJK = /[\u3000-\u9fff\uff00-\uffef]/;

const ITEM = /^(?:(\d+)[.)）]|[-*•])\s+/;

const CJK_PUNCT = /[\u3000-\u303f\uff00-\uffef“”‘’]/;

/** joinLines joins hard-wrapped lines: Chinese joins Chinese (or
 * punctuation) without a space, and a Latin word or number next to Chinese
 * keeps one, as the texts write it inside a line ("三台 Broker"). */
function joinLines(lines) {
  let out = lines[0] || '';
  for (const l of lines.slice(1)) {
    const a = out.slice(-1), b = l[0];
    const tight = (CJK.test(a) && CJK.test(b)) || CJK_PUNCT.test(a) || CJK_PUNCT.test(b);
    out += (tight ? '' : ' ') + l;
  }
  return out;
}

/** paras turns a YAML block (hard-wrapped lines, blank-line paragraphs)
 * into HTML: paragraphs, and numbered ("1. ") or bulleted ("- ") lists
 * whose items may wrap over several lines. */
function paras(s) {
  return String(s || '').trim().split(/\n\s*\n/).map((p) => {
    const lines = p.split('\n').map((l) => l.trim()).filter(Boolean);
    const out = [];
    let text = []; // lines of the paragraph being read
    let list = null; // {ordered, start, items: [[line…]…]}
    const flushText = () => { if (text.length) out.push('<p>' + esc(joinLines(text)) + '</p>'); text = []; };
    const flushList = () => {
      if (!list) return;
      const tag = list.ordered ? 'ol' : 'ul';
      out.push('<' + tag + (list.ordered && list.start !== 1 ? ' start="' + list.start + '"' : '') + '>'
        + list.items.map((it) => '<li>' + esc(joinLines(it)) + '</li>').join('') + '</' + tag + '>');
      list = null;
    };
    for (const l of lines) {
      const m = ITEM.exec(l);
      if (m) {
        flushText();
        const ordered = m[1] !== undefined;
        if (list && list.ordered !== ordered) flushList();
        if (!list) list = { ordered, start: ordered ? Number(m[1]) : 1, items: [] };
        list.items.push([l.slice(m[0].length)]);
      } else if (list) {
        list.items[list.items.length - 1].push(l);
      } else {
        text.push(l);
      }
    }
    flushText();
    flushList();
    return out.join('');
  }).join('');
}

export class LessonPanel {
  /** app is the playground (main.js); live is true in the real-cluster mode. */
  constructor(app, { live = false } = {}) {
    this.app = app;
    this.live = live;
    this.list = null; // lessons from /lessons.json, or null until loaded
    this.loadError = '';
    this.lesson = null; // the lesson being played
    this.state = null; // the latest frame.lesson
    this.page = 0;
    this.solving = false;
    this.answers = new Map(); // question index → chosen choice
    this.key = ''; // the lesson state last drawn
    this.pageKey = ''; // the page last drawn

    this.root = $('#lesson');
    this.menu = $('#lessons-menu');
    document.addEventListener('click', (e) => this.click(e));
    document.addEventListener('keydown', (e) => this.key_(e));
    // The menu gives the focus back to what opened it; when that is gone
    // (a finished lesson's button), to the Lessons button.
    this.menu.addEventListener('close', () => {
      const f = document.activeElement;
      if (!f || f === document.body || !f.isConnected) $('[data-action="lessons"]').focus();
    });
    if (!live) this.load();
  }

  // --- the menu ---

  async load() {
    try {
      const resp = await fetch('lessons.json', { cache: 'no-cache' });
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      const body = await resp.json();
      // DLedger mode's lessons, then Controller mode's (mode "controller").
      this.list = (body.lessons || []).slice().sort((a, b) => a.order - b.order)
        .concat((body.controller_lessons || []).slice().sort((a, b) => a.order - b.order));
      this.loadError = body.error || '';
    } catch (err) {
      this.list = [];
      this.loadError = String(err && err.message || err);
    }
    this.drawMenu();
  }

  openMenu() {
    this.drawMenu();
    if (!this.menu.open) this.menu.showModal();
    const first = this.menu.querySelector('[data-action="open-lesson"]') || this.menu.querySelector('[data-action="close-lessons"]');
    if (first) first.focus();
  }

  drawMenu() {
    const box = $('#lessons-list');
    const err = $('#lessons-error');
    err.hidden = !this.loadError;
    err.textContent = this.loadError ? t('lessonsError', { err: this.loadError }) : '';
    if (this.list === null) { box.innerHTML = '<li class="muted">' + esc(t('lessonsLoading')) + '</li>'; return; }
    if (!this.list.length) { box.innerHTML = this.loadError ? '' : '<li class="muted">' + esc(t('noLessons')) + '</li>'; return; }
    const item = (l) => '<li><button type="button" class="lesson-item" data-action="open-lesson" data-lesson="' + esc(l.id) + '"' + (l.mode ? ' data-mode="' + esc(l.mode) + '"' : '') + '>'
      + '<span class="lesson-no">' + esc((l.mode === 'controller' ? 'C' : '') + String(l.order).padStart(2, '0')) + '</span>'
      + '<span class="lesson-name">' + esc(tx(l.title)) + '</span>'
      + '</button></li>';
    const dl = this.list.filter((l) => l.mode !== 'controller');
    const ctl = this.list.filter((l) => l.mode === 'controller');
    box.innerHTML = dl.map(item).join('')
      + (ctl.length ? '<li class="lessons-group"><h3>' + esc(t('ctlLessons')) + '</h3></li>' + ctl.map(item).join('') : '');
  }

  // --- starting and leaving ---

  start(id) {
    const l = (this.list || []).find((x) => x.id === id);
    if (!l) return;
    if (this.menu.open) this.menu.close();
    this.app.startLesson(l);
  }

  /** onStarted: the engine runs lesson l from the frame it answered. */
  onStarted(l, frame) {
    this.lesson = l;
    this.page = 0;
    this.solving = false;
    this.answers = new Map();
    this.saidKey = ''; // a lesson opened again is said again
    this.state = frame.lesson || null;
    this.root.hidden = false;
    document.documentElement.classList.add('in-lesson');
    this.draw(true);
    const h = this.root.querySelector('#lesson-title');
    if (h) h.focus();
  }

  /** end leaves the guided mode (the run goes on as a playground). */
  end() {
    if (!this.lesson) return;
    this.lesson = null;
    this.state = null;
    this.root.hidden = true;
    this.root.innerHTML = '';
    this.key = '';
    this.pageKey = '';
    document.documentElement.classList.remove('in-lesson');
  }

  get active() { return !!this.lesson; }

  // --- moving between pages ---

  get steps() { return this.lesson ? this.lesson.steps.length : 0; }

  goto(page) {
    if (!this.lesson) return;
    const last = this.lesson.quiz && this.lesson.quiz.length ? this.steps + 1 : this.steps;
    page = Math.max(0, Math.min(page, last));
    if (page === this.page) return;
    const prev = this.page;
    this.page = page;
    const enginePage = Math.min(page, this.steps);
    if (enginePage !== Math.min(prev, this.steps)) {
      this.solving = false;
      this.state = null; // until the engine answers for the new step
      this.app.setPlaying(false); // each step starts paused
      this.app.lessonCall('lessonGoto', enginePage);
    }
    this.draw(true);
  }

  next() { this.goto(this.page + 1); }

  /** play lets the shown step (or the goal's time) run. */
  play() {
    if (!this.lesson || this.page > this.steps) return;
    this.app.lessonCall('lessonPlay');
    if (!this.app.playing) this.app.setPlaying(true);
    // On a small screen the panel and the picture do not fit together:
    // bring the picture into view, where the step happens.
    const pic = document.querySelector(this.app.mode === 'controller' ? '#ctl-stage' : '#cluster');
    if (pic) {
      const r = pic.getBoundingClientRect();
      if (r.top < 0 || r.top > innerHeight / 2) pic.scrollIntoView({ block: 'start' });
    }
  }

  back() { this.goto(this.page - 1); }

  showMe() {
    if (!this.lesson || this.page !== this.steps || this.solving) return;
    this.solving = true;
    if (!this.app.playing) this.app.setPlaying(true);
    this.app.lessonCall('lessonShowSolution');
    this.draw(true);
  }

  answer(q, choice) {
    if (this.answers.has(q)) return;
    this.answers.set(q, choice);
    this.draw(true);
    const why = this.root.querySelector('[data-question="' + q + '"] .quiz-why');
    if (why) why.focus();
  }

  finish() {
    this.app.lessonCall('lessonStop');
    this.end();
    this.openMenu();
  }

  // --- events ---

  click(e) {
    const b = e.target.closest('[data-action]');
    if (!b) return;
    switch (b.dataset.action) {
      case 'lessons': this.openMenu(); break;
      case 'close-lessons': this.menu.close(); break;
      case 'open-lesson': this.start(b.dataset.lesson); break;
      case 'lesson-next': this.next(); break;
      case 'lesson-play': this.play(); break;
      case 'lesson-back': this.back(); break;
      case 'lesson-show-me': this.showMe(); break;
      case 'lesson-answer': this.answer(Number(b.dataset.question), Number(b.dataset.choice)); break;
      case 'lesson-close':
        this.app.lessonCall('lessonStop');
        this.end();
        $('[data-action="lessons"]').focus(); // where the lesson was opened from
        break;
      case 'lesson-finish': this.finish(); break;
    }
  }

  /** n / b move through a lesson (when no form field has the focus). */
  key_(e) {
    if (!this.lesson || e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = (e.target.tagName || '').toLowerCase();
    if (tag === 'input' || tag === 'select' || tag === 'textarea' || document.querySelector('dialog[open]')) return;
    if (e.key === 'n') { e.preventDefault(); this.next(); }
    if (e.key === 'b') { e.preventDefault(); this.back(); }
  }

  // --- drawing ---

  /** update follows each frame; only a change of the lesson's state redraws. */
  update(frame) {
    if (!this.lesson || !frame.lesson || frame.lesson.id !== this.lesson.id) return;
    if (frame.lesson.step !== Math.min(this.page, this.steps)) return; // an answer for the previous step
    this.state = frame.lesson;
    this.draw(false);
  }

  relabel() {
    this.drawMenu();
    if (this.lesson) this.draw(true);
  }

  /** draw renders the page (on a new page, language or answer); the
   * lesson's state alone only refreshes the parts that follow it, so a
   * button is never replaced under the learner's pointer. */
  draw(force) {
    const l = this.lesson;
    if (!l) return;
    const pageKey = JSON.stringify([currentLang(), this.page, this.solving, [...this.answers]]);
    if (force || pageKey !== this.pageKey) {
      this.pageKey = pageKey;
      this.key = '';
      this.drawPage();
    }
    this.drawState();
  }

  drawPage() {
    const l = this.lesson;
    const onGoal = this.page === this.steps;
    const onQuiz = this.page > this.steps;
    const kind = onQuiz ? 'quiz' : onGoal ? 'goal' : 'step';
    const fe = document.activeElement;
    const focused = fe && fe !== this.root && this.root.contains(fe) && fe.dataset.action
      ? '[data-action="' + fe.dataset.action + '"]' + (fe.dataset.question ? '[data-question="' + fe.dataset.question + '"][data-choice="' + fe.dataset.choice + '"]' : '')
      : '';
    const parts = [];
    parts.push('<div class="lesson-head"><h2 id="lesson-title" tabindex="-1">' + esc(tx(l.title)) + '</h2>'
      + '<button type="button" class="lesson-x" data-action="lesson-close" title="' + esc(t('leaveLesson')) + '" aria-label="' + esc(t('leaveLesson')) + '">×</button></div>');
    parts.push('<p class="lesson-progress small muted">' + esc(onQuiz ? t('quizProgress', { n: (l.quiz || []).length }) : onGoal ? t('goalProgress', { n: this.steps }) : t('stepOf', { i: this.page + 1, n: this.steps }))
      + '<span class="lesson-slow" style="color: #6d28d9; font-weight: 600" title="' + esc(t('lessonSlowTitle')) + '" hidden> · ' + esc(t('lessonSlow')) + '</span>'
      + '<span class="lesson-wait"></span></p>');
    if (this.page === 0) parts.push('<div class="lesson-intro">' + paras(tx(l.intro)) + '</div>');
    else parts.push('<details class="lesson-intro-more small"><summary>' + esc(t('aboutLesson')) + '</summary>' + paras(tx(l.intro)) + '</details>');

    if (kind === 'step') {
      const s = l.steps[this.page];
      parts.push('<div class="lesson-say">' + paras(tx(s.say)) + '</div>');
      parts.push(this.playRow(t('lessonPlay'), t('lessonPaused')));
      if (s.do && s.do.length) parts.push(this.lines(t('pageDoes'), s.do));
    } else if (kind === 'goal') {
      parts.push('<h3 class="goal-title">' + esc(t('goalTitle')) + '</h3>');
      parts.push('<div class="lesson-say">' + paras(tx(l.goal.say)) + '</div>');
      parts.push('<p class="small muted">' + esc(t('goalHint')) + '</p>');
      if (!this.solving) parts.push(this.playRow(t('lessonPlayGoal'), t('lessonPausedGoal')));
      if (this.solving) parts.push(this.lines(t('showingSolution'), l.goal.solution || []));
      else parts.push('<div class="btn-row show-me"><button type="button" data-action="lesson-show-me">' + esc(t('showMe')) + '</button></div>');
    } else {
      parts.push(this.quiz(l.quiz || []));
    }
    if (kind !== 'quiz') parts.push('<div class="lesson-checks"></div><p class="lesson-names small muted" hidden></p><p class="lesson-done" role="status" hidden></p>');

    const last = onQuiz || (onGoal && !(l.quiz && l.quiz.length));
    parts.push('<div class="lesson-nav">'
      + '<button type="button" data-action="lesson-back"' + (this.page === 0 ? ' disabled' : '') + '>← ' + esc(t('back')) + '</button>'
      + (last ? '<button type="button" data-action="lesson-finish" class="primary">' + esc(t('finishLesson')) + '</button>'
        : '<button type="button" data-action="lesson-next">' + esc(onGoal ? t('toQuiz') : t('next')) + ' →</button>')
      + '<span class="small muted lesson-keys">' + esc(t('lessonKeys')) + '</span></div>');

    this.root.innerHTML = parts.join('');
    this.root.dataset.lessonId = l.id;
    this.root.dataset.page = kind;
    this.root.dataset.step = String(this.page);
    // A screen reader hears the step's (or the goal's) text once, in the
    // page's language; the checks and the done banner follow on screen.
    const sayKey = l.id + '|' + this.page + '|' + currentLang();
    const say = this.root.querySelector('.lesson-say');
    if (say && sayKey !== this.saidKey) {
      this.saidKey = sayKey;
      const progress = this.root.querySelector('.lesson-progress');
      const head = progress ? progress.firstChild.textContent : '';
      this.app.announcer.say(head + (currentLang() === 'zh' ? '。' : '. ') + say.textContent.replace(/\s+/g, ' ').trim(), 'lesson');
    }
    if (focused) {
      // Moving on with the keyboard lands on the new step's Play button:
      // Enter plays the step, Enter again goes on.
      const play = /lesson-(next|back)/.test(focused) && this.root.querySelector('[data-action="lesson-play"]');
      const again = play || this.root.querySelector(focused + ':not(:disabled)');
      if (again) again.focus();
    }
  }

  /** drawState shows where the lesson stands: the checks, the done
   * banner, what the page waits for. */
  drawState() {
    const st = this.state;
    const key = JSON.stringify(st);
    if (key === this.key) return;
    this.key = key;
    const onGoal = this.page === this.steps;
    const onQuiz = this.page > this.steps;
    const done = !onQuiz && !!(st && st.done && st.step === Math.min(this.page, this.steps));
    // A step that has shown what it is about stops time, so the cluster
    // the next step starts from is the one the learner is looking at.
    if (done && this.root.dataset.done !== 'true' && !onGoal && this.app.playing) this.app.setPlaying(false);
    this.root.dataset.done = String(done);
    const wait = this.root.querySelector('.lesson-wait');
    if (wait) {
      const err = st && st.error && !onQuiz ? tx(st.error) : '';
      wait.textContent = err ? ' · ' + t('lessonWaiting', { err }) : '';
      wait.title = err;
    }
    const checks = this.root.querySelector('.lesson-checks');
    if (checks) checks.innerHTML = this.checks(st, onGoal ? t('goalChecks') : t('checksTitle'));
    const banner = this.root.querySelector('.lesson-done');
    if (banner) {
      banner.hidden = !done;
      banner.textContent = !done ? '' : onGoal ? t('goalReached') : this.page + 1 < this.steps ? t('stepDone') : t('stepsDone');
    }
    const showMe = this.root.querySelector('.show-me');
    if (showMe) showMe.hidden = done;
    // Until the step is played, its Play button; then the slow-motion mark.
    const played = !!(st && st.played && st.step === Math.min(this.page, this.steps));
    this.root.dataset.played = String(played);
    const playRow = this.root.querySelector('.lesson-play');
    if (playRow) {
      const hadFocus = playRow.contains(document.activeElement);
      playRow.hidden = played || (onGoal && this.solving);
      const next = this.root.querySelector('[data-action="lesson-next"], [data-action="lesson-finish"]');
      if (playRow.hidden && hadFocus && next) next.focus({ preventScroll: true }); // the picture stays in view
    }
    const slow = this.root.querySelector('.lesson-slow');
    if (slow) slow.hidden = !(st && st.slow && played);
    const names = this.root.querySelector('.lesson-names');
    if (names) {
      const ns = (st && st.names) || [];
      names.hidden = !ns.length;
      names.textContent = ns.length ? t('lessonNames') + ' ' + ns.map((n) => n.broker
        ? t('nameBroker', { name: n.name, id: n.broker }) : t('nameTerm', { name: n.name, term: n.term || 0 })).join(' · ') : '';
    }
    const next = this.root.querySelector('[data-action="lesson-next"]');
    if (next) next.classList.toggle('primary', done);
  }

  /** playRow is the Play button of a paused step, with what it does. */
  playRow(label, hint) {
    return '<div class="btn-row lesson-play"><button type="button" class="primary" data-action="lesson-play">▶ ' + esc(label) + '</button>'
      + '<span class="small muted">' + esc(hint) + '</span></div>';
  }

  /** lines lists what the page does, each line said in the learner's
   * language (its label), the lesson file's line as its tooltip. */
  lines(title, lines) {
    return '<div class="lesson-do small"><span class="muted">' + esc(title) + '</span> '
      + lines.map((x) => '<span class="do-line" title="' + esc(x.text) + '">' + esc(tx(x.label) || x.text) + '</span>').join(' ') + '</div>';
  }

  checks(st, title) {
    // Until the engine answers for the page, its checks as the lesson
    // states them, all pending: the same rows, so nothing below them moves
    // when the answer comes.
    const cs = st ? st.checks || [] : this.expected().map((l) => ({ text: l.text, label: l.label }));
    if (!cs.length) return '';
    const items = cs.map((c) => {
      const state = c.ok ? 'ok' : c.failed ? 'failed' : 'pending';
      const mark = c.ok ? '✓' : c.failed ? '✗' : '…';
      const label = t('check_' + state);
      return '<li class="check ' + state + '" data-check-state="' + state + '"><span class="check-mark" aria-hidden="true">' + mark + '</span>'
        + '<span class="check-text"><span class="check-label" title="' + esc(c.text) + '">' + esc(tx(c.label) || c.text) + '</span><span class="sr-only"> — ' + esc(label) + '</span>'
        + (!c.ok && tx(c.why) ? '<span class="check-why" title="' + esc(tx(c.why)) + '">' + esc((c.failed ? t('checkFailedWhy') : t('checkWhy')) + ' ' + tx(c.why)) + '</span>' : '')
        + '</span></li>';
    }).join('');
    const failed = cs.some((c) => c.failed);
    return '<h3>' + esc(title) + '</h3><ul class="checks">' + items + '</ul>'
      + (failed ? '<p class="small muted">' + esc(t('checkFailedHint')) + '</p>' : '');
  }

  /** expected returns the shown page's expect lines (a step's or the goal's). */
  expected() {
    const l = this.lesson;
    if (!l || this.page > this.steps) return [];
    const from = this.page === this.steps ? l.goal : l.steps[this.page];
    return (from && from.expect) || [];
  }

  quiz(qs) {
    return qs.map((q, qi) => {
      const chosen = this.answers.has(qi) ? this.answers.get(qi) : -1;
      const answered = chosen >= 0;
      const choices = (q.choices || []).map((c, ci) => {
        let cls = 'quiz-choice';
        let state = '';
        if (answered && ci === q.answer) { cls += ' right'; state = 'right'; }
        else if (answered && ci === chosen) { cls += ' wrong'; state = 'wrong'; }
        return '<li><button type="button" class="' + cls + '" data-action="lesson-answer" data-question="' + qi + '" data-choice="' + ci + '"'
          + (state ? ' data-choice-state="' + state + '"' : '') + (answered ? ' aria-disabled="true"' : '')
          + (ci === chosen ? ' aria-pressed="true"' : '') + '>' + esc(tx(c)) + '</button></li>';
      }).join('');
      const verdict = !answered ? '' : '<div class="quiz-why ' + (chosen === q.answer ? 'right' : 'wrong') + '" tabindex="-1" role="status" data-answer="'
        + (chosen === q.answer ? 'right' : 'wrong') + '"><b>' + esc(chosen === q.answer ? t('quizRight') : t('quizWrong', { a: tx((q.choices || [])[q.answer]) }))
        + '</b> ' + esc(tx(q.why)) + '</div>';
      return '<div class="quiz-q" data-question="' + qi + '"><p class="quiz-text"><b>' + (qi + 1) + '.</b> ' + esc(tx(q.q)) + '</p><ol class="quiz-choices">'
        + choices + '</ol>' + verdict + '</div>';
    }).join('');
  }
}
