// Verifying an evidence bundle in the browser (docs/FORMAT.md §7.5–7.6,
// the state map of §7.9), step for step as ledger/src/bundle.rs
// `Bundle::verify`, with only the
// node's public key (pasted or pinned by the officer, never taken from the
// bundle). The verdict and every failure read as `pledgectl verify-bundle`
// prints them (`cliJson`, `cliText`).

import { VerifyError, fromHex, toHex } from './bytes.js';
import { Fold, isLive } from './fold.js';
import { leafHash, verifyInclusion } from './merkle.js';
import { ORIGIN_PREFIX, debugString, ledgerOrigin, verifyNote } from './note.js';
import { decode } from './protobuf.js';
import { decodeRecord, entryHash, sealVerifies, verifyParties } from './record.js';
import { KEY_BITS, KIND, RECEIPT_STATE_TAG, TANK_STATE_TAG, provenLeaf, tooLongProof } from './statemap.js';

/** 2: with the state map proofs; version 1 bundles prove no completeness and are refused. */
export const BUNDLE_VERSION = 2;
export const MAX_BUNDLE_ENTRIES = 100000;
const MAX_PROOF_HASHES = 64;
const BUNDLE_FIELDS = [
  'version',
  'ledger_id',
  'receipt_id',
  'checkpoint',
  'node_public_key',
  'entries',
  'last_entry',
  'state',
];
const ENTRY_FIELDS = ['seq', 'record_hex', 'inclusion_proof'];
const STATE_FIELDS = ['receipts', 'tank'];
const LEAF_FIELDS = ['preimage_hex', 'map_proof'];

function jsonError(reason) {
  return new VerifyError(`bundle JSON: ${reason}`);
}

function checkFields(value, fields, where) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw jsonError(`invalid type: expected ${where}`);
  }
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) throw jsonError(`unknown field \`${key}\`, expected one of ${fields.map((f) => `\`${f}\``).join(', ')}`);
  }
  for (const key of fields) {
    if (!(key in value)) throw jsonError(`missing field \`${key}\``);
  }
}

function checkInteger(value, field, max) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw jsonError(`invalid type for \`${field}\`: expected a non-negative integer`);
  }
  if (value > max) throw jsonError(`\`${field}\` ${value} is too large`);
}

function checkString(value, field) {
  if (typeof value !== 'string') throw jsonError(`invalid type for \`${field}\`: expected a string`);
}

function checkEntryShape(entry) {
  checkFields(entry, ENTRY_FIELDS, 'struct BundleEntry');
  checkInteger(entry.seq, 'seq', Number.MAX_SAFE_INTEGER);
  checkString(entry.record_hex, 'record_hex');
  if (!Array.isArray(entry.inclusion_proof)) throw jsonError('invalid type for `inclusion_proof`: expected a sequence');
  entry.inclusion_proof.forEach((h) => checkString(h, 'inclusion_proof'));
}

function checkLeafShape(leaf) {
  checkFields(leaf, LEAF_FIELDS, 'struct StateLeaf');
  checkString(leaf.preimage_hex, 'preimage_hex');
  if (!Array.isArray(leaf.map_proof)) throw jsonError('invalid type for `map_proof`: expected a sequence');
  leaf.map_proof.forEach((h) => checkString(h, 'map_proof'));
}

function checkStateShape(state) {
  checkFields(state, STATE_FIELDS, 'struct BundleState');
  if (!Array.isArray(state.receipts)) throw jsonError('invalid type for `receipts`: expected a sequence');
  state.receipts.forEach(checkLeafShape);
  checkLeafShape(state.tank);
}

/** Parses the bundle's JSON with the format's shape: unknown fields refused. */
export function parseBundle(text) {
  let bundle;
  try {
    bundle = JSON.parse(text);
  } catch (error) {
    throw jsonError(error.message);
  }
  checkFields(bundle, BUNDLE_FIELDS, 'struct Bundle');
  checkInteger(bundle.version, 'version', 0xffffffff);
  ['ledger_id', 'receipt_id', 'checkpoint', 'node_public_key'].forEach((f) => checkString(bundle[f], f));
  if (!Array.isArray(bundle.entries)) throw jsonError('invalid type for `entries`: expected a sequence');
  bundle.entries.forEach(checkEntryShape);
  checkEntryShape(bundle.last_entry);
  checkStateShape(bundle.state);
  return bundle;
}

