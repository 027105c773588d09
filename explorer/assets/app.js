// The page script of every page: times in the viewer's time zone (UTC on
// hover), and the chain page's live list. The pages read fine without it.

const zh = document.documentElement.lang.startsWith('zh');
const local = new Intl.DateTimeFormat(zh ? 'zh-CN' : 'en-GB', {
  dateStyle: 'medium',
  timeStyle: 'medium',
});
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** `2026-05-01 08:30:00 UTC`. */
export function utcText(date) {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Shows every `<time datetime>` under `root` in the viewer's zone. */
export function localizeTimes(root = document) {
  for (const element of root.querySelectorAll('time[datetime]')) {
    const date = new Date(element.dateTime);
    if (Number.isNaN(date.getTime())) continue;
    element.title = utcText(date);
    element.textContent = `${local.format(date)} (${zone})`;
  }
}

const FEED_EVERY_MS = 3000;
const ROWS_KEPT = 50;

/** Polls `/chain/feed` while the tab is visible and puts new entries on top. */
function followChain(table) {
  const body = table.tBodies[0];
  const state = document.getElementById('live-state');
  const live = state?.textContent ?? '';
  let after = table.dataset.after;
  const poll = async () => {
    if (document.visibilityState !== 'visible') {
      if (state) state.textContent = state.dataset.paused;
      return;
    }
    if (state) state.textContent = live;
    const query = after === undefined || after === '' ? '' : `?after=${encodeURIComponent(after)}`;
    try {
      const answer = await fetch(`/chain/feed${query}`, { headers: { accept: 'application/json' } });
      if (!answer.ok) return;
      const { size, rows } = await answer.json();
      if (rows) {
        const template = document.createElement('template');
        template.innerHTML = rows;
        localizeTimes(template.content);
        body.prepend(template.content);
        while (body.rows.length > ROWS_KEPT) body.deleteRow(body.rows.length - 1);
      }
      if (size > 0) after = String(size - 1);
    } catch {
      // The node is restarting, or the network is down: try again later.
    }
  };
  setInterval(poll, FEED_EVERY_MS);
  document.addEventListener('visibilitychange', poll);
}

localizeTimes();
const entries = document.getElementById('entries');
if (entries && entries.dataset.after !== undefined) followChain(entries);
