#!/usr/bin/env python3
"""Independent verifier of a pledge-ledger export file (docs/FORMAT.md §4).

Usage: verify.py EXPORT_FILE --ledger-key HEX [--json]
Exit code: 0 the chain verifies, 3 it does not (the first bad entry is named), 1 other failure.
"""

import argparse
import json
import sys

from pv.chain import verify_chain
from pv.wire import Refusal, read_export


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export")
    ap.add_argument("--ledger-key", required=True, help="the key that sealed the genesis, 64 hex digits")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with open(args.export, "rb") as f:
        data = f.read()
    try:
        records = read_export(data)
    except Refusal as r:
        out = {"verified": False, "entries": 0, "first_bad_entry": None, "reason": r.code, "detail": r.detail}
        print(json.dumps(out, indent=2) if args.json else f"REFUSED: export file: {r}")
        return 3
    verdict = verify_chain(records, bytes.fromhex(args.ledger_key)).as_json()
    if args.json:
        print(json.dumps(verdict, indent=2))
    else:
        print(f"head {verdict['head_hash']}\nmerkle root {verdict['tree_root']}\nstate root {verdict['state_root']}")
        if verdict["verified"]:
            print(f"verified {verdict['entries']} entries")
        else:
            print(f"REFUSED: entry {verdict['first_bad_entry']}: {verdict['reason']} {verdict['detail']}")
    return 0 if verdict["verified"] else 3


if __name__ == "__main__":
    sys.exit(main())
