#!/usr/bin/env bash
# Drives a development node through every operation pledgectl offers, as a
# user would (README's tour and `pledgectl --help`), so that its chain can be
# exported and checked by the independent verifier and by `pledgectl audit`.
# Usage: lifecycle.sh NODE_URL DEV_KEYS_DIR WORK_DIR
set -euo pipefail
NODE=$1 K=$2 W=$3
mkdir -p "$W"
ctl() { pledgectl --node "$NODE" "$@" > /dev/null; }
# a refusal is expected: exit code 2 (refused by the ledger)
refused() { if pledgectl --node "$NODE" "$@" > /dev/null 2>&1; then echo "expected a refusal: $*" >&2; exit 1; else [ $? -eq 2 ]; fi; }
GRADE="VLSFO 0.5%S"

ctl tank certify-stock --tank-id T-101 --inspector insp-sgs --certificate SGS-0001 --quantity-kg 5000000 \
  --grade "$GRADE" --depositor trader-a --key $K/wh-1.json --key $K/insp-sgs.json --key $K/trader-a.json
ctl receipt issue --receipt-id WR-0001 --tank-id T-101 --inspector insp-sgs --certificate SGS-0001 \
  --grade "$GRADE" --quantity-kg 5000000 --customs bonded --customs-ref ZS-2026-0001 --expires +180d --key $K/wh-1.json
ctl pledge register --pledge-id PL-A --receipt-id WR-0001 --bank bank-a --amount-minor 300000000 --currency USD \
  --loan-ref BA-LN-77 --maturity +90d --valid-until +7d --key $K/trader-a.json --draft-out "$W/pledge-a.json"
pledgectl sign "$W/pledge-a.json" --key $K/bank-a.json > /dev/null
ctl submit "$W/pledge-a.json"
refused pledge register --pledge-id PL-B --receipt-id WR-0001 --bank bank-b --amount-minor 1 --currency USD \
  --loan-ref BB-LN-9 --maturity +90d --key $K/trader-a.json --key $K/bank-b.json
ctl pledge release --pledge-id PL-A --key $K/bank-a.json
ctl receipt transfer --receipt-id WR-0001 --to trader-b --key $K/trader-a.json --key $K/wh-1.json
ctl receipt split --receipt-id WR-0001 --part WR-0001-A=3000000 --part WR-0001-B=2000000 \
  --key $K/trader-b.json --key $K/wh-1.json
ctl pledge register --pledge-id PL-B --receipt-id WR-0001-A --bank bank-b --amount-minor 250000000 --currency USD \
  --loan-ref BB-LN-9 --maturity +90d --key $K/trader-b.json --key $K/bank-b.json
ctl freeze --receipt-id WR-0001-A --order "ZS-COURT-2026-17" --key $K/regulator.json
refused pledge release --pledge-id PL-B --key $K/bank-b.json
ctl unfreeze --receipt-id WR-0001-A --order "ZS-COURT-2026-17 lifted" --key $K/regulator.json
ctl pledge enforce --pledge-id PL-B --grounds order --order "ZS-COURT-2026-18" --key $K/bank-b.json --key $K/regulator.json
ctl pledge register --pledge-id PL-C --receipt-id WR-0001-B --bank bank-a --amount-minor 100000000 --currency CNY \
  --loan-ref BA-LN-78 --maturity +60d --key $K/trader-b.json --key $K/bank-a.json
# the quorum of the development genesis: admin and regulator
refused participant revoke --id bank-a --reason "licence withdrawn" --key $K/admin.json --key $K/regulator.json
ctl participant revoke --id bank-a --reason "licence withdrawn" --successor bank-b --key $K/admin.json --key $K/regulator.json
ctl pledge enforce --pledge-id PL-C --grounds holder-consent --transferee trader-a --key $K/bank-b.json --key $K/trader-b.json
ctl receipt cancel --receipt-id WR-0001-A --reason "delivered ex-tank" --key $K/bank-b.json --key $K/wh-1.json
# a second tank's custodian is revoked and replaced
ctl tank certify-stock --tank-id T-201 --inspector insp-sgs --certificate SGS-0002 --quantity-kg 1000000 \
  --grade "HSFO 380cSt" --depositor trader-a --key $K/wh-2.json --key $K/insp-sgs.json --key $K/trader-a.json
