#!/usr/bin/env bash
# Creates the Python side of the LoRA training-step benchmark (PyTorch + PEFT on the CPU,
# next-models/scripts/peft_train_step.py), and does nothing when it is already there:
#   ${NEXT_TRAIN_BENCH_VENV:-${NEXT_CACHE_DIR:-$HOME/.cache/next}/train-bench-venv}
# The last line it prints is the venv's python, so a caller can do
#   py=$(next-models/scripts/train-bench-setup.sh | tail -n 1)
#   "$py" next-models/scripts/peft_train_step.py --gguf .../SmolLM2-135M-Instruct.Q4_1.gguf
#
# Interpreter: an absolute python3.11 (pyenv's, found without going through the slow
# `python3` shim), or $PYTHON311 when set.
#
# CPU-only PyTorch from PyPI. PyPI has one torch for Linux x86-64, the CUDA build: the
# wheel itself is 539 MB (libtorch_cuda.so alone is 520 MB unpacked) and it requires
# 2.45 GB more of nvidia-*/cuda-* wheels and triton (torch 2.15.0). The CPU-only builds live on
# PyTorch's own package index, which these machines cannot reach. Installing the wheel
# with --no-deps is not enough: libtorch_cpu.so, libtorch_python.so and libtorch_cuda.so
# are linked against libcudart, cuBLAS, cuDNN, NCCL, NVSHMEM, ... and `import torch` fails
# with "libcudart.so.13: cannot open shared object file" (then torch looks for the
# nvidia-* packages and fails again). So this script installs the wheel with --no-deps
# and builds small stand-in libraries (with cc) for each CUDA library that torch's own
# libraries name and that is missing: every symbol torch imports from them, under the
# same ELF symbol versions, each function returning an error status (cudaGetDeviceCount
# reports no device with cudaErrorNoDevice, so torch.cuda.is_available() is a plain
# False). They go into torch/lib/, which is on torch's libraries' RPATH ($ORIGIN), and
# torch/lib/CUDA_STUBS lists them. Nothing on the CPU path calls them: the CPU kernels
# are libtorch_cpu.so's (MKL, oneDNN, OpenMP), as shipped in the wheel. Result: a 1.6 GB venv (torch 1.2 GB of it), no CUDA download, about 1.5 minutes
# from nothing on 2 cores.
#
# Versions: every package is pinned, and installed with --no-deps from the list below,
# which is what pip resolves for transformers + peft + gguf + accelerate + torch on
# Python 3.11, less torch's CUDA dependencies (nvidia-*, cuda-*, triton). pip check is
# then expected to miss those and nothing else; the script fails if it misses anything else.
#
# Needs: python3.11, cc and readelf (gcc and binutils, there on the Rust machines).
set -euo pipefail

TORCH=2.15.0
PACKAGES=(
    "torch==$TORCH"
    transformers==5.25.0
    peft==0.21.2
    gguf==0.19.0
    accelerate==1.16.0
    # their dependencies, less torch's CUDA ones
    annotated-doc==0.0.7
    annotated-types==0.8.0
    anyio==4.16.0
    certifi==2026.10.19.post1
    charset-normalizer==3.5.3
    click==8.5.1
    filelock==4.3.2
    fsspec==2026.9.0
    h11==0.16.0
    hf-xet==1.8.0
    httpcore2==2.17.0
    httpx2==2.17.0
    huggingface_hub==2.4.0
    idna==3.21
    Jinja2==3.1.6
    kernels==0.19.1
    markdown-it-py==4.3.0
    MarkupSafe==3.0.4
    mdurl==0.1.2
    mpmath==1.3.0
    networkx==3.6.1
    numpy==2.4.6
    packaging==26.4
    psutil==7.2.2
    pydantic==2.14.4
    pydantic_core==2.50.5
    Pygments==2.21.0
    PyYAML==6.0.4
    regex==2026.12.2
    requests==2.34.2
    rich==15.0.0
    safetensors==0.8.0
    setuptools==84.2.1
    shellingham==1.5.4
    sympy==1.14.0
    tokenizers==0.23.3
    tomlkit==0.15.3
    tqdm==4.70.1
    truststore==0.10.5
    typer==0.29.2
    typing-inspection==0.4.5
    typing_extensions==4.16.0
    urllib3==2.8.0
)

CACHE=${NEXT_CACHE_DIR:-$HOME/.cache/next}
VENV=${NEXT_TRAIN_BENCH_VENV:-$CACHE/train-bench-venv}
# What the venv was made from; a venv with another stamp is made again.
STAMP="python3.11 cuda-stubs-1 ${PACKAGES[*]}"

