// Checkpoints as C2SP signed notes (docs/FORMAT.md §7.1–7.2), verified as
// ledger/src/checkpoint.rs does: the note's characters, its signature
// block, the node's signature line (the first by the node's key name and
// key id decides), then the six text lines in canonical form (origin,
// size, root, chain-head, state-root, time).

import { VerifyError, fromBase64, fromHex, toHex, utf8 } from './bytes.js';
import { sha256, verifyEd25519 } from './webcrypto.js';

export const ORIGIN_PREFIX = 'pledgeledger/';
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURE_LINES = 100;
const LINE_PREFIX = '\u2014 ';
const QUOTE_LEN = 80;
export const EMPTY_ROOT_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** A string as Rust's `{:?}` prints it. */
export function debugString(text) {
  let out = '"';
  for (const c of text) {
    const code = c.codePointAt(0);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\0') out += '\\0';
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += c;
  }
  return out + '"';
}

function quote(text) {
  return [...text].slice(0, QUOTE_LEN).join('');
}

/** The origin of a ledger's checkpoints. */
export function ledgerOrigin(ledgerId) {
  return ORIGIN_PREFIX + ledgerId;
}

/** The C2SP key id: SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[0..4]. */
export async function keyId(keyName, publicKey) {
  const digest = await sha256(utf8(keyName), new Uint8Array([0x0a, 0x01]), publicKey);
  return digest.subarray(0, 4);
}

function isKeyName(name) {
  return name.length > 0 && !/[\s+]/u.test(name);
}

function checkCharacters(text) {
  const bytes = utf8(text);
  const offset = bytes.findIndex((b) => (b < 0x20 && b !== 0x0a) || b === 0x7f);
  if (offset >= 0) {
    const byte = `0x${bytes[offset].toString(16).padStart(2, '0')}`;
    throw new VerifyError(`checkpoint: control character ${byte} at byte ${offset} of the note`);
  }
}

function checkOrigin(origin) {
  const bad = (reason) =>
    new VerifyError(
      `checkpoint: origin ${debugString(quote(origin))} is not a valid checkpoint origin: ${reason}`,
    );
  if (!isKeyName(origin) || /\p{Cc}/u.test(origin)) {
    throw bad("empty, or holds white space, '+' or a control character");
  }
  if (!origin.startsWith(ORIGIN_PREFIX) || origin.length === ORIGIN_PREFIX.length) {
    throw bad('not of the form pledgeledger/<ledger_id>');
  }
}

