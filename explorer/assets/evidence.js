// The evidence page: the officer pastes (or pinned earlier) the node's
// public key and drops a bundle; the bundle is read and verified here, in
// the browser, and never sent anywhere.

import { cliFailure, cliJson, cliText, verifyBundle } from './bundle.js';
import { VerifyError } from './bytes.js';
import { requireSupport } from './webcrypto.js';
import { localizeTimes } from './app.js';

/** Largest bundle file read (a bundle of 100,000 entries is about 100 MB). */
const MAX_FILE_BYTES = 128 * 1024 * 1024;

const zh = document.documentElement.lang.startsWith('zh');
const TEXT = {
  verified: ['Verified', '验证通过'],
  notVerified: ['Not verified', '验证失败'],
  noKey: ['Paste the node\u2019s public key first (64 hex digits).', '请先粘贴节点公钥（64 位十六进制）。'],
  tooLarge: ['The file is larger than 128 MB: not a bundle.', '文件超过 128 MB：不是证据包。'],
  reading: ['Verifying\u2026', '核验中\u2026'],
  receipt: ['Receipt', '仓单'],
  status: ['Status', '状态'],
  holder: ['Holder', '持有人'],
  warehouse: ['Warehouse', '仓库'],
  quantity: ['Quantity', '数量'],
  activePledge: ['Active pledge', '有效质押'],
  none: ['none', '无'],
  pledges: ['Pledges registered', '质押登记'],
  asOf: ['As of checkpoint', '截至检查点'],
  lineage: ['Lineage', '沿革'],
  checked: ['Entries checked', '已核验条目'],
  completeness: ['Completeness', '完整性'],
  wholeHistory: ['whole history given: entries', '已给出完整历史：条目数'],
  latestEntry: ['latest entry', '最新条目'],
  stateRoot: ['state root', '状态根'],
  tank: ['Tank', '储罐'],
  noShortfall: ['not in shortfall', '无短缺'],
  shortfall: ['IN SHORTFALL since entry', '短缺，自条目'],
  cli: ['As `pledgectl verify-bundle` prints it', '与 `pledgectl verify-bundle` 输出一致'],
  live: ['live, not pledged', '有效，未质押'],
  pledgedTo: ['pledged to', '已质押给'],
  cancelled: ['cancelled at entry', '已注销，条目'],
  split: ['split into', '已拆分为'],
  frozenBy: ['frozen by', '冻结方'],
  released: ['released', '已解除'],
  inForce: ['in force', '有效'],
  enforcedAt: ['enforced', '已实现'],
  enforced: ['enforced by', '质权已实现，银行'],
  size: ['size', '大小'],
  signedAt: ['signed', '签署于'],
  root: ['root', '根'],
  matches: ['matches the key this node reports (that alone proves nothing: check it out of band)', '与本节点自报公钥一致（仅此不足为证：请通过独立渠道核对）'],
  differs: ['differs from the key this node reports', '与本节点自报公钥不同'],
  pinned: ['pinned in this browser', '已固定在本浏览器'],
};