/** Hex-decodes, decodes and seal-checks one bundle entry. */
async function openEntry(item, nodeKey) {
  const seq = BigInt(item.seq);
  const badHex = (field) => new VerifyError(`entry ${seq}: ${field} is not lower-case hex of the right length`);
  const record = fromHex(item.record_hex, true);
  if (!record) throw badHex('record_hex');
  let entry;
  try {
    entry = decodeRecord(record);
  } catch (error) {
    throw new VerifyError(`entry ${seq}: ${error.message}`);
  }
  if (entry.seq !== seq) throw new VerifyError(`entry listed as ${seq} is entry ${entry.seq}`);
  if (!(await sealVerifies(entry, nodeKey))) throw new VerifyError(`entry ${seq}: the node's seal does not verify`);
  if (item.inclusion_proof.length > MAX_PROOF_HASHES) {
    throw new VerifyError(
      `entry ${seq} is not included under the checkpoint's root: proof has ${item.inclusion_proof.length} hashes, expected ${MAX_PROOF_HASHES}`,
    );
  }
  const proof = item.inclusion_proof.map((h) => fromHex(h, true));
  if (proof.some((h) => !h || h.length !== 32)) throw badHex('inclusion_proof');
  return { entry, proof };
}

async function verifyHeadBinding(cp, last, proof) {
  const fail = (reason) => new VerifyError(`head binding: ${reason}`);
  if (cp.size === 0n) throw fail('a checkpoint of size 0 has no head entry');
  const expected = cp.size - 1n;
  if (last.seq !== expected) throw fail(`head entry has seq ${last.seq}, the checkpoint's head is ${expected}`);
  const hash = await entryHash(last);
  if (toHex(hash) !== toHex(cp.headHash)) {
    throw fail(`head entry hash is ${toHex(hash)}, the checkpoint names ${toHex(cp.headHash)}`);
  }
  try {
    await verifyInclusion(await leafHash(last.body), expected, cp.size, proof, cp.root);
  } catch {
    throw fail(`head entry is not leaf ${expected} of the tree of size ${cp.size}`);
  }
}

/** Decodes an entry's transaction; fails as the node's decoder would name it. */
function transactionOf(entry, schema) {
  let tx;
  try {
    tx = decode(schema, 'pledgeledger.v1.Transaction', entry.txBytes);
  } catch (error) {
    throw new VerifyError(`entry ${entry.seq}: malformed Transaction: ${error.message}`);
  }
  if (!tx.operation) throw new VerifyError(`entry ${entry.seq}: transaction carries no operation`);
  return tx;
}

/**
 * Verifies a bundle's text against the trusted node key (64 hex digits)
 * with the proto schema; resolves to the verdict or rejects with a
 * VerifyError naming what failed.
 */
export async function verifyBundle(text, trustedKeyHex, schema) {
  const nodeKey = fromHex(trustedKeyHex.trim());
  if (!nodeKey || nodeKey.length !== 32) {
    throw new VerifyError('the node key must be 64 hex digits (32 bytes)');
  }
  const bundle = parseBundle(text);
  if (bundle.version !== BUNDLE_VERSION) throw new VerifyError(`bundle version ${bundle.version} is not supported`);
  if (bundle.node_public_key !== toHex(nodeKey)) {
    throw new VerifyError(`the bundle's node key ${debugString([...bundle.node_public_key].slice(0, 64).join(''))} is not one the verifier trusts`);
  }
  const cp = await verifyNote(bundle.checkpoint, ledgerOrigin(bundle.ledger_id), nodeKey);
  if (bundle.entries.length === 0) throw new VerifyError('the bundle carries no history entries');
  if (bundle.entries.length > MAX_BUNDLE_ENTRIES) {
    throw new VerifyError(`bundle has ${bundle.entries.length} entries, at most ${MAX_BUNDLE_ENTRIES} allowed`);
  }
  const last = await openEntry(bundle.last_entry, nodeKey);
  await verifyHeadBinding(cp, last.entry, last.proof);
  for (let i = 1; i < bundle.entries.length; i++) {
    const [previous, seq] = [bundle.entries[i - 1].seq, bundle.entries[i].seq];
    if (seq <= previous) throw new VerifyError(`entry ${seq} follows entry ${previous}: not strictly increasing`);
  }
  const committed = await openCommitted(bundle.state, cp.stateRoot);
  const fold = new Fold(bundle.receipt_id);
  let seenHead = false;
  for (const item of bundle.entries) {
    const { entry, proof } = await openEntry(item, nodeKey);
    seenHead ||= entry.seq === last.entry.seq;
    await verifyEntry(entry, proof, cp, bundle.ledger_id, schema, fold);
  }
  if (!seenHead) await requireHeadShown(last.entry, schema, fold);
  return checkCommitted(committed, verdict(cp, fold.finish(), bundle.receipt_id));
}

