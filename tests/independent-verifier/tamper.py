#!/usr/bin/env python3
"""Makes tampered variants of an export file of the lifecycle chain (lifecycle.sh).

Byte-level variants (a flipped byte in a body, a seal, a signature; entries
reordered or dropped; a cut record) and rule-breaking variants: a transaction
that breaks one rule of FORMAT.md §2.3, signed with the development keys and
appended as a correctly linked entry sealed with the node key (FORMAT.md §8
key files), so that only the rules can refuse it.

Usage: tamper.py EXPORT KEYS_DIR NODE_KEY_FILE WORK_DIR OUT_DIR
Writes OUT_DIR/<name>.export and OUT_DIR/expected.json ({name: [first bad entry, reason]}).
"""

import json
import os
import struct
import sys

from pv.chain import transaction_class
from pv.crypto import SEAL, TX_SIGNATURE, ed25519_sign, entry_hash, public_of
from pv.wire import parse_record, read_export

DAY = 86_400_000


def frame(records):
    return b"".join(struct.pack(">I", len(r)) + r for r in records)


def load_key(path):
    with open(path) as f:
        k = json.load(f)
    seed = bytes.fromhex(k["secret_key"])
    assert public_of(seed).hex() == k["public_key"], path
    return k["id"], seed


def body_of(seq, prev, time_ms, tx_bytes, sigs):
    out = bytearray([1]) + struct.pack(">Q", seq) + prev + struct.pack(">QI", time_ms, len(tx_bytes)) + tx_bytes
    out.append(len(sigs))
    for signer, pub, sig in sigs:
        out += bytes([len(signer)]) + signer.encode() + pub + sig
    return bytes(out)


class Chain:
    def __init__(self, records, node_seed):
        self.records = list(records)
        self.node_seed = node_seed
        last = parse_record(self.records[-1])
        self.head = entry_hash(last.body)
        self.time = last.time_ms
        self.ledger_id = None
        T = transaction_class()
        t = T()
        t.ParseFromString(parse_record(self.records[0]).tx_bytes)
        self.ledger_id = t.ledger_id

    def append_bytes(self, tx_bytes, keys, time_ms=None, signer_ids=None):
        seq = len(self.records)
        self.time = self.time + 1000 if time_ms is None else time_ms
        sigs = []
        for i, (pid, seed) in enumerate(keys):
            sid = signer_ids[i] if signer_ids else pid
            sigs.append((sid, public_of(seed), ed25519_sign(seed, TX_SIGNATURE + tx_bytes)))
        body = body_of(seq, self.head, self.time, tx_bytes, sigs)
        h = entry_hash(body)
        self.records.append(body + ed25519_sign(self.node_seed, SEAL + h))
        self.head = h
        return seq

    def tx(self, tx_id, op, build, window=None):
        T = transaction_class()
        t = T(ledger_id=self.ledger_id, tx_id=tx_id)
        nb, na = window or (self.time - 60_000, self.time + DAY)
        t.not_before_ms, t.not_after_ms = nb, na
        build(getattr(t, op))
        getattr(t, op).SetInParent()
        return t

    def append(self, tx_id, op, build, keys, window=None, **kw):
        return self.append_bytes(self.tx(tx_id, op, build, window).SerializeToString(), keys, **kw)


def byte_variants(records):
    out = {}
    e5 = parse_record(records[5])

    def flipped(index, offset):
        r = bytearray(records[index])
        r[offset] ^= 0x01
        return records[:index] + [bytes(r)] + records[index + 1 :]

    tx_start = 1 + 8 + 32 + 8 + 4
    out["flip-body-tx"] = (flipped(5, tx_start + 3), [5, None])
    out["flip-body-time"] = (flipped(5, 1 + 8 + 32 + 7), [5, None])
    out["flip-seal"] = (flipped(5, len(records[5]) - 10), [5, None])
    sig_offset = len(e5.body) - 64 + 5  # inside the last party signature
    out["flip-signature"] = (flipped(5, sig_offset), [5, None])
    pub_offset = len(e5.body) - 64 - 32 + 2
    out["flip-signer-key"] = (flipped(5, pub_offset), [5, None])
    out["reorder"] = (records[:5] + [records[6], records[5]] + records[7:], [5, None])
    out["drop"] = (records[:5] + records[6:], [5, None])
    out["duplicate"] = (records[:6] + [records[5]] + records[6:], [6, None])
    return out


