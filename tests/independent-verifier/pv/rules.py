"""The ledger's rules, FORMAT.md §2.1 and §2.3, operation by operation.

`State.apply(entry, tx)` either raises `Refusal(code)` and changes nothing
(it works on a copy), or applies the entry's effects.
"""

import copy
import re
import unicodedata

from .crypto import is_ed25519_point, Preimage, RECEIPT_STATE, TANK_STATE, map_key, map_root, sha256, tx_hash
from .wire import Refusal

ADMIN, WAREHOUSE, HOLDER, BANK, REGULATOR, AUDITOR, INSPECTOR = 1, 2, 3, 4, 5, 6, 7
ROLE_NAMES = {1: "admin", 2: "warehouse", 3: "holder", 4: "bank", 5: "regulator", 6: "auditor", 7: "inspector"}
ACTIVE, PLEDGED, CANCELLED, SPLIT = 1, 2, 3, 4
MATURITY, ORDER, HOLDER_CONSENT = 1, 2, 3
U64 = (1 << 64) - 1
DAY_MS = 86_400_000
ID_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
PHYS_RE = re.compile(r"^[A-Z0-9-]+$")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def fail(code, detail="", **meta):
    raise Refusal(code, detail, {k: str(v) for k, v in meta.items() if v is not None})


STATUS_NAMES = {ACTIVE: "active", PLEDGED: "pledged", CANCELLED: "cancelled", SPLIT: "split"}


# --- field validity: FORMAT.md §2.4 ---

BIDI = {0x061C, 0x200E, 0x200F} | set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
MAX_KG = 1_000_000_000


def is_id(value):
    return bool(ID_RE.match(value)) and len(value.encode()) <= 64


def need_id(field, value, empty_ok=False):
    if not (empty_ok and value == "") and not is_id(value):
        fail("MALFORMED", f"{field}: not an id: {value!r}")


def need_text(field, value, required=False):
    if len(value.encode()) > 256:
        fail("MALFORMED", f"{field}: longer than 256 bytes")
    if any(unicodedata.category(c) == "Cc" or ord(c) in BIDI for c in value):
        fail("MALFORMED", f"{field}: a control or bidirectional formatting character")
    if required and not value.strip():  # str.strip() strips Unicode White_Space
        fail("MALFORMED", f"{field}: empty")


def need_positive(field, value):
    if value <= 0:
        fail("MALFORMED", f"{field}: zero")


def need_range(field, value, lo, hi):
    if not lo <= value <= hi:
        fail("MALFORMED", f"{field}: {value} outside {lo} ..= {hi}")


def need_key(field, value):
    if not is_ed25519_point(value):
        fail("MALFORMED", f"{field}: not an Ed25519 key")


def need_present(field, msg, name):
    if not msg.HasField(name):
        fail("MALFORMED", f"{field}: missing")


def valid_uscc(code):
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    return USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def valid_lei(code):
    if len(code) != 20 or not re.match(r"^[0-9A-Z]{20}$", code):
        return False
    return int("".join(str(int(c, 36)) for c in code)) % 97 == 1


def legal_id_of(spec):
    which = spec.legal_identity.WhichOneof("identifier")
    if not spec.HasField("legal_identity") or which is None:
        fail("MALFORMED", f"participant {spec.id}: no legal identity")
    code = getattr(spec.legal_identity, which)
    ok = valid_uscc(code) if which == "unified_social_credit_code" else valid_lei(code)
    if not ok:
        fail("MALFORMED", f"participant {spec.id}: invalid {which} {code!r}")
    return ("uscc" if which == "unified_social_credit_code" else "lei", code)


def check_participant_spec(p):
    need_id("participant.id", p.id)
    need_text("participant.name", p.name, required=True)
    need_range("roles", len(p.roles), 1, 7)
    if any(r not in ROLE_NAMES for r in p.roles) or len(set(p.roles)) != len(p.roles):
        fail("MALFORMED", "roles: an unknown role or a role twice")
    need_key("participant.public_key", p.public_key)
    legal_id_of(p)


def check_gauging(msg):
    need_present("gauging", msg, "gauging")
    g = msg.gauging
    need_id("gauging.inspector_id", g.inspector_id)
    need_id("gauging.report_no", g.report_no)
    need_range("gauging.measured_kg", g.measured_kg, 0, MAX_KG)
    need_positive("gauging.gauged_at_ms", g.gauged_at_ms)