check() {
    [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.next-train-bench" 2>/dev/null)" = "$STAMP" ] &&
        "$VENV/bin/python" -c 'import torch, transformers, peft, gguf, accelerate' 2>/dev/null
}

if check; then
    echo "== $VENV is ready" >&2
    echo "$VENV/bin/python"
    exit 0
fi

PYTHON=${PYTHON311:-}
if [ -z "$PYTHON" ] && command -v pyenv >/dev/null; then
    PYTHON=$(pyenv which python3.11 2>/dev/null || true)
fi
if [ -z "$PYTHON" ]; then
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3.11 /usr/local/bin/python3.11 /usr/bin/python3.11; do
        if [ -x "$p" ]; then PYTHON=$p; fi
    done
fi
if [ -z "$PYTHON" ] || [ ! -x "$PYTHON" ]; then
    echo "error: no python3.11 found (pyenv which python3.11, ~/.pyenv/versions/3.11*); set PYTHON311" >&2
    exit 1
fi
for tool in cc readelf; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool is needed to build the CUDA stand-in libraries (apt-get install gcc binutils)" >&2
        exit 1
    fi
done

if [ -e "$VENV" ]; then
    if [ ! -f "$VENV/pyvenv.cfg" ]; then
        echo "error: $VENV exists and is not a venv; remove it or set NEXT_TRAIN_BENCH_VENV" >&2
        exit 1
    fi
    echo "== $VENV is out of date or incomplete: making it again" >&2
    rm -rf "$VENV"
fi

echo "== creating $VENV with $PYTHON ($("$PYTHON" --version))" >&2
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
echo "== installing torch==$TORCH (CPU use, without its CUDA dependencies), transformers, peft, gguf, accelerate" >&2
"$VENV/bin/python" -m pip install --quiet --no-deps "${PACKAGES[@]}" >&2

echo "== building stand-ins for the CUDA libraries torch links against" >&2
TORCH_DIR=$("$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("torch").origin))')
"$VENV/bin/python" - "$TORCH_DIR" <<'PY'
# Builds torch/lib/<lib> for each shared library that torch's own libraries need and
# that neither torch/lib nor the system (ldconfig) has: the CUDA ones. Each defines
# every symbol that torch's libraries import from it (read with readelf), with the
# same symbol version, plus the unversioned symbols that nothing else defines (NCCL,
# cuSPARSELt and cuFile export theirs without versions).
import pathlib, re, subprocess, sys, sysconfig, tempfile

torch_dir = pathlib.Path(sys.argv[1])
lib_dir = torch_dir / "lib"
# libcaffe2_nvrtc.so is only dlopen'ed to compile CUDA code at run time, and needs the
# driver's libcuda.so.1, which no package has: it is left as it is.
objs = [p for p in sorted(lib_dir.glob("*.so")) if p.name != "libcaffe2_nvrtc.so"]
objs += sorted(torch_dir.glob("_C*.so"))


def readelf(*args):
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True, text=True).stdout


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("-d", str(path)))


def dynsyms(path):
    """(names defined, [(name, version or None, type) undefined and not weak])."""
    defined, undefined = set(), []
    for line in readelf("--dyn-syms", str(path)).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":"):
            continue
        kind, bind, ndx, name = f[3], f[4], f[6], f[7]
        base, _, ver = name.partition("@")
        if not base:
            continue
        if ndx != "UND":
            defined.add(base)
        elif bind != "WEAK":
            undefined.append((base, ver.lstrip("@") or None, kind))
    return defined, undefined


def verneeds(path):
    """{version name: library file} from the version-needs section."""
    out, current = {}, None
    for line in readelf("-V", str(path)).splitlines():
        m = re.search(r"File: (\S+)", line)
        if m:
            current = m.group(1)
        m = re.search(r"Name: (\S+)", line)
        if m and current:
            out[m.group(1)] = current
    return out


system = {}
ldconfig = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
for line in ldconfig.splitlines():
    m = re.match(r"\s+(\S+) \(([^)]*)\) => (\S+)", line)
    if m and "x86-64" in m.group(2):
        system.setdefault(m.group(1), m.group(3))

present = {p.name for p in lib_dir.iterdir()}
missing = sorted({n for o in objs for n in needed(o) if n not in present and n not in system})
if not missing:
    sys.exit(0)

defined, undefined, vermap = set(), [], {}
for o in objs:
    d, u = dynsyms(o)
    defined |= d
    undefined += u
    vermap.update(verneeds(o))
