(() => {
  const parts = (root) => Array.from(root.querySelectorAll(
    '.mn-notice, .mn-body, .mn-sources-title, .mn-source-head, .mn-disclaimer')).map((el) => el.innerText.trim());
  async function copy(text) {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) {
      const area = document.createElement('textarea');
      area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
      document.body.appendChild(area); area.select();
      const ok = document.execCommand('copy'); area.remove(); return ok;
    }
  }
  document.addEventListener('click', async (event) => {
    const button = event.target.closest && event.target.closest('.mn-copy');
    if (!button) return;
    const ok = await copy(parts(button.closest('.mn-answer')).join('\n\n'));
    button.textContent = ok ? 'Copied' : 'Copy failed: select the text instead';
    setTimeout(() => { button.textContent = 'Copy answer'; }, 2500);
  });
  const seen = new Set();
  const scroller = (el) => { for (let p = el.parentElement; p && p.id !== 'mn-chat'; p = p.parentElement) {
    if (/(auto|scroll)/.test(getComputedStyle(p).overflowY)) return p; }
    return null; };
  new MutationObserver(() => {
    document.querySelectorAll('#mn-chat .mn-answer[id]').forEach((el) => {
      if (seen.has(el.id)) return;
      seen.add(el.id);
      const box = scroller(el);
      if (box) box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 56;
    });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