def rebuilt(records, start, node_seed, change):
    """Entries from `start` on, changed by `change` (a function on a list of
    [time_ms, tx_bytes, [(signer, key, signature)]]), then linked and sealed again."""
    items = []
    for r in records[start:]:
        e = parse_record(r)
        items.append([e.time_ms, e.tx_bytes, [(s.signer, s.public_key, s.signature) for s in e.signatures]])
    change(items)
    out = list(records[:start])
    prev = entry_hash(parse_record(records[start - 1]).body)
    for i, (time_ms, tx, sigs) in enumerate(items):
        body = body_of(start + i, prev, time_ms, tx, sigs)
        prev = entry_hash(body)
        out.append(body + ed25519_sign(node_seed, SEAL + prev))
    return out


def resealed_variants(records, node_seed):
    """Changes a node with its key could make: every link and seal is right again."""
    out = {}

    def flip_sig(items):
        signer, key, sig = items[0][2][-1]
        items[0][2][-1] = (signer, key, sig[:5] + bytes([sig[5] ^ 1]) + sig[6:])
    out["resealed-flip-signature"] = (rebuilt(records, 5, node_seed, flip_sig), [5, "BAD_SIGNATURE"])

    def flip_tx(items):
        tx = bytearray(items[0][1])
        tx[-1] ^= 0x01
        items[0][1] = bytes(tx)
    out["resealed-flip-tx"] = (rebuilt(records, 5, node_seed, flip_tx), [5, "BAD_SIGNATURE"])

    def drop(items):
        del items[0]
    # entry 4 issues WR-0001; without it the pledge of entry 4 (was 5) names no receipt
    out["resealed-drop-issue"] = (rebuilt(records, 4, node_seed, drop), [4, "RECEIPT_NOT_FOUND"])

    def swap(items):
        items[0], items[1] = items[1], items[0]
        items[0][0], items[1][0] = items[1][0], items[0][0]
    # the pledge (entry 5) before the issue (entry 4)
    out["resealed-reorder"] = (rebuilt(records, 4, node_seed, swap), [4, "RECEIPT_NOT_FOUND"])

    def backwards(items):
        items[0][0] = parse_record(records[4]).time_ms - 1
    out["resealed-time-backwards"] = (rebuilt(records, 5, node_seed, backwards), [5, None])

    def drop_signature(items):
        items[0][2] = items[0][2][:-1]
    # entry 3 (certify stock): the depositor's signature left out
    out["resealed-missing-signature"] = (rebuilt(records, 3, node_seed, drop_signature), [3, "MISSING_SIGNATURE"])
    return out


