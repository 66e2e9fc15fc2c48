# The candidate side of the NExT test verifier.
#
# This runs INSIDE the process of the program under test, so nothing it reports is
# trusted: it only evaluates the sub-expressions of the tests that need the program's
# code ("holes") and reports their values as plain data. It never sees an expected value
# of a split test, and it never decides a pass: the judge (in Rust, outside this process)
# compares the values. See next-verifiers/src/verify/mod.rs, "How the verdict is
# guaranteed".
#
# Request on stdin, in marshal format (fast to read, and no import): {"nonce", "program",
#   "tests": [{"holes": [{"src", "modules": [[alias, module]]}]} | {"exec": src}],
#   "test_timeout", "isolation": "test" | "program" | "none", "value_bytes", "total_bytes"}
# Answer: lines "<nonce> <json>\n" on the ORIGINAL stdout, which the harness keeps as a
# private descriptor; the program's own stdout and stderr both go to stderr.
#
# Start-up cost matters (one job per program): only built-in or preloaded modules here.
# The top level only defines (the settings are made in `main`): a sandbox may import
# this module ahead of the jobs (see bootstrap.py), where it must leave no trace.
import os as _os
import sys as _sys
import marshal as _marshal
import select as _select
import time as _time
from collections import Counter as _Counter, OrderedDict as _OrderedDict, defaultdict as _defaultdict

try:
    import _signal as _signal
except ImportError:  # pragma: no cover - CPython has it built in
    import signal as _signal

# Everything the harness uses after the program has run is captured now, before.
# (Without fork, as on WASI, the process functions are absent and never called.)
_write, _read, _close, _exit_now = _os.write, _os.read, _os.close, _os._exit
_fork, _pipe = getattr(_os, "fork", None), getattr(_os, "pipe", None)
_waitpid, _killpg, _kill = getattr(_os, "waitpid", None), getattr(_os, "killpg", None), getattr(_os, "kill", None)
_setpgid, _dup, _dup2 = getattr(_os, "setpgid", None), getattr(_os, "dup", None), getattr(_os, "dup2", None)
_WNOHANG = getattr(_os, "WNOHANG", 1)
_select_fn = _select.select
_monotonic = _time.monotonic
_type, _len, _repr, _str, _isinstance = type, len, repr, str, isinstance
_int, _float, _bool, _bytes, _list, _tuple, _dict, _set, _frozenset, _NoneType = (
    int, float, bool, bytes, list, tuple, dict, set, frozenset, type(None))
_complex = complex
# The standard library's dicts that compare equal to a plain dict with the same items.
_DICTS = (_dict, _Counter, _OrderedDict, _defaultdict)
_BaseException = BaseException
_compile, _eval = compile, eval
_int_to_bytes = int.to_bytes
_bit_length = int.bit_length
_str_encode = str.encode
_float_repr = float.__repr__
_int_repr = int.__repr__
_bytes_hex = bytes.hex
_dict_items = dict.items
_import = __import__
_modules = _sys.modules
_ModuleType = type(_sys)
_ITIMER_REAL = getattr(_signal, "ITIMER_REAL", 0)
_sigmask = getattr(_signal, "pthread_sigmask", None)
_SIG_UNBLOCK = getattr(_signal, "SIG_UNBLOCK", 1)

# The program's recursion limit as in a plain script (next_core::sandbox::
# HARNESS_RECURSION, joined ahead of this file).
_LIMIT = RecursionLimit()

# JSON string escapes for the characters that need one.
_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES[127] = "\\u007f"
_ESCAPES[ord('"')] = '\\"'
_ESCAPES[ord("\\")] = "\\\\"


def _enc_str(s):
    """A JSON string for `s` (UTF-8 is kept; lone surrogates raise UnicodeEncodeError)."""
    _str_encode(s, "utf-8")
    return '"' + s.translate(_ESCAPES) + '"'


def _safe_str(s):
    """`_enc_str` for messages: never raises."""
    try:
        return _enc_str(s)
    except _BaseException:
        return '"<not valid unicode>"'


class _TooBig(Exception):
    pass


class _NotData(Exception):
    pass


class _Timeout(BaseException):
    pass


def _emit(fd, nonce, fields):
    """Writes the record `{fields}` (JSON text without its braces) to the channel."""
    data = (nonce + " {" + fields + "}\n").encode()
    view = memoryview(data)
    while view:
        n = _write(fd, view)
        view = view[n:]


