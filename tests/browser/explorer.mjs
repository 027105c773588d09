// The web explorer in a real browser: Debian's Chromium, one start, driven
// by playwright-core. Run by ./run, which starts a development node with a
// pledged receipt WR-0001 and writes its evidence bundle.
//
// Checks: the receipt page's status (English and Chinese), times shown in
// the viewer's zone with UTC on hover, the tank, warehouse, chain (live)
// and regulator pages, no script or CSP error on any page, and the
// evidence page verifying the real bundle with the same verdict as
// `pledgectl verify-bundle --json`, refusing a tampered copy with the same
// reason, and agreeing with pledgectl on every tampered variant below.
// Screenshots go to --out.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';

const options = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
for (const name of ['explorer', 'grpc', 'key', 'bundle', 'pledgectl', 'keys', 'out']) {
  if (!options[name]) throw new Error(`--${name} is required`);
}
mkdirSync(options.out, { recursive: true });
const base = options.explorer.replace(/\/$/, '');
const failures = [];
const passed = [];

function check(name, ok, detail = '') {
  (ok ? passed : failures).push(ok ? name : `${name}: ${detail}`);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `\n     ${detail}`}`);
}

function pledgectl(...args) {
  try {
    return { code: 0, stdout: execFileSync(options.pledgectl, ['--node', options.grpc, ...args], { encoding: 'utf8' }) };
  } catch (error) {
    return { code: error.status, stdout: error.stdout?.toString() ?? '', stderr: error.stderr?.toString() ?? '' };
  }
}

/** pledgectl's verdict on a bundle text, as JSON. */
function cliVerdict(text, name) {
  const file = join(options.out, `${name}.bundle.json`);
  writeFileSync(file, text);
  return JSON.parse(pledgectl('--json', 'verify-bundle', file, '--node-key', options.key).stdout);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'Asia/Shanghai' });
const page = await context.newPage();
const problems = [];
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
page.on('console', (message) => {
  if (message.type() === 'error') problems.push(`console: ${message.text()}`);
});

async function visit(path, shot) {
  const answer = await page.goto(base + path, { waitUntil: 'networkidle' });
  check(`GET ${path} is 200`, answer.status() === 200, `status ${answer.status()}`);
  if (shot) await page.screenshot({ path: join(options.out, `${shot}.png`), fullPage: true });
}

try {
  // The receipt page, as a credit officer opens it.
  await visit('/receipt/WR-0001', 'receipt');
  const status = await page.textContent('#receipt-status');
  check('receipt status names the bank and the pledge', /Pledged to bank-a under PL-A since #\d+/.test(status), status);
  const time = page.locator('#history time').first();
  const [shown, hover] = [await time.textContent(), await time.getAttribute('title')];
  check('times in the viewer\'s zone, UTC on hover', shown.includes('Asia/Shanghai') && / UTC$/.test(hover), `${shown} / ${hover}`);
  check('quantity in tonnes', (await page.textContent('main')).includes('5,000.000 t'), 'no 5,000.000 t');

  await page.click('header a.lang');
  await page.waitForLoadState('networkidle');
  const chinese = await page.textContent('#receipt-status');
  check('the switch shows the page in Chinese', chinese.includes('已质押给 bank-a'), chinese);
  await page.screenshot({ path: join(options.out, 'receipt-zh.png'), fullPage: true });
  await page.click('header a.lang');
  await page.waitForLoadState('networkidle');
  check('and back in English', (await page.textContent('#receipt-status')).includes('Pledged to'), 'still Chinese');

  await visit('/tank/T-101', 'tank');
  check('tank bars drawn', (await page.locator('#tank-bars rect.bar').count()) === 4, 'expected 4 bars');
  await visit('/participant/wh-1', 'warehouse');
  await visit('/regulator', 'regulator');
  check('regulator figures name bank-a', (await page.textContent('#per-bank')).includes('bank-a'), 'bank-a missing');

  // The chain page follows new entries without a reload.
  await visit('/chain', null);
  const before = Number(await page.getAttribute('#entries tbody tr:first-child', 'data-seq'));
  const write = pledgectl('tank', 'certify-stock', '--tank-id', 'T-101', '--agency', 'SGS Zhoushan', '--certificate', 'SGS-LIVE',
    '--quantity-kg', '1000', '--depositor', 'trader-b', '--key', join(options.keys, 'wh-1.json'));
  check('a new entry is written', write.code === 0, write.stderr);
  const newRow = page.locator(`#entries tbody tr[data-seq="${before + 1}"]`);
  await newRow.waitFor({ timeout: 15000 }).catch(() => {});
  check('the chain page shows it live', (await newRow.count()) === 1, `no row ${before + 1}`);
  await page.screenshot({ path: join(options.out, 'chain.png'), fullPage: true });

  // Evidence: the real bundle, verified in the page.
  const bundle = readFileSync(options.bundle, 'utf8');
  const cliOk = cliVerdict(bundle, 'real');
  await visit('/evidence', null);
  await page.fill('#node-key', options.key);
  await page.setInputFiles('#bundle-file', options.bundle);
  await page.waitForSelector('#verdict-result');
  check('the real bundle verifies in the browser', (await page.getAttribute('#verdict-result', 'data-verified')) === 'true',
    await page.textContent('#verdict'));
  const pageVerdict = JSON.parse(await page.textContent('#verdict-json'));
  check('the same verdict as pledgectl verify-bundle', isDeepStrictEqual(pageVerdict, cliOk),
    `${JSON.stringify(pageVerdict)} vs ${JSON.stringify(cliOk)}`);
  check('the verdict states the status', (await page.textContent('#verdict-status')).includes('pledged to bank-a'),
    await page.textContent('#verdict-status'));
  await page.screenshot({ path: join(options.out, 'evidence.png'), fullPage: true });

  // A tampered copy: one byte of the pledge's record changed.
  const tampered = tamper(bundle, (b) => {
    const entry = b.entries.at(-1);
    entry.record_hex = flipHex(entry.record_hex, 100);
  });
  writeFileSync(join(options.out, 'tampered.bundle.json'), tampered);
  await page.setInputFiles('#bundle-file', join(options.out, 'tampered.bundle.json'));
  await page.waitForSelector('#verdict-result[data-verified="false"]');
  const reason = await page.textContent('#verdict-reason');
  const cliBad = cliVerdict(tampered, 'tampered');
  check('a tampered bundle is refused with pledgectl\'s reason', cliBad.verified === false && reason === cliBad.reason,
    `${reason} vs ${JSON.stringify(cliBad)}`);
  await page.screenshot({ path: join(options.out, 'evidence-tampered.png'), fullPage: true });

  // A pinned key survives a reload.
  await page.click('#pin-key');
  await page.reload({ waitUntil: 'networkidle' });
  check('the pinned key is kept', (await page.inputValue('#node-key')) === options.key, 'key not kept');

  // Every variant: the browser's verdict must be pledgectl's.
  for (const [name, text] of variants(bundle)) {
    const cli = cliVerdict(text, name);
    const browserVerdict = await page.evaluate(async ([text, key]) => {
      const { verifyBundle, cliJson, cliFailure } = await import('/assets/bundle.js');
      const schema = await (await fetch('/evidence/schema.json')).json();
      try {
        return cliJson(await verifyBundle(text, key, schema));
      } catch (error) {
        return cliFailure(error);
      }
    }, [text, options.key]);
    const same = cli.verified === browserVerdict.verified &&
      (cli.reason?.startsWith('bundle JSON:') ? browserVerdict.reason?.startsWith('bundle JSON:') : isDeepStrictEqual(cli, browserVerdict));
    check(`variant ${name}: same verdict`, same, `browser ${JSON.stringify(browserVerdict)}\n     pledgectl ${JSON.stringify(cli)}`);
  }
} finally {
  check('no script error, no CSP violation', problems.length === 0, problems.join('\n     '));
  await browser.close();
}

