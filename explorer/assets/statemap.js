// The state map (docs/FORMAT.md §7.9): map keys, leaf and node hashes,
// proofs of presence under a checkpoint's state root, and leaf preimages
// read back field by field, as ledger/src/statemap checks them. Errors are
// VerifyErrors whose messages are ledger/src/bundle.rs's.

import { VerifyError, equal, utf8 } from './bytes.js';
import { debugString } from './note.js';
import { sha256 } from './webcrypto.js';

const STATE_KEY_TAG = utf8('pledge-ledger/v1/state-key\0');
const MAP_LEAF_TAG = utf8('pledge-ledger/v1/map-leaf\0');
const MAP_NODE_TAG = utf8('pledge-ledger/v1/map-node\0');
export const RECEIPT_STATE_TAG = 'pledge-ledger/v1/receipt-state\0';
export const TANK_STATE_TAG = 'pledge-ledger/v1/tank-state\0';
export const KEY_BITS = 256;

/** What a map key names. */
export const KIND = { receipt: 0x01, tank: 0x02 };

/** SHA-256(STATE_KEY_TAG ‖ kind ‖ id). */
export function mapKey(kind, id) {
  return sha256(STATE_KEY_TAG, new Uint8Array([kind]), utf8(id));
}

function leafHash(key, value) {
  return sha256(MAP_LEAF_TAG, key, value);
}

function nodeHash(left, right) {
  return sha256(MAP_NODE_TAG, left, right);
}

/** Bit `depth` of `key`, most significant bit of byte 0 first. */
function bit(key, depth) {
  return (key[depth >> 3] >> (7 - (depth % 8))) & 1;
}

/** The root a proof of presence of `key → value` leads to. */
async function rootFor(key, value, siblings) {
  let hash = await leafHash(key, value);
  const depth = siblings.length;
  for (const [i, sibling] of siblings.entries()) {
    hash = bit(key, depth - 1 - i) === 0 ? await nodeHash(hash, sibling) : await nodeHash(sibling, hash);
  }
  return hash;
}

/** A state preimage that does not read (Rust's LeafError). */
function badState(reason) {
  return new VerifyError(`state: ${reason}`);
}

/** A leaf preimage read back: each field number's values, in order. */
export class LeafFields {
  /** Reads a preimage written with `tag` (RECEIPT_STATE_TAG or TANK_STATE_TAG). */
  constructor(tag, preimage) {
    const tagBytes = utf8(tag);
    if (preimage.length < tagBytes.length || !equal(preimage.subarray(0, tagBytes.length), tagBytes)) {
      throw badState(`the state preimage does not start with the tag ${debugString(tag.replace(/\0+$/, ''))}`);
    }
    this.fields = new Map();
    let at = tagBytes.length;
    let last = 0;
    const view = new DataView(preimage.buffer, preimage.byteOffset, preimage.length);
    while (at < preimage.length) {
      const malformed = badState(`the state preimage is malformed at byte ${at}`);
      if (preimage.length - at < 5) throw malformed;
      const number = preimage[at];
      const length = view.getUint32(at + 1);
      if (preimage.length - at - 5 < length) throw malformed;
      if (number < last || number === 0) throw malformed;
      last = number;
      const value = preimage.subarray(at + 5, at + 5 + length);
      if (!this.fields.has(number)) this.fields.set(number, []);
      this.fields.get(number).push(value);
      at += 5 + length;
    }
  }

  all(number) {
    return this.fields.get(number) ?? [];
  }

  bad(number) {
    return badState(`the state preimage lacks field ${number} or holds it malformed`);
  }

  /** The one text value of field `number`, or null. */
  text(number) {
    const values = this.all(number);
    if (values.length === 0) return null;
    if (values.length > 1) throw this.bad(number);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(values[0]);
    } catch {
      throw this.bad(number);
    }
  }

  /** The one integer value of field `number` (a BigInt), or null. */
  int(number) {
    const values = this.all(number);
    if (values.length === 0) return null;
    if (values.length > 1 || values[0].length !== 8) throw this.bad(number);
    return new DataView(values[0].buffer, values[0].byteOffset, 8).getBigUint64(0);
  }

  requiredText(number) {
    const value = this.text(number);
    if (value === null) throw this.bad(number);
    return value;
  }

  requiredInt(number) {
    const value = this.int(number);
    if (value === null) throw this.bad(number);
    return value;
  }

  /** Every value of a repeated text field. */
  texts(number) {
    return this.all(number).map((value) => {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(value);
      } catch {
        throw this.bad(number);
      }
    });
  }
}

/**
 * Checks that the leaf `key(kind, field 1) → SHA-256(preimage)` is present
 * under `stateRoot` with `siblings`; returns the preimage's fields.
 */
export async function provenLeaf(preimage, siblings, stateRoot, kind, tag) {
  const fields = new LeafFields(tag, preimage);
  const id = fields.requiredText(1);
  const key = await mapKey(kind, id);
  const value = await sha256(preimage);
  if (!equal(await rootFor(key, value, siblings), stateRoot)) {
    throw new VerifyError(
      `the state of ${id} is not proven under the checkpoint's state root: the proof does not lead to the state root`,
    );
  }
  return fields;
}

export function tooLongProof(found) {
  return new VerifyError(
    `the state of  is not proven under the checkpoint's state root: a map proof has ${found} siblings, at most ${KEY_BITS}`,
  );
}

