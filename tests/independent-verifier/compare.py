#!/usr/bin/env python3
"""Runs the independent verifier and `pledgectl audit --file` on export files and
checks that they agree: both accept or both refuse, the same first bad entry,
and for an accepted chain the same head hash and Merkle root. With
expected.json (tamper.py), also that the verdict is the one the variant was
built to give (the first bad entry and, for a rule-breaking variant, the
reason code in both outputs).

Usage: compare.py LEDGER_KEY_HEX [--expected FILE] [--state-root HEX] EXPORT...
"""

import argparse
import json
import os
import re
import subprocess
import sys

from pv.chain import verify_chain
from pv.wire import Refusal, read_export


def ours(path, key):
    with open(path, "rb") as f:
        data = f.read()
    try:
        records = read_export(data)
    except Refusal as r:
        return {"verified": False, "first_bad_entry": None, "reason": r.code, "detail": r.detail}
    return verify_chain(records, bytes.fromhex(key)).as_json()


def theirs(path, key):
    p = subprocess.run(["pledgectl", "--json", "audit", "--file", path, "--node-key", key],
                       capture_output=True, text=True)
    out = {"exit": p.returncode, "stdout": p.stdout.strip(), "stderr": p.stderr.strip()}
    try:
        out["json"] = json.loads(p.stdout)
    except ValueError:
        out["json"] = None
    return out


def bad_entry_of(t):
    """The first bad entry pledgectl names (JSON field, else the text 'entry N')."""
    j = t["json"] or {}
    for name in ("bad_entry", "first_bad_entry", "seq", "entry"):
        if isinstance(j.get(name), int):
            return j[name]
    m = re.search(r"entry (\d+)", t["stdout"] + " " + t["stderr"])
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("key")
    ap.add_argument("--expected")
    ap.add_argument("--state-root")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("exports", nargs="+")
    args = ap.parse_args()
    expected = json.load(open(args.expected)) if args.expected else {}
    failures = []
    for path in args.exports:
        name = os.path.basename(path)[: -len(".export")]
        o, t = ours(path, args.key), theirs(path, args.key)
        t_ok = t["exit"] == 0
        line = f"{name:28} ours: " + ("verified" if o["verified"] else f"refused at {o['first_bad_entry']} "
                                          f"{o['reason']}") + " | pledgectl: " + (
            "verified" if t_ok else f"exit {t['exit']} at {bad_entry_of(t)}")
        problems = []
        if o["verified"] != t_ok:
            problems.append("verdicts differ")
        elif t_ok:
            tj = t["json"] or {}
            for field in ("head_hash", "tree_root", "entries"):
                if o.get(field) != tj.get(field):
                    problems.append(f"{field}: ours {o.get(field)}, pledgectl {tj.get(field)}")
            if args.state_root and o["state_root"] != args.state_root:
                problems.append(f"state root: ours {o['state_root']}, node's checkpoint {args.state_root}")
        else:
            if t["exit"] != 3 and o["first_bad_entry"] is not None:
                problems.append(f"pledgectl exit {t['exit']}, not 3 (a bad entry)")
            if o["first_bad_entry"] is not None and bad_entry_of(t) != o["first_bad_entry"]:
                problems.append(f"first bad entry: ours {o['first_bad_entry']}, pledgectl {bad_entry_of(t)}")
            good = (t["json"] or {}).get("good_head_hash")
            if good is not None and good != o.get("head_hash"):
                problems.append(f"head of the good prefix: ours {o.get('head_hash')}, pledgectl {good}")
            code = (t["json"] or {}).get("reason_code")
            if code is not None and code != o["reason"]:
                problems.append(f"reason: ours {o['reason']}, pledgectl {code}")
        if name in expected and expected[name][0] == "accept":
            if not o["verified"]:
                problems.append("expected the chain to verify")
        elif name in expected:
            seq, code = expected[name][:2]
            if o["verified"] or o["first_bad_entry"] != seq:
                problems.append(f"expected refusal at {seq}")
            if code and o["reason"] != code:
                problems.append(f"expected {code}, ours {o['reason']}")
            their_code = expected[name][2] if len(expected[name]) > 2 else code
            if code and (t["json"] or {}).get("reason_code") != their_code:
                problems.append(f"expected {their_code} from pledgectl, got {(t['json'] or {}).get('reason_code')}")
        print(line + ("" if not problems else "   <-- " + "; ".join(problems)))
        if problems or args.verbose:
            print("    ours:", json.dumps({k: v for k, v in o.items() if k in ("reason", "detail")}))
            print("    pledgectl:", (t["stdout"] + " " + t["stderr"])[:600].replace("\n", " "))
        if problems:
            failures.append(name)
    print(f"{len(args.exports) - len(failures)} of {len(args.exports)} agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