def _describe(e):
    """`TypeName: message`, bounded; the message is the program's, so guard it."""
    name = "BaseException"
    try:
        name = _type(e).__name__
        if _type(name) is not _str:
            name = "BaseException"
        name = name[:200]
    except _BaseException:
        pass
    try:
        text = _str(e)
        if _type(text) is not _str:
            text = ""
    except _BaseException:
        text = "<unprintable>"
    if _len(text) > 2000:
        text = text[:2000] + "..."
    try:
        _str_encode(text, "utf-8")
    except _BaseException:
        text = "<not valid unicode>"
    return name + (": " + text if text else ""), name


class _Encoder:
    # `depth` counts the JSON brackets around a value: the judge's JSON reader refuses a
    # record nested more than 128 deep, so a value may take at most 100 (the record
    # around it takes 3).
    def __init__(self, budget, depth_limit=100):
        self.budget = budget
        self.depth_limit = depth_limit
        self.parts = []

    def add(self, text):
        self.budget -= _len(text)
        if self.budget < 0:
            raise _TooBig()
        self.parts.append(text)

    def value(self, v, depth=0):
        if depth > self.depth_limit:
            raise _TooBig()
        t = _type(v)
        if t is _NoneType:
            self.add("null")
        elif t is _bool:
            self.add("true" if v else "false")
        elif t is _int:
            if _bit_length(v) > 65536:
                raise _TooBig()
            if -(1 << 63) <= v < (1 << 63):
                self.add(_int_repr(v))
            else:
                self.add('{"int":"' + _int_repr(v) + '"}')
        elif t is _float:
            self.float(v)
        elif t is _complex:
            self.add('{"complex":[')
            self.float(v.real)
            self.add(",")
            self.float(v.imag)
            self.add("]}")
        elif t is _str:
            try:
                text = _enc_str(v)
            except _BaseException:
                raise _NotData("str that is not valid Unicode")
            self.add(text)
        elif t is _bytes:
            self.add('{"bytes":"' + _bytes_hex(v) + '"}')
        elif t is _list:
            self.seq("[", "]", v, depth + 1)
        elif t is _tuple:
            self.seq('{"tuple":[', "]}", v, depth + 2)
        elif t is _set:
            self.seq('{"set":[', "]}", v, depth + 2)
        elif t is _frozenset:
            self.seq('{"frozenset":[', "]}", v, depth + 2)
        elif t in _DICTS:
            self.add('{"dict":[')
            first = True
            for k, x in _list(_dict_items(v)):
                if not first:
                    self.add(",")
                first = False
                self.add("[")
                self.value(k, depth + 3)
                self.add(",")
                self.value(x, depth + 3)
                self.add("]")
            self.add("]}")
        else:
            name = "object"
            try:
                name = t.__name__
                if _type(name) is not _str:
                    name = "object"
                name = name[:200]
            except _BaseException:
                pass
            raise _NotData(name)

    def float(self, v):
        r = _float_repr(v)
        if r == "nan":
            self.add('{"float":"nan"}')
        elif r == "inf" or r == "-inf":
            self.add('{"float":"' + r + '"}')
        else:
            self.add(r)

    def seq(self, open_, close, items, depth):
        self.add(open_)
        first = True
        for x in _list(items):
            if not first:
                self.add(",")
            first = False
            self.value(x, depth)
        self.add(close)


def _encode_result(v, budget):
    enc = _Encoder(budget)
    try:
        enc.value(v)
    except _TooBig:
        return '{"big":true}'
    except _NotData as e:
        return '{"nd":' + _safe_str(e.args[0] if e.args else "object") + "}"
    except RecursionError:
        return '{"big":true}'
    return '{"v":' + "".join(enc.parts) + "}"


def _run_code(code, g, local=None):
    """Runs the program's compiled `code` (a module, a statement or an expression: `eval`
    runs any code object) in `g` and returns its value, as deep in the recursion limit
    as a plain script's module level: the limit is set for this frame, which runs it;
    the harness's own work has its own."""
    _LIMIT.enter(harness_depth())
    try:
        return _eval(code, g, local)
    finally:
        _LIMIT.leave()