def decode_checks(tx):
    """FORMAT.md §2.4, message by message; returns the operation's name."""
    need_id("ledger_id", tx.ledger_id)
    need_id("tx_id", tx.tx_id)
    need_positive("not_before_ms", tx.not_before_ms)
    need_positive("not_after_ms", tx.not_after_ms)
    if tx.not_before_ms > tx.not_after_ms:
        fail("MALFORMED", "validity window inverted")
    op = tx.WhichOneof("operation")
    if op is None:
        fail("MALFORMED", "no operation")
    b = getattr(tx, op)
    if op == "genesis":
        need_range("participants", len(b.participants), 1, 1000)
        ids, keys, legal = set(), set(), set()
        for p in b.participants:
            check_participant_spec(p)
            lid = legal_id_of(p)
            if p.id in ids or p.public_key in keys or lid in legal:
                fail("MALFORMED", f"genesis participant {p.id} repeats an id, key or legal identity")
            ids.add(p.id), keys.add(p.public_key), legal.add(lid)
        need_present("governance", b, "governance")
        g = b.governance
        members = list(g.quorum_members)
        need_range("governance.quorum_members", len(members), 2, 16)
        for m in members:
            need_id("governance.quorum_members", m)
        if len(set(members)) != len(members) or not set(members) <= ids:
            fail("MALFORMED", "quorum members: repeated, or not a participant of the genesis")
        need_range("governance.quorum_threshold", g.quorum_threshold, 2, min(len(members), 14))
        need_range("governance.max_validity_ms", g.max_validity_ms, 1, 366 * DAY_MS)
    elif op == "admit_participant":
        need_present("participant", b, "participant")
        check_participant_spec(b.participant)
    elif op in ("rotate_key", "recover_key"):
        need_id("participant_id", b.participant_id)
        need_key("new_public_key", b.new_public_key)
        if op == "recover_key":
            need_text("reason", b.reason, required=True)
    elif op == "revoke_participant":
        need_id("participant_id", b.participant_id)
        need_text("reason", b.reason, required=True)
        need_id("successor_id", b.successor_id, empty_ok=True)
    elif op == "register_tank":
        for f in ("tank_id", "warehouse_id", "inspector_id", "calibration_certificate_no"):
            need_id(f, getattr(b, f))
        need_range("capacity_kg", b.capacity_kg, 1, MAX_KG)
        need_text("product", b.product, required=True)
        need_present("physical_id", b, "physical_id")
        fc, tn = b.physical_id.facility_code, b.physical_id.tank_number
        if not (PHYS_RE.match(fc) and len(fc) <= 32 and PHYS_RE.match(tn) and len(tn) <= 16):
            fail("MALFORMED", "physical id")
    elif op == "certify_stock":
        for f in ("tank_id", "inspector_id", "certificate_no", "depositor_id"):
            need_id(f, getattr(b, f))
        need_range("quantity_kg", b.quantity_kg, 1, MAX_KG)
        need_text("product_grade", b.product_grade, required=True)
        need_positive("gauged_at_ms", b.gauged_at_ms)
    elif op == "regauge_tank":
        need_id("tank_id", b.tank_id)
        check_gauging(b)
    elif op == "appoint_custodian":
        need_id("tank_id", b.tank_id)
        need_id("warehouse_id", b.warehouse_id)
        check_gauging(b)
    elif op == "issue_receipt":
        for f in ("receipt_id", "tank_id", "inspector_id", "certificate_no"):
            need_id(f, getattr(b, f))
        need_text("product_grade", b.product_grade, required=True)
        need_text("specification", b.specification)
        need_positive("quantity_kg", b.quantity_kg)
        if b.customs_status not in (1, 2):
            fail("MALFORMED", "customs_status")
        need_text("customs_reference", b.customs_reference, required=True)
        need_positive("expires_at_ms", b.expires_at_ms)
        need_range("loss_allowance_ppm", b.loss_allowance_ppm, 0, 1_000_000)
        need_text("insurance_reference", b.insurance_reference)
    elif op == "transfer_receipt":
        need_id("receipt_id", b.receipt_id)
        need_id("new_holder_id", b.new_holder_id)
    elif op == "split_receipt":
        need_id("receipt_id", b.receipt_id)
        need_range("parts", len(b.parts), 2, 100)
        for part in b.parts:
            need_id("parts.receipt_id", part.receipt_id)
            need_positive("parts.quantity_kg", part.quantity_kg)
        if len({part.receipt_id for part in b.parts}) != len(b.parts):
            fail("MALFORMED", "parts: an id twice")
        if sum(part.quantity_kg for part in b.parts) > U64:
            fail("MALFORMED", "parts: the sum overflows")
    elif op == "cancel_receipt":
        need_id("receipt_id", b.receipt_id)
        need_text("reason", b.reason)
    elif op == "register_pledge":
        for f in ("pledge_id", "receipt_id", "pledgee_id"):
            need_id(f, getattr(b, f))
        need_present("secured_amount", b, "secured_amount")
        need_positive("secured_amount.minor_units", b.secured_amount.minor_units)
        if not re.match(r"^[A-Z]{3}$", b.secured_amount.currency):
            fail("MALFORMED", "currency")
        need_text("loan_reference", b.loan_reference, required=True)
        need_positive("maturity_ms", b.maturity_ms)
    elif op == "release_pledge":
        need_id("pledge_id", b.pledge_id)
    elif op == "enforce_pledge":
        need_id("pledge_id", b.pledge_id)
        need_id("transferee_id", b.transferee_id, empty_ok=True)
        if b.grounds not in (MATURITY, ORDER, HOLDER_CONSENT):
            fail("MALFORMED", "grounds")
        if b.grounds == ORDER:
            need_text("order_reference", b.order_reference, required=True)
        elif b.order_reference:
            fail("MALFORMED", "order_reference: empty unless the grounds are ORDER")
    elif op in ("freeze_receipt", "unfreeze_receipt"):
        need_id("receipt_id", b.receipt_id)
        need_text("order_reference", b.order_reference, required=True)
    elif op == "change_membership":
        m = list(b.members)
        need_range("members", len(m), 1, 9)
        for x in m:
            need_range("members.member_id", x.member_id, 1, 1 << 63)
            need_id("members.name", x.name)
            need_text("members.address", x.address, required=True)
            need_key("members.public_key", x.public_key)
        if len({x.member_id for x in m}) != len(m) or len({x.public_key for x in m}) != len(m):
            fail("MALFORMED", "members: an id or key twice")
        if not any(x.voter for x in m):
            fail("MALFORMED", "members: no voter")
        need_text("reason", b.reason, required=True)
    return op