def main():
    export, keys_dir, node_key_file, work, out_dir = sys.argv[1:6]
    with open(export, "rb") as f:
        records = read_export(f.read())
    _, node_seed = load_key(node_key_file)
    k = {name[:-5]: load_key(os.path.join(keys_dir, name)) for name in os.listdir(keys_dir)}
    for name in ("trader-c", "trader-c-2", "trader-c-3"):
        k[name] = load_key(os.path.join(work, name + ".json"))
    os.makedirs(out_dir, exist_ok=True)
    expected = {}
    for name, (recs, verdict) in byte_variants(records).items():
        with open(os.path.join(out_dir, name + ".export"), "wb") as f:
            f.write(frame(recs))
        expected[name] = verdict
    for name, (recs, verdict) in resealed_variants(records, node_seed).items():
        with open(os.path.join(out_dir, name + ".export"), "wb") as f:
            f.write(frame(recs))
        expected[name] = verdict
    cut = frame(records)[:-7]
    with open(os.path.join(out_dir, "cut-short.export"), "wb") as f:
        f.write(cut)
    expected["cut-short"] = [None, None]

    def rule(name, code, steps):
        c = Chain(records, node_seed)
        bad = None
        for step in steps:
            bad = step(c)
        with open(os.path.join(out_dir, name + ".export"), "wb") as f:
            f.write(frame(c.records))
        expected[name] = ["accept", None] if code == "accept" else [bad, code]

    def pledge(pid, rid, bank, holder_key, bank_key, maturity_days=30):
        def build(b):
            b.pledge_id, b.receipt_id, b.pledgee_id = pid, rid, bank
            b.secured_amount.minor_units, b.secured_amount.currency = 1000, "USD"
            b.loan_reference = "LN-" + pid
            b.maturity_ms = c_time[0] + maturity_days * DAY
        return build

    c_time = [parse_record(records[-1]).time_ms + 1000]
    transfer = lambda rid, to: (lambda b: (setattr(b, "receipt_id", rid), setattr(b, "new_holder_id", to)))

    rule("double-pledge", "RECEIPT_PLEDGED", [lambda c: c.append(
        "x-double", "register_pledge", pledge("PL-X", "WR-0002", "bank-b", None, None), [k["trader-c-3"], k["bank-b"]])])
    rule("pledge-to-non-bank", "MISSING_ROLE", [lambda c: c.append(
        "x-nonbank", "register_pledge", pledge("PL-X", "WR-0003", "trader-a", None, None), [k["trader-b"], k["trader-a"]])])
    rule("pledge-to-own-holder", "PARTIES_NOT_DISTINCT", [
        lambda c: c.append("x-tobank", "transfer_receipt", transfer("WR-0003", "bank-b"), [k["trader-b"], k["wh-1"]]),
        lambda c: c.append("x-selfpledge", "register_pledge", pledge("PL-X", "WR-0003", "bank-b", None, None),
                           [k["bank-b"]])])
    rule("transfer-by-non-holder", "MISSING_SIGNATURE", [lambda c: c.append(
        "x-nonholder", "transfer_receipt", transfer("WR-0003", "trader-c"), [k["trader-a"], k["wh-1"]])])
    rule("transfer-cancelled", "RECEIPT_NOT_LIVE", [lambda c: c.append(
        "x-cancelled", "transfer_receipt", transfer("WR-0001-A", "trader-a"), [k["bank-b"], k["wh-1"]])])
    rule("transfer-to-holder", "ALREADY_HOLDER", [lambda c: c.append(
        "x-self", "transfer_receipt", transfer("WR-0003", "trader-b"), [k["trader-b"], k["wh-1"]])])
    rule("transfer-extra-signer", "UNEXPECTED_SIGNER", [lambda c: c.append(
        "x-extra", "transfer_receipt", transfer("WR-0003", "trader-a"), [k["trader-b"], k["wh-1"], k["insp-sgs"]])])
    rule("transfer-pledged", "RECEIPT_PLEDGED", [lambda c: c.append(
        "x-pledged", "transfer_receipt", transfer("WR-0002", "trader-a"), [k["trader-c-3"], k["wh-1"]])])
    rule("signer-revoked", "SIGNER_REVOKED", [lambda c: c.append(
        "x-revoked", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D"), [k["bank-a"]])])
    rule("release-by-wrong-bank", "MISSING_SIGNATURE", [lambda c: c.append(
        "x-wrongbank", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D"), [k["regulator"]])])
    rule("release-released", "PLEDGE_NOT_ACTIVE", [lambda c: c.append(
        "x-rel2", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-B"), [k["bank-b"]])])
    rule("key-not-current", "KEY_NOT_CURRENT", [lambda c: c.append(
        "x-oldkey", "transfer_receipt", transfer("WR-0002", "trader-a"), [k["trader-c"], k["wh-1"]])])
    rule("key-never-owned", "KEY_NEVER_OWNED", [lambda c: c.append(
        "x-otherkey", "transfer_receipt", transfer("WR-0003", "trader-a"), [k["trader-a"], k["wh-1"]],
        signer_ids=["trader-b", "wh-1"])])
    rule("unknown-signer", "UNKNOWN_SIGNER", [lambda c: c.append(
        "x-unknown", "transfer_receipt", transfer("WR-0003", "trader-a"), [k["trader-b"], k["wh-1"], k["trader-a"]],
        signer_ids=["trader-b", "wh-1", "nobody"])])

    def enforce_maturity(b):
        b.pledge_id, b.grounds = "PL-D", 1
    rule("enforce-before-maturity", "ENFORCEMENT_BEFORE_MATURITY", [lambda c: c.append(
        "x-early", "enforce_pledge", enforce_maturity, [k["bank-b"]])])

    def split(rid, parts):
        def build(b):
            b.receipt_id = rid
            for pid, q in parts:
                b.parts.add(receipt_id=pid, quantity_kg=q)
        return build
    rule("split-mismatch", "SPLIT_MISMATCH", [lambda c: c.append(
        "x-split", "split_receipt", split("WR-0003", [("WR-9-A", 1), ("WR-9-B", 1)]), [k["trader-b"], k["wh-1"]])])
    rule("split-reuses-id", "RECEIPT_EXISTS", [lambda c: c.append(
        "x-split2", "split_receipt", split("WR-0003", [("WR-9-A", 1000000), ("WR-0001", 1000000)]),
        [k["trader-b"], k["wh-1"]])])
    rule("unfreeze-not-frozen", "RECEIPT_NOT_FROZEN", [lambda c: c.append(
        "x-unfreeze", "unfreeze_receipt", lambda b: (setattr(b, "receipt_id", "WR-0003"),
                                                     setattr(b, "order_reference", "X")), [k["regulator"]])])
    rule("cancel-pledged", "RECEIPT_PLEDGED", [lambda c: c.append(
        "x-cancel", "cancel_receipt", lambda b: setattr(b, "receipt_id", "WR-0002"), [k["trader-c-3"], k["wh-1"]])])
    rule("revoke-quorum-member", "QUORUM_WOULD_BREAK", [lambda c: c.append(
        "x-revq", "revoke_participant", lambda b: (setattr(b, "participant_id", "admin"), setattr(b, "reason", "r")),
        [k["admin"], k["regulator"]])])
    rule("quorum-not-met", "QUORUM_NOT_MET", [lambda c: c.append(
        "x-q1", "revoke_participant", lambda b: (setattr(b, "participant_id", "trader-a"), setattr(b, "reason", "r")),
        [k["admin"]])])
    freeze_o1 = lambda b: (setattr(b, "receipt_id", "WR-0003"), setattr(b, "order_reference", "O-1"))
    rule("tx-id-reused", "TX_ID_REUSED", [
        lambda c: c.append("x-dup", "freeze_receipt", freeze_o1, [k["regulator"]]),
        lambda c: c.append("x-dup", "unfreeze_receipt", freeze_o1, [k["regulator"]])])
    rule("change-frozen", "RECEIPT_FROZEN", [
        lambda c: c.append("x-fr", "freeze_receipt", freeze_o1, [k["regulator"]]),
        lambda c: c.append("x-fr-t", "transfer_receipt", transfer("WR-0003", "trader-a"), [k["trader-b"], k["wh-1"]])])
    rule("wrong-ledger", "WRONG_LEDGER", [lambda c: (setattr(c, "ledger_id", "zhoushan-other"), c.append(
        "x-ledger", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D"), [k["bank-b"]]))[1]])
    rule("tx-expired", "TX_EXPIRED", [lambda c: c.append(
        "x-expired", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D"), [k["bank-b"]],
        window=(c.time - 2 * DAY, c.time - DAY))])
    rule("validity-too-long", "VALIDITY_TOO_LONG", [lambda c: c.append(
        "x-long", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D"), [k["bank-b"]],
        window=(c.time - DAY, c.time + 400 * DAY))])

    def certify(tank, cert, q, depositor):
        def build(b):
            b.tank_id, b.certificate_no, b.quantity_kg, b.depositor_id = tank, cert, q, depositor
            b.inspector_id, b.product_grade, b.gauged_at_ms = "insp-sgs", "VLSFO 0.5%S", c_time[0] - 60_000
        return build

    def issue(rid, tank, cert, q):
        def build(b):
            b.receipt_id, b.tank_id, b.inspector_id, b.certificate_no = rid, tank, "insp-sgs", cert
            b.product_grade, b.quantity_kg, b.customs_status, b.customs_reference = "VLSFO 0.5%S", q, 1, "ZS-X"
            b.expires_at_ms = c_time[0] + 30 * DAY
        return build

    certify_keys = [k["wh-1"], k["insp-sgs"], k["trader-a"]]
    rule("issue-above-certificate", "QUANTITY_EXCEEDS_CERTIFICATE", [
        lambda c: c.append("x-c1", "certify_stock", certify("T-301", "SGS-9001", 1000000, "trader-a"), certify_keys),
        lambda c: c.append("x-i1", "issue_receipt", issue("WR-9001", "T-301", "SGS-9001", 1000001), [k["wh-1"]])])
    rule("over-issue", "STOCK_EXCEEDED", [
        lambda c: c.append("x-c1", "certify_stock", certify("T-301", "SGS-9001", 1000000, "trader-a"), certify_keys),
        lambda c: c.append("x-c2", "certify_stock", certify("T-301", "SGS-9002", 1000000, "trader-a"), certify_keys),
        lambda c: c.append("x-g", "regauge_tank", lambda b: (
            setattr(b, "tank_id", "T-301"), b.gauging.MergeFrom(type(b.gauging)(
                inspector_id="insp-sgs", report_no="RG-9", measured_kg=1500000, gauged_at_ms=c.time - 1))),
            [k["insp-sgs"]]),
        lambda c: c.append("x-i1", "issue_receipt", issue("WR-9001", "T-301", "SGS-9001", 1000000), [k["wh-1"]]),
        lambda c: c.append("x-i2", "issue_receipt", issue("WR-9002", "T-301", "SGS-9002", 1000000), [k["wh-1"]])])
    rule("certificate-reused", "CERTIFICATE_IN_USE", [lambda c: c.append(
        "x-i3", "issue_receipt", issue("WR-9003", "T-101", "SGS-0003", 1), [k["wh-1"]])])
    rule("capacity-exceeded", "CAPACITY_EXCEEDED", [lambda c: c.append(
        "x-c3", "certify_stock", certify("T-301", "SGS-9003", 50000001, "trader-a"), certify_keys)])
    rule("genesis-out-of-place", "GENESIS_OUT_OF_PLACE", [lambda c: c.append_bytes(
        parse_record(records[0]).tx_bytes[:0] + _regenesis(records, c), [k["admin"], k["regulator"]])])

    # field validity (FORMAT.md §2.4): refused as MALFORMED before any rule
    def pledge_without_loan_reference(b):
        pledge("PL-X", "WR-0003", "bank-b", None, None)(b)
        b.loan_reference = " "
    rule("malformed-empty-loan-reference", "MALFORMED", [lambda c: c.append(
        "x-m1", "register_pledge", pledge_without_loan_reference, [k["trader-b"], k["bank-b"]])])
    rule("malformed-zero-split-part", "MALFORMED", [lambda c: c.append(
        "x-m2", "split_receipt", split("WR-0003", [("WR-9-A", 2000000), ("WR-9-B", 0)]), [k["trader-b"], k["wh-1"]])])
    rule("malformed-control-character", "MALFORMED", [lambda c: c.append(
        "x-m3", "freeze_receipt", lambda b: (setattr(b, "receipt_id", "WR-0003"),
                                             setattr(b, "order_reference", "O-1\u202e")), [k["regulator"]])])
    rule("malformed-id", "MALFORMED", [lambda c: c.append(
        "x-m4", "transfer_receipt", transfer("WR-0003", "trader a"), [k["trader-b"], k["wh-1"]])])

    # the same transaction twice: a retry is answered, never applied again
    def repeat(c):
        c.append("x-rep", "freeze_receipt", freeze_o1, [k["regulator"]])
        e = parse_record(c.records[-1])
        sigs = [(s.signer, s.public_key, s.signature) for s in e.signatures]
        seq = len(c.records)
        c.time += 1000
        body = body_of(seq, c.head, c.time, e.tx_bytes, sigs)
        c.head = entry_hash(body)
        c.records.append(body + ed25519_sign(c.node_seed, SEAL + c.head))
        return seq
    rule("repeated-transaction", "TX_ID_REUSED", [repeat])
    expected["repeated-transaction"].append(None)  # pledgectl audit gives no code for a repeat

    # two faults at once: the first in FORMAT.md §2.3's order decides
    rule("order-pledge-id-before-receipt", "PLEDGE_EXISTS", [lambda c: c.append(
        "x-o1", "register_pledge", pledge("PL-D", "WR-0002", "bank-b", None, None), [k["trader-c-3"], k["bank-b"]])])
    rule("order-frozen-before-pledged", "RECEIPT_FROZEN", [
        lambda c: c.append("x-o2f", "freeze_receipt", lambda b: (setattr(b, "receipt_id", "WR-0002"),
                                                              setattr(b, "order_reference", "O-2")), [k["regulator"]]),
        lambda c: c.append("x-o2", "transfer_receipt", transfer("WR-0002", "trader-a"), [k["trader-c-3"], k["wh-1"]])])

    def enforce_released(b):
        b.pledge_id, b.grounds, b.transferee_id = "PL-B", 1, "wh-1"
    rule("order-status-before-transferee", "PLEDGE_NOT_ACTIVE", [lambda c: c.append(
        "x-o3", "enforce_pledge", enforce_released, [k["bank-b"]])])

    def enforce_released_ok_transferee(b):
        b.pledge_id, b.grounds = "PL-B", 1
    rule("order-maturity-only-when-active", "PLEDGE_NOT_ACTIVE", [lambda c: c.append(
        "x-o4", "enforce_pledge", enforce_released_ok_transferee, [k["bank-b"]])])

    def certify_bad(b):
        certify("T-301", "SGS-9009", 1000, "wh-1")(b)
        b.product_grade = "HSFO 380cSt"
    rule("order-role-before-product", "MISSING_ROLE", [lambda c: c.append(
        "x-o5", "certify_stock", certify_bad, [k["wh-1"], k["insp-sgs"]])])

    # time moves on: an expired receipt may be cancelled but not transferred;
    # a matured pledge is enforced by its bank alone
    later = 31 * DAY

    def at_later(c, tx_id, op, build, keys):
        t = c.time + later
        return c.append(tx_id, op, build, keys, window=(t - 60_000, t + 60_000), time_ms=t)
    rule("expired-cancelled", "accept", [lambda c: at_later(
        c, "x-t1", "cancel_receipt", lambda b: setattr(b, "receipt_id", "WR-0003"), [k["trader-b"], k["wh-1"]])])
    rule("expired-transfer", "RECEIPT_EXPIRED", [lambda c: at_later(
        c, "x-t2", "transfer_receipt", transfer("WR-0003", "trader-a"), [k["trader-b"], k["wh-1"]])])

    def enforce_matured(b):
        b.pledge_id, b.grounds = "PL-D", 1
    rule("enforce-at-maturity", "accept", [lambda c: at_later(
        c, "x-t3", "enforce_pledge", enforce_matured, [k["bank-b"]])])

    # the wire form: not canonical, and an unknown field, both correctly signed and sealed
    def noncanonical(c):
        t = c.tx("x-nc", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D")).SerializeToString()
        return c.append_bytes(t + b"\x20" + _varint(c.time - 60_000), [k["bank-b"]])  # field 4 written twice
    rule("not-canonical", "NOT_CANONICAL", [noncanonical])

    def unknown_field(c):
        t = c.tx("x-uf", "release_pledge", lambda b: setattr(b, "pledge_id", "PL-D"))
        raw = bytearray(t.SerializeToString())
        inner = t.release_pledge.SerializeToString() + b"\xe8\x01\x01"  # field 29, varint 1
        head = raw[: len(raw) - len(t.release_pledge.SerializeToString()) - 3]
        return c.append_bytes(bytes(head) + b"\xaa\x01" + bytes([len(inner)]) + inner, [k["bank-b"]])
    rule("unknown-field", "UNKNOWN_FIELD", [unknown_field])

    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _regenesis(records, c):
    T = transaction_class()
    t = T()
    t.ParseFromString(parse_record(records[0]).tx_bytes)
    t.tx_id = "x-genesis-again"
    t.not_before_ms, t.not_after_ms = c.time - 60_000, c.time + DAY
    return t.SerializeToString()


if __name__ == "__main__":
    main()
