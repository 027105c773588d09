"""The web explorer in a real browser: Debian's Chromium, one start, driven
by Playwright for Python (its wheel carries its own driver; no browser is
downloaded). Run by ./run, which starts a development node with a pledged
receipt WR-0001 and writes its evidence bundle.

Checks: the receipt page's status (English and Chinese), times shown in the
viewer's zone with UTC on hover, the tank, warehouse, chain (live), entry,
checkpoint and regulator pages, no script or CSP error on any page, and the
evidence page verifying the real bundle with the same verdict as
`pledgectl verify-bundle --json` (completeness and the tank's shortfall
included), refusing a tampered copy with the same reason, and agreeing with
pledgectl on every tampered variant below (entries, checkpoint, and the
state leaves with their map proofs).
Screenshots go to --out.
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

parser = argparse.ArgumentParser()
for name in ("explorer", "grpc", "key", "bundle", "pledgectl", "keys", "out"):
    parser.add_argument(f"--{name}", required=True)
options = parser.parse_args()
out = Path(options.out)
out.mkdir(parents=True, exist_ok=True)
base = options.explorer.rstrip("/")
passed: list[str] = []
failures: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    if ok:
        passed.append(name)
        print(f"ok   {name}", flush=True)
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}\n     {detail}", flush=True)


def pledgectl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [options.pledgectl, "--node", options.grpc, *args],
        capture_output=True,
        text=True,
        check=False,
    )


def cli_verdict(text: str, name: str) -> dict:
    """pledgectl's verdict on a bundle text, as JSON."""
    file = out / f"{name}.bundle.json"
    file.write_text(text)
    result = pledgectl("--json", "verify-bundle", str(file), "--node-key", options.key)
    return json.loads(result.stdout)


def flip_hex(hex_text: str, at: int) -> str:
    digit = "1" if hex_text[at] == "0" else "0"
    return hex_text[:at] + digit + hex_text[at + 1 :]


def tamper(text: str, change) -> str:
    bundle = json.loads(text)
    change(bundle)
    return json.dumps(bundle, indent=2)


def _checkpoint_size(x):
    x["checkpoint"] = re.sub(
        r"\n(\d+)\n", lambda m: f"\n{int(m.group(1)) + 1}\n", x["checkpoint"], count=1
    )


def _checkpoint_signature(x):
    def swap(m):
        rest = m.group(2)
        return f" {m.group(1)}{'B' if rest.startswith('A') else 'A'}{rest[1:]}\n"

    x["checkpoint"] = re.sub(r" (\S{10})(\S+)\n$", swap, x["checkpoint"], count=1)


def _set(key, value):
    def change(x):
        x[key] = value

    return change


def _swap_first_two(x):
    x["entries"][0], x["entries"][1] = x["entries"][1], x["entries"][0]


def _entry(i, key, change):
    def apply(x):
        x["entries"][i][key] = change(x["entries"][i][key])

    return apply


def _state_receipt(key, change):
    def apply(x):
        leaf = x["state"]["receipts"][-1]
        leaf[key] = change(leaf[key])

    return apply


def _last_entry_seal(x):
    record = x["last_entry"]["record_hex"]
    x["last_entry"]["record_hex"] = flip_hex(record, len(record) - 5)