def _run_test(g, test, budget):
    """JSON text of one test's results; runs the program's code."""
    if "exec" in test:
        try:
            g.setdefault("__next_evalplus__", __next_evalplus__)
            _run_code(_compile(test["exec"], "<test>", "exec"), g)
            return '{"exec":{"ok":true}}'
        except AssertionError as e:
            text, _ = _describe(e)
            return '{"exec":{"assert":' + _safe_str(text) + "}}"
        except _Timeout:
            raise
        except _BaseException as e:
            text, name = _describe(e)
            return '{"exec":{"err":' + _safe_str(text) + ',"type":' + _safe_str(name) + "}}"
    parts = []
    for hole in test["holes"]:
        try:
            # The test's own modules, bound over any name the program gave them.
            local = None
            for alias, name in hole.get("modules", ()):
                local = local or {}
                _import(name)
                local[alias] = _modules[name]
            value = _run_code(_compile(hole["src"], "<test>", "eval"), g, local)
            parts.append(_encode_result(value, budget))
        except _Timeout:
            raise
        except _BaseException as e:
            text, name = _describe(e)
            parts.append('{"err":' + _safe_str(text) + ',"type":' + _safe_str(name) + "}")
        budget -= _len(parts[-1])
    return '{"r":[' + ",".join(parts) + "]}"


def _flush_program_output():
    for stream in (_sys.stdout, _sys.stderr):
        try:
            stream.flush()
        except _BaseException:
            pass


def _send(w, body):
    data = _len(body).to_bytes(8, "big") + body
    view = memoryview(data)
    while view:
        n = _write(w, view)
        view = view[n:]


def _child(g, tests, budget, total, w, out):
    """In a fresh process: runs `tests` in order, sending one message per test."""
    try:
        _close(out)
    except _BaseException:
        pass
    try:
        if _setpgid is not None:
            _setpgid(0, 0)
    except _BaseException:
        pass
    try:
        for test in tests:
            try:
                body = _run_test(g, test, budget if budget < total else total)
            except _BaseException as e:
                text, name = _describe(e)
                body = '{"r":[{"err":' + _safe_str(text) + ',"type":' + _safe_str(name) + "}]}"
            total -= _len(body)
            _flush_program_output()
            _send(w, body.encode())
    finally:
        _exit_now(0)


def _reap(pid, deadline):
    """The child's wait status, killing it at `deadline`; None if it could not be had."""
    while True:
        try:
            got, status = _waitpid(pid, _WNOHANG)
        except ChildProcessError:
            return None
        if got == pid:
            return status
        if _monotonic() >= deadline:
            try:
                _killpg(pid, _signal.SIGKILL)
            except _BaseException:
                try:
                    _kill(pid, _signal.SIGKILL)
                except _BaseException:
                    pass
            try:
                return _waitpid(pid, 0)[1]
            except ChildProcessError:
                return None
        _time.sleep(0.001)


def _status_fields(status):
    if status is None:
        return '"lost":true'
    if _os.WIFSIGNALED(status):
        return '"crash":' + _int_repr(_os.WTERMSIG(status))
    if _os.WIFEXITED(status):
        return '"exit":' + _int_repr(_os.WEXITSTATUS(status))
    return '"lost":true'


def _batch(g, tests, first, last, timeout, budget, total, out, report):
    """Runs tests[first:last] in one child process, each with its own deadline, calling
    `report(fields)` for each in order. Stops at the first test that times out or ends
    the process; returns the index of the next test to run."""
    _flush_program_output()
    try:
        r, w = _pipe()
    except OSError as e:
        report('"limit":' + _safe_str("could not start the test: " + _describe(e)[0]))
        return first + 1
    try:
        pid = _fork()
    except OSError as e:
        _close(r)
        _close(w)
        report('"limit":' + _safe_str("could not start the test (process limit): " + _describe(e)[0]))
        return first + 1
    if pid == 0:
        _close(r)
        _child(g, tests[first:last], budget, total, w, out)
    _close(w)
    i = first
    deadline = _monotonic() + timeout
    buf = bytearray()
    timed_out = False
    while i < last:
        remaining = deadline - _monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = _select_fn([r], [], [], remaining if remaining < 0.25 else 0.25)
        if not ready:
            continue
        chunk = _read(r, 1 << 20)
        if not chunk:
            break
        buf += chunk
        while i < last and _len(buf) >= 8:
            need = _int.from_bytes(bytes(buf[:8]), "big")
            if _len(buf) < 8 + need:
                break
            body = bytes(buf[8:8 + need])
            del buf[:8 + need]
            # The harness's own encoding never holds a raw newline; a message that does
            # (or that does not decode) was not written by it.
            try:
                fields = body.decode()[1:-1]
            except _BaseException:
                fields = '"lost":true'
            if "\n" in fields or "\r" in fields or not fields:
                fields = '"lost":true'
            report(fields)
            i += 1
            deadline = _monotonic() + timeout
    _close(r)
    if i == last or timed_out:
        # Done, or out of time: SIGKILL cannot be caught, so the wait is short.
        try:
            _killpg(pid, _signal.SIGKILL)
        except _BaseException:
            pass
        try:
            status = _waitpid(pid, 0)[1]
        except ChildProcessError:
            status = None
        if timed_out:
            report('"timeout":true')
            return i + 1
        return i
    # The process ended (or closed the channel) in the middle of test i.
    report(_status_fields(_reap(pid, deadline)))
    return i + 1