function tamper(text, change) {
  const bundle = JSON.parse(text);
  change(bundle);
  return JSON.stringify(bundle, null, 2);
}

function flipHex(hex, at) {
  const digit = hex[at] === '0' ? '1' : '0';
  return hex.slice(0, at) + digit + hex.slice(at + 1);
}

/** Tampered and malformed copies of the real bundle, each with a name. */
function variants(text) {
  const b = JSON.parse(text);
  const list = [
    ['as-is', (x) => x],
    ['seal', (x) => { x.entries[0].record_hex = flipHex(x.entries[0].record_hex, x.entries[0].record_hex.length - 3); }],
    ['tx-bytes', (x) => { x.entries[1].record_hex = flipHex(x.entries[1].record_hex, 150); }],
    ['proof-hash', (x) => { x.entries[0].inclusion_proof[0] = flipHex(x.entries[0].inclusion_proof[0], 5); }],
    ['proof-extra', (x) => { x.entries[0].inclusion_proof.push('00'.repeat(32)); }],
    ['proof-hex', (x) => { x.entries[0].inclusion_proof[0] = 'zz'.repeat(32); }],
    ['record-hex', (x) => { x.entries[0].record_hex = `${x.entries[0].record_hex}0`; }],
    ['record-truncated', (x) => { x.entries[0].record_hex = x.entries[0].record_hex.slice(0, 200); }],
    ['upper-case-hex', (x) => { x.entries[0].record_hex = x.entries[0].record_hex.toUpperCase(); }],
    ['seq-listed', (x) => { x.entries[0].seq += 1; }],
    ['dropped-issue', (x) => { x.entries.splice(1, 1); }],
    ['dropped-certification', (x) => { x.entries.splice(0, 1); }],
    ['out-of-order', (x) => { [x.entries[0], x.entries[1]] = [x.entries[1], x.entries[0]]; }],
    ['no-entries', (x) => { x.entries = []; }],
    ['last-entry', (x) => { x.last_entry = structuredClone(x.entries[0]); }],
    ['last-entry-seal', (x) => { x.last_entry.record_hex = flipHex(x.last_entry.record_hex, x.last_entry.record_hex.length - 5); }],
    ['node-key', (x) => { x.node_public_key = 'ab'.repeat(32); }],
    ['ledger-id', (x) => { x.ledger_id = 'zhoushan-other'; }],
    ['receipt-id', (x) => { x.receipt_id = 'WR-9999'; }],
    ['version', (x) => { x.version = 2; }],
    ['checkpoint-size', (x) => { x.checkpoint = x.checkpoint.replace(/\n(\d+)\n/, (_, s) => `\n${Number(s) + 1}\n`); }],
    ['checkpoint-signature', (x) => { x.checkpoint = x.checkpoint.replace(/ (\S{10})(\S+)\n$/, (_, a, rest) => ` ${a}${rest.startsWith('A') ? 'B' : 'A'}${rest.slice(1)}\n`); }],
    ['checkpoint-cr', (x) => { x.checkpoint = x.checkpoint.replace('\n', '\r\n'); }],
    ['checkpoint-unsigned', (x) => { x.checkpoint = x.checkpoint.split('\n\n')[0] + '\n'; }],
    ['unknown-field', (x) => { x.extra = 1; }],
    ['missing-field', (x) => { delete x.last_entry; }],
  ];
  return list.map(([name, change]) => {
    const copy = structuredClone(b);
    change(copy);
    return [name, JSON.stringify(copy, null, 2)];
  });
}

writeFileSync(join(options.out, 'summary.json'), JSON.stringify({ passed, failures }, null, 2));
console.log(`\n${passed.length} passed, ${failures.length} failed; screenshots in ${options.out}`);
process.exit(failures.length === 0 ? 0 : 1);