VARIANTS = [
    ("as-is", lambda x: None),
    ("seal", _entry(0, "record_hex", lambda h: flip_hex(h, len(h) - 3))),
    ("tx-bytes", _entry(1, "record_hex", lambda h: flip_hex(h, 150))),
    ("proof-hash", _entry(0, "inclusion_proof", lambda p: [flip_hex(p[0], 5), *p[1:]])),
    ("proof-extra", _entry(0, "inclusion_proof", lambda p: [*p, "00" * 32])),
    ("proof-hex", _entry(0, "inclusion_proof", lambda p: ["zz" * 32, *p[1:]])),
    ("record-hex", _entry(0, "record_hex", lambda h: h + "0")),
    ("record-truncated", _entry(0, "record_hex", lambda h: h[:200])),
    ("upper-case-hex", _entry(0, "record_hex", str.upper)),
    ("seq-listed", _entry(0, "seq", lambda s: s + 1)),
    ("dropped-issue", lambda x: x["entries"].pop(1)),
    ("dropped-certification", lambda x: x["entries"].pop(0)),
    # The pledge is the checkpoint's head entry: leaving it out hides it.
    ("dropped-head-pledge", lambda x: x["entries"].pop(-1)),
    ("out-of-order", _swap_first_two),
    ("no-entries", _set("entries", [])),
    ("last-entry", lambda x: x.update(last_entry=copy.deepcopy(x["entries"][0]))),
    ("last-entry-seal", _last_entry_seal),
    ("node-key", _set("node_public_key", "ab" * 32)),
    ("ledger-id", _set("ledger_id", "zhoushan-other")),
    ("receipt-id", _set("receipt_id", "WR-9999")),
    ("version", _set("version", 1)),
    ("checkpoint-size", _checkpoint_size),
    ("checkpoint-signature", _checkpoint_signature),
    ("checkpoint-cr", lambda x: x.update(checkpoint=x["checkpoint"].replace("\n", "\r\n", 1))),
    ("checkpoint-unsigned", lambda x: x.update(checkpoint=x["checkpoint"].split("\n\n")[0] + "\n")),
    ("unknown-field", _set("extra", 1)),
    ("missing-field", lambda x: x.pop("last_entry")),
    ("no-state", lambda x: x.pop("state")),
    ("state-preimage", _state_receipt("preimage_hex", lambda h: flip_hex(h, len(h) - 3))),
    ("state-preimage-cut", _state_receipt("preimage_hex", lambda h: h[:-2])),
    ("state-preimage-upper", _state_receipt("preimage_hex", str.upper)),
    ("state-proof-hash", _state_receipt("map_proof", lambda p: [flip_hex(p[0], 7), *p[1:]] if p else ["00" * 32])),
    ("state-proof-extra", _state_receipt("map_proof", lambda p: [*p, "00" * 32])),
    ("state-proof-long", _state_receipt("map_proof", lambda p: ["00" * 32] * 257)),
    ("state-no-receipts", lambda x: x["state"].update(receipts=[])),
    ("state-tank-as-receipt", lambda x: x["state"]["receipts"].append(copy.deepcopy(x["state"]["tank"]))),
    ("state-receipt-as-tank", lambda x: x["state"].update(tank=copy.deepcopy(x["state"]["receipts"][-1]))),
    ("state-unknown-field", lambda x: x["state"].update(extra=1)),
]

# The page's own verifier, called on a bundle text the way the drop zone
# calls it, answering in pledgectl's JSON shape.
VERIFY_IN_PAGE = """async ([text, key]) => {
  const { verifyBundle, cliJson, cliFailure } = await import('/assets/bundle.js');
  const schema = await (await fetch('/evidence/schema.json')).json();
  try {
    return cliJson(await verifyBundle(text, key, schema));
  } catch (error) {
    return cliFailure(error);
  }
}"""


def same_verdict(cli: dict, seen: dict) -> bool:
    if cli.get("verified") != seen.get("verified"):
        return False
    # Malformed JSON: the two parsers word the syntax error differently.
    if (cli.get("reason") or "").startswith("bundle JSON:"):
        return (seen.get("reason") or "").startswith("bundle JSON:")
    return cli == seen


