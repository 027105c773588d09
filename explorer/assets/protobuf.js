// A protobuf decoder driven by the ledger's own schema (served by the node
// at /evidence/schema.json, derived from the compiled .proto files), so
// the verifier reads transactions exactly as the proto defines them.
//
// Decoded messages are plain objects keyed by the proto's field names:
// 64-bit integers are BigInt, 32-bit ones Number, bytes Uint8Array,
// repeated fields arrays, unset fields their proto3 defaults (a message
// field: null). For a oneof, `msg[oneof]` names the field that is set.
// A field the schema does not declare is refused, as the ledger refuses it
// in a signed transaction (docs/FORMAT.md §2, canonical encoding).

import { VerifyError, fromUtf8 } from './bytes.js';

const MAX_DEPTH = 32;

class Cursor {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }
  done() {
    return this.at >= this.bytes.length;
  }
  varint() {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.done()) throw bad('buffer underflow');
      const b = this.bytes[this.at++];
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value & 0xffffffffffffffffn;
    }
    throw bad('invalid varint');
  }
  take(n) {
    if (n > this.bytes.length - this.at) throw bad('buffer underflow');
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

function bad(reason) {
  return new VerifyError(`failed to decode Protobuf message: ${reason}`);
}

const DEFAULTS = {
  string: () => '',
  bytes: () => new Uint8Array(0),
  bool: () => false,
  message: () => null,
};

function defaultOf(field) {
  if (field.repeated) return [];
  if (DEFAULTS[field.type]) return DEFAULTS[field.type]();
  return /64$/.test(field.type) ? 0n : 0;
}

function toSigned(value, bits) {
  return BigInt.asIntN(bits, value);
}

function scalar(field, wire, cursor) {
  const t = field.type;
  if (wire === 0) {
    const v = cursor.varint();
    switch (t) {
      case 'uint64': return v;
      case 'int64': return toSigned(v, 64);
      case 'uint32': return Number(v & 0xffffffffn);
      case 'int32': case 'enum': return Number(toSigned(v, 32));
      case 'bool': return v !== 0n;
      case 'sint32': return Number((v >> 1n) ^ -(v & 1n));
      case 'sint64': return (v >> 1n) ^ -(v & 1n);
    }
  }
  if (wire === 1 && /^(fixed64|sfixed64|double)$/.test(t)) {
    const b = cursor.take(8);
    const view = new DataView(b.buffer, b.byteOffset, 8);
    if (t === 'double') return view.getFloat64(0, true);
    return t === 'fixed64' ? view.getBigUint64(0, true) : view.getBigInt64(0, true);
  }
  if (wire === 5 && /^(fixed32|sfixed32|float)$/.test(t)) {
    const b = cursor.take(4);
    const view = new DataView(b.buffer, b.byteOffset, 4);
    if (t === 'float') return view.getFloat32(0, true);
    return t === 'fixed32' ? view.getUint32(0, true) : view.getInt32(0, true);
  }
  throw bad(`invalid wire type ${wire} for field ${field.name}`);
}

const PACKABLE = /^(u?int(32|64)|sint(32|64)|s?fixed(32|64)|bool|enum|double|float)$/;

/** Decodes `bytes` as the message `typeName` of `schema`. */
export function decode(schema, typeName, bytes, depth = 0) {
  if (depth > MAX_DEPTH) throw bad('recursion limit reached');
  const fields = schema.messages[typeName];
  if (!fields) throw bad(`unknown message type ${typeName}`);
  const out = {};
  for (const field of Object.values(fields)) {
    out[field.name] = defaultOf(field);
    if (field.oneof) out[field.oneof] = null;
  }
  const cursor = new Cursor(bytes);
  while (!cursor.done()) {
    const key = cursor.varint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (number === 0) throw bad('invalid field number 0');
    const field = fields[String(number)];
    if (!field) throw bad(`field ${number} of ${typeName} is not declared by the format: a signed transaction carries only declared fields`);
    readField(schema, field, wire, cursor, out, depth);
  }
  return out;
}

function readField(schema, field, wire, cursor, out, depth) {
  let value;
  if (field.type === 'message' || field.type === 'string' || field.type === 'bytes') {
    if (wire !== 2) throw bad(`invalid wire type ${wire} for field ${field.name}`);
    const data = cursor.take(Number(cursor.varint()));
    if (field.type === 'message') value = decode(schema, field.message, data, depth + 1);
    else if (field.type === 'bytes') value = data.slice();
    else {
      value = fromUtf8(data);
      if (value === null) throw bad('invalid string value: data is not UTF-8 encoded');
    }
  } else if (field.repeated && wire === 2 && PACKABLE.test(field.type)) {
    const packed = new Cursor(cursor.take(Number(cursor.varint())));
    const wireOf = /64|double/.test(field.type) && /fixed|double/.test(field.type) ? 1
      : /32|float/.test(field.type) && /fixed|float/.test(field.type) ? 5 : 0;
    while (!packed.done()) out[field.name].push(scalar(field, wireOf, packed));
    return;
  } else {
    value = scalar(field, wire, cursor);
  }
  if (field.repeated) {
    out[field.name].push(value);
    return;
  }
  // A oneof holds one member: setting another clears the first.
  const previous = field.oneof ? out[field.oneof] : undefined;
  if (previous && previous !== field.name) out[previous] = null;
  out[field.name] = value;
  if (field.oneof) out[field.oneof] = field.name;
}
