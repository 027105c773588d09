#!/usr/bin/env bash
# Tests of the Python client: a virtual environment from PyPI (pinned in
# requirements.txt, kept between runs under the user's cache directory),
# stubs generated from proto/, then the tests against a real pledge-node.
#
#   clients/python/run-tests.sh [PLEDGE_NODE_BINARY]
#
# Without an argument it builds pledge-node (debug) with cargo, with the
# same command as tests/independent-verifier/run and tests/browser/run (one
# set of features, so the three share one build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"

if [[ $# -ge 1 ]]; then
  node="$1"
else
  cargo build --quiet --locked -p pledge-node -p pledgectl --bins --manifest-path "$root/Cargo.toml"
  node="${CARGO_TARGET_DIR:-$root/target}/debug/pledge-node"
fi

stamp="$("$python" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/pledge-ledger/python-client-$stamp"
if [[ ! -x "$venv/bin/python" || ! -f "$venv/.installed" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.installed"
fi

gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
"$venv/bin/python" "$here/gen_stubs.py" "$gen"

cd "$here"
set +e
PLEDGE_NODE="$node" PYTHONPATH="$gen:$here" "$venv/bin/python" -m unittest discover -v -s tests -t . \
  > "$gen/unittest.log" 2>&1
status=$?
set -e
cat "$gen/unittest.log"
# The closing line CI tools read: "N passed, N failed".
ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$gen/unittest.log")
failed=$({ grep -Eo '(failures|errors)=[0-9]+' "$gen/unittest.log" || true; } | awk -F= '{n += $2} END {print n + 0}')
echo "python client: $(( ${ran:-0} - failed )) passed, $failed failed"
if [[ -z "$ran" || "$ran" == 0 ]]; then
  echo "python client: no test ran" >&2
  exit 1
fi
exit "$status"
