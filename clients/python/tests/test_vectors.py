"""The verifier against docs/FORMAT.md's own examples: the test vectors of
vectors/chain-v1.json and the worked checkpoint of §7.7, read from the
document itself."""

import json
import pathlib
import re
import unittest

from nacl.signing import SigningKey

from pledge_client import proofs, watch
from pledge_client.proofs import VerificationError, sha256

DOCS = pathlib.Path(__file__).resolve().parents[3] / "docs"


def merkle_root(leaves):
    """RFC 9162 §2.1.1 MTH, naively."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:]))


def audit_path(index, leaves):
    """RFC 9162 §2.1.3.1 PATH, naively."""
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < k:
        return audit_path(index, leaves[:k]) + [merkle_root(leaves[k:])]
    return audit_path(index - k, leaves[k:]) + [merkle_root(leaves[:k])]


class ChainVectors(unittest.TestCase):
    def setUp(self):
        self.vectors = json.loads((DOCS / "vectors" / "chain-v1.json").read_text())
        self.node_key = bytes.fromhex(self.vectors["node_public_key"])
        self.records = [proofs.parse_record(bytes.fromhex(e["record"])) for e in self.vectors["entries"]]

    def test_every_record_parses_links_and_verifies(self):
        prev = bytes(32)
        for expected, record in zip(self.vectors["entries"], self.records):
            self.assertEqual(record.seq, expected["seq"])
            self.assertEqual(record.prev_hash, prev)
            self.assertEqual(record.entry_hash.hex(), expected["entry_hash"])
            self.assertEqual(record.leaf_hash.hex(), expected["leaf_hash"])
            proofs.verify_record(record, self.node_key)
            prev = record.entry_hash

    def test_roots_and_inclusion_proofs(self):
        leaves = [r.leaf_hash for r in self.records]
        for size in range(1, len(leaves) + 1):
            root = merkle_root(leaves[:size])
            self.assertEqual(root.hex(), self.vectors["entries"][size - 1]["tree_root_after"])
            for index in range(size):
                proofs.verify_inclusion(leaves[index], index, size, audit_path(index, leaves[:size]), root)

    def test_a_wrong_proof_or_leaf_is_refused(self):
        leaves = [r.leaf_hash for r in self.records]
        root, path = merkle_root(leaves), audit_path(2, leaves)
        with self.assertRaises(VerificationError):
            proofs.verify_inclusion(leaves[3], 2, len(leaves), path, root)
        with self.assertRaises(VerificationError):
            proofs.verify_inclusion(leaves[2], 2, len(leaves), path[:-1], root)
        with self.assertRaises(VerificationError):
            proofs.verify_inclusion(leaves[2], 2, len(leaves), path + [root], root)

    def test_a_flipped_byte_breaks_the_seal(self):
        raw = bytearray(bytes.fromhex(self.vectors["entries"][5]["record"]))
        raw[20] ^= 1
        with self.assertRaises(VerificationError):
            proofs.verify_record(proofs.parse_record(bytes(raw)), self.node_key)

    def test_a_seal_by_any_accepted_member_key_verifies(self):
        other = bytes(SigningKey(bytes([7]) * 32).verify_key)
        record = self.records[5]
        proofs.verify_record(record, [other, self.node_key])
        with self.assertRaises(VerificationError):
            proofs.verify_record(record, [other])
        with self.assertRaises(VerificationError):
            proofs.verify_record(record, [])

    def test_truncated_or_padded_records_are_refused(self):
        raw = bytes.fromhex(self.vectors["entries"][5]["record"])
        for broken in [raw[:cut] for cut in (0, 1, 40, 64, 65, 200, len(raw) - 1)] + [raw + b"\x00"]:
            with self.assertRaises(VerificationError, msg=len(broken)):
                proofs.parse_record(broken)


class WorkedCheckpoint(unittest.TestCase):
    """FORMAT.md §7.7: the checkpoint at size 11, quoted from the document."""

    NODE_KEY = bytes.fromhex("2bc2800b3316e009209ffd757dab19ccf0ae84bc7ae90654e1e81712d270f653")

    def setUp(self):
        text = (DOCS / "FORMAT.md").read_text()
        block = re.search(r"```\n(pledgeledger/zhoushan-test\n11\n.*?)```", text, re.S)
        self.assertIsNotNone(block, "the worked checkpoint of FORMAT.md §7.7 was not found")
        self.note = block.group(1)

    def test_it_verifies(self):
        checkpoint = proofs.verify_checkpoint(self.note, self.NODE_KEY, "zhoushan-test")
        self.assertEqual(checkpoint.size, 11)
        self.assertEqual(checkpoint.time_ms, 1_800_000_060_000)
        # The root and head the document states beside the note, in hex.
        self.assertEqual(checkpoint.root.hex(), self.stated("root"))
        self.assertEqual(checkpoint.head.hex(), self.stated("entry_hash"))
        self.assertEqual(checkpoint.state_root.hex(), self.stated("state_root"))

    def stated(self, name: str) -> str:
        """The 64-hex-digit value FORMAT.md §7.7 gives on its ``name`` line."""
        text = (DOCS / "FORMAT.md").read_text()
        section = text[text.index("### 7.7 Worked example"):]
        found = re.search(rf"^{name}\s+([0-9a-f]{{64}})\b", section, re.M)
        self.assertIsNotNone(found, f"FORMAT.md §7.7 states no {name}")
        return found.group(1)

    def test_tampering_is_refused(self):
        tampered = [
            self.note.replace("\n11\n", "\n12\n"),
            self.note.replace("time 1800000060000", "time 1800000060001"),
            self.note.replace("state-root 593c", "state-root 593d"),
            self.note.replace("state-root 593c", "state-root 593C"),
            re.sub(r"state-root [0-9a-f]{64}\n", "", self.note),
            self.note.replace("pledgeledger/zhoushan-test\n", "pledgeledger/zhoushan-test\r\n", 1),
            self.note.replace("\n\n", "\n\n\n"),
            self.note.rstrip("\n"),
        ]
        for note in tampered:
            with self.assertRaises(VerificationError, msg=repr(note)):
                proofs.verify_checkpoint(note, self.NODE_KEY, "zhoushan-test")

    def test_another_key_or_ledger_is_refused(self):
        with self.assertRaises(VerificationError):
            proofs.verify_checkpoint(self.note, bytes(32), "zhoushan-test")
        with self.assertRaises(VerificationError):
            proofs.verify_checkpoint(self.note, self.NODE_KEY, "zhoushan-prod")

    def test_any_member_key_of_the_trust_file_is_accepted(self):
        members = [bytes(SigningKey(bytes([seed]) * 32).verify_key) for seed in (7, 8)]
        trust = (
            "# the registry's members (docs/FORMAT.md §7.2)\n"
            f"log {members[0].hex()} member-1\n"
            f"log {self.NODE_KEY.hex()} member-2  # sealed the worked example\n"
            f"log {members[1].hex()}\n"
            "quorum none\n"
        )
        keys = proofs.trusted_log_keys(trust)
        self.assertEqual(keys, [members[0], self.NODE_KEY, members[1]])
        checkpoint = proofs.verify_checkpoint(self.note, keys, "zhoushan-test")
        self.assertEqual(checkpoint.size, 11)
        with self.assertRaisesRegex(VerificationError, "no signature by an accepted node key"):
            proofs.verify_checkpoint(self.note, members, "zhoushan-test")

    def test_a_malformed_trust_file_is_refused(self):
        for text in ("log\n", f"log {self.NODE_KEY.hex().upper()}\n", "log 00 x\n",
                     f"log {self.NODE_KEY.hex()} a b\n", f"log {self.NODE_KEY.hex()}\nlog {self.NODE_KEY.hex()}\n"):
            with self.assertRaises(VerificationError, msg=text):
                proofs.trusted_log_keys(text)

    def test_a_witness_cosignature_is_ignored(self):
        cosigned = self.note + "\u2014 witness.example AAAAAAAAAAAAAAAAAAAAAAAA\n"
        proofs.verify_checkpoint(cosigned, self.NODE_KEY, "zhoushan-test")


class WatchRequestPreimage(unittest.TestCase):
    def test_the_preimage_is_as_documented(self):
        """docs/ALERTS.md §4: zhoushan-dev, bank-b, from 7, following, at
        1800000000000 ms."""
        expected = (
            b"pledge-ledger/v1/watch-alerts\x00"
            + bytes.fromhex("0c") + b"zhoushan-dev"
            + bytes.fromhex("06") + b"bank-b"
            + bytes.fromhex("0000000000000007")
            + bytes.fromhex("01")
            + bytes.fromhex("000001a3185c5000")
        )
        self.assertEqual(watch.preimage("zhoushan-dev", "bank-b", 7, True, 1_800_000_000_000), expected)
        text = " ".join((DOCS / "ALERTS.md").read_text().split())
        self.assertIn(
            "the tag, `0c` `zhoushan-dev`, `06` `bank-b`, `00 00 00 00 00 00 00 07`, `01`, `00 00 01 a3 18 5c 50 00`",
            text,
        )

    def test_an_id_out_of_bounds_is_refused_before_signing(self):
        for ledger_id, participant in (("", "bank-b"), ("zhoushan-dev", "x" * 65)):
            with self.assertRaises(ValueError):
                watch.preimage(ledger_id, participant, 0, False, 1)


if __name__ == "__main__":
    unittest.main()
