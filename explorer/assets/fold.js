// The receipt's lifecycle folded from a bundle's entries (docs/FORMAT.md
// §7.6 step 6). pledgectl applies the entries with the ledger's own rules
// (ledger/src/rules/, through ledger/src/bundle/lineage.rs); a page cannot
// run them, so this fold checks what a bank most needs of a lifecycle (who
// may change the receipt, who signs, conservation on a split, pledges and
// freezes) and words its refusals as the rules do where it checks the same
// thing. The rules check more (expiry and maturity against the entry's
// time, the tank's product and capacity): a bundle that breaks only those
// verifies here and is refused by pledgectl. The browser test compares the
// two verdicts on a real bundle and on tampered copies of it.

import { VerifyError } from './bytes.js';
import { debugString } from './note.js';

/** EnforcementGrounds in transaction.proto. */
const GROUNDS = { 1: 'maturity', 2: 'order', 3: 'holder_consent' };

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

/** Whether a receipt status is live (active or pledged). */
export function isLive(status) {
  return status.kind === 'active' || status.kind === 'pledged';
}

/** A certificate as the ledger names it (its key and its words). */
function certificateName(inspector, number) {
  return `certificate ${number} of \`${inspector}\``;
}

function certificateKey(inspector, number) {
  return JSON.stringify([inspector, number]);
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

/** The warehouse of a stock certification: the signer besides the inspector and the depositor. */
function certifyingWarehouse(seq, signers, op) {
  const others = [...signers].filter((s) => s !== op.inspector_id && s !== op.depositor_id);
  if (others.length === 1 && signers.size === 3) return others[0];
  throw incoherent(
    seq,
    `a certification is signed by the warehouse, \`${op.inspector_id}\` and \`${op.depositor_id}\`; found ${debugSet(signers)}`,
  );
}

/** A receipt as issued or split off: live, unpledged, not frozen. */
function liveReceipt(tankId, warehouse, holder, quantityKg, parent) {
  return { tankId, warehouse, holder, quantityKg, status: { kind: 'active' }, frozenBy: null, frozenSince: null, parent };
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
    const warehouse = certifyingWarehouse(seq, signers, op);
    const key = certificateKey(op.inspector_id, op.certificate_no);
    if (this.receipts.size > 0 || this.certificates.has(key)) throw notAbout(seq, name);
    this.certificates.set(key, {
      seq,
      inspector: op.inspector_id,
      number: op.certificate_no,
      tankId: op.tank_id,
      warehouse,
      depositor: op.depositor_id,
      quantityKg: op.quantity_kg,
      used: false,
    });
  }

  on_appoint_custodian(seq, signers, name, op) {
    let changed = false;
    for (const cert of this.certificates.values()) {
      if (cert.tankId === op.tank_id && !cert.used) {
        cert.warehouse = op.warehouse_id;
        changed = true;
      }
    }
    for (const [id, receipt] of [...this.receipts].sort(([a], [b]) => byteOrder(a, b))) {
      if (receipt.tankId === op.tank_id && isLive(receipt.status)) {
        receipt.warehouse = op.warehouse_id;
        this.touched.push([seq, name, id]);
        changed = true;
      }
    }
    if (!changed) throw notAbout(seq, name);
  }

  on_revoke_participant(seq, signers, name, op) {
    if (op.successor_id === '') throw notAbout(seq, name);
    let changed = false;
    for (const pledge of this.sortedPledges()) {
      if (pledge.record.status.kind === 'active' && pledge.record.pledgee === op.participant_id) {
        pledge.record.pledgee = op.successor_id;
        this.touched.push([seq, name, pledge.receiptId]);
        changed = true;
      }
    }
    if (!changed) throw notAbout(seq, name);
  }

  on_issue_receipt(seq, signers, name, op) {
    const cert = this.certificates.get(certificateKey(op.inspector_id, op.certificate_no));
    const certName = certificateName(op.inspector_id, op.certificate_no);
    if (!cert) throw incoherent(seq, `${certName} is not recorded`);
    if (cert.tankId !== op.tank_id) {
      throw incoherent(seq, `${certName} is for tank \`${cert.tankId}\`, not \`${op.tank_id}\``);
    }
    if (cert.used) throw incoherent(seq, `${certName} does not back receipt ${op.receipt_id}`);
    if (op.quantity_kg > cert.quantityKg) {
      throw incoherent(
        seq,
        `${certName} certifies ${cert.quantityKg} kg; a receipt for ${op.quantity_kg} kg is refused`,
      );
    }
    expectSigners(seq, signers, [cert.warehouse]);
    cert.used = true;
    this.receipts.set(op.receipt_id, liveReceipt(op.tank_id, cert.warehouse, cert.depositor, op.quantity_kg, null));
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_transfer_receipt(seq, signers, name, op) {
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, receipt.warehouse]);
    if (receipt.holder === op.new_holder_id) {
      throw incoherent(seq, `\`${op.new_holder_id}\` already holds receipt \`${op.receipt_id}\``);
    }
    receipt.holder = op.new_holder_id;
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_split_receipt(seq, signers, name, op) {
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, receipt.warehouse]);
    const total = op.parts.reduce((sum, part) => sum + part.quantity_kg, 0n);
    if (total !== receipt.quantityKg || total > 0xffffffffffffffffn) {
      const parts = total > 0xffffffffffffffffn ? 0xffffffffffffffffn : total;
      throw incoherent(
        seq,
        `split parts of receipt \`${op.receipt_id}\` sum to ${parts} kg, the receipt is ${receipt.quantityKg} kg`,
      );
    }
    receipt.status = { kind: 'split', at: seq, parts: op.parts.map((p) => p.receipt_id) };
    for (const part of op.parts) {
      if (this.receipts.has(part.receipt_id)) throw incoherent(seq, `part ${part.receipt_id} already exists`);
      this.receipts.set(
        part.receipt_id,
        liveReceipt(receipt.tankId, receipt.warehouse, receipt.holder, part.quantity_kg, op.receipt_id),
      );
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
    const earlier = this.pledges.get(op.pledge_id);
    if (earlier) {
      throw incoherent(seq, `pledge id \`${op.pledge_id}\` is already used (entry ${earlier.record.seq})`);
    }
    const receipt = this.changeable(seq, name, op.receipt_id);
    expectSigners(seq, signers, [receipt.holder, op.pledgee_id]);
    receipt.status = { kind: 'pledged', pledgeId: op.pledge_id };
    this.pledges.set(op.pledge_id, {
      receiptId: op.receipt_id,
      record: {
        seq,
        pledgeId: op.pledge_id,
        receiptId: op.receipt_id,
        pledgee: op.pledgee_id,
        status: { kind: 'active' },
      },
    });
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_release_pledge(seq, signers, name, op) {
    this.endPledge(seq, name, signers, op.pledge_id, undefined);
  }

  on_enforce_pledge(seq, signers, name, op) {
    const grounds = GROUNDS[op.grounds];
    if (!grounds) throw new VerifyError(`entry ${seq}: enforcement grounds ${op.grounds} are not known`);
    this.endPledge(seq, name, signers, op.pledge_id, {
      transferee: op.transferee_id === '' ? null : op.transferee_id,
      grounds,
    });
  }

  on_freeze_receipt(seq, signers, name, op) {
    const regulator = soleSigner(seq, signers);
    const receipt = this.tracked(seq, name, op.receipt_id);
    if (receipt.frozenBy !== null || !isLive(receipt.status)) {
      throw incoherent(seq, `receipt ${op.receipt_id} is already frozen or not live`);
    }
    receipt.frozenBy = regulator;
    receipt.frozenSince = seq;
    this.touched.push([seq, name, op.receipt_id]);
  }

  on_unfreeze_receipt(seq, signers, name, op) {
    const receipt = this.tracked(seq, name, op.receipt_id);
    const freezer = receipt.frozenBy;
    if (freezer === null) throw incoherent(seq, `receipt \`${op.receipt_id}\` is not frozen`);
    receipt.frozenBy = null;
    // The freezer alone, or a quorum (whose membership the bundle cannot
    // show: the replay checks it).
    if (signers.size === 0 || (signers.size === 1 && !signers.has(freezer))) {
      throw incoherent(seq, `the freeze of \`${freezer}\` lifted by ${debugSet(signers)}`);
    }
    receipt.frozenSince = null;
    this.touched.push([seq, name, op.receipt_id]);
  }

  /** The pledges in pledge-id order (Rust's BTreeMap order). */
  sortedPledges() {
    return [...this.pledges].sort(([a], [b]) => byteOrder(a, b)).map(([, pledge]) => pledge);
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
    if (receipt.frozenBy !== null) reason = 'it is frozen';
    else if (receipt.status.kind === 'active') return receipt;
    else if (receipt.status.kind === 'pledged') {
      const pledge = this.pledges.get(receipt.status.pledgeId)?.record;
      reason = pledge
        ? `receipt \`${receiptId}\` is pledged to bank \`${pledge.pledgee}\` under pledge \`${pledge.pledgeId}\` since entry ${pledge.seq}`
        : `${operation} of receipt ${receiptId} while it is under pledge ${receipt.status.pledgeId}`;
      throw incoherent(seq, reason);
    } else {
      throw incoherent(seq, `receipt \`${receiptId}\` is ${receipt.status.kind} and can no longer change`);
    }
    throw incoherent(seq, `${operation} of receipt ${receiptId} while ${reason}`);
  }

  /** Ends a pledge; `enforced` is undefined for a release, else { transferee, grounds }. */
  endPledge(seq, operation, signers, pledgeId, enforced) {
    const pledge = this.pledges.get(pledgeId);
    if (!pledge) {
      throw new VerifyError(`entry ${seq} ends pledge ${pledgeId}, which the bundle never registered`);
    }
    if (pledge.record.status.kind !== 'active') {
      throw incoherent(seq, `pledge \`${pledgeId}\` is ${pledge.record.status.kind}, not active`);
    }
    const receipt = this.receipts.get(pledge.receiptId);
    if (!receipt) throw notAbout(seq, operation);
    const pledgee = pledge.record.pledgee;
    const grounds = enforced?.grounds;
    if (grounds === undefined || grounds === 'maturity') {
      expectSigners(seq, signers, [pledgee]);
    } else if (grounds === 'holder_consent') {
      expectSigners(seq, signers, [pledgee, receipt.holder]);
    } else if (signers.size !== 2 || !signers.has(pledgee)) {
      // On an order the co-signer must be a regulator: the replay checks the role.
      throw incoherent(
        seq,
        `an enforcement on an order is signed by ${debugSet(signers)}, not by \`${pledgee}\` and a regulator`,
      );
    }
    const pledgedHere = receipt.status.kind === 'pledged' && receipt.status.pledgeId === pledgeId;
    if (!pledgedHere || receipt.frozenBy !== null) {
      throw incoherent(seq, `receipt ${pledge.receiptId} is frozen or not under pledge ${pledgeId}`);
    }
    receipt.status = { kind: 'active' };
    if (enforced === undefined) {
      pledge.record.status = { kind: 'released', at: seq };
    } else {
      const transfereeId = enforced.transferee ?? pledgee;
      receipt.holder = transfereeId;
      pledge.record.status = { kind: 'enforced', at: seq, transfereeId };
    }
    this.touched.push([seq, operation, pledge.receiptId]);
  }

  /**
   * Whether the operation (the checkpoint's head entry, left out of the
   * bundle) would change the receipt or a receipt of its lineage.
   */
  wouldChangeLineage(name, op) {
    const lineage = this.lineage();
    const touches = (id) => lineage.includes(id);
    switch (name) {
      case 'issue_receipt':
      case 'transfer_receipt':
      case 'split_receipt':
      case 'cancel_receipt':
      case 'freeze_receipt':
      case 'unfreeze_receipt':
      case 'register_pledge':
        return touches(op.receipt_id);
      case 'release_pledge':
      case 'enforce_pledge': {
        const pledge = this.pledges.get(op.pledge_id);
        return pledge !== undefined && touches(pledge.receiptId);
      }
      case 'appoint_custodian':
        return [...this.receipts].some(([id, r]) => touches(id) && r.tankId === op.tank_id && isLive(r.status));
      case 'revoke_participant':
        return (
          op.successor_id !== '' &&
          [...this.pledges.values()].some(
            (p) => touches(p.receiptId) && p.record.status.kind === 'active' && p.record.pledgee === op.participant_id,
          )
        );
      default:
        return false;
    }
  }

  /** The target, its parent, … up to the issued receipt, issued first. */
  lineage() {
    const lineage = [this.target];
    let parent = this.receipts.get(this.target)?.parent ?? null;
    while (parent !== null && !lineage.includes(parent)) {
      const next = this.receipts.get(parent)?.parent ?? null;
      lineage.push(parent);
      parent = next;
    }
    return lineage.reverse();
  }

  /** The verdict's receipt part, after every entry was applied. */
  finish() {
    const receipt = this.receipts.get(this.target);
    if (!receipt) throw new VerifyError(`the bundle's entries never create receipt ${this.target}`);
    const lineage = this.lineage();
    const stray = this.touched.find(([, , id]) => !lineage.includes(id));
    if (stray) throw notAbout(stray[0], stray[1]);
    const unused = [...this.certificates.values()]
      .sort((a, b) => byteOrder(a.inspector, b.inspector) || byteOrder(a.number, b.number))
      .find((c) => !c.used);
    if (unused) throw notAbout(unused.seq, 'certify_stock');
    const registrations = [...this.pledges.values()]
      .filter((p) => lineage.includes(p.receiptId))
      .map((p) => p.record)
      .sort((a, b) => (a.seq < b.seq ? -1 : 1));
    const active =
      receipt.status.kind === 'pledged' && this.pledges.has(receipt.status.pledgeId)
        ? this.pledges.get(receipt.status.pledgeId).record
        : null;
    const freeze = receipt.frozenBy === null ? null : { regulator: receipt.frozenBy, since: receipt.frozenSince };
    return { receipt, freeze, lineage, registrations, active, seqs: this.seqs };
  }
}
