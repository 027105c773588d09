"""A pledge's life against a real pledge-node, from Python: certify stock
(the warehouse, the inspector and the owner of the oil sign), issue a receipt, pledge it to bank A, see bank B's pledge of the same
receipt refused with its reason decoded, prove the pledge's entry against a
signed checkpoint, release; watch the alerts a bank may see.

The node binary is $PLEDGE_NODE (run-tests.sh builds it); it runs on
127.0.0.1:0 with a development genesis in a temporary directory.
"""

import os
import pathlib
import subprocess
import tempfile
import threading
import time
import unittest

import grpc
from pledgeledger.v1 import ledger_service_pb2 as api
from pledgeledger.v1 import transaction_pb2 as tx

from pledge_client import envelope, proofs, watch
from pledge_client.client import LedgerClient
from pledge_client.errors import Refusal, refusal_from
from pledge_client.keys import load_key_file

DAY_MS = 86_400_000
# The development ledger's inspection agency.
INSPECTOR = "insp-sgs"


class Node:
    """A pledge-node process on a free loopback port."""

    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = data_dir
        self.log = open(data_dir / "node.log", "wb")
        self.process = subprocess.Popen(
            [os.environ["PLEDGE_NODE"], "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.address = self._announced_address()

    def _announced_address(self) -> str:
        found = threading.Event()
        address = []

        def drain():
            for line in self.process.stdout:
                text = line.decode(errors="replace")
                if text.startswith("pledge-node listening on ") and not address:
                    address.append(text.split()[-1])
                    found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(60):
            self.stop()
            raise RuntimeError(f"pledge-node did not start; see {self.data_dir / 'node.log'}")
        return address[0]

    def signer(self, participant: str):
        return load_key_file(self.data_dir / "dev-keys" / f"{participant}.json")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process.stdout.close()
        self.log.close()


class PledgeLifecycle(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.node = Node(pathlib.Path(self.dir.name))
        self.client = LedgerClient(self.node.address)
        self.info = self.client.node_info()

    def tearDown(self):
        self.client.close()
        self.node.stop()
        self.dir.cleanup()

    def signers(self, *ids):
        return [self.node.signer(i) for i in ids]

    def issue_receipt(self, receipt_id: str, kg: int):
        certificate = f"SGS-{receipt_id}"
        certify = tx.CertifyStock(
            tank_id="T-101",
            inspector_id=INSPECTOR,
            certificate_no=certificate,
            quantity_kg=kg,
            depositor_id="trader-a",
            product_grade="VLSFO 0.5%S",
            gauged_at_ms=envelope.now_ms() - 60_000,
        )
        # The tank's warehouse, the inspector and the owner of the oil all sign.
        self.client.submit(certify, self.signers("wh-1", INSPECTOR, "trader-a"))
        terms = tx.IssueReceipt(
            receipt_id=receipt_id,
            tank_id="T-101",
            inspector_id=INSPECTOR,
            certificate_no=certificate,
            product_grade="VLSFO 0.5%S",
            specification="ISO 8217:2017 RMG 380",
            quantity_kg=kg,
            customs_status=tx.CUSTOMS_STATUS_BONDED,
            customs_reference="ZS-2026-PY-1",
            expires_at_ms=envelope.now_ms() + 180 * DAY_MS,
            loss_allowance_ppm=3_000,
            insurance_reference="PICC-OIL-77",
        )
        self.client.submit(terms, self.signers("wh-1"))

    def pledge(self, pledge_id: str, bank: str) -> tx.RegisterPledge:
        return tx.RegisterPledge(
            pledge_id=pledge_id,
            receipt_id="WR-PY-1",
            pledgee_id=bank,
            secured_amount=tx.Money(minor_units=300_000_000, currency="USD"),
            loan_reference=f"LN-{pledge_id}",
            maturity_ms=envelope.now_ms() + 90 * DAY_MS,
        )

    def test_a_pledge_lifecycle_with_a_refused_double_pledge(self):
        self.issue_receipt("WR-PY-1", 5_000_000)
        pledge_bytes = envelope.transaction(
            self.info.ledger_id, self.pledge("PL-PY-A", "bank-a"), envelope.new_tx_id("trader-a")
        )
        committed = self.client.submit_envelope(envelope.sign(pledge_bytes, self.signers("trader-a", "bank-a")))
        self.assertFalse(committed.duplicate)

        with self.assertRaises(Refusal) as refused:
            self.client.submit(self.pledge("PL-PY-B", "bank-b"), self.signers("trader-a", "bank-b"))
        refusal = refused.exception
        self.assertEqual(refusal.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(refusal.reason, "RECEIPT_PLEDGED")
        self.assertEqual(refusal.domain, "pledgeledger.v1")
        self.assertEqual(refusal.metadata.get("pledge"), "PL-PY-A")
        self.assertEqual(refusal.metadata.get("pledgee"), "bank-a")
        self.assertEqual(refusal.metadata.get("since"), str(committed.seq))

        receipt = self.client.receipt("WR-PY-1")
        self.assertEqual(receipt.status, api.RECEIPT_STATUS_PLEDGED)
        self.assertEqual(receipt.active_pledge.terms.pledge_id, "PL-PY-A")

        self.prove_entry(committed.seq, pledge_bytes)

        self.client.submit(tx.ReleasePledge(pledge_id="PL-PY-A"), self.signers("bank-a"))
        self.assertEqual(self.client.receipt("WR-PY-1").status, api.RECEIPT_STATUS_ACTIVE)
        self.assertEqual(self.client.pledge("PL-PY-A").status, api.PLEDGE_STATUS_RELEASED)

    def test_a_tank_lists_its_live_receipts_page_by_page(self):
        for n in range(5):
            self.issue_receipt(f"WR-PY-{n}", 1_000)
        first = self.client.tank_page("T-101", page_size=2)
        self.assertEqual(list(first.live_receipt_ids), ["WR-PY-0", "WR-PY-1"])
        self.assertTrue(first.next_page_token)
        # A receipt issued between pages, after the listing's position, is listed.
        self.issue_receipt("WR-PY-9", 1_000)
        second = self.client.tank_page("T-101", page_size=2, page_token=first.next_page_token)
        self.assertEqual(list(second.live_receipt_ids), ["WR-PY-2", "WR-PY-3"])
        every = list(self.client.tank_live_receipt_ids("T-101", page_size=2))
        self.assertEqual(every, ["WR-PY-0", "WR-PY-1", "WR-PY-2", "WR-PY-3", "WR-PY-4", "WR-PY-9"])
        with self.assertRaises(Refusal) as refused:
            self.client.tank_page("T-101", page_size=5_001)
        self.assertEqual(refused.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_the_report_shows_the_pledged_tank_holder_and_bank(self):
        self.issue_receipt("WR-PY-1", 5_000_000)
        self.client.submit(self.pledge("PL-PY-A", "bank-a"), self.signers("trader-a", "bank-a"))
        head = self.client.stub.GetHead(api.GetHeadRequest())
        rows = self.client.report()
        self.assertEqual(rows[0].WhichOneof("row"), "header")
        self.assertEqual(rows[0].header.size, head.size)
        kinds = [row.WhichOneof("row") for row in rows]
        # Tank rows (each followed by its holders) before every bank row.
        first_bank = kinds.index("bank")
        self.assertTrue(all(kind == "bank" for kind in kinds[first_bank:]), kinds)
        tank = next(r.tank for r in rows if r.WhichOneof("row") == "tank" and r.tank.tank_id == "T-101")
        self.assertEqual(tank.warehouse_id, "wh-1")
        self.assertGreaterEqual(tank.receipted_kg, 5_000_000)
        self.assertEqual(tank.pledged_kg, 5_000_000)
        self.assertEqual(tank.shortfall_kg, 0)
        holder = next(
            r.holder for r in rows if r.WhichOneof("row") == "holder" and r.holder.tank_id == "T-101"
            and r.holder.holder_id == "trader-a"
        )
        self.assertEqual(holder.pledged_kg, 5_000_000)
        self.assertEqual(holder.pledged_share_bp, 5_000_000 * 10_000 // tank.certified_kg)
        bank = next(r.bank for r in rows if r.WhichOneof("row") == "bank" and r.bank.bank_id == "bank-a")
        self.assertEqual((bank.currency, bank.active_pledges, bank.exposure_minor), ("USD", 1, 300_000_000))
        # No price of the grade in USD is assessed: counted apart, valued at nothing.
        self.assertEqual((bank.unpriced_pledges, bank.unpriced_exposure_minor), (1, 300_000_000))
        self.assertEqual(bank.collateral_value_minor, 0)

        only_wh2 = self.client.report("wh-2")
        self.assertEqual(only_wh2[0].header.warehouse_id, "wh-2")
        self.assertEqual([r.tank.tank_id for r in only_wh2 if r.WhichOneof("row") == "tank"], ["T-201"])
        self.assertNotIn("bank", [r.WhichOneof("row") for r in only_wh2])
        with self.assertRaises(Refusal) as refused:
            self.client.report("wh 1")
        self.assertEqual(refused.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("warehouse_id", refused.exception.message)

    def test_a_retry_answers_with_the_original_entry(self):
        self.issue_receipt("WR-PY-1", 1_000_000)
        tx_bytes = envelope.transaction(
            self.info.ledger_id, self.pledge("PL-PY-A", "bank-a"), envelope.new_tx_id("trader-a")
        )
        signed = envelope.sign(tx_bytes, self.signers("trader-a", "bank-a"))
        first, again = self.client.submit_envelope(signed), self.client.submit_envelope(signed)
        self.assertEqual((again.seq, again.entry_hash, again.duplicate), (first.seq, first.entry_hash, True))

    def test_a_missing_cosignature_is_refused_and_changes_nothing(self):
        self.issue_receipt("WR-PY-1", 1_000_000)
        with self.assertRaises(Refusal) as refused:
            self.client.submit(self.pledge("PL-PY-A", "bank-a"), self.signers("trader-a"))
        self.assertEqual(refused.exception.code, grpc.StatusCode.PERMISSION_DENIED)
        self.assertTrue(refused.exception.reason)
        self.assertEqual(self.client.receipt("WR-PY-1").status, api.RECEIPT_STATUS_ACTIVE)

    def test_stock_certified_without_the_inspector_is_refused(self):
        """The warehouse's word alone is not a certificate: the inspector
        (and the owner of the oil) must sign it too."""
        certify = tx.CertifyStock(
            tank_id="T-101",
            inspector_id=INSPECTOR,
            certificate_no="SGS-FORGED",
            quantity_kg=1_000_000,
            depositor_id="trader-a",
            product_grade="VLSFO 0.5%S",
            gauged_at_ms=envelope.now_ms() - 60_000,
        )
        with self.assertRaises(Refusal) as refused:
            self.client.submit(certify, self.signers("wh-1", "trader-a"))
        self.assertEqual(refused.exception.code, grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(refused.exception.reason, "MISSING_SIGNATURE")
        self.assertEqual(refused.exception.metadata.get("party_id"), INSPECTOR)

    def test_a_signed_window_that_has_passed_is_refused(self):
        """The drafter's signed validity window binds every co-signer: an
        envelope presented after ``not_after_ms`` is refused."""
        self.issue_receipt("WR-PY-1", 1_000_000)
        now = envelope.now_ms()
        stale = envelope.transaction(
            self.info.ledger_id,
            self.pledge("PL-PY-A", "bank-a"),
            envelope.new_tx_id("trader-a"),
            not_before_ms=now - 2 * DAY_MS,
            not_after_ms=now - DAY_MS,
        )
        with self.assertRaises(Refusal) as refused:
            self.client.submit_envelope(envelope.sign(stale, self.signers("trader-a", "bank-a")))
        self.assertEqual(refused.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(refused.exception.reason, "TX_EXPIRED")
        self.assertEqual(self.client.receipt("WR-PY-1").status, api.RECEIPT_STATUS_ACTIVE)

    def test_bank_b_watches_its_refused_double_pledge_and_no_other_alert(self):
        """WatchAlerts with a signed request: bank B sees the double pledge
        it was refused, bank A the same alert and its own, a regulator all;
        a signed request sent twice is refused as a replay."""
        self.issue_receipt("WR-PY-1", 5_000_000)
        self.client.submit(self.pledge("PL-PY-A", "bank-a"), self.signers("trader-a", "bank-a"))
        with self.assertRaises(Refusal):
            self.client.submit(self.pledge("PL-PY-B", "bank-b"), self.signers("trader-a", "bank-b"))

        (alert,) = self.client.alerts(self.node.signer("bank-b"))
        self.assertEqual((alert.kind, alert.state, alert.subject), ("DOUBLE_PLEDGE_ATTEMPT", "RAISED", "WR-PY-1"))
        self.assertEqual(list(alert.parties), ["bank-a", "bank-b", "trader-a"])
        self.assertEqual(alert.fields["pledge"], "PL-PY-A")
        self.assertEqual(alert.fields["refused_pledgee"], "bank-b")

        every = list(self.client.alerts(self.node.signer("regulator")))
        self.assertEqual([a.index for a in every], list(range(len(every))))
        self.assertIn(alert, every)
        bank_a = list(self.client.alerts(self.node.signer("bank-a")))
        self.assertIn(alert, bank_a)
        self.assertTrue(all("bank-a" in a.parties for a in bank_a), bank_a)
        # Resuming after the last index seen gives nothing more.
        self.assertEqual(list(self.client.alerts(self.node.signer("bank-b"), from_index=alert.index + 1)), [])

        request = watch.signed_request(self.info.ledger_id, self.node.signer("bank-b"), 0, False)
        list(self.client.stub.WatchAlerts(request, timeout=10))
        with self.assertRaises(grpc.RpcError) as replayed:
            list(self.client.stub.WatchAlerts(request, timeout=10))
        refusal = refusal_from(replayed.exception)
        self.assertEqual((refusal.code, refusal.reason), (grpc.StatusCode.UNAUTHENTICATED, "REQUEST_REPLAYED"))

    def prove_entry(self, seq: int, tx_bytes: bytes):
        """The entry at ``seq`` is our transaction, sealed and signed, and
        included under a checkpoint signed by the node's key."""
        node_key = self.info.node_public_key
        checkpoint = self.checkpoint_covering(seq)
        proof = self.client.inclusion_proof(seq, checkpoint.size)
        record = proofs.parse_record(proof.record)
        self.assertEqual(record.seq, seq)
        self.assertEqual(record.tx_bytes, tx_bytes)
        proofs.verify_record(record, node_key)
        proofs.verify_inclusion(record.leaf_hash, seq, checkpoint.size, list(proof.hashes), checkpoint.root)
        forged = bytearray(record.leaf_hash)
        forged[0] ^= 1
        with self.assertRaises(proofs.VerificationError):
            proofs.verify_inclusion(bytes(forged), seq, checkpoint.size, list(proof.hashes), checkpoint.root)

        head = self.client.inclusion_proof(checkpoint.size - 1, checkpoint.size)
        proofs.verify_head_binding(checkpoint, proofs.parse_record(head.record), node_key, list(head.hashes))

    def checkpoint_covering(self, seq: int, timeout_s: float = 15.0) -> proofs.Checkpoint:
        """The node signs checkpoints on a cadence; wait for one past ``seq``."""
        deadline = time.monotonic() + timeout_s
        while True:
            signed = self.client.checkpoint()
            checkpoint = proofs.verify_checkpoint(signed.note, self.info.node_public_key, self.info.ledger_id)
            # The message's fields state what the signed note states.
            self.assertEqual(
                (signed.tree_size, signed.tree_root, signed.head_hash, signed.state_root, signed.time_ms),
                (checkpoint.size, checkpoint.root, checkpoint.head, checkpoint.state_root, checkpoint.time_ms),
            )
            if checkpoint.size > seq:
                return checkpoint
            if time.monotonic() > deadline:
                self.fail(f"no checkpoint covers entry {seq} after {timeout_s} s")
            time.sleep(0.2)


if __name__ == "__main__":
    unittest.main()