/** Parses `— <name> <base64(key id ‖ signature)>`. */
export function parseSignatureLine(line, number) {
  const malformed = (reason) =>
    new VerifyError(`checkpoint: signature line ${number} is malformed: ${reason}`);
  if (!line.startsWith(LINE_PREFIX)) throw malformed('does not start with an em dash and a space');
  const rest = line.slice(LINE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw malformed('no space between key name and signature');
  const name = rest.slice(0, space);
  if (!isKeyName(name)) throw malformed("key name is empty or holds a space or '+'");
  const blob = fromBase64(rest.slice(space + 1));
  if (!blob) throw malformed('signature is not canonical standard base64');
  if (blob.length < 5) throw malformed('signature is shorter than a key id and one byte');
  return { name, id: blob.subarray(0, 4), signature: blob.subarray(4) };
}

/** Splits a note into its text and signature lines, checking the node's signature. */
async function openNote(note, origin, nodeKey) {
  const length = utf8(note).length;
  if (length > MAX_NOTE_BYTES) {
    throw new VerifyError(`checkpoint: signed note is ${length} bytes, at most ${MAX_NOTE_BYTES} allowed`);
  }
  checkCharacters(note);
  const split = note.lastIndexOf('\n\n');
  const noBlock = new VerifyError('checkpoint: the note has no signature lines after a blank line');
  if (split < 0) throw noBlock;
  const text = note.slice(0, split + 1);
  let block = note.slice(split + 2);
  if (!block.endsWith('\n')) throw noBlock;
  block = block.slice(0, -1);
  if (block === '') throw noBlock;
  const lines = block.split('\n');
  if (lines.length > MAX_SIGNATURE_LINES) {
    throw new VerifyError(
      `checkpoint: note has ${lines.length} signature lines, at most ${MAX_SIGNATURE_LINES} allowed`,
    );
  }
  const expectedId = await keyId(origin, nodeKey);
  let verified = false;
  for (const [index, line] of lines.entries()) {
    const { name, id, signature } = parseSignatureLine(line, index + 1);
    if (verified || name !== origin || toHex(id) !== toHex(expectedId)) continue;
    if (!(await verifyEd25519(nodeKey, signature, utf8(text)))) {
      throw new VerifyError(
        `checkpoint: the signature by ${origin} (key id ${toHex(expectedId)}) does not verify`,
      );
    }
    verified = true;
  }
  if (!verified) {
    throw new VerifyError(
      `checkpoint: the note is not signed by key ${quote(origin)} (key id ${toHex(expectedId)})`,
    );
  }
  return text;
}

function parseDecimal(text) {
  const canonical = /^[0-9]+$/.test(text) && (text === '0' || !text.startsWith('0'));
  if (!canonical) return null;
  const value = BigInt(text);
  return value <= 0xffffffffffffffffn ? value : null;
}

function badField(field, found) {
  return new VerifyError(`checkpoint: checkpoint ${field} ${debugString(quote(found))} is not canonical`);
}

/** Parses the six checkpoint lines strictly (§7.1). */
export function parseText(text) {
  checkCharacters(text);
  if (!text.endsWith('\n')) throw new VerifyError('checkpoint: checkpoint text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  let at = 0;
  const next = (field) => {
    if (at >= lines.length) throw new VerifyError(`checkpoint: checkpoint text lacks its ${field} line`);
    const line = lines[at++];
    if (line === '') throw new VerifyError(`checkpoint: checkpoint text has an empty line where ${field} belongs`);
    return line;
  };
  const unexpected = (line) =>
    new VerifyError(`checkpoint: checkpoint text has an unexpected line ${debugString(quote(line))}`);
  const fields = ['origin', 'tree size', 'root hash', 'chain-head', 'state-root', 'time'];
  const [origin, sizeText, rootText, head, state, time] = fields.map(next);
  if (at < lines.length) throw unexpected(lines[at]);
  checkOrigin(origin);
  const size = parseDecimal(sizeText);
  if (size === null) throw badField('tree size', sizeText);
  const root = fromBase64(rootText);
  if (!root || root.length !== 32) throw badField('root hash', rootText);
  if (!head.startsWith('chain-head ')) throw unexpected(head);
  const headHex = head.slice('chain-head '.length);
  const headHash = fromHex(headHex, true);
  if (!headHash || headHash.length !== 32) throw badField('chain-head', headHex);
  if (!state.startsWith('state-root ')) throw unexpected(state);
  const stateHex = state.slice('state-root '.length);
  const stateRoot = fromHex(stateHex, true);
  if (!stateRoot || stateRoot.length !== 32) throw badField('state-root', stateHex);
  if (!time.startsWith('time ')) throw unexpected(time);
  const timeMs = parseDecimal(time.slice('time '.length));
  if (timeMs === null) throw badField('time', time.slice('time '.length));
  const zero = (bytes) => bytes.every((b) => b === 0);
  if (size === 0n && (toHex(root) !== EMPTY_ROOT_HEX || !zero(headHash) || !zero(stateRoot))) {
    throw new VerifyError(
      'checkpoint: a checkpoint of size 0 must have the empty root, a zero chain head and a zero state root',
    );
  }
  return { origin, size, root, headHash, stateRoot, timeMs };
}

/** Verifies a signed note under the node's key and parses its checkpoint. */
export async function verifyNote(note, origin, nodeKey) {
  const text = await openNote(note, origin, nodeKey);
  const checkpoint = parseText(text);
  if (checkpoint.origin !== origin) {
    throw new VerifyError(
      `checkpoint: checkpoint origin is ${debugString(quote(checkpoint.origin))}, expected ${debugString(origin)}`,
    );
  }
  return checkpoint;
}

/** Every signature line of a note (key name, key id hex), for display. */
export function signatureLines(note) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return [];
  return note
    .slice(split + 2)
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      try {
        const { name, id } = parseSignatureLine(line, i + 1);
        return { name, keyId: toHex(id) };
      } catch {
        return { name: line, keyId: '' };
      }
    });
}

