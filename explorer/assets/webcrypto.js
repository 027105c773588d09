// SHA-256 and Ed25519 through the browser's Web Crypto: no cryptography is
// implemented in this script.

import { VerifyError, concat, toHex } from './bytes.js';

const subtle = globalThis.crypto?.subtle;

/** Whether this browser can verify (Web Crypto with Ed25519). */
export async function available() {
  if (!subtle) return false;
  try {
    await subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify']);
    return true;
  } catch (error) {
    // A key that is not a point is refused with a DataError: Ed25519 itself works.
    return error?.name === 'DataError';
  }
}

/** SHA-256 of the concatenation of the parts. */
export async function sha256(...parts) {
  return new Uint8Array(await subtle.digest('SHA-256', concat(...parts)));
}

const keys = new Map();

async function importKey(publicKey) {
  const hex = toHex(publicKey);
  if (!keys.has(hex)) {
    const key = subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    keys.set(hex, key);
  }
  return keys.get(hex);
}

/**
 * Whether `signature` (64 bytes) is `publicKey`'s (32 bytes) Ed25519
 * signature over `message`. A key that is not a curve point verifies nothing.
 */
export async function verifyEd25519(publicKey, signature, message) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await importKey(publicKey);
    return await subtle.verify({ name: 'Ed25519' }, key, signature, message);
  } catch {
    return false;
  }
}

/** Fails with a clear message when the browser lacks what verification needs. */
export async function requireSupport() {
  if (!(await available())) {
    throw new VerifyError(
      'this browser has no Web Crypto Ed25519 (Chrome 137+, Firefox 129+, Safari 17+): use pledgectl verify-bundle',
    );
  }
}