ctl receipt issue --receipt-id WR-0002 --tank-id T-201 --inspector insp-sgs --certificate SGS-0002 \
  --grade "HSFO 380cSt" --quantity-kg 1000000 --customs duty-paid --customs-ref ZS-2026-0002 --expires +90d --key $K/wh-2.json
ctl participant revoke --id wh-2 --reason "bonded licence lapsed" --key $K/admin.json --key $K/regulator.json
refused receipt transfer --receipt-id WR-0002 --to trader-b --key $K/trader-a.json --key $K/wh-2.json
ctl tank appoint-custodian --tank-id T-201 --warehouse wh-1 --inspector insp-sgs --report SGS-HO-0001 \
  --measured-kg 1000000 --key $K/admin.json --key $K/regulator.json --key $K/wh-1.json --key $K/insp-sgs.json
ctl receipt transfer --receipt-id WR-0002 --to trader-b --key $K/trader-a.json --key $K/wh-1.json
# a new tank and participant; key rotation and recovery
ctl tank register --tank-id T-301 --warehouse wh-1 --capacity-kg 50000000 --product "$GRADE" --facility-code ZS-BONDED-01 \
  --tank-number T-301 --inspector insp-sgs --calibration-certificate CAL-T-301 --key $K/wh-1.json --key $K/insp-sgs.json
pledgectl keys generate --id trader-c --out "$W/trader-c.json" > /dev/null
ctl participant admit --id trader-c --name "Trader C Ltd" --role holder --uscc 91330900MA2C7Q3K5Q \
  --public-key-file "$W/trader-c.json" --key $K/admin.json --key $K/regulator.json
pledgectl keys generate --id trader-c --out "$W/trader-c-2.json" > /dev/null
ctl participant rotate-key --id trader-c --public-key-file "$W/trader-c-2.json" --key "$W/trader-c.json"
pledgectl keys generate --id trader-c --out "$W/trader-c-3.json" > /dev/null
ctl participant recover-key --id trader-c --reason "HSM failure, ticket OPS-4411" \
  --public-key-file "$W/trader-c-3.json" --key $K/admin.json --key $K/regulator.json
ctl receipt transfer --receipt-id WR-0002 --to trader-c --key $K/trader-b.json --key $K/wh-1.json
ctl pledge register --pledge-id PL-D --receipt-id WR-0002 --bank bank-b --amount-minor 5000 --currency USD \
  --loan-ref BB-LN-11 --maturity +30d --key "$W/trader-c-3.json" --key $K/bank-b.json
# oil leaves T-101: the re-gauge puts it in shortfall; a new pledge is refused; a cancellation ends it
ctl tank regauge --tank-id T-101 --inspector insp-sgs --report SGS-RG-0001 --measured-kg 1000000 --key $K/insp-sgs.json
refused pledge register --pledge-id PL-E --receipt-id WR-0001-B --bank bank-b --amount-minor 1 --currency USD \
  --loan-ref BB-LN-12 --maturity +30d --key $K/trader-a.json --key $K/bank-b.json
ctl receipt cancel --receipt-id WR-0001-B --reason "written off" --key $K/trader-a.json --key $K/wh-1.json
ctl tank certify-stock --tank-id T-101 --inspector insp-sgs --certificate SGS-0003 --quantity-kg 2000000 \
  --grade "$GRADE" --depositor trader-b --key $K/wh-1.json --key $K/insp-sgs.json --key $K/trader-b.json
ctl receipt issue --receipt-id WR-0003 --tank-id T-101 --inspector insp-sgs --certificate SGS-0003 \
  --grade "$GRADE" --quantity-kg 2000000 --customs bonded --customs-ref ZS-2026-0003 --expires +30d --key $K/wh-1.json
