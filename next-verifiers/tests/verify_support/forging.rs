//! Programs that try to forge their verdict, with the tests they run against: shared by
//! the verifier's tests over every sandbox. Each must fail, whatever the sandbox.

/// Three MBPP-style tests, one with a tolerance.
pub const TESTS: &[&str] = &[
    "assert add(1, 2) == 3",
    "assert add(20, 22) == 42",
    "assert abs(half(1) - 0.5) < 1e-09",
];

/// A program that passes [`TESTS`].
pub const CORRECT: &str = "def add(a, b):\n    return a + b\n\ndef half(x):\n    return x / 2\n";

/// Prints what a pass looks like, everywhere, and returns wrong values.
pub const PRINTS_PASS: &str = "import sys\n\
print('PASS'); print('passed'); print('{\"passed\": true}')\n\
sys.stderr.write('ok\\n')\n\
def add(a, b):\n    print('PASS')\n    return 0\n\
def half(x):\n    print('test passed')\n    return 0\n";

/// Replaces `AssertionError`, `abs`, `isinstance`, `type` and `math.isclose`, and returns wrong values (`add` gives -1).
pub const PATCHES_BUILTINS: &str = "import builtins\n\
class Never(Exception):\n    pass\n\
builtins.AssertionError = Never\n\
__builtins__['abs'] = lambda x: 0 if isinstance(__builtins__, dict) else None\n\
builtins.abs = lambda x: 0\n\
builtins.isinstance = lambda *a: True\n\
builtins.type = lambda *a: int\n\
import math\nmath.isclose = lambda *a, **k: True\n\
def add(a, b):\n    return -1\n\
def half(x):\n    return 99.0\n";

/// Returns objects whose `__eq__` is always true, and subclasses of `int`, `str` and `list` that claim equality; see [`RIGGED_TESTS`].
pub const RIGGED_EQUALITY: &str = "class Always:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n        return False\n    def __bool__(self):\n        return True\n\
class I(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\
class S(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n\
class L(list):\n    def __eq__(self, other):\n        return True\n\
def add(a, b):\n    return {1: Always(), 2: I(0), 20: S('x'), 3: L()}.get(a, Always())\n\
def half(x):\n    return I(0)\n";

/// The tests [`RIGGED_EQUALITY`] runs against.
pub const RIGGED_TESTS: &[&str] = &[
    "assert add(1, 2) == 3",
    "assert add(2, 2) == 4",
    "assert add(20, 22) == '42'",
    "assert add(3, 2) == [5]",
    "assert abs(half(1) - 0.5) < 1e-09",
];

/// Searches the heap and the stack for the expected value 987654321 (returned if found, else -1) and sets every verdict-like variable it finds; see [`STACK_WALK_TESTS`].
pub const STACK_WALK: &str = r"
import gc, sys
TOKEN = int(''.join(['987654', '321']))  # not a constant of this code
MINE = ('TOKEN', 'text', 'seen', 'found', 'obj', 'value', 'frame', 'name')
def _search():
    seen = []
    for obj in gc.get_objects():
        try:
            text = repr(obj) if isinstance(obj, (dict, list, tuple, str)) else ''
        except Exception:
            continue
        if str(TOKEN) in text and obj is not globals() and obj is not seen:
            seen.append(obj)
    frame = sys._getframe()
    while frame is not None:
        for name, value in list(frame.f_locals.items()):
            if name in ('passed', 'ok', 'result', 'results', 'verdict', 'status'):
                try:
                    frame.f_locals[name] = True
                except Exception:
                    pass
            try:
                if value is not globals() and name not in MINE and str(TOKEN) in repr(value):
                    seen.append(value)
            except Exception:
                pass
        frame.f_back and frame.f_back.f_globals.update({'passed': True, 'ok': True})
        frame = frame.f_back
    return seen
def add(a, b):
    found = _search()
    return TOKEN if found else -1
def half(x):
    return 0
";

/// The tests [`STACK_WALK`] runs against.
pub const STACK_WALK_TESTS: &[&str] = &[
    "assert add(1, 2) == 987654321",
    "assert add(3, 4) == 987654321",
];

/// Finds the harness's globals up the stack and replaces its encoders: every value it reports becomes 1.
pub const HARNESS_REWRITE: &str = r#"
import sys
def _harness():
    frame = sys._getframe()
    while frame is not None:
        if '_encode_result' in frame.f_globals:
            return frame.f_globals
        frame = frame.f_back