def _alarm(signum, frame):
    raise _Timeout()


def _inline(g, test, timeout, budget):
    """Runs one test in this process (no fork): a timer interrupts it at its deadline.
    The program may have ignored or blocked SIGALRM before this test: both are undone.
    What it does during the test (ignore the signal again, loop in C) only the job's
    time limit ends, and the verifier's budget for the program bounds all its jobs."""
    has_timer = hasattr(_signal, "setitimer")
    try:
        if has_timer:
            _signal.signal(_signal.SIGALRM, _alarm)
            if _sigmask is not None:
                _sigmask(_SIG_UNBLOCK, (_signal.SIGALRM,))
            _signal.setitimer(_ITIMER_REAL, timeout)
        body = _run_test(g, test, budget)
    except _Timeout:
        return '"timeout":true'
    finally:
        if has_timer:
            try:
                _signal.setitimer(_ITIMER_REAL, 0)
            except _BaseException:
                pass
    return body[1:-1]


def main():
    if hasattr(_sys, "set_int_max_str_digits"):
        _sys.set_int_max_str_digits(0)
    request = _marshal.loads(_sys.stdin.buffer.read())
    nonce = request["nonce"]
    tests = request["tests"]
    timeout = float(request.get("test_timeout", 3.0))
    budget = int(request.get("value_bytes", 1 << 20))
    total = int(request.get("total_bytes", 16 << 20))
    isolation = request.get("isolation", "test")
    if not hasattr(_os, "fork"):
        isolation = "none"

    # The private channel: the original stdout. The program writes to stderr instead
    # and reads an empty stdin.
    out = None
    if _dup is not None:
        try:
            out = _dup(1)
        except OSError:
            pass
    if out is not None:
        try:
            devnull = _os.open(_os.devnull, _os.O_RDONLY)
            _dup2(devnull, 0)
            _close(devnull)
        except OSError:
            pass
        _dup2(2, 1)
        _sys.stdin = open(_os.devnull, "r")
    else:
        # No descriptor to duplicate (WASI): the channel stays fd 1, the program's
        # Python-level stdout is stderr, and stdin is already at its end (the request
        # was read to it). A program that writes to fd 1 itself garbles the channel,
        # which fails its verdict.
        out = 1
        _sys.stdout = _sys.__stdout__ = _sys.stderr
    _sys.argv = ["<program>"]

    _emit(out, nonce, '"k":"start","n":' + _int_repr(_len(tests)))
    module = _ModuleType("__candidate__")
    module.__file__ = "<program>"
    _sys.modules["__candidate__"] = module
    g = module.__dict__
    # The program sees the recursion limit a plain script has, and as much of it.
    _LIMIT.install()
    try:
        _run_code(_compile(request["program"], "<program>", "exec"), g)
        _flush_program_output()
    except _BaseException as e:
        _flush_program_output()
        text, name = _describe(e)
        _emit(out, nonce, '"k":"module","ok":false,"error":' + _safe_str(text) + ',"type":' + _safe_str(name))
        _emit(out, nonce, '"k":"end"')
        _exit_now(0)
    _emit(out, nonce, '"k":"module","ok":true')
    try:
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    except _BaseException:
        pass
    count = [0]

    def report(fields):
        nonlocal total
        record = '"k":"test","i":' + _int_repr(count[0]) + "," + fields
        count[0] += 1
        total -= _len(record)
        _emit(out, nonce, record)

    n = _len(tests)
    i = 0
    while i < n:
        if total <= 0:
            report('"big":true')
            i += 1
        elif isolation == "none":
            report(_inline(g, tests[i], timeout, min(budget, total)))
            i += 1
        else:
            last = i + 1 if isolation == "test" else n
            i = _batch(g, tests, i, last, timeout, budget, total, out, report)
    _emit(out, nonce, '"k":"end"')
    _flush_program_output()
    _exit_now(0)


if __name__ == "__main__":
    main()
