// RFC 9162 Merkle inclusion proofs (docs/FORMAT.md §6), as
// ledger/src/merkle/verify.rs checks them: the proof's length first (so a
// proof with missing or extra hashes says so), then the root. Indexes and
// sizes are BigInt (u64).

import { VerifyError, equal, toHex } from './bytes.js';
import { sha256 } from './webcrypto.js';

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

/** SHA-256(0x00 ‖ data). */
export function leafHash(data) {
  return sha256(LEAF, data);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left, right) {
  return sha256(NODE, left, right);
}

function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

function popcount(n) {
  return [...n.toString(2)].filter((c) => c === '1').length;
}

/** The number of hashes in the inclusion proof of `index` in a tree of `size`. */
export function inclusionProofLength(index, size) {
  if (index >= size) {
    throw new VerifyError(`leaf index ${index} is out of range for tree size ${size}`);
  }
  const inner = bitLength(index ^ (size - 1n));
  return inner + popcount(index >> BigInt(inner));
}

function wrongLength(expected, proof) {
  return new VerifyError(`proof has ${proof.length} hashes, expected ${expected}`);
}

/** The root an inclusion proof leads to (RFC 9162 §2.1.3.2). */
export async function rootFromInclusionProof(leaf, index, size, proof) {
  const expected = inclusionProofLength(index, size);
  if (proof.length !== expected) throw wrongLength(expected, proof);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw wrongLength(expected, proof);
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw wrongLength(expected, proof);
  return r;
}

/** Checks that `proof` shows `leaf` at `index` in the tree of `size` with `root`. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  const computed = await rootFromInclusionProof(leaf, index, size, proof);
  if (!equal(computed, root)) {
    throw new VerifyError(
      `root mismatch for tree size ${size}: expected ${toHex(root)}, computed ${toHex(computed)}`,
    );
  }
}
