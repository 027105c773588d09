// The receipt's lifecycle folded from a bundle's entries (docs/FORMAT.md
// §7.6, the table of coherence checks), as ledger/src/bundle.rs folds it:
// the same checks, in the same order, with the same messages, so the
// browser's verdict is `pledgectl verify-bundle`'s. The browser test
// compares the two on a real bundle and on tampered copies of it.

import { VerifyError } from './bytes.js';
import { debugString } from './note.js';

/** Rust's `{:?}` of a set of strings (sorted, as a BTreeSet prints). */
function debugSet(items) {
  return `{${[...items].sort(byteOrder).map(debugString).join(', ')}}`;
}

function byteOrder(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function incoherent(seq, reason) {
  return new VerifyError(`entry ${seq} does not follow from the history before it: ${reason}`);
}

function notAbout(seq, operation) {
  return new VerifyError(`entry ${seq} (${operation}) does not concern the receipt`);
}

/** A receipt status as Rust's `{:?}` prints it (pledgectl's JSON). */
export function receiptStatusDebug(status) {
  switch (status.kind) {
    case 'active': return 'Active';
    case 'pledged': return `Pledged { pledge_id: ${debugString(status.pledgeId)} }`;
    case 'cancelled': return `Cancelled { at: ${status.at} }`;
    case 'split': return `Split { at: ${status.at}, parts: [${status.parts.map(debugString).join(', ')}] }`;
  }
  return status.kind;
}

/** A pledge status as Rust's `{:?}` prints it. */
export function pledgeStatusDebug(status) {
  switch (status.kind) {
    case 'active': return 'Active';
    case 'released': return `Released { at: ${status.at} }`;
    case 'enforced': return `Enforced { at: ${status.at}, transferee_id: ${debugString(status.transfereeId)} }`;
  }
  return status.kind;
}

function isLive(status) {
  return status.kind === 'active' || status.kind === 'pledged';
}

function certificateKey(agency, number) {
  return JSON.stringify([agency, number]);
}

function soleSigner(seq, signers) {
  if (signers.size === 1) return [...signers][0];
  throw incoherent(seq, `expected one signer, found ${debugSet(signers)}`);
}

function expectSigners(seq, signers, expected) {
  const want = new Set(expected);
  const same = want.size === signers.size && [...want].every((s) => signers.has(s));
  if (!same) {
    throw incoherent(seq, `signed by ${debugSet(signers)}, but the history says ${debugSet(want)} must sign`);
  }
}

/** Folds entries (seq, signers, operation name, operation fields) into a verdict. */
export class Fold {
  constructor(target) {
    this.target = target;
    this.certificates = new Map();
    this.receipts = new Map();
    this.pledges = new Map();
    this.touched = [];
    this.seqs = [];
  }

  apply(seq, signers, name, op) {
    this.seqs.push(seq);
    const handler = this[`on_${name}`];
    if (!handler) throw notAbout(seq, name);
    handler.call(this, seq, signers, name, op);
  }

  on_certify_stock(seq, signers, name, op) {
    const warehouse = soleSigner(seq, signers);
    const key = certificateKey(op.inspection_agency, op.certificate_no);
    if (this.receipts.size > 0 || this.certificates.has(key)) throw notAbout(seq, name);
    this.certificates.set(key, {
      seq,
      agency: op.inspection_agency,
      number: op.certificate_no,
      tankId: op.tank_id,
      warehouse,
      depositor: op.depositor_id,
      quantityKg: op.quantity_kg,
      used: false,
    });
  }

  on_issue_receipt(seq, signers, name, op) {
    const cert = this.certificates.get(certificateKey(op.inspection_agency, op.certificate_no));
    const certName = `${op.inspection_agency} certificate ${op.certificate_no}`;
    if (!cert) {
      throw incoherent(seq, `issue of ${op.receipt_id} without the certification of ${certName} in the bundle`);
    }
    if (cert.used || cert.tankId !== op.tank_id) {
      throw incoherent(seq, `${certName} does not back receipt ${op.receipt_id}`);
    }
    if (op.quantity_kg > cert.quantityKg) throw incoherent(seq, `receipt ${op.receipt_id} exceeds its certificate`);
    expectSigners(seq, signers, [cert.warehouse]);
    cert.used = true;
    this.receipts.set(op.receipt_id, {
      warehouse: cert.warehouse,
      holder: cert.depositor,
      quantityKg: op.quantity_kg,
      status: { kind: 'active' },
      frozen: false,
      parent: null,
    });
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_transfer_receipt(seq, signers, name, op) {
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, receipt.warehouse]);
    if (receipt.holder === op.new_holder_id) throw incoherent(seq, `${op.new_holder_id} already holds it`);
    receipt.holder = op.new_holder_id;
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_split_receipt(seq, signers, name, op) {
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, receipt.warehouse]);
    const total = op.parts.reduce((sum, part) => sum + part.quantity_kg, 0n);
    if (total !== receipt.quantityKg || total > 0xffffffffffffffffn) {
      throw incoherent(seq, 'the parts do not add up to the receipt');
    }
    receipt.status = { kind: 'split', at: seq, parts: op.parts.map((p) => p.receipt_id) };
    for (const part of op.parts) {
      if (this.receipts.has(part.receipt_id)) throw incoherent(seq, `part ${part.receipt_id} already exists`);
      this.receipts.set(part.receipt_id, {
        warehouse: receipt.warehouse,
        holder: receipt.holder,
        quantityKg: part.quantity_kg,
        status: { kind: 'active' },
        frozen: false,
        parent: op.receipt_id,
      });
    }
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_cancel_receipt(seq, signers, name, op) {
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, receipt.warehouse]);
    receipt.status = { kind: 'cancelled', at: seq };
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_register_pledge(seq, signers, name, op) {
    if (this.pledges.has(op.pledge_id)) throw incoherent(seq, `pledge ${op.pledge_id} is registered twice`);
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, op.pledgee_id]);
    receipt.status = { kind: 'pledged', pledgeId: op.pledge_id };
    this.pledges.set(op.pledge_id, {
      receiptId: op.receipt_id,
      record: { seq, pledgeId: op.pledge_id, pledgee: op.pledgee_id, status: { kind: 'active' } },
    });
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_release_pledge(seq, signers, name, op) {
    this.endPledge(seq, name, signers, op.pledge_id, undefined);
  }

  on_enforce_pledge(seq, signers, name, op) {
    this.endPledge(seq, name, signers, op.pledge_id, op.transferee_id === '' ? null : op.transferee_id);
  }

  on_freeze_receipt(seq, signers, name, op) {
    soleSigner(seq, signers);
    const receipt = this.tracked(seq, name, op.receipt_id);
    if (receipt.frozen || !isLive(receipt.status)) {
      throw incoherent(seq, `receipt ${op.receipt_id} is already frozen or not live`);
    }
    receipt.frozen = true;
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_unfreeze_receipt(seq, signers, name, op) {
    soleSigner(seq, signers);
    const receipt = this.tracked(seq, name, op.receipt_id);
    if (!receipt.frozen) throw incoherent(seq, `receipt ${op.receipt_id} is not frozen`);
    receipt.frozen = false;
    this.touched.push([seq, name, op.receipt_id]);
  }

  tracked(seq, operation, receiptId) {
    const receipt = this.receipts.get(receiptId);
    if (!receipt) throw notAbout(seq, operation);
    return receipt;
  }

  /** A tracked receipt that may change: live, not pledged, not frozen. */
  changeable(seq, operation, receiptId) {
    const receipt = this.tracked(seq, operation, receiptId);
    let reason;
    if (receipt.frozen) reason = 'it is frozen';
    else if (receipt.status.kind === 'active') return receipt;
    else if (receipt.status.kind === 'pledged') reason = `it is under pledge ${receipt.status.pledgeId}`;
    else reason = `it is ${receipt.status.kind}`;
    throw incoherent(seq, `${operation} of receipt ${receiptId} while ${reason}`);
  }

  /** Ends a pledge; `enforcedTo` is undefined for a release, null or an id for an enforcement. */
  endPledge(seq, operation, signers, pledgeId, enforcedTo) {
    const pledge = this.pledges.get(pledgeId);
    if (!pledge) {
      throw new VerifyError(`entry ${seq} ends pledge ${pledgeId}, which the bundle never registered`);
    }
    if (pledge.record.status.kind !== 'active') {
      throw incoherent(seq, `pledge ${pledgeId} is already ${pledge.record.status.kind}`);
    }
    expectSigners(seq, signers, [pledge.record.pledgee]);
    const receipt = this.receipts.get(pledge.receiptId);
    if (!receipt) throw notAbout(seq, operation);
    const pledgedHere = receipt.status.kind === 'pledged' && receipt.status.pledgeId === pledgeId;
    if (!pledgedHere || receipt.frozen) {
      throw incoherent(seq, `receipt ${pledge.receiptId} is frozen or not under pledge ${pledgeId}`);
    }
    receipt.status = { kind: 'active' };
    if (enforcedTo === undefined) {
      pledge.record.status = { kind: 'released', at: seq };
    } else {
      const transfereeId = enforcedTo ?? pledge.record.pledgee;
      receipt.holder = transfereeId;
      pledge.record.status = { kind: 'enforced', at: seq, transfereeId };
    }
    this.touched.push([seq, operation, pledge.receiptId]);
  }

  /** The verdict's receipt part, after every entry was applied. */
  finish() {
    const receipt = this.receipts.get(this.target);
    if (!receipt) throw new VerifyError(`the bundle's entries never create receipt ${this.target}`);
    const lineage = [this.target];
    let parent = receipt.parent;
    while (parent !== null && parent !== undefined) {
      lineage.push(parent);
      parent = this.receipts.get(parent)?.parent ?? null;
    }
    lineage.reverse();
    const stray = this.touched.find(([, , id]) => !lineage.includes(id));
    if (stray) throw notAbout(stray[0], stray[1]);
    const unused = [...this.certificates.values()]
      .sort((a, b) => byteOrder(a.agency, b.agency) || byteOrder(a.number, b.number))
      .find((c) => !c.used);
    if (unused) throw notAbout(unused.seq, 'certify_stock');
    const registrations = [...this.pledges.values()]
      .filter((p) => p.receiptId === this.target)
      .map((p) => p.record)
      .sort((a, b) => (a.seq < b.seq ? -1 : 1));
    const active =
      receipt.status.kind === 'pledged' && this.pledges.has(receipt.status.pledgeId)
        ? this.pledges.get(receipt.status.pledgeId).record
        : null;
    return { receipt, lineage, registrations, active, seqs: this.seqs };
  }
}
