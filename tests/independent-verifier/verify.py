#!/usr/bin/env python3
"""Independent verifier of a pledge-ledger export file (docs/FORMAT.md §4).

Usage: verify.py EXPORT_FILE --ledger-key HEX [--json]
Exit code: 0 the chain verifies, 3 it does not (the first bad entry is named), 1 other failure.
"""

import argparse
import json
import sys

from pv.chain import decode_transaction, verify_chain
from pv.checkpoint import verify_note
from pv.wire import parse_record
from pv.wire import Refusal, read_export


def ledger_id_of(genesis_record):
    try:
        return decode_transaction(parse_record(genesis_record).tx_bytes).ledger_id
    except Refusal:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export")
    ap.add_argument("--ledger-key", required=True, help="the key that sealed the genesis, 64 hex digits")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--checkpoint", help="a signed checkpoint note (FORMAT.md §7.1, §7.2) the chain must agree with")
    args = ap.parse_args()
    with open(args.export, "rb") as f:
        data = f.read()
    try:
        records = read_export(data)
    except Refusal as r:
        out = {"verified": False, "entries": 0, "first_bad_entry": None, "reason": r.code, "detail": r.detail}
        print(json.dumps(out, indent=2) if args.json else f"REFUSED: export file: {r}")
        return 3
    key = bytes.fromhex(args.ledger_key)
    checkpoint = None
    if args.checkpoint:
        with open(args.checkpoint) as f:
            note = f.read()
        origin = "pledgeledger/" + ledger_id_of(records[0])
        try:
            checkpoint = verify_note(note, [key], origin)
        except Refusal as r:
            print(f"REFUSED: checkpoint: {r}")
            return 3
    result = verify_chain(records, key, checkpoint_size=checkpoint[0] if checkpoint else None)
    verdict = result.as_json()
    if checkpoint:
        size, root, head, state_root, _ = checkpoint
        got = result.at_checkpoint
        agrees = got is not None and got == (size, root, head, state_root)
        verdict["checkpoint"] = {"size": size, "root": root.hex(), "chain_head": head.hex(),
                                 "state_root": state_root.hex(), "agrees": agrees}
        if not agrees and verdict["verified"]:
            verdict["verified"] = False
            verdict["reason"] = "CHECKPOINT_DISAGREES"
            verdict["detail"] = f"the chain at size {size} is not what the checkpoint signs: {got}"
    if args.json:
        print(json.dumps(verdict, indent=2))
    else:
        print(f"head {verdict['head_hash']}\nmerkle root {verdict['tree_root']}\nstate root {verdict['state_root']}")
        if "checkpoint" in verdict:
            c = verdict["checkpoint"]
            print(f"checkpoint of size {c['size']}: " + ("agrees (root, head, state root)" if c["agrees"] else "DISAGREES"))
        if verdict["verified"]:
            print(f"verified {verdict['entries']} entries")
        else:
            print(f"REFUSED: entry {verdict['first_bad_entry']}: {verdict['reason']} {verdict['detail']}")
    return 0 if verdict["verified"] else 3


if __name__ == "__main__":
    sys.exit(main())