def run(page) -> None:
    def visit(path: str, shot: str | None) -> None:
        answer = page.goto(base + path, wait_until="networkidle")
        check(f"GET {path} is 200", answer.status == 200, f"status {answer.status}")
        if shot:
            page.screenshot(path=str(out / f"{shot}.png"), full_page=True)

    # The receipt page, as a credit officer opens it.
    visit("/receipt/WR-0001", "receipt")
    status = page.text_content("#receipt-status")
    check(
        "receipt status names the bank and the pledge",
        re.search(r"Pledged to bank-a under PL-A since #\d+", status) is not None,
        status,
    )
    time = page.locator("#history time").first
    shown, hover = time.text_content(), time.get_attribute("title")
    check(
        "times in the viewer's zone, UTC on hover",
        "Asia/Shanghai" in shown and hover.endswith(" UTC"),
        f"{shown} / {hover}",
    )
    check("quantity in tonnes", "5,000.000 t" in page.text_content("main"), "no 5,000.000 t")
    check("amount in currency units", "3,000,000.00 USD" in page.text_content("main"), "no 3,000,000.00 USD")

    page.click("header a.lang")
    page.wait_for_load_state("networkidle")
    chinese = page.text_content("#receipt-status")
    check("the switch shows the page in Chinese", "已质押给 bank-a" in chinese, chinese)
    page.screenshot(path=str(out / "receipt-zh.png"), full_page=True)
    page.click("header a.lang")
    page.wait_for_load_state("networkidle")
    check("and back in English", "Pledged to" in page.text_content("#receipt-status"), "still Chinese")

    visit("/tank/T-101", "tank")
    check("tank bars drawn", page.locator("#tank-bars rect.bar").count() == 4, "expected 4 bars")
    visit("/participant/wh-1", "warehouse")
    visit("/regulator", "regulator")
    check("regulator figures name bank-a", "bank-a" in page.text_content("#per-bank"), "bank-a missing")

    # The chain page follows new entries without a reload.
    visit("/chain", None)
    before = int(page.get_attribute("#entries tbody tr:first-child", "data-seq"))
    write = pledgectl(
        "tank", "certify-stock", "--tank-id", "T-101", "--inspector", "insp-sgs",
        "--certificate", "SGS-LIVE", "--quantity-kg", "1000", "--grade", "VLSFO 0.5%S",
        "--depositor", "trader-b",
        *[arg for who in ("wh-1", "insp-sgs", "trader-b") for arg in ("--key", str(Path(options.keys) / f"{who}.json"))],
    )
    check("a new entry is written", write.returncode == 0, write.stderr)
    new_row = page.locator(f'#entries tbody tr[data-seq="{before + 1}"]')
    try:
        new_row.wait_for(timeout=15000)
    except Exception:  # noqa: BLE001 - the check below reports it
        pass
    check("the chain page shows it live", new_row.count() == 1, f"no row {before + 1}")
    check(
        "the chain page shows the signed checkpoint",
        "✓" in (page.text_content("main") or "") and page.locator("#checkpoint-note").count() == 1,
        "no verified checkpoint",
    )
    page.screenshot(path=str(out / "chain.png"), full_page=True)
    visit(f"/entry/{before + 1}", "entry")
    check("the entry page decodes the transaction", "SGS-LIVE" in page.text_content("main"), "SGS-LIVE missing")

    # Evidence: the real bundle, verified in the page.
    bundle = Path(options.bundle).read_text()
    cli_ok = cli_verdict(bundle, "real")
    visit("/evidence", None)
    page.fill("#node-key", options.key)
    page.set_input_files("#bundle-file", options.bundle)
    page.wait_for_selector("#verdict-result")
    check(
        "the real bundle verifies in the browser",
        page.get_attribute("#verdict-result", "data-verified") == "true",
        page.text_content("#verdict"),
    )
    page_verdict = json.loads(page.text_content("#verdict-json"))
    check("the same verdict as pledgectl verify-bundle", page_verdict == cli_ok, f"{page_verdict} vs {cli_ok}")
    verdict_status = page.text_content("#verdict-status")
    check("the verdict states the status", "pledged to bank-a" in verdict_status, verdict_status)
    completeness = page.text_content("#verdict-completeness")
    check(
        "the verdict states the committed history",
        f"entries {cli_ok.get('history_len')}, latest entry #{cli_ok.get('latest_entry')}" in completeness
        and cli_ok.get("state_root", "?") in completeness,
        completeness,
    )
    tank_line = page.text_content("#verdict-tank")
    check("the verdict states the tank", tank_line == "T-101: not in shortfall", tank_line)
    page.screenshot(path=str(out / "evidence.png"), full_page=True)

    # A tampered copy: one byte of the pledge's record changed.
    tampered = tamper(bundle, _entry(-1, "record_hex", lambda h: flip_hex(h, 100)))
    tampered_file = out / "tampered.bundle.json"
    tampered_file.write_text(tampered)
    page.set_input_files("#bundle-file", str(tampered_file))
    page.wait_for_selector('#verdict-result[data-verified="false"]')
    reason = page.text_content("#verdict-reason")
    cli_bad = cli_verdict(tampered, "tampered")
    check(
        "a tampered bundle is refused with pledgectl's reason",
        cli_bad["verified"] is False and reason == cli_bad["reason"],
        f"{reason} vs {cli_bad}",
    )
    page.screenshot(path=str(out / "evidence-tampered.png"), full_page=True)

    # A pinned key survives a reload.
    page.click("#pin-key")
    page.reload(wait_until="networkidle")
    check("the pinned key is kept", page.input_value("#node-key") == options.key, "key not kept")

    # Every variant: the browser's verdict must be pledgectl's.
    for name, change in VARIANTS:
        text = tamper(bundle, change)
        cli = cli_verdict(text, name)
        seen = page.evaluate(VERIFY_IN_PAGE, [text, options.key])
        check(f"variant {name}: same verdict", same_verdict(cli, seen), f"browser {seen}\n     pledgectl {cli}")


def main() -> int:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error.message}"))
        page.on(
            "console",
            lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None,
        )
        try:
            run(page)
        except Exception as error:  # noqa: BLE001 - reported as a failure with its text
            check("the walk through the pages completed", False, repr(error))
        finally:
            check("no script error, no CSP violation", not problems, "\n     ".join(problems))
            browser.close()
    (out / "summary.json").write_text(json.dumps({"passed": passed, "failures": failures}, indent=2))
    print(f"\nbrowser test: {len(passed)} passed, {len(failures)} failed; screenshots in {out}")
    return 0 if not failures else 1


sys.exit(main())
