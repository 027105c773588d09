// Entry records (docs/FORMAT.md §3): body ‖ seal, decoded as
// ledger/src/entry.rs does; the entry hash, the node's seal and the
// parties' signatures checked with Web Crypto.

import { Reader, VerifyError, fromUtf8, utf8, concat } from './bytes.js';
import { sha256, verifyEd25519 } from './webcrypto.js';

const ENTRY_VERSION = 1;
// An attempt entry (FORMAT.md §3.2): a refused envelope with its refusal.
const ATTEMPT_KIND = 2;
const MAX_REFUSAL_FIELDS = 32;
const MAX_REFUSAL_VALUE = 1024;
const REASON_CODE = /^[A-Z_]{1,64}$/;
const FIELD_KEY = /^[a-z0-9_]{1,64}$/;
const MAX_TX_BYTES = 64 * 1024;
const MAX_SIGNATURES = 16;
const SEAL_LEN = 64;
const ID = /^[A-Za-z0-9._:/-]{1,64}$/;

export const TX_SIGNATURE_TAG = utf8('pledge-ledger/v1/transaction\0');
export const ENTRY_HASH_TAG = utf8('pledge-ledger/v1/entry\0');
export const SEAL_TAG = utf8('pledge-ledger/v1/seal\0');

function malformed(reason) {
  return new VerifyError(`entry record is malformed: ${reason}`);
}

/**
 * Decodes a record into { seq, prevHash, timeMs, txBytes, signatures, refusal, seal, body };
 * `refusal` ({ reason, fields: [[key, value], ...] }) only for an attempt entry, else null.
 */
export function decodeRecord(record) {
  const reader = new Reader(record);
  const version = reader.u8('version');
  if (version !== ENTRY_VERSION && version !== ATTEMPT_KIND) throw malformed(`unknown entry version ${version}`);
  const seq = reader.u64('seq');
  const prevHash = reader.take(32, 'prev_hash');
  const timeMs = reader.u64('time_ms');
  const txLen = reader.u32('tx_len');
  if (txLen === 0 || txLen > MAX_TX_BYTES) {
    throw malformed(`transaction length ${txLen} is outside 1..=${MAX_TX_BYTES}`);
  }
  const txBytes = reader.take(txLen, 'tx_bytes');
  const signatures = readSignatures(reader);
  const refusal = version === ATTEMPT_KIND ? readRefusal(reader) : null;
  const seal = reader.take(SEAL_LEN, 'seal');
  if (reader.left() > 0) throw malformed(`${reader.left()} bytes after the seal`);
  const body = record.subarray(0, record.length - SEAL_LEN);
  return { seq, prevHash, timeMs, txBytes, signatures, refusal, seal, body };
}

function readName(reader, field, pattern) {
  const text = fromUtf8(reader.take(reader.u8(`${field}_len`), field));
  if (text === null || !pattern.test(text)) throw malformed(`refusal ${field} is not valid`);
  return text;
}

function readRefusal(reader) {
  const reason = readName(reader, 'reason', REASON_CODE);
  const count = reader.u8('field_count');
  if (count > MAX_REFUSAL_FIELDS) throw malformed(`${count} refusal fields, at most ${MAX_REFUSAL_FIELDS}`);
  const fields = [];
  for (let i = 0; i < count; i++) {
    const key = readName(reader, 'key', FIELD_KEY);
    if (fields.length > 0 && !(fields[fields.length - 1][0] < key)) {
      throw malformed(`refusal field ${key} is not after the previous key`);
    }
    const lenBytes = reader.take(2, 'value_len');
    const length = (lenBytes[0] << 8) | lenBytes[1];
    if (length > MAX_REFUSAL_VALUE) throw malformed(`refusal field ${key} is ${length} bytes long`);
    const value = fromUtf8(reader.take(length, 'value'));
    if (value === null) throw malformed(`refusal field ${key} is not UTF-8`);
    fields.push([key, value]);
  }
  return { reason, fields };
}

function readSignatures(reader) {
  const count = reader.u8('sig_count');
  if (count === 0 || count > MAX_SIGNATURES) {
    throw malformed(`signature count ${count} is outside 1..=${MAX_SIGNATURES}`);
  }
  const signatures = [];
  for (let i = 0; i < count; i++) {
    const length = reader.u8('signer_len');
    const signer = fromUtf8(reader.take(length, 'signer'));
    if (signer === null) throw malformed('signer is not UTF-8');
    if (!ID.test(signer)) throw new VerifyError(`field \`signer\` is not a valid id: ${JSON.stringify(signer)}`);
    const publicKey = reader.take(32, 'public_key');
    const signature = reader.take(64, 'signature');
    signatures.push({ signer, publicKey, signature });
  }
  return signatures;
}

/** SHA-256(ENTRY_HASH ‖ body). */
export function entryHash(entry) {
  return sha256(ENTRY_HASH_TAG, entry.body);
}

/** Whether the node's seal verifies: Ed25519(node key, SEAL ‖ entry hash). */
export async function sealVerifies(entry, nodeKey) {
  const hash = await entryHash(entry);
  return verifyEd25519(nodeKey, entry.seal, concat(SEAL_TAG, hash));
}

/** Checks every party signature over TX_SIGNATURE ‖ tx_bytes; fails naming the first bad one. */
export async function verifyParties(entry) {
  const message = concat(TX_SIGNATURE_TAG, entry.txBytes);
  for (const { signer, publicKey, signature } of entry.signatures) {
    if (!(await verifyEd25519(publicKey, signature, message))) {
      throw new VerifyError(`signature of \`${signer}\` does not verify over this transaction`);
    }
  }
}