/** A leaf's preimage, hex-decoded, once its proof of presence under the state root holds. */
async function provenFields(leaf, stateRoot, kind, tag) {
  const badHex = (field) => new VerifyError(`state: ${field} is not lower-case hex of the right length`);
  const preimage = fromHex(leaf.preimage_hex, true);
  if (!preimage) throw badHex('preimage_hex');
  if (leaf.map_proof.length > KEY_BITS) throw tooLongProof(leaf.map_proof.length);
  const siblings = leaf.map_proof.map((h) => fromHex(h, true));
  if (siblings.some((h) => !h || h.length !== 32)) throw badHex('map_proof');
  return provenLeaf(preimage, siblings, stateRoot, kind, tag);
}

/** The fields of a receipt's committed state compared with the entries (FORMAT.md §7.9 numbers them). */
function committedReceipt(f) {
  const successors = f.texts(41);
  return {
    id: f.requiredText(1),
    tankId: f.requiredText(2),
    quantityKg: f.requiredInt(7),
    warehouse: f.requiredText(13),
    holder: f.requiredText(14),
    status: f.requiredInt(15),
    parent: f.text(18),
    issuedAt: f.requiredInt(20),
    updatedAt: f.requiredInt(21),
    historyLen: f.requiredInt(22),
    frozenBy: f.text(23),
    pledgeId: f.text(32),
    // The bank now: the last successor, else the registered pledgee.
    pledgee: successors.length > 0 ? successors.at(-1) : f.text(33),
  };
}

/** Every leaf of the bundle's state, each proven under the checkpoint's state root. */
async function openCommitted(state, stateRoot) {
  const receipts = [];
  for (const leaf of state.receipts) {
    receipts.push(committedReceipt(await provenFields(leaf, stateRoot, KIND.receipt, RECEIPT_STATE_TAG)));
  }
  const tank = await provenFields(state.tank, stateRoot, KIND.tank, TANK_STATE_TAG);
  return { stateRoot, receipts, tankId: tank.requiredText(1), tankShortfallSince: tank.int(18) };
}

/** Rust's `{:?}` of an Option<String>. */
function debugOption(value) {
  return value === null || value === undefined ? 'None' : `Some(${debugString(value)})`;
}

function mismatch(field, committed, entries) {
  return new VerifyError(`the committed ${field} is ${committed}, but the bundle's entries show ${entries}`);
}

const STATUS_NUMBER = { active: 1n, pledged: 2n, cancelled: 3n, split: 4n };

/**
 * Holds the fold's verdict to the committed state: the same lineage, every
 * receipt's whole history among the entries, the same holder, status,
 * freeze and pledge (§7.6 step 8). Returns the verdict with the committed
 * facts added.
 */
function checkCommitted(committed, v) {
  const ids = committed.receipts.map((r) => r.id);
  if (ids.join('\0') !== v.lineage.join('\0') || ids.length !== v.lineage.length) {
    throw mismatch('lineage', ids.join(' \u2192 '), v.lineage.join(' \u2192 '));
  }
  for (const [i, receipt] of committed.receipts.entries()) {
    const parent = i > 0 ? committed.receipts[i - 1].id : null;
    if (receipt.parent !== parent) throw mismatch('parent', debugOption(receipt.parent), debugOption(parent));
    // A receipt's history runs from its issue (or the split that made it)
    // to its latest entry; a split receipt's ends at the split that made
    // the next receipt of the lineage.
    const next = committed.receipts[i + 1];
    const last = next ? next.issuedAt : v.treeSize > 0n ? v.treeSize - 1n : 0n;
    const given = v.entrySeqs.filter((seq) => seq >= receipt.issuedAt && seq <= last);
    const givenLatest = given.at(-1);
    if (BigInt(given.length) !== receipt.historyLen || givenLatest !== receipt.updatedAt) {
      throw new VerifyError(
        `receipt ${receipt.id} has ${receipt.historyLen} entries in its history, the latest ${receipt.updatedAt}, ` +
          `but the bundle gives ${given.length} (the latest ${givenLatest === undefined ? 'None' : `Some(${givenLatest})`}): entries are left out`,
      );
    }
  }
  const target = committed.receipts.at(-1);
  if (!target) throw mismatch('lineage', '', v.lineage.join(' \u2192 '));
  const pairs = [
    ['holder', target.holder, v.holder],
    ['warehouse', target.warehouse, v.warehouse],
    ['quantity_kg', target.quantityKg.toString(), v.quantityKg.toString()],
    ['status', target.status.toString(), STATUS_NUMBER[v.status.kind].toString()],
    ['frozen by', debugOption(target.frozenBy), debugOption(v.freeze?.regulator)],
    ['pledge', debugOption(target.pledgeId), debugOption(v.activePledge?.pledgeId)],
    ['pledgee', debugOption(target.pledgee), debugOption(v.activePledge?.pledgee)],
    ['tank', target.tankId, committed.tankId],
  ];
  const differing = pairs.find(([, a, b]) => a !== b);
  if (differing) throw mismatch(...differing);
  return {
    ...v,
    stateRoot: toHex(committed.stateRoot),
    latestEntry: target.updatedAt,
    historyLen: target.historyLen,
    tankId: committed.tankId,
    tankShortfallSince: committed.tankShortfallSince,
  };
}