# --- parties ---

class Named:
    def __init__(self, pid, capacity):
        self.pid, self.capacity = pid, capacity


class AnyRole:
    def __init__(self, role):
        self.role = role


class Quorum:
    pass


class OneOf:
    def __init__(self, a, b):
        self.a, self.b = a, b


class State:
    def __init__(self):
        self.ledger_id = None
        self.quorum_members = []
        self.threshold = 0
        self.max_validity_ms = 0
        self.participants = {}  # id -> dict
        self.key_owner = {}  # key -> (participant id, since seq)
        self.legal_owner = {}  # (scheme, code) -> id
        self.tx_ids = {}  # tx_id -> (seq, tx hash)
        self.tanks = {}
        self.physical = {}  # (facility, number) -> tank id
        self.certificates = {}  # (inspector, number) -> dict
        self.receipts = {}
        self.pledges = {}
        self.membership = None  # list of (member_id, public_key) voters, or None
        self.member_keys = {}  # every member's sealing key (voters and learners) -> member id
        self.attempts = {}  # transaction hash -> the attempt entry that recorded it (FORMAT.md §3.2)
        self.put_receipts = set()
        self.put_tanks = set()

    # -- helpers --
    def live(self, pid, role=None, either=None):
        p = self.participants.get(pid)
        if p is None:
            fail("PARTICIPANT_NOT_FOUND", pid)
        if p["revoked_at"] is not None:
            fail("PARTICIPANT_REVOKED", pid)
        roles = set(p["roles"])
        if role is not None and role not in roles:
            fail("MISSING_ROLE", f"{pid} lacks {ROLE_NAMES[role]}")
        if either is not None and not (set(either) & roles):
            fail("MISSING_ROLE", f"{pid} lacks holder or bank")

    def custodian(self, tank_id, receipt=None):
        t = self.tanks.get(tank_id)
        if t is None:
            fail("TANK_NOT_FOUND", tank_id)
        self.custodian_live(t, receipt)
        return t["warehouse"]

    def custodian_live(self, t, receipt=None):
        revoked_at = self.participants[t["warehouse"]]["revoked_at"]
        if revoked_at is not None:
            fail("CUSTODIAN_REVOKED", f"tank {t['id']}", receipt=receipt, tank=t["id"], warehouse=t["warehouse"],
                 revoked_at=revoked_at)

    def shortfall(self, t, receipt=None):
        if t["shortfall_since"] is not None:
            g = t["gauging"]
            fail("TANK_SHORTFALL", t["id"], receipt=receipt, tank=t["id"], measured_kg=g["measured_kg"],
                 receipted_kg=t["receipted_kg"], missing_kg=t["receipted_kg"] - t["certified_kg"],
                 inspector=g["inspector"], report_no=g["report"], since=t["shortfall_since"])

    def not_frozen(self, r):
        if r["freeze"] is not None:
            p = self.pledges[r["pledge"]] if r["pledge"] else None
            fail("RECEIPT_FROZEN", r["id"], receipt=r["id"], regulator=r["freeze"][0], order_reference=r["freeze"][1],
                 since=r["freeze"][2], pledge=p and p["id"], pledgee=p and self.current_pledgee(p))

    def receipt(self, rid):
        r = self.receipts.get(rid)
        if r is None:
            fail("RECEIPT_NOT_FOUND", rid)
        return r

    def pledge(self, pid):
        p = self.pledges.get(pid)
        if p is None:
            fail("PLEDGE_NOT_FOUND", pid)
        return p

    def changeable(self, r):
        self.not_frozen(r)
        if r["status"] == PLEDGED:
            p = self.pledges[r["pledge"]]
            fail("RECEIPT_PLEDGED", r["id"], receipt=r["id"], pledge=p["id"], pledgee=self.current_pledgee(p),
                 since=p["registered_at"])
        if r["status"] != ACTIVE:
            fail("RECEIPT_NOT_LIVE", r["id"])

    def unexpired(self, r, now):
        if not now < r["expires_at_ms"]:
            fail("RECEIPT_EXPIRED", r["id"])

    @staticmethod
    def past(value, now, field):
        if value > now:
            fail("NOT_IN_PAST", field)

    @staticmethod
    def future(value, now, field):
        if value <= now:
            fail("NOT_IN_FUTURE", field)

    @staticmethod
    def current_pledgee(p):
        return p["successions"][-1][1] if p["successions"] else p["pledgee"]

    def gauging_checks(self, g, tank, custodian, now):
        self.live(g.inspector_id, INSPECTOR)
        if g.inspector_id == custodian:
            fail("PARTIES_NOT_DISTINCT", f"{g.inspector_id} inspector and custodian")
        self.past(g.gauged_at_ms, now, "gauged_at_ms")
        if tank["gauging"] is not None and not g.gauged_at_ms > tank["gauging"]["gauged_at_ms"]:
            fail("GAUGING_SUPERSEDED", tank["id"])
        if g.measured_kg > tank["capacity_kg"]:
            fail("MEASURED_ABOVE_CAPACITY", tank["id"])

    def gauging_effect(self, g, tank, seq):
        tank["certified_kg"] = min(tank["certified_kg"], g.measured_kg)
        tank["shortfall_since"] = seq if tank["receipted_kg"] > tank["certified_kg"] else None
        tank["gauging"] = dict(inspector=g.inspector_id, report=g.report_no, measured_kg=g.measured_kg,
                               gauged_at_ms=g.gauged_at_ms, entry=seq)

    def put_receipt(self, r, seq):
        r["updated_at"] = seq
        r["history_len"] += 1
        self.put_receipts.add(r["id"])

    def put_tank(self, t, seq):
        t["updated_at"] = seq
        self.put_tanks.add(t["id"])

    # -- signers and parties (FORMAT.md §2.3 "Signer checks", "Required parties") --
    def signer_checks(self, sigs, genesis=None):
        for s in sigs:
            if genesis is not None:
                spec = genesis.get(s.signer)
                if spec is None:
                    fail("UNKNOWN_SIGNER", s.signer)
                if spec.public_key != s.public_key:
                    fail("KEY_NEVER_OWNED", s.signer)
                continue
            p = self.participants.get(s.signer)
            if p is None:
                fail("UNKNOWN_SIGNER", s.signer)
            if p["revoked_at"] is not None:
                fail("SIGNER_REVOKED", s.signer)
            if s.public_key != p["key"]:
                owner = self.key_owner.get(s.public_key)
                fail("KEY_NOT_CURRENT" if owner and owner[0] == s.signer else "KEY_NEVER_OWNED", s.signer)

    def match_parties(self, parties, sigs, roles_of):
        seen, unique = set(), []
        for p in parties:
            if isinstance(p, Named):
                if p.pid in seen:
                    continue
                seen.add(p.pid)
            unique.append(p)
        matched = [False] * len(sigs)

        def can(p):
            return try_match(p, dry=True)

        def try_match(p, dry=False):
            if isinstance(p, Named):
                for i, s in enumerate(sigs):
                    if not matched[i] and s.signer == p.pid:
                        if not dry:
                            matched[i] = True
                        return True
                return False
            if isinstance(p, AnyRole):
                for i, s in enumerate(sigs):
                    if not matched[i] and p.role in roles_of(s.signer):
                        if not dry:
                            matched[i] = True
                        return True
                return False
            if isinstance(p, Quorum):
                idx = [i for i, s in enumerate(sigs) if not matched[i] and s.signer in self.quorum_members]
                if len(idx) < self.threshold:
                    return False
                if not dry:
                    for i in idx:
                        matched[i] = True
                return True
            if isinstance(p, OneOf):
                return try_match(p.a, dry) if can(p.a) else try_match(p.b, dry)
            raise AssertionError(p)

        for p in unique:
            if not try_match(p):
                fail("QUORUM_NOT_MET" if isinstance(p, Quorum) else "MISSING_SIGNATURE", type(p).__name__)
        for i, s in enumerate(sigs):
            if not matched[i]:
                fail("UNEXPECTED_SIGNER", s.signer)

    # -- the entry --
    def apply(self, seq, time_ms, tx_bytes, tx, op, sigs):
        """Applies on a copy; returns the new state or raises Refusal."""
        new = copy.deepcopy(self)
        new.put_receipts, new.put_tanks = set(), set()
        new._apply(seq, time_ms, tx_bytes, tx, op, sigs)
        return new

    def _apply(self, seq, now, tx_bytes, tx, op, sigs):
        if (seq == 0) != (op == "genesis"):
            fail("GENESIS_OUT_OF_PLACE", f"seq {seq}")
        if op != "genesis" and tx.ledger_id != self.ledger_id:
            fail("WRONG_LEDGER", tx.ledger_id)
        if tx.tx_id in self.tx_ids:
            fail("TX_ID_REUSED", tx.tx_id)
        max_validity = tx.genesis.governance.max_validity_ms if op == "genesis" else self.max_validity_ms
        if tx.not_after_ms - tx.not_before_ms > max_validity:
            fail("VALIDITY_TOO_LONG")
        if now < tx.not_before_ms:
            fail("TX_NOT_YET_VALID")
        if now > tx.not_after_ms:
            fail("TX_EXPIRED")
        body = getattr(tx, op)
        if op == "genesis":
            self.signer_checks(sigs, genesis={p.id: p for p in body.participants})
            specs = {p.id: p for p in body.participants}
            self.match_parties([Named(m, "quorum member") for m in body.governance.quorum_members], sigs,
                               lambda pid: set(specs[pid].roles))
        else:
            self.signer_checks(sigs)
            parties = getattr(self, "parties_" + op)(body, sigs)
            self.match_parties(parties, sigs, lambda pid: set(self.participants[pid]["roles"]))
        signer = sigs[0].signer
        getattr(self, "op_" + op)(body, seq, now, sigs, signer, tx)
        self.tx_ids[tx.tx_id] = (seq, tx_hash(tx_bytes))

    # ===== genesis and identity =====
    def op_genesis(self, g, seq, now, sigs, signer, tx):
        self.ledger_id = tx.ledger_id
        self.quorum_members = list(g.governance.quorum_members)
        self.threshold = g.governance.quorum_threshold
        self.max_validity_ms = g.governance.max_validity_ms
        for p in g.participants:
            self.admit(p, seq)

    def admit(self, spec, seq):
        self.participants[spec.id] = dict(id=spec.id, roles=list(spec.roles), key=spec.public_key,
                                          legal=legal_id_of(spec), admitted_at=seq, revoked_at=None,
                                          successor=None)
        self.key_owner[spec.public_key] = (spec.id, seq)
        self.legal_owner[legal_id_of(spec)] = spec.id

    def parties_admit_participant(self, b, sigs):
        return [Quorum()]

    def op_admit_participant(self, b, seq, now, sigs, signer, tx):
        spec = b.participant
        if spec.id in self.participants:
            fail("PARTICIPANT_EXISTS", spec.id)
        if legal_id_of(spec) in self.legal_owner:
            fail("LEGAL_ID_IN_USE", spec.id)
        if spec.public_key in self.key_owner:
            fail("KEY_IN_USE", spec.id)
        self.not_a_member_key(spec.public_key, spec.id)
        self.admit(spec, seq)

    def not_a_member_key(self, key, pid):
        """§2.3: a party signature and a seal never share a key."""
        if key in self.member_keys:
            fail("KEY_OF_MEMBER", pid)

    def parties_rotate_key(self, b, sigs):
        return [Named(b.participant_id, "participant")]

    def op_rotate_key(self, b, seq, now, sigs, signer, tx):
        self.live(b.participant_id)
        p = self.participants[b.participant_id]
        if b.new_public_key == p["key"]:
            fail("SAME_KEY", b.participant_id)
        if b.new_public_key in self.key_owner:
            fail("KEY_IN_USE", b.participant_id)
        self.not_a_member_key(b.new_public_key, b.participant_id)
        p["key"] = b.new_public_key
        self.key_owner[b.new_public_key] = (b.participant_id, seq)

    def parties_recover_key(self, b, sigs):
        return [Quorum()]

    op_recover_key = op_rotate_key

    def parties_revoke_participant(self, b, sigs):
        return [Quorum()]

    def op_revoke_participant(self, b, seq, now, sigs, signer, tx):
        pid = b.participant_id
        self.live(pid)
        if pid in self.quorum_members:
            others = [m for m in self.quorum_members
                      if m != pid and self.participants[m]["revoked_at"] is None]
            if len(others) < self.threshold:
                fail("QUORUM_WOULD_BREAK", pid)
        active = [p for p in self.pledges.values() if p["status"] == "active" and self.current_pledgee(p) == pid]
        active.sort(key=lambda p: p["receipt"])
        if b.successor_id:
            if BANK not in self.participants[pid]["roles"] or b.successor_id == pid:
                fail("SUCCESSOR_NOT_APPLICABLE", pid)
            self.live(b.successor_id, BANK)
        elif active:
            fail("SUCCESSOR_REQUIRED", pid)
        for p in active:
            p["successions"].append((pid, b.successor_id, seq))
            self.put_receipt(self.receipts[p["receipt"]], seq)
        self.participants[pid]["revoked_at"] = seq
        self.participants[pid]["successor"] = b.successor_id or None

    # ===== tanks =====
    def parties_register_tank(self, b, sigs):
        return [Named(b.warehouse_id, "warehouse"), Named(b.inspector_id, "inspector")]

    def op_register_tank(self, b, seq, now, sigs, signer, tx):
        if b.tank_id in self.tanks:
            fail("TANK_EXISTS", b.tank_id)
        phys = (b.physical_id.facility_code, b.physical_id.tank_number)
        if phys in self.physical:
            other = self.tanks[self.physical[phys]]
            fail("PHYSICAL_TANK_REGISTERED", str(phys), physical_id_facility_code=phys[0],
                 physical_id_tank_number=phys[1], tank=other["id"], warehouse=other["warehouse"],
                 registered_at=other["registered_at"])
        self.live(b.warehouse_id, WAREHOUSE)
        self.live(b.inspector_id, INSPECTOR)
        if b.warehouse_id == b.inspector_id:
            fail("PARTIES_NOT_DISTINCT", b.warehouse_id)
        self.tanks[b.tank_id] = dict(id=b.tank_id, warehouse=b.warehouse_id, capacity_kg=b.capacity_kg,
                                     product=b.product, certified_kg=0, receipted_kg=0, registered_at=seq,
                                     updated_at=seq, physical=phys, calibration=(b.inspector_id,
                                     b.calibration_certificate_no), gauging=None, shortfall_since=None,
                                     custodians=[], custody_changes=[])
        self.physical[phys] = b.tank_id
        self.put_tank(self.tanks[b.tank_id], seq)

    def parties_certify_stock(self, b, sigs):
        return [Named(self.custodian(b.tank_id), "warehouse"), Named(b.inspector_id, "inspector"),
                Named(b.depositor_id, "depositor")]

    def op_certify_stock(self, b, seq, now, sigs, signer, tx):
        t = self.tanks.get(b.tank_id)
        if t is None:
            fail("TANK_NOT_FOUND", b.tank_id)
        if (b.inspector_id, b.certificate_no) in self.certificates:
            fail("CERTIFICATE_EXISTS", b.certificate_no, certificate_inspector=b.inspector_id,
                 certificate_number=b.certificate_no,
                 certified_at=self.certificates[(b.inspector_id, b.certificate_no)]["certified_at"])
        self.live(b.inspector_id, INSPECTOR)
        self.live(b.depositor_id, HOLDER)
        w = t["warehouse"]
        if w == b.inspector_id or w == b.depositor_id or b.inspector_id == b.depositor_id:
            fail("PARTIES_NOT_DISTINCT")
        if b.product_grade != t["product"]:
            fail("PRODUCT_MISMATCH", b.product_grade)
        self.past(b.gauged_at_ms, now, "gauged_at_ms")
        if t["gauging"] is not None and not b.gauged_at_ms > t["gauging"]["gauged_at_ms"]:
            fail("GAUGING_SUPERSEDED", t["id"])
        total = t["certified_kg"] + b.quantity_kg
        if total > U64:
            fail("QUANTITY_OVERFLOW", t["id"])
        if total > t["capacity_kg"]:
            fail("CAPACITY_EXCEEDED", t["id"], tank=t["id"], capacity_kg=t["capacity_kg"],
                 certified_kg=t["certified_kg"], requested_kg=b.quantity_kg)
        t["certified_kg"] = total
        if t["receipted_kg"] <= t["certified_kg"]:
            t["shortfall_since"] = None
        self.certificates[(b.inspector_id, b.certificate_no)] = dict(
            tank=b.tank_id, quantity_kg=b.quantity_kg, grade=b.product_grade, gauged_at_ms=b.gauged_at_ms,
            depositor=b.depositor_id, receipt=None, certified_at=seq)
        self.put_tank(t, seq)

    def parties_regauge_tank(self, b, sigs):
        return [Named(b.gauging.inspector_id, "inspector")]

    def op_regauge_tank(self, b, seq, now, sigs, signer, tx):
        t = self.tanks.get(b.tank_id)
        if t is None:
            fail("TANK_NOT_FOUND", b.tank_id)
        self.gauging_checks(b.gauging, t, t["warehouse"], now)
        self.gauging_effect(b.gauging, t, seq)
        self.put_tank(t, seq)

    def parties_appoint_custodian(self, b, sigs):
        return [Named(b.warehouse_id, "warehouse"), Named(b.gauging.inspector_id, "inspector"), Quorum()]

    def op_appoint_custodian(self, b, seq, now, sigs, signer, tx):
        t = self.tanks.get(b.tank_id)
        if t is None:
            fail("TANK_NOT_FOUND", b.tank_id)
        if self.participants[t["warehouse"]]["revoked_at"] is None:
            fail("CUSTODIAN_NOT_REVOKED", b.tank_id)
        self.live(b.warehouse_id, WAREHOUSE)
        self.gauging_checks(b.gauging, t, b.warehouse_id, now)
        self.gauging_effect(b.gauging, t, seq)
        for r in sorted(self.receipts.values(), key=lambda r: r["id"]):
            if r["tank"] == b.tank_id and r["status"] in (ACTIVE, PLEDGED):
                r["warehouse"] = b.warehouse_id
                self.put_receipt(r, seq)
        t["custodians"].append(t["warehouse"])
        t["custody_changes"].append(seq)
        t["warehouse"] = b.warehouse_id
        self.put_tank(t, seq)

    # ===== receipts =====
    def parties_issue_receipt(self, b, sigs):
        return [Named(self.custodian(b.tank_id), "warehouse")]

    def op_issue_receipt(self, b, seq, now, sigs, signer, tx):
        if b.receipt_id in self.receipts:
            fail("RECEIPT_EXISTS", b.receipt_id)
        t = self.tanks.get(b.tank_id)
        if t is None:
            fail("TANK_NOT_FOUND", b.tank_id)
        cert = self.certificates.get((b.inspector_id, b.certificate_no))
        if cert is None:
            fail("CERTIFICATE_NOT_FOUND", b.certificate_no)
        if cert["tank"] != b.tank_id:
            fail("CERTIFICATE_TANK_MISMATCH", b.certificate_no)
        certificate = dict(certificate_inspector=b.inspector_id, certificate_number=b.certificate_no)
        if cert["receipt"] is not None:
            r = self.receipts[cert["receipt"]]
            p = self.pledges[r["pledge"]] if r["pledge"] else None
            fail("CERTIFICATE_IN_USE", b.certificate_no, **certificate, receipt=r["id"],
                 receipt_status=STATUS_NAMES[r["status"]], receipt_holder=r["holder"], receipt_pledge=p and p["id"],
                 receipt_pledgee=p and self.current_pledgee(p), receipt_updated_at=r["updated_at"])
        if b.quantity_kg > cert["quantity_kg"]:
            fail("QUANTITY_EXCEEDS_CERTIFICATE", b.certificate_no, **certificate, certified_kg=cert["quantity_kg"],
                 requested_kg=b.quantity_kg)
        if b.product_grade != t["product"]:
            fail("PRODUCT_MISMATCH", b.product_grade)
        self.future(b.expires_at_ms, now, "expires_at_ms")
        self.live(cert["depositor"], HOLDER)
        self.shortfall(t)
        total = t["receipted_kg"] + b.quantity_kg
        if total > U64:
            fail("QUANTITY_OVERFLOW", b.tank_id)
        if total > t["certified_kg"]:
            fail("STOCK_EXCEEDED", b.tank_id, tank=t["id"], certified_kg=t["certified_kg"],
                 receipted_kg=t["receipted_kg"], requested_kg=b.quantity_kg)
        t["receipted_kg"] = total
        cert["receipt"] = b.receipt_id
        self.receipts[b.receipt_id] = dict(
            id=b.receipt_id, tank=b.tank_id, cert=(b.inspector_id, b.certificate_no), grade=b.product_grade,
            spec=b.specification, quantity_kg=b.quantity_kg, customs_status=b.customs_status,
            customs_ref=b.customs_reference, expires_at_ms=b.expires_at_ms, loss_ppm=b.loss_allowance_ppm,
            insurance=b.insurance_reference, warehouse=t["warehouse"], holder=cert["depositor"], status=ACTIVE,
            status_at=None, parts=[], parent=None, issue_time_ms=now, issued_at=seq, updated_at=seq,
            history_len=0, freeze=None, pledge=None)
        self.put_receipt(self.receipts[b.receipt_id], seq)
        self.put_tank(t, seq)

    def holder_and_custodian(self, rid):
        r = self.receipt(rid)
        return [Named(r["holder"], "holder"), Named(self.custodian(r["tank"], rid), "warehouse")]

    def parties_transfer_receipt(self, b, sigs):
        return self.holder_and_custodian(b.receipt_id)

    def op_transfer_receipt(self, b, seq, now, sigs, signer, tx):
        r = self.receipt(b.receipt_id)
        self.changeable(r)
        self.unexpired(r, now)
        if b.new_holder_id == r["holder"]:
            fail("ALREADY_HOLDER", r["id"])
        self.live(b.new_holder_id, either=(HOLDER, BANK))
        r["holder"] = b.new_holder_id
        self.put_receipt(r, seq)

    def parties_split_receipt(self, b, sigs):
        return self.holder_and_custodian(b.receipt_id)

    def op_split_receipt(self, b, seq, now, sigs, signer, tx):
        r = self.receipt(b.receipt_id)
        self.changeable(r)
        self.unexpired(r, now)
        if sum(p.quantity_kg for p in b.parts) != r["quantity_kg"]:
            fail("SPLIT_MISMATCH", r["id"])
        for p in b.parts:
            if p.receipt_id in self.receipts:
                fail("RECEIPT_EXISTS", p.receipt_id)
            part = copy.deepcopy(r)
            part.update(id=p.receipt_id, quantity_kg=p.quantity_kg, parent=r["id"], issue_time_ms=now,
                        issued_at=seq, history_len=0, status=ACTIVE, status_at=None, parts=[])
            self.receipts[p.receipt_id] = part
            self.put_receipt(part, seq)
        r["status"], r["status_at"], r["parts"] = SPLIT, seq, [p.receipt_id for p in b.parts]
        self.put_receipt(r, seq)

    def parties_cancel_receipt(self, b, sigs):
        return self.holder_and_custodian(b.receipt_id)

    def op_cancel_receipt(self, b, seq, now, sigs, signer, tx):
        r = self.receipt(b.receipt_id)
        self.changeable(r)
        t = self.tanks.get(r["tank"])
        if t is None:
            fail("TANK_NOT_FOUND", r["tank"])
        q = r["quantity_kg"]
        shortfall = t["shortfall_since"] is not None
        if t["receipted_kg"] < q or (not shortfall and t["certified_kg"] < q):
            fail("QUANTITY_OVERFLOW", t["id"])
        t["receipted_kg"] -= q
        if shortfall:
            t["certified_kg"] = min(t["certified_kg"], t["receipted_kg"])
        else:
            t["certified_kg"] -= q
        if t["receipted_kg"] <= t["certified_kg"]:
            t["shortfall_since"] = None
        r["status"], r["status_at"] = CANCELLED, seq
        self.put_receipt(r, seq)
        self.put_tank(t, seq)

    # ===== pledges =====
    def parties_register_pledge(self, b, sigs):
        r = self.receipt(b.receipt_id)
        return [Named(r["holder"], "holder"), Named(b.pledgee_id, "pledgee")]

    def op_register_pledge(self, b, seq, now, sigs, signer, tx):
        if b.pledge_id in self.pledges:
            fail("PLEDGE_EXISTS", b.pledge_id)
        r = self.receipt(b.receipt_id)
        self.changeable(r)
        self.unexpired(r, now)
        t = self.tanks.get(r["tank"])
        if t is None:
            fail("TANK_NOT_FOUND", r["tank"])
        self.custodian_live(t, r["id"])
        self.shortfall(t, r["id"])
        self.live(b.pledgee_id, BANK)
        if b.pledgee_id == r["holder"]:
            fail("PARTIES_NOT_DISTINCT", b.pledgee_id)
        self.future(b.maturity_ms, now, "maturity_ms")
        self.pledges[b.pledge_id] = dict(
            id=b.pledge_id, receipt=r["id"], pledgee=b.pledgee_id, pledgor=r["holder"],
            amount=b.secured_amount.minor_units, currency=b.secured_amount.currency, loan_ref=b.loan_reference,
            maturity_ms=b.maturity_ms, start_ms=now, registered_at=seq, successions=[], status="active")
        r["status"], r["pledge"] = PLEDGED, b.pledge_id
        self.put_receipt(r, seq)

    def parties_release_pledge(self, b, sigs):
        return [Named(self.current_pledgee(self.pledge(b.pledge_id)), "pledgee")]

    def op_release_pledge(self, b, seq, now, sigs, signer, tx):
        p = self.pledge(b.pledge_id)
        if p["status"] != "active":
            fail("PLEDGE_NOT_ACTIVE", p["id"])
        r = self.receipt(p["receipt"])
        self.not_frozen(r)
        p["status"] = "released"
        r["status"], r["pledge"] = ACTIVE, None
        self.put_receipt(r, seq)

    def parties_enforce_pledge(self, b, sigs):
        p = self.pledge(b.pledge_id)
        out = [Named(self.current_pledgee(p), "pledgee")]
        if b.grounds == ORDER:
            out.append(AnyRole(REGULATOR))
        elif b.grounds == HOLDER_CONSENT:
            out.append(Named(self.receipt(p["receipt"])["holder"], "holder"))
        return out

    def op_enforce_pledge(self, b, seq, now, sigs, signer, tx):
        p = self.pledge(b.pledge_id)
        if p["status"] != "active":
            fail("PLEDGE_NOT_ACTIVE", p["id"])
        transferee = b.transferee_id or self.current_pledgee(p)
        self.live(transferee, either=(HOLDER, BANK))
        if b.grounds == MATURITY and now < p["maturity_ms"]:
            fail("ENFORCEMENT_BEFORE_MATURITY", p["id"])
        r = self.receipt(p["receipt"])
        self.not_frozen(r)
        p["status"] = "enforced"
        r["status"], r["pledge"], r["holder"] = ACTIVE, None, transferee
        self.put_receipt(r, seq)

    # ===== freezes =====
    def parties_freeze_receipt(self, b, sigs):
        return [AnyRole(REGULATOR)]

    def op_freeze_receipt(self, b, seq, now, sigs, signer, tx):
        r = self.receipt(b.receipt_id)
        self.not_frozen(r)
        if r["status"] not in (ACTIVE, PLEDGED):
            fail("RECEIPT_NOT_LIVE", r["id"])
        regulator = next(s.signer for s in sigs if REGULATOR in self.participants[s.signer]["roles"])
        r["freeze"] = (regulator, b.order_reference, seq)
        self.put_receipt(r, seq)

    def parties_unfreeze_receipt(self, b, sigs):
        r = self.receipt(b.receipt_id)
        if r["freeze"] is None:
            fail("RECEIPT_NOT_FROZEN", r["id"])
        return [OneOf(Named(r["freeze"][0], "freezing regulator"), Quorum())]

    def op_unfreeze_receipt(self, b, seq, now, sigs, signer, tx):
        r = self.receipt(b.receipt_id)
        if r["freeze"] is None:
            fail("RECEIPT_NOT_FROZEN", r["id"])
        r["freeze"] = None
        self.put_receipt(r, seq)

    # ===== membership =====
    def parties_change_membership(self, b, sigs):
        return [Quorum()]

    def op_change_membership(self, b, seq, now, sigs, signer, tx):
        for m in b.members:
            if m.public_key in self.key_owner:
                fail("KEY_IN_USE", m.name)
        voters = {(m.member_id, m.public_key) for m in b.members if m.voter}
        if self.membership is not None:
            if len(voters ^ set(self.membership)) > 1:
                fail("MEMBERSHIP_CHANGE_TOO_LARGE")
        self.membership = sorted(voters)
        self.member_keys = {m.public_key: m.member_id for m in b.members}

    # ===== the state map (§7.9) =====
    def receipt_preimage(self, r):
        p = Preimage(RECEIPT_STATE)
        p.text(1, r["id"]).text(2, r["tank"]).text(3, r["cert"][0]).text(4, r["cert"][1])
        p.text(5, r["grade"]).text(6, r["spec"]).int(7, r["quantity_kg"]).int(8, r["customs_status"])
        p.text(9, r["customs_ref"]).int(10, r["expires_at_ms"]).int(11, r["loss_ppm"]).text(12, r["insurance"])
        p.text(13, r["warehouse"]).text(14, r["holder"]).int(15, r["status"])
        if r["status_at"] is not None:
            p.int(16, r["status_at"])
        for part in r["parts"]:
            p.text(17, part)
        if r["parent"] is not None:
            p.text(18, r["parent"])
        p.int(19, r["issue_time_ms"]).int(20, r["issued_at"]).int(21, r["updated_at"]).int(22, r["history_len"])
        if r["freeze"] is not None:
            p.text(23, r["freeze"][0]).text(24, r["freeze"][1]).int(25, r["freeze"][2])
        if r["pledge"] is not None:
            pl = self.pledges[r["pledge"]]
            p.text(32, pl["id"]).text(33, pl["pledgee"]).text(34, pl["pledgor"]).int(35, pl["amount"])
            p.text(36, pl["currency"]).text(37, pl["loan_ref"]).int(38, pl["maturity_ms"]).int(39, pl["start_ms"])
            p.int(40, pl["registered_at"])
            if pl["successions"]:
                p.text(41, pl["successions"][-1][1]).int(42, pl["successions"][-1][2])
        return p.bytes()

    def tank_preimage(self, t):
        p = Preimage(TANK_STATE)
        p.text(1, t["id"]).text(2, t["warehouse"]).int(3, t["capacity_kg"]).text(4, t["product"])
        p.int(5, t["certified_kg"]).int(6, t["receipted_kg"]).int(7, t["registered_at"]).int(8, t["updated_at"])
        p.text(9, t["physical"][0]).text(10, t["physical"][1]).text(11, t["calibration"][0])
        p.text(12, t["calibration"][1])
        g = t["gauging"]
        if g is not None:
            p.text(13, g["inspector"]).text(14, g["report"]).int(15, g["measured_kg"])
            p.int(16, g["gauged_at_ms"]).int(17, g["entry"])
        if t["shortfall_since"] is not None:
            p.int(18, t["shortfall_since"])
        for c in t["custodians"]:
            p.text(19, c)
        for c in t["custody_changes"]:
            p.int(20, c)
        return p.bytes()

    def state_root(self):
        pairs = [(map_key(1, rid), sha256(self.receipt_preimage(r))) for rid, r in self.receipts.items()]
        pairs += [(map_key(2, tid), sha256(self.tank_preimage(t))) for tid, t in self.tanks.items()]
        return map_root(pairs)