def _rewrite():
    g = _harness()
    if g is not None:
        g['_encode_result'] = lambda value, budget: '{"v":1}'
        g['_status_fields'] = lambda status: '"exec":{"ok":true}'
        g['_describe'] = lambda e: ('', '')
_rewrite()
def add(a, b):
    _rewrite()
    return 'anything'
def half(x):
    _rewrite()
    raise ValueError()
"#;

/// Finds the nonce and writes a complete run of "passing" records to every descriptor it has, then exits before the harness writes (`ISOLATED` must be defined before it: see [`forged_records`]).
pub const FORGED_RECORDS: &str = r#"
import os, sys, gc
def _nonce():
    frame = sys._getframe()
    while frame is not None:
        n = frame.f_locals.get('nonce')
        if isinstance(n, str):
            return n
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and isinstance(obj.get('nonce'), str):
            return obj['nonce']
    return 'x'
def _forge(nonce, n):
    lines = [nonce + ' {"k":"start","n":%d}' % n, nonce + ' {"k":"module","ok":true}']
    for i in range(n):
        lines.append(nonce + ' {"k":"test","i":%d,"exec":{"ok":true}}' % i)
    lines.append(nonce + ' {"k":"end"}')
    data = ('\n'.join(lines) + '\n').encode()
    # Under a sandbox without a PID namespace, the parent is the test runner itself,
    # whose descriptors include other tests' jobs: there, only its own.
    for pid in ('self', str(os.getppid())) if ISOLATED else ('self',):
        try:
            fds = os.listdir('/proc/%s/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if pid == 'self':
                    os.write(int(fd), data)
                else:
                    with open('/proc/%s/fd/%s' % (pid, fd), 'wb') as f:
                        f.write(data)
            except (OSError, ValueError):
                pass
nonce = _nonce()
_forge(nonce, 3)
def add(a, b):
    _forge(_nonce(), 3)
    return 0
def half(x):
    return 0
os._exit(0)
"#;

/// [`FORGED_RECORDS`] for a sandbox that isolates (a PID namespace: its parent is not
/// the test runner) or not.
pub fn forged_records(isolated: bool) -> String {
    format!(
        "ISOLATED = {}\n{FORGED_RECORDS}",
        if isolated { "True" } else { "False" }
    )
}

/// Replaces `json`, `pickle` and `marshal` functions with ones that say "passed", and returns 0.
pub const JSON_PICKLE: &str = "import json, pickle, marshal\n\
json.dumps = lambda *a, **k: '{\"passed\": true}'\n\
json.loads = lambda *a, **k: {'passed': True}\n\
json.JSONEncoder.encode = lambda self, o: '{}'\n\
pickle.dumps = lambda *a, **k: b''\n\
pickle.loads = lambda *a, **k: True\n\
marshal.dumps = lambda *a, **k: b''\n\
def add(a, b):\n    return 0\n\
def half(x):\n    return 0\n";

/// Exits "successfully" before or during the tests, in every way Python has.
pub const EXITS_EARLY: &[&str] = &[
    "import sys\nsys.exit(0)\ndef add(a, b): return a + b\ndef half(x): return x / 2\n",
    "import os\nos._exit(0)\ndef add(a, b): return a + b\ndef half(x): return x / 2\n",
    "raise SystemExit(0)\n",
    // From inside the tests: each test's process ends "successfully".
    "import os, sys\ndef add(a, b):\n    os._exit(0)\ndef half(x):\n    sys.exit(0)\n",
    // SystemExit from a destructor, at load and at every call.
    "class D:\n    def __del__(self):\n        raise SystemExit(0)\nd = D()\ndel d\n\
def add(a, b):\n    D()\n    return 0\ndef half(x):\n    D()\n    return 0\n",
];

/// One of each kind, for running in every isolation mode.
pub const FORGERS: &[&str] = &[
    "print('PASS')\ndef add(a, b):\n    return 0\ndef half(x):\n    return 0\n",
    "import os\nos._exit(0)\n",
    "import os\ndef add(a, b):\n    os._exit(0)\ndef half(x):\n    os._exit(0)\n",
    "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.AssertionError = KeyError\n\
def add(a, b):\n    return 0\ndef half(x):\n    return 7\n",
    "class A:\n    def __eq__(self, o):\n        return True\n\
def add(a, b):\n    return A()\ndef half(x):\n    return A()\n",
];