/** The checkpoint's head entry, left out of the bundle, must not change the receipt's lineage. */
async function requireHeadShown(head, schema, fold) {
  try {
    await verifyParties(head);
  } catch (error) {
    throw new VerifyError(`entry ${head.seq}: ${error.message}`);
  }
  // An attempt entry at the head applied nothing: nothing was left out.
  if (head.refusal) return;
  const tx = transactionOf(head, schema);
  if (fold.wouldChangeLineage(tx.operation, tx[tx.operation])) {
    throw new VerifyError(
      `the checkpoint's head entry ${head.seq} changes the receipt but is left out of the bundle's entries`,
    );
  }
}

async function verifyEntry(entry, proof, cp, ledgerId, schema, fold) {
  const seq = entry.seq;
  if (seq >= cp.size) throw new VerifyError(`entry ${seq} lies beyond the checkpoint's size ${cp.size}`);
  try {
    await verifyInclusion(await leafHash(entry.body), seq, cp.size, proof, cp.root);
  } catch (error) {
    throw new VerifyError(`entry ${seq} is not included under the checkpoint's root: ${error.message}`);
  }
  try {
    await verifyParties(entry);
  } catch (error) {
    throw new VerifyError(`entry ${seq}: ${error.message}`);
  }
  const tx = transactionOf(entry, schema);
  if (tx.ledger_id !== ledgerId) throw new VerifyError(`entry ${seq} is a transaction of ledger ${tx.ledger_id}`);
  // An attempt entry (FORMAT.md §3.2) applied nothing: it is no receipt's history.
  if (entry.refusal) throw new VerifyError(`entry ${seq} (attempt) does not concern the receipt`);
  const signers = new Set(entry.signatures.map((s) => s.signer));
  fold.apply(seq, signers, tx.operation, tx[tx.operation]);
}

function verdict(cp, folded, receiptId) {
  const { receipt, freeze, lineage, registrations, active, seqs } = folded;
  return {
    ledgerId: cp.origin.startsWith(ORIGIN_PREFIX) ? cp.origin.slice(ORIGIN_PREFIX.length) : cp.origin,
    treeSize: cp.size,
    root: toHex(cp.root),
    headHash: toHex(cp.headHash),
    checkpointTimeMs: cp.timeMs,
    receiptId,
    warehouse: receipt.warehouse,
    holder: receipt.holder,
    quantityKg: receipt.quantityKg,
    status: receipt.status,
    freeze,
    activePledge: active && { pledgeId: active.pledgeId, pledgee: active.pledgee, registeredAt: active.seq },
    registrations,
    lineage,
    entrySeqs: seqs,
  };
}

function number(big) {
  return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
}

/** A time as pledgectl writes it: RFC 3339 in UTC, milliseconds only when not zero. */
export function rfc3339(ms) {
  const text = new Date(Number(ms)).toISOString();
  return BigInt(ms) % 1000n === 0n ? text.replace(/\.000Z$/, 'Z') : text;
}

/** The receipt's status in words, as `pledgectl verify-bundle` words it. */
export function statusWords(v) {
  const s = v.status;
  let words;
  if (s.kind === 'active') words = 'live, free of pledges';
  else if (s.kind === 'pledged') {
    words = v.activePledge
      ? `live, PLEDGED to ${v.activePledge.pledgee} under pledge ${s.pledgeId} (registered at entry ${v.activePledge.registeredAt}); no other pledge in force`
      : `live, PLEDGED under pledge ${s.pledgeId}`;
  } else if (s.kind === 'cancelled') {
    words = `CANCELLED at entry ${s.at} (surrendered on delivery): no longer a live receipt, worthless as collateral`;
  } else {
    words = `SPLIT at entry ${s.at} into ${s.parts.join(', ')}: no longer a live receipt; the parts carry the oil`;
  }
  if (v.freeze) {
    words += `; FROZEN by ${v.freeze.regulator} since entry ${v.freeze.since}: it cannot change hands or be pledged until unfrozen`;
  }
  const enforced = v.registrations.filter((p) => p.receiptId === v.receiptId && p.status.kind === 'enforced').at(-1);
  if (enforced) {
    words += `; pledge ${enforced.pledgeId} was ENFORCED by ${enforced.pledgee} at entry ${enforced.status.at}, the receipt going to ${enforced.status.transfereeId}`;
  }
  return words;
}