others = [p for p in lib_dir.iterdir() if p.is_file() and ".so" in p.name and p not in objs]
sysdeps = [pathlib.Path(system[n]) for n in {n for o in objs for n in needed(o)} if n in system and n not in present]
libpython = pathlib.Path(sysconfig.get_config_var("LIBDIR") or "/", sysconfig.get_config_var("INSTSONAME") or "")
for extra in [*others, *sysdeps, pathlib.Path(sys.executable).resolve(), libpython]:
    if extra.is_file():
        defined |= dynsyms(extra)[0]

stubs = {lib: {} for lib in missing}  # library -> {symbol: (version or None, type)}
orphans = {}
for name, ver, kind in undefined:
    if ver and vermap.get(ver) in stubs:
        stubs[vermap[ver]].setdefault(name, (ver, kind))
    elif not ver and name not in defined:
        orphans.setdefault(name, kind)
for syms in stubs.values():
    for name, kind in orphans.items():
        syms.setdefault(name, (None, kind))

# What a stub does when called (only CUDA code paths call them; torch takes the errors
# as "no GPU"): the functions that return a message return one; cudaGetDeviceCount
# reports 0 devices and cudaErrorNoDevice (100); every other function returns 100, a
# failure status in each of these libraries. Data symbols are zero-filled.
message = re.compile(r"(GetErrorString|GetErrorName|GetStatusString|GetStatusName|ErrorString)$")
header = ('static const char stub_message[] =\n'
          '    "CUDA is not available: this PyTorch runs on stand-in CUDA libraries (CPU only)";\n')
special = {"cudaGetDeviceCount": "int cudaGetDeviceCount(int *n) { if (n) *n = 0; return 100; }\n"}
work = pathlib.Path(tempfile.mkdtemp())
for lib, syms in stubs.items():
    src = [header]
    for name, (ver, kind) in sorted(syms.items()):
        if kind == "OBJECT":
            src.append(f"long {name}[64];\n")
        elif name in special:
            src.append(special[name])
        elif message.search(name):
            src.append(f"const char *{name}(void) {{ return stub_message; }}\n")
        else:
            src.append(f"long {name}(void) {{ return 100; }}\n")
    c = work / (lib + ".c")
    c.write_text("".join(src))
    cmd = ["cc", "-shared", "-fPIC", "-O1", "-fno-builtin", f"-Wl,-soname,{lib}", "-o", str(lib_dir / lib), str(c)]
    versions = sorted({v for v, _ in syms.values() if v})
    if versions:
        nodes = {v: sorted(n for n, (sv, _) in syms.items() if sv == v) for v in versions}
        nodes[versions[0]] += sorted(n for n, (sv, _) in syms.items() if sv is None)
        script = work / (lib + ".map")
        script.write_text("".join(f"{v} {{ global: {' '.join(s + ';' for s in nodes[v])} }};\n" for v in versions))
        cmd.append(f"-Wl,--version-script={script}")
    subprocess.run(cmd, check=True)
    print(f"   {lib}: {len(syms)} symbols", file=sys.stderr)
(lib_dir / "CUDA_STUBS").write_text(
    "Stand-ins for CUDA libraries, built by next-models/scripts/train-bench-setup.sh:\n"
    + "".join(f"{lib}\n" for lib in missing))
PY

echo "== checking" >&2
"$VENV/bin/python" - >&2 <<'PY'
import importlib.metadata
import torch, transformers, peft, gguf, accelerate
x = torch.randn(64, 64)
assert torch.allclose(x @ torch.eye(64), x), "matmul"
assert not torch.cuda.is_available()
print(f"   torch {torch.__version__} (CPU, {torch.get_num_threads()} threads, "
      f"{torch.backends.cpu.get_cpu_capability()}), transformers {transformers.__version__}, "
      f"peft {peft.__version__}, gguf {importlib.metadata.version('gguf')}, "
      f"accelerate {accelerate.__version__}")
PY
# pip check may only miss torch's CUDA dependencies, left out on purpose.
if problems=$("$VENV/bin/python" -m pip check 2>&1 |
    grep -v -E '^No broken requirements|^torch [^ ]+ requires (nvidia-|cuda-|triton)'); then
    echo "error: the pinned package list is inconsistent:" >&2
    echo "$problems" >&2
    exit 1
fi

echo "$STAMP" >"$VENV/.next-train-bench"
check
echo "== $VENV is ready" >&2
echo "$VENV/bin/python"
