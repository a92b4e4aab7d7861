#!/usr/bin/env bash
# The Python package's tests: build the wheel with maturin into a fresh virtualenv, then
# run pytest there. Called by .ci/run after the Rust tests (which build the same crates, so
# the wheel reuses the release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/python-venv"
rm -rf "$venv" "$root/target/wheels"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.5,<2" numpy pytest safetensors
"$venv/bin/maturin" build --release --quiet -m "$here/Cargo.toml" -o "$root/target/wheels"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$root"/target/wheels/twolayer-*.whl
cd "$here/tests"
"$venv/bin/python" -m pytest -q