/** The tank's state in words, as `pledgectl verify-bundle` words it. */
export function tankWords(v) {
  return v.tankShortfallSince === null
    ? `tank: ${v.tankId}, not in shortfall`
    : `tank: ${v.tankId} IN SHORTFALL since entry ${v.tankShortfallSince}: its last gauging found less oil than its receipts claim`;
}

function pledgeWords(p) {
  const status =
    p.status.kind === 'active'
      ? 'in force'
      : p.status.kind === 'released'
        ? `released at entry ${p.status.at}`
        : `enforced at entry ${p.status.at}, the receipt going to ${p.status.transfereeId}`;
  return `entry ${p.seq}: pledge ${p.pledgeId} of receipt ${p.receiptId} to ${p.pledgee}, ${status}`;
}

/** The verdict as `pledgectl verify-bundle --json` prints it (without a witness policy). */
export function cliJson(v) {
  const s = v.status;
  const ended = (p) => (p.status.kind === 'active' ? null : number(p.status.at));
  return {
    verified: true,
    ledger_id: v.ledgerId,
    checkpoint: {
      tree_size: number(v.treeSize),
      root: v.root,
      chain_head: v.headHash,
      time_ms: number(v.checkpointTimeMs),
      time: rfc3339(v.checkpointTimeMs),
    },
    witnessed: false,
    cosigners: [],
    receipt_id: v.receiptId,
    warehouse: v.warehouse,
    holder: v.holder,
    quantity_kg: number(v.quantityKg),
    status: s.kind,
    status_at: s.kind === 'cancelled' || s.kind === 'split' ? number(s.at) : null,
    split_into: s.kind === 'split' ? s.parts : null,
    live: isLive(s),
    frozen: v.freeze && { regulator: v.freeze.regulator, since: number(v.freeze.since) },
    active_pledge: v.activePledge && {
      pledge_id: v.activePledge.pledgeId,
      pledgee: v.activePledge.pledgee,
      registered_at: number(v.activePledge.registeredAt),
    },
    pledges: v.registrations.map((p) => ({
      seq: number(p.seq),
      pledge_id: p.pledgeId,
      receipt_id: p.receiptId,
      pledgee: p.pledgee,
      status: p.status.kind,
      ended_at: ended(p),
      transferee: p.status.kind === 'enforced' ? p.status.transfereeId : null,
    })),
    lineage: v.lineage,
    entries: v.entrySeqs.map(number),
    history_len: number(v.historyLen),
    latest_entry: number(v.latestEntry),
    state_root: v.stateRoot,
    tank: { tank_id: v.tankId, shortfall_since: v.tankShortfallSince === null ? null : number(v.tankShortfallSince) },
    summary: statusWords(v),
  };
}

/** The verdict as `pledgectl verify-bundle` prints it (without a witness policy). */
export function cliText(v) {
  const lines = [
    `verified: receipt ${v.receiptId} of ledger ${v.ledgerId}, as of checkpoint size ${v.treeSize} made ${rfc3339(v.checkpointTimeMs)} (root ${v.root})`,
    "witnesses: none required (no witness policy given): this rests on the node's key alone",
    `receipt: ${v.quantityKg} kg, issued by warehouse ${v.warehouse}, held by ${v.holder}`,
    `status: ${statusWords(v)}`,
    `completeness: its whole history of ${v.historyLen} entries, the latest entry ${v.latestEntry}, matches the state the checkpoint commits to (state root ${v.stateRoot})`,
    tankWords(v),
  ];
  if (v.lineage.length > 1) lines.push(`lineage: ${v.lineage.join(' \u2192 ')} (split parts of the first)`);
  if (v.registrations.length === 0) lines.push('pledges: none ever registered in its history');
  else {
    lines.push('pledges registered in its history:');
    for (const p of v.registrations) lines.push(`  ${pledgeWords(p)}`);
  }
  lines.push(`entries checked: ${v.entrySeqs.join(', ')}`);
  return lines.join('\n');
}

/** A failure as `pledgectl verify-bundle --json` prints it. */
export function cliFailure(error) {
  return { verified: false, reason: error.message };
}