function t(key) {
  return TEXT[key][zh ? 1 : 0];
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

const form = document.getElementById('verifier');
const keyInput = document.getElementById('node-key');
const fileInput = document.getElementById('bundle-file');
const drop = document.getElementById('drop');
const out = document.getElementById('verdict');
const compare = document.getElementById('key-compare');
const storageKey = `pledge-explorer/node-key/${form.dataset.ledger}`;
let schema = null;
let lastFile = null;

function stored() {
  try {
    return localStorage.getItem(storageKey);
  } catch {
    return null;
  }
}

function store(value) {
  try {
    if (value) localStorage.setItem(storageKey, value);
    else localStorage.removeItem(storageKey);
  } catch {
    // Storage is off (private mode): the key is used for this page only.
  }
}

function showComparison() {
  const key = keyInput.value.trim().toLowerCase();
  const pinned = stored() === key && key !== '' ? ` \u00b7 ${t('pinned')}` : '';
  if (!/^[0-9a-f]{64}$/.test(key)) compare.textContent = '';
  else compare.textContent = (key === form.dataset.reportedKey ? t('matches') : t('differs')) + pinned;
}

async function loadSchema() {
  if (!schema) {
    const answer = await fetch('/evidence/schema.json');
    if (!answer.ok) throw new VerifyError(`the page could not load the proto schema (${answer.status})`);
    schema = await answer.json();
  }
  return schema;
}

/** Verifies a bundle's text and shows the verdict (also used by the browser test). */
export async function verifyAndShow(text) {
  out.replaceChildren(element('p', {}, t('reading')));
  const key = keyInput.value.trim();
  try {
    if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new VerifyError(t('noKey'));
    await requireSupport();
    const verdict = await verifyBundle(text, key, await loadSchema());
    showVerdict(verdict);
  } catch (error) {
    showFailure(error instanceof VerifyError ? error : new VerifyError(String(error?.message ?? error)));
  }
}

function statusLine(v) {
  const parts = [];
  const last = v.registrations.at(-1);
  if (v.status.kind === 'pledged') parts.push(`${t('pledgedTo')} ${v.activePledge.pledgee} (${v.activePledge.pledgeId})`);
  else if (v.status.kind === 'active' && last?.status.kind === 'enforced') {
    parts.push(`${t('enforced')} ${last.pledgee} (${last.pledgeId}, #${last.status.at}) \u2192 ${v.holder}`);
  } else if (v.status.kind === 'active') parts.push(t('live'));
  else if (v.status.kind === 'cancelled') parts.push(`${t('cancelled')} ${v.status.at}`);
  else if (v.status.kind === 'split') parts.push(`${t('split')} ${v.status.parts.join(', ')}`);
  if (v.freeze) parts.push(`${t('frozenBy')} ${v.freeze.regulator} (#${v.freeze.since})`);
  return parts.join(' \u00b7 ');
}

function pledgeState(status) {
  if (status.kind === 'active') return t('inForce');
  if (status.kind === 'released') return `${t('released')} #${status.at}`;
  return `${t('enforcedAt')} #${status.at} \u2192 ${status.transfereeId}`;
}

function tonnes(kg) {
  const whole = (kg / 1000n).toLocaleString('en-US');
  return `${whole}.${String(kg % 1000n).padStart(3, '0')} t`;
}

function timeElement(ms) {
  return element('time', { datetime: new Date(Number(ms)).toISOString() }, new Date(Number(ms)).toISOString());
}

function row(label, ...value) {
  return element('tr', {}, element('th', { scope: 'row' }, label), element('td', {}, ...value));
}

function showVerdict(v) {
  const pledges = v.registrations.length
    ? element('ul', { class: 'plain' }, ...v.registrations.map((p) =>
      element('li', {}, `#${p.seq} ${p.pledgeId} \u2192 ${p.pledgee} (${pledgeState(p.status)})`)))
    : t('none');
  const active = v.activePledge
    ? `${v.activePledge.pledgeId} \u2192 ${v.activePledge.pledgee} (#${v.activePledge.registeredAt})`
    : t('none');
  const asOf = element('span', {}, `${t('size')} ${v.treeSize}, ${t('signedAt')} `, timeElement(v.checkpointTimeMs), `, ${t('root')} `, element('code', {}, v.root));
  const table = element('table', { class: 'facts' },
    row(t('receipt'), v.receiptId),
    row(t('status'), element('span', { id: 'verdict-status' }, statusLine(v))),
    row(t('holder'), v.holder),
    row(t('warehouse'), v.warehouse),
    row(t('quantity'), element('span', { title: `${v.quantityKg} kg` }, tonnes(v.quantityKg))),
    row(t('activePledge'), active),
    row(t('pledges'), pledges),
    row(t('asOf'), asOf),
    row(t('lineage'), v.lineage.join(' \u2192 ')),
    row(t('checked'), v.entrySeqs.map((s) => `#${s}`).join(' ')),
    row(t('completeness'), element('span', { id: 'verdict-completeness' },
      `${t('wholeHistory')} ${v.historyLen}, ${t('latestEntry')} #${v.latestEntry}; ${t('stateRoot')} `,
      element('code', {}, v.stateRoot))),
    row(t('tank'), element('span', { id: 'verdict-tank' }, v.tankShortfallSince === null
      ? `${v.tankId}: ${t('noShortfall')}`
      : `${v.tankId}: ${t('shortfall')} #${v.tankShortfallSince}`)));
  out.replaceChildren(
    element('h2', { id: 'verdict-result', 'data-verified': 'true', class: 'ok' }, `\u2713 ${t('verified')}`),
    table,
    cliBlock(cliText(v), cliJson(v)));
  localizeTimes(out);
}

function showFailure(error) {
  out.replaceChildren(
    element('h2', { id: 'verdict-result', 'data-verified': 'false', class: 'failed' }, `\u2717 ${t('notVerified')}`),
    element('p', { class: 'error', id: 'verdict-reason' }, error.message),
    cliBlock(`the bundle does not verify: ${error.message}`, cliFailure(error)));
}

function cliBlock(text, json) {
  return element('details', { open: '' },
    element('summary', {}, t('cli')),
    element('pre', { id: 'verdict-text' }, text),
    element('pre', { id: 'verdict-json' }, JSON.stringify(json, null, 2)));
}

async function readFile(file) {
  if (!file) return;
  if (file.size > MAX_FILE_BYTES) {
    showFailure(new VerifyError(t('tooLarge')));
    return;
  }
  lastFile = file;
  await verifyAndShow(await file.text());
}

keyInput.value = stored() ?? '';
showComparison();
keyInput.addEventListener('input', () => {
  showComparison();
  if (lastFile) readFile(lastFile);
});
document.getElementById('pin-key').addEventListener('click', () => {
  const key = keyInput.value.trim().toLowerCase();
  if (/^[0-9a-f]{64}$/.test(key)) store(key);
  showComparison();
});
document.getElementById('forget-key').addEventListener('click', () => {
  store(null);
  showComparison();
});
fileInput.addEventListener('change', () => readFile(fileInput.files[0]));
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  readFile(event.dataTransfer.files[0]);
});
form.addEventListener('submit', (event) => event.preventDefault());
