// On a phone (at most 480 px wide) the picture and the CommitLog come
// first; the control cards below them wait folded behind their headings,
// and a heading (a button then: click, Enter or Space) opens its card. On a
// wider screen every card stays open.

const FOLDABLE = ['net-title', 'clients-title', 'settings-title', 'ctl-clients-title', 'ctl-settings-title'];
const SELECTOR = FOLDABLE.map((id) => '#' + id).join(', ');
const narrow = window.matchMedia('(max-width: 480px)');

function apply() {
  for (const id of FOLDABLE) {
    const h = document.getElementById(id);
    if (!h) continue;
    const card = h.closest('.card');
    if (narrow.matches) {
      h.setAttribute('role', 'button');
      h.tabIndex = 0;
      if (!card.dataset.folding) {
        card.dataset.folding = 'on';
        card.classList.add('folded');
      }
      h.setAttribute('aria-expanded', String(!card.classList.contains('folded')));
    } else {
      card.classList.remove('folded');
      delete card.dataset.folding;
      h.removeAttribute('role');
      h.removeAttribute('tabindex');
      h.removeAttribute('aria-expanded');
    }
  }
}

function toggle(h) {
  const card = h.closest('.card');
  card.classList.toggle('folded');
  h.setAttribute('aria-expanded', String(!card.classList.contains('folded')));
}

export function installFolding() {
  document.addEventListener('click', (e) => {
    const h = narrow.matches && e.target.closest && e.target.closest(SELECTOR);
    if (h) toggle(h);
  });
  // Capture, so Space opens the card instead of playing the simulation.
  document.addEventListener('keydown', (e) => {
    if (!narrow.matches || (e.key !== 'Enter' && e.key !== ' ') || !e.target.matches || !e.target.matches(SELECTOR)) return;
    e.preventDefault();
    e.stopPropagation();
    toggle(e.target);
  }, true);
  narrow.addEventListener('change', apply);
  apply();
}
