"""NExT tracing harness: runs a program on its tests and streams what it did.

This file is embedded in the `next-tracers` crate (`include_str!`) and sent to the
sandbox on the stdin of every tracing job; `bootstrap.py`, the job's source, compiles
it (or loads it already compiled) and calls `boot`, which reads the payload and calls
`main`. It runs on CPython 3.8 to 3.13, including the WASI build of CPython 3.12 (no
fork, no signals, no threads, no subprocess: everything below is feature-detected).

Input: the options of the payload's header (nonce, max_events, time_limit,
max_value_chars, max_output_bytes, max_trace_bytes, engine, isolate), the program's
source and the tests, as `boot` parsed them.

Output, on a private duplicate of the original stdout: one message a line, each
starting with the nonce so that nothing the program prints can pass for a message. A
message is a JSON object (`{"t": ...}`: hello, code, module, crash, begin, end, done) or
a JSON array (an event: call, line, return, exception, timeout); `protocol.rs` in the
crate describes them. The program's own stdout and stderr (fds 1 and 2, or only
`sys.stdout`/`sys.stderr` where fds cannot be redirected) are captured apart and sent
inside the messages, decoded lossily and bounded.

How one run goes:
  1. compile the program as "<program>" (a SyntaxError becomes a `crash` message);
  2. run its module level UNTRACED in a fresh `__main__` module (an exception there is
     a `crash` message too);
  3. per test: compile it as "<test>", start tracing, exec it in the program's
     namespace, stop tracing, report how it ended. Where `os.fork` exists each test
     but the last runs in a child forked after step 2, so that one test cannot affect
     the next; the child stops itself at the time limit while traced code runs, and
     the parent kills a child stuck elsewhere (a C loop, a sleep). A child records
     into a memory map shared with the parent, with where it is now, so that a killed
     child loses nothing and its timeout marker lands on the line it was running. The
     last test, which no later test needs protecting from, runs here (a fork costs
     milliseconds), as every test does without fork: the time limit is checked in the
     callbacks only (a loop in C code runs on until the sandbox's own limit), and a
     test that ends the process loses the lines not yet written out (at most
     `Sink.flush_every`).

Events (the contract of `next_core::trace`): a Line event when a line of a traced frame
has finished (its frame reaches its next line, returns or raises; a yield does not
finish it: the resumed frame goes on with it), with the locals whose rendering changed;
a backward jump within one line counts as a new execution of it, as `sys.settrace` has
it. Return and Exception events follow a Line event of their line. An exception is
recorded once, by object, in the first traced frame it is seen in; GeneratorExit and
the StopIteration that ends a loop are not recorded.

Tracing uses `sys.monitoring` where it exists (3.12+, local events on the program's code
objects only) and `sys.settrace` elsewhere (or when asked). Values are rendered by a
bounded `repr` (see `Renderer`). Every callback catches everything: an exception that
escapes a trace function would remove the tracer and surface in the program. Where the
tracer is removed anyway (the program calls `sys.settrace(None)`, or CPython drops a
settrace tracer at the recursion limit), or a callback failed, the test is reported
incomplete.
"""

import sys

# The tracer must not change what the program sees: keep its own names out of the
# program's namespace (the program gets a fresh `__main__` module) and import only
# what is needed, lazily. The top level only defines: a sandbox may import this module
# ahead of the jobs (see `bootstrap.py`), where it must leave no trace.
import os
from itertools import accumulate as _accumulate, chain as _chain, compress as _compress, repeat as _repeat

try:
    from _operator import add as _add, is_ as _is, is_not as _is_not
except ImportError:
    from operator import add as _add, is_ as _is, is_not as _is_not

PROGRAM = "<program>"
TEST = "<test>"
_version = sys.version_info[:2]


# ----------------------------------------------------------------------- JSON text

_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"})


def q(s):
    """A JSON string literal for `s` (non-ASCII characters pass through as UTF-8)."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    return '"' + s.translate(_ESCAPES) + '"'


# ------------------------------------------------------------------------- values


class Renderer:
    """Bounded `repr`: at most `max_chars` characters, the head and tail of the true
    repr around `...` for longer values, addresses removed, `<T repr failed>` for a
    repr that raises, and `<T repr too slow>` for a type whose reprs used up their time
    budget.

    Builtin containers (list, tuple, dict, set, frozenset), str, bytes and int are
    rendered by walking them from both ends (`pre`, `suf`), so that a huge value costs
    no more than a small one and the head and tail are exactly those of the full repr.
    An int too long for `repr` (3.11+ refuses more than 4300 digits) gets its head and
    tail digits computed arithmetically."""

    def __init__(self, max_chars):
        self.max = max(max_chars, 8)
        self.head = (self.max - 3) // 2
        self.tail = self.max - 3 - self.head
        self.busy = set()  # ids of containers being rendered (recursive containers)
        self.slow = {}  # type -> seconds spent in its reprs
        self.careful = False  # set once a whole-container repr was slow or huge
        # id -> (container, snapshot, rendering) for containers of immutable elements:
        # re-rendered only when an element was replaced (see `_snapshot`).
        self.memo = {}
        # id -> container whose repr, long and not memoizable (containers inside), costs
        # more whole than walked from both ends: it is walked from then on.
        self.walked = {}
        import time

        self.clock = time.perf_counter

    def cut(self, s):
        if len(s) <= self.max:
            return s
        return s[: self.head] + "..." + s[-self.tail :]

    def render(self, v):
        t = type(v)
        if t in CONTAINERS:
            memo = self.memo.get(id(v))
            if memo is not None and memo[0] is v:
                snap = memo[1]
                if t is dict:
                    keys, values = snap
                    if (
                        len(v) == len(keys)
                        and all(map(_is, keys, v))
                        and all(map(_is, values, v.values()))
                    ):
                        return memo[3]
                elif memo[4] is not None:
                    # Cut: only its first and last elements show (see `ends`).
                    if len(v) > len(snap) + len(memo[4]) and all(map(_is, snap, v)):
                        if all(map(_is, memo[4], reversed(v))):
                            return memo[3]
                        s = self.retail(v, t, memo)
                        if s is not None:
                            return s
                elif len(v) == len(snap):
                    if all(map(_is, snap, v)):
                        return memo[3]
                    if t is list and not self.careful:
                        changed = _compress(range(len(snap)), map(_is_not, snap, v))
                        s = self.patch(v, memo, changed)
                        if s is not None:
                            return s
        elif t is int and -_BIG < v < _BIG:
            s = int.__repr__(v)
            return s if len(s) <= self.max else self.cut(s)
        if t is str and len(v) <= self.max:
            return self.cut(str.__repr__(v))
        if t is float or t is bool or v is None:
            return self.cut(repr(v))
        if t in CONTAINERS and len(v) <= 256 and not self.careful and self.walked.get(id(v)) is not v:
            s = self.whole(v, t)
            if s is not None:
                full = s
                s = self.cut(s)
                snapshot = _snapshot(v, t)
                if snapshot is not None:
                    if len(self.memo) > 1024:
                        self.memo.clear()
                    memo = [v, snapshot, None, s, None]
                    if full is not s and (t is list or t is tuple) and " at 0x" not in full:
                        self.ends(memo, full)
                    self.memo[id(v)] = memo
                elif len(full) > 8 * self.max:
                    # A matrix, say: its whole repr costs every element, a walk from
                    # both ends only what shows.
                    if len(self.walked) > 1024:
                        self.walked.clear()
                    self.walked[id(v)] = v
                return s
        if t in CONTAINERS or t is int or t is str or t is bytes:
            try:
                s, done = self.pre(v, self.max + 1, 0)
                if done:
                    return self.cut(s)
                e, _ = self.suf(v, self.tail, 0)
                s = s[: self.head] + "..." + e[-self.tail :]
                if (t is list or t is tuple) and not self.careful:
                    self.remember_ends(v, t, s)
                return s
            except _TooDeep:
                self.busy.clear()
        return self.cut(self.generic(v, t))

    def patch(self, v, memo, changed):
        """The rendering of a memoized list of atoms (or of tuples of atoms) whose length
        is unchanged but some of whose elements were replaced: the reprs of its elements
        are kept (from its first change on), and only the replaced ones are rendered
        again, then joined, which gives the very text of the list's repr. None, with the
        memo dropped, when an element is no longer such a value or its repr fails (an
        int too long for `repr`): the caller renders the list afresh."""
        snap = memo[1]
        reprs = memo[2]
        try:
            if reprs is None:
                items = list(v)
                if not _flat(items):
                    raise _Stale()
                reprs = list(map(repr, items))
                memo[1] = items
                memo[2] = reprs
            else:
                for i in changed:
                    e = v[i]
                    te = type(e)
                    if te not in ATOMS and (te is not tuple or not _flat(e)):
                        raise _Stale()
                    reprs[i] = repr(e)
                    snap[i] = e
        except Exception:
            del self.memo[id(v)]
            return None
        s = "[" + ", ".join(reprs) + "]"
        if len(s) > 100000:
            self.careful = True
        if " at 0x" in s:
            s = strip_addresses(s)
        s = self.cut(s)
        memo[3] = s
        return s

    def ends(self, memo, full):
        """Keeps, for a list or tuple of atoms (or of tuples of atoms) whose rendering
        is cut, only the elements that show: the first ones, whose reprs make up the
        rendering's head (after the opening bracket), and the last ones, its tail (up to
        the closing one). While it keeps more elements than those and they stay the
        same objects, whatever happens between them changes
        neither the head nor the tail of its repr, and its repr stays longer than the
        cut (each element in between adds at least 3 characters): the check then costs
        a few elements, not all of them. `full` is the list's repr."""
        items = memo[1]
        n = len(items)
        a = _shown(items, self.head)
        b = _shown(items[::-1], self.tail)
        if n > a + b:
            memo[1] = items[:a]
            memo[4] = items[n - b :][::-1]

    def remember_ends(self, v, t, s):
        """Memoizes `s`, the cut rendering of `v`, a list or tuple too long to be
        rendered whole, as `ends` keeps a shorter one: by the elements that show, when
        those are atoms or tuples of atoms. Only those elements are looked at, so that
        a long list costs its ends, here and at every later check."""
        head = v[: self.head // 3 + 4]
        tail = v[-(self.tail // 3 + 4) :]
        if len(v) <= len(head) + len(tail) or " at 0x" in s:
            return
        if not (_flat(head) and _flat(tail)):
            return
        if len(self.memo) > 1024:
            self.memo.clear()
        memo = [v, list(head) + list(tail), None, s, None]
        try:
            self.ends(memo, s)
        except Exception:
            return  # an element whose own repr fails (an int too long for `repr`)
        if memo[4] is not None:
            self.memo[id(v)] = memo

    def retail(self, v, t, memo):
        """The rendering of a list or tuple kept by `ends` whose first elements are the
        same but whose last ones are not (it grew, say): only the tail is rendered
        again, from the last elements. None, with the memo dropped, when the list got too
        short for that or holds other values now: the caller renders it afresh."""
        n = len(v)
        a = len(memo[1])
        items = []
        reprs = []
        size = 1
        try:
            while size < self.tail:
                if n <= a + len(items) + 1:
                    raise _Stale()
                e = v[n - 1 - len(items)]
                te = type(e)
                if te not in ATOMS and (te is not tuple or not _flat(e)):
                    raise _Stale()
                r = repr(e)
                size += len(r) + (2 if items else 0)
                items.append(e)
                reprs.append(r)
        except Exception:
            del self.memo[id(v)]
            return None
        reprs.reverse()
        tail = ", ".join(reprs) + BRACKETS[t][1]
        if " at 0x" in tail:
            del self.memo[id(v)]
            return None
        s = memo[3][: self.head] + "..." + tail[-self.tail :]
        memo[3] = s
        memo[4] = items
        return s

    def whole(self, v, t):
        """The C-level repr of a container that is not long (exact by definition), or
        None when it fails (a huge int inside, a repr that raises). A repr that turns out
        slow or huge (long strings or deep nesting inside) blows a fuse: from then on
        containers are walked from both ends, whose cost is bounded."""
        start = self.clock()
        try:
            s = t.__repr__(v)
        except BaseException:
            return None
        if len(s) > 100000 or self.clock() - start > 0.05:
            self.careful = True
        if " at 0x" in s:
            s = strip_addresses(s)
        return s

    # Prefix and suffix walks. `pre(v, k, d)` returns (text, complete): complete is
    # True when text is the whole repr; otherwise text is an exact prefix of it, at
    # least k characters long. `suf` is the same for suffixes.

    def pre(self, v, k, d):
        t = type(v)
        if t not in CONTAINERS:
            return self.atom(v, t, k, True)
        if d > 50:
            raise _TooDeep()
        key = id(v)
        if key in self.busy:
            return RECURSIVE[t], True
        if not v:
            return EMPTY[t], True
        opener, closer = BRACKETS[t]
        if t is list or t is tuple:
            # Enough elements for k characters (each takes at least three, with its
            # separator): when they are plain numbers or short strings, one C-level
            # repr of that slice is an exact prefix of the whole repr.
            m = k // 3 + 2
            chunk = v[:m]
            if _plain(chunk):
                items = list.__repr__(list(chunk))[1:-1]
                if m < len(v):
                    return opener + items + ", ", False
                if t is tuple and len(v) == 1:
                    items += ","
                return opener + items + closer, True
        out = [opener]
        n = len(opener)
        pre = self.pre
        self.busy.add(key)
        try:
            first = True
            for item in v.items() if t is dict else v:
                if n >= k:
                    return "".join(out), False
                if not first:
                    out.append(", ")
                    n += 2
                first = False
                if t is dict:
                    s, c = pre(item[0], k - n, d + 1)
                    out.append(s)
                    n += len(s)
                    if not c:
                        return "".join(out), False
                    out.append(": ")
                    n += 2
                    item = item[1]
                s, c = pre(item, k - n, d + 1)
                out.append(s)
                n += len(s)
                if not c:
                    return "".join(out), False
            if t is tuple and len(v) == 1:
                out.append(",")
        finally:
            self.busy.discard(key)
        out.append(closer)
        return "".join(out), True

    def suf(self, v, k, d):
        t = type(v)
        if t not in CONTAINERS:
            return self.atom(v, t, k, False)
        if d > 50:
            raise _TooDeep()
        key = id(v)
        if key in self.busy:
            return RECURSIVE[t], True
        if not v:
            return EMPTY[t], True
        opener, closer = BRACKETS[t]
        if t is list or t is tuple:
            m = k // 3 + 2
            chunk = v[-m:]
            if _plain(chunk):
                items = list.__repr__(list(chunk))[1:-1]
                if m < len(v):
                    return ", " + items + closer, False
                if t is tuple and len(v) == 1:
                    items += ","
                return opener + items + closer, True
        out = [closer]
        n = len(closer)
        if t is tuple and len(v) == 1:
            out.append(",")
            n += 1
        suf = self.suf
        self.busy.add(key)
        try:
            if t is dict:
                items = _rev_dict_items(v)
            elif t is list or t is tuple:
                items = reversed(v)
            else:
                items = reversed(list(v))
            first = True
            for item in items:
                if n >= k:
                    out.reverse()
                    return "".join(out), False
                if not first:
                    out.append(", ")
                    n += 2
                first = False
                if t is dict:
                    s, c = suf(item[1], k - n, d + 1)
                    out.append(s)
                    n += len(s)
                    if not c:
                        out.reverse()
                        return "".join(out), False
                    out.append(": ")
                    n += 2
                    item = item[0]
                s, c = suf(item, k - n, d + 1)
                out.append(s)
                n += len(s)
                if not c:
                    out.reverse()
                    return "".join(out), False
        finally:
            self.busy.discard(key)
        out.append(opener)
        out.reverse()
        return "".join(out), True

    def atom(self, v, t, k, head):
        """The repr of a non-container: (whole repr, True), or for a long str, bytes or
        int an exact prefix (head) or suffix of at least k characters, False."""
        if k < 1:
            k = 1
        if t is int:
            if -_BIG < v < _BIG:
                return int.__repr__(v), True
            return self.int_part(v, k, head)
        if t is str:
            if len(v) <= k:
                return str.__repr__(v), True
            # The quote character depends on the whole string: an extra quote added to
            # the piece forces the same choice, and is cut off again.
            extra = "'" if ("'" in v and '"' not in v) else '"'
            if head:
                return str.__repr__(v[:k] + extra)[:-2], False
            return str.__repr__(extra + v[-k:])[2:], False
        if t is bytes:
            if len(v) <= k:
                return bytes.__repr__(v), True
            extra = b"'" if (b"'" in v and b'"' not in v) else b'"'
            if head:
                return bytes.__repr__(v[:k] + extra)[:-2], False
            return bytes.__repr__(extra + v[-k:])[3:], False
        if t is float or t is bool or v is None:
            return repr(v), True
        return self.generic(v, t), True

    def int_part(self, v, k, head):
        """(text, complete) for a huge int: its first (head) or last k digits, computed
        arithmetically, or the whole repr when it is short after all."""
        a = -v if v < 0 else v
        bits = a.bit_length()
        if bits > (1 << 22):
            return "<int with about %d digits>" % int(bits * 0.30103), True
        digits = int(bits * 0.30102999566398) + 1
        if a < 10 ** (digits - 1):
            digits -= 1
        if digits <= k and digits <= 4000:
            return int.__repr__(v), True
        k = min(k, 4000)
        if not head:
            return str(a % 10**k).rjust(k, "0"), False
        return ("-" if v < 0 else "") + str(a // 10 ** (digits - k)), False

    def generic(self, v, t):
        """repr() of anything else, guarded: a repr that raises gives `<T repr failed>`,
        addresses are removed, and a type whose reprs took more than a quarter second
        in total is no longer asked (`<T repr too slow>`)."""
        slow = self.slow.get(t)
        if slow is not None and slow > 0.25:
            return "<%s repr too slow>" % _type_name(t)
        start = self.clock()
        try:
            s = repr(v)
        except RecursionError:
            # The repr recursed without end, or the program is near the recursion
            # limit and so is this callback: only the first is the value's fault.
            if not _headroom(40):
                raise
            s = None
        except BaseException:
            s = None
        spent = self.clock() - start
        if spent > 0.001:
            self.slow[t] = (slow or 0.0) + spent
        if type(s) is not str:
            return "<%s repr failed>" % _type_name(t)
        if " at 0x" in s:
            s = strip_addresses(s)
        return s


class _TooDeep(Exception):
    pass


def _flat(items):
    """Whether the elements are atoms, or tuples of atoms: objects whose repr cannot
    change. C loops only (a tuple's own elements go through `chain`)."""
    kinds = set(map(type, items))
    if kinds <= ATOMS:
        return True
    if kinds == _TUPLES:
        return set(map(type, _chain.from_iterable(items))) <= ATOMS
    return False


def _shown(items, limit):
    """How many of `items`, from the first, a list's repr needs for at least `limit`
    characters, its opening bracket and the separators included (all of them when
    they are fewer). C loops only: reprs, lengths and their running sums."""
    # After k items the repr has 1 + (their reprs) + 2 (k - 1) characters: k is one
    # more than the number of running totals below limit + 1 (they only grow).
    totals = _accumulate(map(_add, map(len, map(repr, items)), _repeat(2)))
    return min(sum(map((limit + 1).__gt__, totals)) + 1, len(items))


def _snapshot(v, t):
    """What `_unchanged` compares with, for a container of immutable elements (whose
    repr changes only when an element is replaced, added or removed); None otherwise."""
    if t is dict:
        keys = list(v)
        values = list(v.values())
        if _flat(keys) and _flat(values):
            return keys, values
        return None
    items = list(v)
    if _flat(items):
        return items
    return None


class _Stale(Exception):
    """A memoized rendering that cannot be patched."""


_TUPLES = frozenset((tuple,))
_NUMBERS = frozenset((int, bool, float))
_NUMBERS_AND_NONE = frozenset((int, bool, float, type(None)))
_STRINGS = frozenset((str,))
_BIG = 1 << 1600


def _plain(chunk):
    """Whether every element of `chunk` has a short repr that `repr` of a list gives
    the same as alone: numbers that are not huge, None, short strings. All in C loops."""
    if not chunk:
        return True
    kinds = set(map(type, chunk))
    if kinds <= _NUMBERS:
        if int not in kinds and bool not in kinds:
            return True
        try:
            return -_BIG < min(chunk) and max(chunk) < _BIG
        except Exception:
            return False
    if kinds == _STRINGS:
        return sum(map(len, chunk)) <= 20000
    if kinds <= _NUMBERS_AND_NONE:
        return float not in kinds and int not in kinds
    return False


def _headroom(n):
    """Whether n more frames fit under the recursion limit."""
    try:
        return _probe(n)
    except RecursionError:
        return False


def _probe(n):
    return True if n <= 0 else _probe(n - 1)


def _rev_dict_items(d):
    try:
        return reversed(d.items())
    except TypeError:  # 3.7 and older: dict views are not reversible
        return reversed(list(d.items()))


def _type_name(t):
    try:
        name = type.__dict__["__name__"].__get__(t)
        if type(name) is str:
            return name
    except Exception:
        pass
    return "object"


_HEX = frozenset("0123456789abcdefABCDEF")


def strip_addresses(s):
    """Removes memory addresses: `<Foo object at 0x7f3a...>` becomes `<Foo object>`."""
    out = []
    i = 0
    while True:
        j = s.find(" at 0x", i)
        if j < 0:
            out.append(s[i:])
            return "".join(out)
        k = j + 6
        n = len(s)
        while k < n and s[k] in _HEX:
            k += 1
        if k == j + 6:
            out.append(s[i : j + 6])
        else:
            out.append(s[i:j])
        i = k


CONTAINERS = frozenset((list, tuple, dict, set, frozenset))
BRACKETS = {list: ("[", "]"), tuple: ("(", ")"), dict: ("{", "}"), set: ("{", "}"), frozenset: ("frozenset({", "})")}
EMPTY = {list: "[]", tuple: "()", dict: "{}", set: "set()", frozenset: "frozenset()"}
RECURSIVE = {list: "[...]", tuple: "(...)", dict: "{...}", set: "{...}", frozenset: "frozenset(...)"}


def _skipped_types():
    """Functions, classes (checked apart) and modules are not shown."""
    def f():
        pass

    class C:
        def m(self):
            pass

    return frozenset((type(f), type(len), type(C().m), type(sys), type([].append), type(str.join), staticmethod, classmethod))


SKIPPED = _skipped_types()
ATOMS = frozenset((int, str, float, bool, type(None), bytes))

# Opcodes that tell a settrace 'return' event apart: a real return, a yield, and the
# instructions at which a loop ends by StopIteration (not an exception of the program).
_OPCODES = {
    (3, 8): ((83,), (86, 72), (93, 72)),
    (3, 9): ((83,), (86, 72), (93, 72)),
    (3, 10): ((83,), (86, 72), (93, 72)),
    (3, 11): ((83,), (86, 151), (93, 123)),
    (3, 12): ((83, 121), (150, 151), (93, 123, 5)),
    (3, 13): ((36, 103), (118, 149), (72, 104, 12)),
}


def _opcodes():
    known = _OPCODES.get(_version)
    if known is not None:
        return tuple(frozenset(x) for x in known)
    import opcode

    m = opcode.opmap

    def pick(*names):
        return frozenset(m[n] for n in names if n in m)

    return (
        pick("RETURN_VALUE", "RETURN_CONST"),
        pick("YIELD_VALUE", "YIELD_FROM", "RESUME"),
        pick("FOR_ITER", "SEND", "END_SEND", "YIELD_FROM"),
    )


# ------------------------------------------------------------------------- output


class Sink:
    """Where event lines go: straight to the event channel (in-process tests), or into
    a shared memory map that the parent copies out (forked tests), so that a child
    killed at the time limit loses nothing it recorded."""

    HEADER = 64

    def __init__(self, nonce, write, mm, byte_budget):
        self.nonce = nonce
        self.write = write
        self.mm = mm
        self.buf = []
        self.size = 0
        self.budget = byte_budget
        # Lines kept before they are written out (in process): a job killed meanwhile
        # loses at most these.
        self.flush_every = 64
        self.pack = None
        if mm is not None:
            from _struct import pack_into

            self.pack = pack_into

    def reset(self):
        self.buf = []
        self.size = 0
        if self.mm is not None:
            self.mm[0 : self.HEADER] = bytes(self.HEADER)

    def emit(self, text):
        """Appends one line; False when the byte budget is used up. In the map, the
        line counts once committed (`position`, `commit`): handlers commit when done."""
        data = (self.nonce + text + "\n").encode("utf-8", "replace")
        if self.size + len(data) > self.budget:
            return False
        if self.mm is not None:
            start = self.HEADER + self.size
            self.mm[start : start + len(data)] = data
            self.size += len(data)
        else:
            if len(self.buf) >= self.flush_every:
                self.flush()  # first: if it fails, this line is not half-recorded
            self.buf.append(data)
            self.size += len(data)
        return True

    def emit_line(self, line):
        """`emit` of a line that already holds its nonce and newline (Line events)."""
        data = line.encode("utf-8", "replace")
        if self.size + len(data) > self.budget:
            return False
        if self.mm is not None:
            start = self.HEADER + self.size
            self.mm[start : start + len(data)] = data
            self.size += len(data)
        else:
            if len(self.buf) >= self.flush_every:
                self.flush()  # first: if it fails, this line is not half-recorded
            self.buf.append(data)
            self.size += len(data)
        return True

    def emit_forced(self, text):
        """Appends and commits one line past the budget (the final markers of a test)."""
        saved = self.budget
        self.budget = self.size + (1 << 20)
        if self.mm is not None:
            self.budget = min(self.budget, len(self.mm) - self.HEADER)
        ok = self.emit(text)
        self.budget = saved
        self.commit()
        return ok

    def flush(self):
        """Writes out the kept lines. Lines are dropped only once written: a call cut
        short (a RecursionError near the program's recursion limit) loses none."""
        if self.buf:
            data = b"".join(self.buf)
            self.write(data)
            self.buf = []

    def commit(self):
        if self.mm is not None:
            self.pack("<I", self.mm, 0, self.size)

    def position(self, fid, line):
        """Commits the lines written so far and where the run is now (frame, line), for
        the parent to report if it has to kill the child there."""
        if self.mm is not None:
            self.pack("<III", self.mm, 0, self.size, fid, line)


# Result codes in the shared header (byte 12): how the child's test ended.
R_NONE, R_PASSED, R_FAILED, R_TIMEOUT = 0, 1, 2, 3


class _Deadline(BaseException):
    """Raised into the program (in-process mode only) when its test ran out of time."""


# ------------------------------------------------------------------------- tracer


class Frame:
    """What the tracer keeps about one activation of program code: its id, the
    rendering of each local as last recorded (`rep`, in first-appearance order via
    `order`), the immutable objects behind them (`obj`), the line running (`pending`)."""

    __slots__ = ("fid", "rep", "obj", "order", "pending", "first", "depth")

    def __init__(self, fid, code):
        self.depth = 0
        self.fid = fid
        self.rep = {}
        self.obj = {}
        self.order = {}
        self.pending = None
        self.first = code.co_firstlineno


def make_tracer(opts, sink, render_obj, in_child, program_codes):
    """Builds the tracing state machine and its callbacks for one engine; returns an
    object with start(), stop() and the bookkeeping the runner needs."""
    max_events = int(opts.get("max_events", "10000"))
    time_limit = float(opts.get("time_limit", "2.0"))
    engine = opts.get("engine", "auto")
    has_monitoring = hasattr(sys, "monitoring")
    if engine == "auto":
        engine = "monitoring" if has_monitoring else "settrace"
    if engine == "monitoring" and not has_monitoring:
        engine = "settrace"

    import time

    clock = time.perf_counter
    render = render_obj.render
    getframe = sys._getframe
    emit = sink.emit

    st = _State()
    frames = {}
    stack = []
    recorded = []  # exception objects already recorded (kept alive so ids stay unique)
    recorded_ids = set()
    st.engine = engine

    def pos_now():
        if stack:
            rec = stack[-1]
            return rec.fid, rec.pending if rec.pending is not None else rec.first
        return 0, 0

    def put(text):
        st.count += 1
        if not emit(text):
            st.count = max_events  # the byte budget is used up: stop as at the limit

    emit_line = sink.emit_line
    line_event = sink.nonce + '["l",%d,%d,[%s]]\n'

    def put_line_event(fid, line, pairs):
        """`put` of a Line event (the most frequent), formatted in one step."""
        st.count += 1
        if not emit_line(line_event % (fid, line, pairs)):
            st.count = max_events

    # Handlers render first and commit after, so that a handler interrupted by a
    # RecursionError (the program is near the recursion limit) can be run again.

    def diff(rec, loc):
        """The locals of `loc` that are new or whose rendering changed, in
        first-appearance order, as [name, rendering, value]; commits nothing."""
        rep = rec.rep
        obj = rec.obj
        changed = []
        for name, v in loc.items():
            if obj.get(name, _MISSING) is v:
                continue  # the same immutable object as when last rendered
            old = rep.get(name)
            if old is _HIDDEN:
                continue
            t = type(v)
            if (
                t not in ATOMS
                and t not in CONTAINERS
                and (t in SKIPPED or t is _ModuleType or isinstance(v, type))
            ):
                continue
            r = render(v)
            if old != r:
                changed.append([name, r, v if t in ATOMS else _MISSING, old is None])
            elif t in ATOMS:
                obj[name] = v  # same rendering: remembering the object commits nothing
        return changed

    def commit(rec, changed):
        """Applies a diff to the frame's record; returns the JSON pairs."""
        rep = rec.rep
        obj = rec.obj
        order = rec.order
        out = []
        for name, r, v, new in changed:
            if new:
                if name[0] == "." or (name[:2] == "__" and name[-2:] == "__"):
                    rep[name] = _HIDDEN
                    continue
                order[name] = len(order)
            rep[name] = r
            if v is _MISSING:
                obj.pop(name, None)
            else:
                obj[name] = v
            out.append(name)
        if len(out) > 1:
            out.sort(key=order.__getitem__)
        parts = []
        for n in out:
            qn = quoted.get(n)
            if qn is None:
                qn = quoted[n] = q(n)
            parts.append("[%s,%s]" % (qn, q(rep[n])))
        return ",".join(parts)

    quoted = {}  # name -> its JSON string literal

    def new_frame(frame):
        code = frame.f_code
        loc = frame.f_locals
        args = []
        for name in _arg_names(code):
            if name not in loc:
                continue
            v = loc[name]
            t = type(v)
            if name[0] == "." or t in SKIPPED or t is _ModuleType or isinstance(v, type):
                args.append((name, None, v))
            else:
                args.append((name, render(v), v))
        st.next_fid += 1
        rec = Frame(st.next_fid, code)
        rep = rec.rep
        order = rec.order
        pairs = []
        for name, r, v in args:
            if r is None:
                if name[0] == ".":
                    rep[name] = _HIDDEN
                continue
            order[name] = len(order)
            rep[name] = r
            if type(v) in ATOMS:
                rec.obj[name] = v
            pairs.append("[%s,%s]" % (q(name), q(r)))
        # Recorded before the frame is known: a handler cut short by a RecursionError
        # (the program is at its recursion limit) leaves the frame unknown, and its
        # next event starts it again, rather than leaving a frame without a Call.
        put('["c",%d,%d,%s,[%s]]' % (rec.fid, rec.first, q(code.co_name), ",".join(pairs)))
        frames[frame] = rec
        return rec

    def limits(frame):
        """Stops at the event, byte or time limit: a timeout marker where the run is,
        then (time) the test ends, or (events, bytes) the program goes on untraced.
        The callbacks call it once `check_at` events were recorded: the clock is read
        every `CHECK_EVERY` events, not at each."""
        if clock() > st.deadline:
            st.timed_out = True
        elif st.count < max_events:
            st.check_at = min(st.count + CHECK_EVERY, max_events)
            return
        if st.recording:
            fid, line = pos_now()
            sink.emit_forced('["t",%d,%d]' % (fid, line))
            st.truncated = True
            st.stop_recording()
        if st.timed_out:
            if st.in_child:
                st.child_exit(R_TIMEOUT)
            raise _Deadline()

    # The state machine, shared by both engines. Each handler is called with the
    # program frame the event belongs to.

    def on_start(frame):
        rec = frames.get(frame)
        if rec is None:
            rec = new_frame(frame)
        # else a generator resumes: it goes on with the line of its yield, still pending
        stack.append(rec)
        sink.position(rec.fid, rec.pending if rec.pending is not None else rec.first)

    def on_line(frame, line):
        rec = frames.get(frame)
        if rec is None:  # a frame that started while tracing was off
            rec = new_frame(frame)
            stack.append(rec)
        else:
            done = rec.pending
            if done is not None:
                changed = diff(rec, frame.f_locals)
                st.count += 1
                text = line_event % (rec.fid, done, commit(rec, changed) if changed else "")
                if not emit_line(text):
                    st.count = max_events
        rec.pending = line
        sink.position(rec.fid, line)

    def finish(rec, frame, step):
        """Renders the pending line of a frame that stops running; commits nothing. For
        a return or an exception (`step`), which must follow a line event of their
        line, a line without one gets an empty one."""
        line = rec.pending
        if line is None:
            return ([] if step else None), frame.f_lineno
        return diff(rec, frame.f_locals), line

    def put_line(rec, changed, line):
        if changed is not None:
            rec.pending = None
            put_line_event(rec.fid, line, commit(rec, changed))

    def on_return(frame, value):
        rec = frames.get(frame)
        if rec is None:
            return
        changed, line = finish(rec, frame, True)
        r = render(value)
        put_line(rec, changed, line)
        put('["r",%d,%d,%s]' % (rec.fid, line, q(r)))
        del frames[frame]
        _pop(stack, rec)
        set_pos()

    def on_yield(frame):
        # A yield suspends the frame without finishing its line: the line is finished
        # (and its changes recorded) when the resumed frame moves on.
        rec = frames.get(frame)
        if rec is None:
            return
        _pop(stack, rec)
        set_pos()

    def on_raise(frame, exc):
        rec = frames.get(frame)
        if rec is None:
            return
        fresh = id(exc) not in recorded_ids and type(exc) is not GeneratorExit
        changed, line = finish(rec, frame, fresh)
        r = render(exc) if fresh else None
        put_line(rec, changed, line)
        if fresh:
            recorded.append(exc)
            recorded_ids.add(id(exc))
            put('["x",%d,%d,%s]' % (rec.fid, line, q(r)))
        sink.position(rec.fid, line)

    def on_unwind(frame):
        rec = frames.get(frame)
        if rec is None:
            return
        changed, line = finish(rec, frame, False)
        put_line(rec, changed, line)
        del frames[frame]
        _pop(stack, rec)
        set_pos()

    def set_pos():
        if stack:
            rec = stack[-1]
            sink.position(rec.fid, rec.pending if rec.pending is not None else rec.first)
        else:
            sink.position(0, 0)

    def guarded(handler, *args):
        """Runs a handler; any failure of the tracer (a RecursionError when the program
        is near the recursion limit, say) loses that event, marks the trace incomplete
        and is swallowed: an exception escaping a callback would reach the program.

        The recursion limit is not raised to make room: it could not be restored at
        that depth (CPython refuses a limit below the current depth), and a program
        allowed to recurse deeper would behave differently."""
        try:
            handler(*args)
        except _Deadline:
            raise
        except BaseException:
            render_obj.busy.clear()
            st.incomplete = True

    st.handlers = (on_start, on_line, on_return, on_yield, on_raise, on_unwind)
    st.guarded = guarded
    st.limits = limits
    st.frames = frames
    st.stack = stack
    st.recorded = recorded
    st.recorded_ids = recorded_ids
    st.time_limit = time_limit
    st.clock = clock
    st.sink = sink
    st.render = render
    st.render_obj = render_obj
    st.max_events = max_events
    st.in_child = in_child
    if engine == "monitoring":
        _monitoring_engine(st, program_codes, getframe)
    else:
        _settrace_engine(st)
    return st


CHECK_EVERY = 16  # events between two readings of the clock


class _State:
    def __init__(self):
        self.count = 0
        self.check_at = 0  # the event count at which the limits are checked next
        self.next_fid = 0
        self.truncated = False
        self.timed_out = False
        self.incomplete = False
        self.recording = False
        self.watching = False
        self.active = False
        self.deadline = float("inf")


_MISSING = object()
_HIDDEN = object()  # a name never shown (`.0`, dunders)
_ModuleType = type(sys)


def _pop(stack, rec):
    if stack and stack[-1] is rec:
        stack.pop()
    else:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is rec:
                del stack[i]
                break


def _arg_names(code):
    """Argument names in signature order: positional, *args, keyword-only, **kwargs."""
    names = code.co_varnames
    n = code.co_argcount
    kw = code.co_kwonlyargcount
    out = list(names[:n])
    i = n + kw
    flags = code.co_flags
    if flags & 0x04:  # CO_VARARGS
        out.append(names[i])
        i += 1
    out.extend(names[n : n + kw])
    if flags & 0x08:  # CO_VARKEYWORDS
        out.append(names[i])
    return out


def _settrace_engine(st):
    on_start, on_line, on_return, on_yield, on_raise, on_unwind = st.handlers
    guarded = st.guarded
    limits = st.limits
    render_obj = st.render_obj
    max_events = st.max_events
    frames = st.frames
    returns, yields, loop_ends = _opcodes()
    GEN = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator
    # CPython 3.8 to 3.10 keep a sticky "overflowed" state after a RecursionError until
    # the stack unwinds 50 frames below the limit; meanwhile the program may recurse up
    # to 50 frames past its limit, then aborts. So on those versions the tracer must
    # not cause a RecursionError itself: it tracks frame depths and leaves alone the
    # frames too close to the limit (the trace is then marked incomplete).
    bytecode = {}  # id(code) -> co_code (a new bytes object per access from 3.11)

    def opcode_at(code, offset):
        raw = bytecode.get(id(code))
        if raw is None:
            raw = bytecode[id(code)] = code.co_code
        return raw[offset]

    sticky = _version < (3, 11)
    getlimit = sys.getrecursionlimit
    MARGIN = 80

    def depth_of(frame):
        d = 1
        f = frame.f_back
        while f is not None:
            rec = frames.get(f)
            if rec is not None:
                return rec.depth + d
            d += 1
            f = f.f_back
        return d

    def too_deep(frame):
        rec = frames.get(frame)
        depth = rec.depth if rec is not None else depth_of(frame)
        if depth + MARGIN > getlimit():
            st.incomplete = True
            return True
        return False

    def forget(frame):
        rec = frames.pop(frame, None)
        if rec is not None:
            _pop(st.stack, rec)

    clock = st.clock

    def watch():
        """Recording stopped at the event limit, in process: only the clock is checked."""
        if clock() > st.deadline:
            st.timed_out = True
            st.watching = False
            raise _Deadline()
        return local

    def local(frame, event, arg):
        if not st.recording:
            return watch() if st.watching else None
        if sticky and too_deep(frame):
            if event == "return":
                forget(frame)
            return local
        if event == "line":
            try:
                on_line(frame, frame.f_lineno)
            except BaseException:
                render_obj.busy.clear()
                st.incomplete = True
            if st.count >= st.check_at:
                limits(frame)
            return local if st.recording else None
        if event == "return":
            code = frame.f_code
            try:
                op = opcode_at(code, frame.f_lasti)
            except Exception:
                op = -1
            if op in returns:
                guarded(on_return, frame, arg)
            elif code.co_flags & GEN and op in yields:
                guarded(on_yield, frame)
            else:
                guarded(on_unwind, frame)
        elif event == "exception":
            exc = arg[1]
            if isinstance(exc, StopIteration):
                try:
                    op = opcode_at(frame.f_code, frame.f_lasti)
                except Exception:
                    op = -1
                if op in loop_ends:
                    return local
            guarded(on_raise, frame, exc)
        limits(frame)
        return local if st.recording else None

    def global_(frame, event, arg):
        if not st.recording:
            return watch() if st.watching else None
        if frame.f_code.co_filename != PROGRAM:
            return None
        if sticky:
            depth = depth_of(frame)
            if depth + MARGIN > getlimit():
                st.incomplete = True
                return None
            rec = frames.get(frame)
            if rec is not None:
                rec.depth = depth
        guarded(on_start, frame)
        if sticky:
            rec = frames.get(frame)
            if rec is not None:
                rec.depth = depth
        limits(frame)
        return local if st.recording else None

    def start():
        st.recording = True
        st.active = True
        sys.settrace(global_)

    def stop():
        installed = sys.gettrace()
        sys.settrace(None)
        if st.recording and installed is not global_:
            st.incomplete = True  # the program, or CPython, removed the tracer
        st.recording = False
        st.watching = False
        st.active = False

    def stop_recording():
        st.recording = False
        if not st.in_child and not st.timed_out:
            st.watching = True  # in process, the clock must still be watched
            return
        sys.settrace(None)
        for frame in list(st.frames):
            try:
                frame.f_trace = None
            except Exception:
                pass

    st.start = start
    st.stop = stop
    st.stop_recording = stop_recording
    st.prepare_children = lambda: None


def _monitoring_engine(st, program_codes, getframe):
    on_start, on_line, on_return, on_yield, on_raise, on_unwind = st.handlers
    guarded = st.guarded
    limits = st.limits
    render_obj = st.render_obj
    max_events = st.max_events
    mon = sys.monitoring
    ev = mon.events
    DISABLE = mon.DISABLE
    tool = None
    for candidate in (4, 3, 2, 1, 0, 5):
        try:
            mon.use_tool_id(candidate, "next-trace")
            tool = candidate
            break
        except Exception:
            continue
    if tool is None:
        raise RuntimeError("no free sys.monitoring tool id")
    local_events = ev.PY_START | ev.PY_RESUME | ev.PY_RETURN | ev.PY_YIELD | ev.LINE | ev.JUMP
    global_events = ev.RAISE | ev.PY_UNWIND | ev.PY_THROW
    program_ids = set(id(c) for c in program_codes)

    clock = st.clock

    def idle():
        """A callback while not recording: in a child, disable the location (the parent
        enforces the time limit); in process, keep enforcing it while a test runs."""
        if st.in_child or not st.active:
            return DISABLE
        if clock() > st.deadline:
            st.timed_out = True
            raise _Deadline()
        return None

    def failed():
        render_obj.busy.clear()
        st.incomplete = True

    # The callbacks run a handler and then check the limits; the handlers' guard
    # (see `guarded`) is written out in each, for speed.

    def py_start(code, offset):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_start(frame)
        except BaseException:
            failed()
        if st.count >= st.check_at:
            limits(frame)

    def line(code, lineno):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_line(frame, lineno)
        except BaseException:
            failed()
        if st.count >= st.check_at:
            limits(frame)

    def py_return(code, offset, value):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_return(frame, value)
        except BaseException:
            failed()
        if st.count >= st.check_at:
            limits(frame)

    def py_yield(code, offset, value):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_yield(frame)
        except BaseException:
            failed()
        if st.count >= st.check_at:
            limits(frame)

    def raise_(code, offset, exc):
        if not st.recording or id(code) not in program_ids:
            return None
        frame = getframe(1)
        guarded(on_raise, frame, exc)
        limits(frame)

    def unwind(code, offset, exc):
        if not st.recording or id(code) not in program_ids:
            return None
        frame = getframe(1)
        guarded(on_unwind, frame)
        limits(frame)

    line_tables = {}

    def jump(code, source, target):
        # A backward jump within one line (a loop on one line, a comprehension) is a
        # new execution of that line for sys.settrace; LINE does not fire for it. Do
        # what CPython's own settrace emulation does; other jumps are disabled.
        if not st.recording:
            return idle()
        if target > source:
            return DISABLE
        table = line_tables.get(code)
        if table is None:
            table = line_tables[code] = _line_table(code)
        line = table.get(target)
        if line is None or line != table.get(source):
            return DISABLE
        frame = getframe(1)
        guarded(on_line, frame, line)
        limits(frame)

    def throw(code, offset, exc):
        if not st.recording or id(code) not in program_ids:
            return None
        frame = getframe(1)
        guarded(on_start, frame)
        limits(frame)

    for event, fn in (
        (ev.PY_START, py_start),
        (ev.PY_RESUME, py_start),
        (ev.LINE, line),
        (ev.PY_RETURN, py_return),
        (ev.PY_YIELD, py_yield),
        (ev.RAISE, raise_),
        (ev.PY_UNWIND, unwind),
        (ev.PY_THROW, throw),
        (ev.JUMP, jump),
    ):
        mon.register_callback(tool, event, fn)

    for code in program_codes:
        mon.set_local_events(tool, code, local_events)

    prepared = [False]

    def prepare_children():
        """Before forking: turn the global events on once, here, rather than in every
        child (in 3.12 that re-instruments every code object a process runs next). Until
        a child records, the callbacks return at once."""
        mon.set_events(tool, global_events)
        prepared[0] = True

    def start():
        st.recording = True
        st.active = True
        if not prepared[0]:
            mon.restart_events()
            mon.set_events(tool, global_events)

    def stop():
        if st.recording:
            try:
                intact = mon.get_tool(tool) == "next-trace" and mon.get_events(tool) == global_events
            except Exception:
                intact = False
            if not intact:
                st.incomplete = True  # the program switched the tool off
        st.recording = False
        st.active = False
        try:
            mon.set_events(tool, 0)
        except Exception:
            pass

    def stop_recording():
        st.recording = False
        if st.in_child:
            try:
                mon.set_events(tool, 0)
            except Exception:
                pass

    st.start = start
    st.stop = stop
    st.stop_recording = stop_recording
    st.prepare_children = prepare_children


def _line_table(code):
    """Instruction offset -> line number."""
    table = {}
    for start, end, line in code.co_lines():
        if line is not None:
            for offset in range(start, end, 2):
                table[offset] = line
    return table


def code_tree(code):
    """The code object and every code object nested in it."""
    out = [code]
    i = 0
    while i < len(out):
        for c in out[i].co_consts:
            if type(c) is type(code):
                out.append(c)
        i += 1
    return out


# ------------------------------------------------------------------------- runner


class Channel:
    """The private event channel (a duplicate of the original stdout) and the capture
    of the program's own output."""

    def __init__(self, nonce):
        self.nonce = nonce
        self.fd = None
        self.pyout = None
        try:
            sys.stdout.flush()
        except Exception:
            pass
        try:
            self.fd = os.dup(1)
        except Exception:
            self.fd = None
            self.pyout = sys.stdout.buffer if sys.stdout is not None else None

    def write(self, data):
        if self.fd is not None:
            view = memoryview(data)
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        elif self.pyout is not None:
            self.pyout.write(data)
            self.pyout.flush()

    def message(self, text):
        self.write((self.nonce + text + "\n").encode("utf-8", "replace"))


class Capture:
    """Captures fds 1 and 2 (and sys.stdout/sys.stderr) in files; falls back to
    in-memory streams where file descriptors cannot be redirected."""

    def __init__(self, nonce, limit):
        self.limit = limit
        self.fds = None
        self.streams = None
        if hasattr(os, "dup2"):
            try:
                self.fds = (self._open(nonce, "out"), self._open(nonce, "err"))
                os.dup2(self.fds[0], 1)
                os.dup2(self.fds[1], 2)
            except Exception:
                self.fds = None
        if self.fds is None:
            import io

            self.streams = (io.StringIO(), io.StringIO())
            sys.stdout, sys.stderr = self.streams

    @staticmethod
    def _open(nonce, which):
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_APPEND", 0)
        for folder in (".", os.environ.get("TMPDIR") or "/tmp"):
            path = os.path.join(folder, ".next-trace-%s-%s" % (nonce[-12:], which))
            try:
                fd = os.open(path, flags, 0o600)
            except OSError:
                continue
            try:
                os.unlink(path)
            except OSError:
                pass
            return fd
        raise OSError("no place for capture files")

    def take(self):
        """What was captured since the last call: (stdout, stderr) text, bounded."""
        _flush_std()
        if self.streams is not None:
            out = []
            for s in self.streams:
                text = s.getvalue()
                s.seek(0)
                s.truncate()
                out.append(_bound_text(text, self.limit))
            return out[0], out[1]
        out = []
        for fd in self.fds:
            try:
                os.lseek(fd, 0, 0)
                data = os.read(fd, self.limit + 1)
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, 0)
            except OSError:
                data = b""
            out.append(decode_output(data, self.limit))
        return out[0], out[1]


def _flush_std():
    for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if s is not None:
                s.flush()
        except BaseException:
            pass


def decode_output(data, limit):
    if len(data) > limit:
        return data[:limit].decode("utf-8", "replace") + "\n[output cut]"
    return data.decode("utf-8", "replace")


def _bound_text(text, limit):
    if len(text) > limit:
        return text[:limit] + "\n[output cut]"
    return text


def exception_line(exc, code):
    """The line of `code` (the test or the module) that the exception passed through,
    the deepest such entry of its traceback."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def program_line(exc):
    """The deepest line of the program in the exception's traceback."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def syntax_value(exc):
    msg = getattr(exc, "msg", None)
    if type(msg) is not str:
        msg = str(exc)
    return "%s(%s)" % (_type_name(type(exc)), str.__repr__(msg))


def stack_depth():
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def run_test(tracer, code, ns, render, sink):
    """Runs one test under the tracer; returns (result code, exception or None). Records
    the exception that ends the test at the test line, frame 0."""
    # The test runs some frames deeper than in a plain script; give the program the
    # same recursion depth it would have there.
    limit = sys.getrecursionlimit()
    offset = stack_depth()
    try:
        sys.setrecursionlimit(limit + offset)
    except Exception:
        offset = 0
    exc = None
    tracer.deadline = tracer.clock() + tracer.time_limit
    tracer.start()
    try:
        exec(code, ns)
    except BaseException as e:  # everything, SystemExit included, ends the test
        exc = e
    tracer.stop()
    try:
        if offset and sys.getrecursionlimit() == limit + offset:
            sys.setrecursionlimit(limit)
    except Exception:
        pass
    if exc is None:
        return R_PASSED
    if isinstance(exc, _Deadline):
        return R_TIMEOUT
    line = exception_line(exc, code) or 1
    try:
        value = render(exc)
    except BaseException:
        value = "<%s repr failed>" % _type_name(type(exc))
    sink.emit_forced('["x",0,%d,%s]' % (line, q(value)))
    return R_FAILED


def boot(stdin, compiled):
    """Reads the payload (what follows the harness on stdin, see `bootstrap.py`) and
    runs `main`. `compiled` is (tag, code) when the bootstrap compiled this harness from
    source: it is sent back marshalled when the payload asks (`want_code=1`), for the
    next jobs on the same interpreter build."""
    try:
        data = stdin.read()
    except Exception:
        chunks = []
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
    end = data.index(b"\n\n")
    lines = data[:end].decode("utf-8").split("\n")
    if lines[0] != "NEXT-TRACE 1":
        raise ValueError("unknown payload version %r" % lines[0])
    opts = {}
    for line in lines[1:]:
        key, _, value = line.partition("=")
        opts[key] = value
    records = {"program": [], "test": []}
    i = end + 2
    n = len(data)
    while i < n:
        j = data.index(b"\n", i)
        kind, _, size = data[i:j].decode("ascii").partition(" ")
        size = int(size)
        records[kind].append(data[j + 1 : j + 1 + size])
        i = j + 1 + size + 1
    blob = None
    if compiled is not None and opts.get("want_code") == "1" and sys.implementation.cache_tag:
        try:
            import marshal

            blob = (compiled[0], marshal.dumps(compiled[1]))
        except Exception:
            blob = None
    program = records["program"][0].decode("utf-8")
    tests = [t.decode("utf-8") for t in records["test"]]
    main(opts, program, tests, blob)


def main(opts, program, tests, code_blob=None):
    """Runs everything and ends the process (`os._exit`: nothing is left to flush, and
    the interpreter's own teardown would cost more than the run)."""
    try:
        harness_err = os.dup(2)  # where the harness reports its own failure
    except Exception:
        harness_err = 2
    try:
        run(opts, program, tests, code_blob)
    except BaseException as error:  # a failure of the harness itself: say so on stderr
        try:
            os.write(harness_err, ("next-trace harness failed: %r\n" % (error,)).encode("utf-8", "replace"))
        except BaseException:
            pass
        _exit(3)
    _exit(0)


def _exit(code):
    if hasattr(os, "_exit"):
        os._exit(code)
    raise SystemExit(code)


def run(opts, program, tests, code_blob):
    nonce = opts["nonce"]
    channel = Channel(nonce)
    fork_ok = hasattr(os, "fork") and opts.get("isolate", "1") == "1"
    max_output = int(opts.get("max_output_bytes", "65536"))
    capture = Capture(nonce, max_output)
    engine = opts.get("engine", "auto")
    if engine not in ("settrace", "monitoring") or not hasattr(sys, "monitoring"):
        engine = "monitoring" if hasattr(sys, "monitoring") else "settrace"
    opts["engine"] = engine
    channel.message(
        '{"t":"hello","python":%s,"engine":%s,"fork":%s}'
        % (q("%d.%d.%d" % sys.version_info[:3]), q(engine), "true" if fork_ok else "false")
    )
    if code_blob is not None:
        channel.message('{"t":"code","tag":%s,"hex":"%s"}' % (q(code_blob[0]), code_blob[1].hex()))

    try:
        code = compile(program, PROGRAM, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        channel.message('{"t":"crash","line":%d,"value":%s}' % (line, q(syntax_value(exc))))
        channel.message('{"t":"done"}')
        return

    # The program becomes `__main__`, in a module of its own.
    module = type(sys)("__main__")
    ns = module.__dict__
    ns["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    render_obj = Renderer(int(opts.get("max_value_chars", "500")))
    failure = None
    try:
        exec(code, ns)
    except BaseException as exc:
        failure = exc
    out, err = capture.take()
    channel.message('{"t":"module","out":%s,"err":%s}' % (q(out), q(err)))
    if failure is not None:
        try:
            value = render_obj.render(failure)
        except BaseException:
            value = "<%s repr failed>" % _type_name(type(failure))
        channel.message('{"t":"crash","line":%d,"value":%s}' % (program_line(failure) or 1, q(value)))
        channel.message('{"t":"done"}')
        return

    byte_budget = int(opts.get("max_trace_bytes", str(8 << 20)))
    mm = None
    if fork_ok:
        try:
            import mmap

            mm = mmap.mmap(-1, Sink.HEADER + byte_budget + (1 << 20))
        except Exception:
            fork_ok = False
    sink = Sink(nonce, channel.write, mm, byte_budget)
    codes = code_tree(code)[1:]
    if fork_ok:
        run_forked(opts, channel, capture, sink, render_obj, codes, tests, ns)
    else:
        run_in_process(opts, channel, capture, sink, render_obj, codes, tests, ns)
    channel.message('{"t":"done"}')


def compile_test(test, channel, index, sink):
    try:
        return compile(test, TEST, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        channel.message('{"t":"begin","test":%d}' % index)
        channel.message('["x",0,%d,%s]' % (line, q(syntax_value(exc))))
        channel.message('{"t":"end","test":%d,"status":"failed","out":"","err":""}' % index)
        return None


def end_message(index, status, tracer_flags, out, err, extra=""):
    truncated, incomplete = tracer_flags
    return '{"t":"end","test":%d,"status":"%s","truncated":%s,"incomplete":%s,"out":%s,"err":%s%s}' % (
        index,
        status,
        "true" if truncated else "false",
        "true" if incomplete else "false",
        q(out),
        q(err),
        extra,
    )


STATUS = {R_PASSED: "passed", R_FAILED: "failed", R_TIMEOUT: "timeout"}


def run_in_process(opts, channel, capture, sink, render_obj, codes, tests, ns):
    """Runs the tests one after the other in this process (no fork: WASI). Best
    effort: the tests share the program's state, and a test that loops outside traced
    code can only be stopped by the sandbox's own time limit."""
    tracer = make_tracer(opts, sink, render_obj, False, codes)
    for index, test in enumerate(tests):
        code = compile_test(test, channel, index, sink)
        if code is None:
            continue
        channel.message('{"t":"begin","test":%d}' % index)
        run_here(tracer, channel, capture, sink, render_obj, index, code, ns)


def run_here(tracer, channel, capture, sink, render_obj, index, code, ns):
    """Traces test `index` in this process and reports its end."""
    tracer.count = tracer.check_at = 0
    tracer.next_fid = 0
    tracer.truncated = tracer.timed_out = tracer.incomplete = tracer.watching = False
    tracer.frames.clear()
    del tracer.stack[:]
    del tracer.recorded[:]
    tracer.recorded_ids.clear()
    sink.reset()
    result = run_test(tracer, code, ns, render_obj.render, sink)
    sink.flush()
    out, err = capture.take()
    channel.message(end_message(index, STATUS[result], (tracer.truncated, tracer.incomplete), out, err))


def run_forked(opts, channel, capture, sink, render_obj, codes, tests, ns):
    """Runs each test in a child forked from this process, after the module level ran.
    The child records into the shared map; this process enforces the time limit (the
    child stops itself at it while traced code runs; one stuck elsewhere is killed),
    collects the child's output through pipes and forwards everything in order."""
    import select

    try:
        from _signal import SIGKILL
    except ImportError:
        from signal import SIGKILL
    from _struct import unpack_from

    tracer = make_tracer(opts, sink, render_obj, True, codes)
    time_limit = tracer.time_limit
    tracer.prepare_children()
    grace = min(0.5, 0.1 + time_limit * 0.1)
    mm = sink.mm
    last = len(tests) - 1
    for index, test in enumerate(tests):
        code = compile_test(test, channel, index, sink)
        if code is None:
            continue
        channel.message('{"t":"begin","test":%d}' % index)
        if index == last:
            # No test comes after the last one for a fork to keep it from: it runs
            # here, which saves a fork. The time limit is then checked in the
            # callbacks (the sandbox's own limit stops a loop in C code), and a crash
            # or kill loses only the lines not yet written out.
            sink.mm = None
            tracer.in_child = False
            run_here(tracer, channel, capture, sink, render_obj, index, code, ns)
            break
        sink.reset()
        _flush_std()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(out_r)
                os.close(err_r)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.close(out_w)
                os.close(err_w)
                try:
                    os.setpgid(0, 0)
                except Exception:
                    pass

                def child_exit(result):
                    sink.commit()
                    mm[12] = result
                    mm[13] = 1 if tracer.truncated else 0
                    mm[14] = 1 if tracer.incomplete else 0
                    _flush_std()
                    os._exit(0)

                tracer.child_exit = child_exit
                result = run_test(tracer, code, ns, render_obj.render, sink)
                child_exit(result)
            finally:
                os._exit(70)
        os.close(out_w)
        os.close(err_w)
        status, out, err = wait_child(pid, out_r, err_r, time_limit + grace, capture.limit, select, SIGKILL)
        size = unpack_from("<I", mm, 0)[0]
        if size:
            channel.write(mm[Sink.HEADER : Sink.HEADER + size])
        result = mm[12]
        flags = (mm[13] == 1, mm[14] == 1)
        if result != R_NONE:
            channel.message(end_message(index, STATUS[result], flags, out, err))
        elif status[0] == "killed":
            fid, line = unpack_from("<II", mm, 4)
            channel.message('["t",%d,%d]' % (fid, line))
            channel.message(end_message(index, "timeout", (True, flags[1]), out, err))
        else:
            kind, number = status
            channel.message(end_message(index, kind, flags, out, err, ',"code":%d' % number))


def wait_child(pid, out_r, err_r, limit, max_output, select, sigkill):
    """Waits for the child, reading its output as it comes (so that it never blocks on
    a full pipe) and killing it (its process group) at the time limit. Returns
    (status, out, err) where status is ("exited", code), ("signaled", signal) or
    ("killed", 0).

    The child's end is seen through a pidfd where there is one (Linux 5.3+, Python
    3.9+); otherwise through the end of its output pipes, then by polling."""
    import time

    clock = time.monotonic
    deadline = clock() + limit
    bufs = {out_r: [], err_r: []}
    sizes = {out_r: 0, err_r: 0}
    open_fds = [out_r, err_r]
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    wait_status = None
    killed = False
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            _kill(pid, sigkill)
            killed = True
            wait_status = os.waitpid(pid, 0)[1]
            break
        watch = list(open_fds)
        if pidfd is not None:
            watch.append(pidfd)
        elif not open_fds:
            remaining = min(remaining, 0.002)
        if watch:
            try:
                ready = select.select(watch, [], [], remaining)[0]
            except InterruptedError:
                ready = []
        else:
            time.sleep(remaining)
            ready = []
        for fd in ready:
            if fd == pidfd:
                continue
            data = os.read(fd, 1 << 16)
            if not data:
                open_fds.remove(fd)
            elif sizes[fd] <= max_output:
                bufs[fd].append(data)
                sizes[fd] += len(data)
        if (pidfd is not None and pidfd in ready) or (pidfd is None and not open_fds):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                wait_status = status
                break
    # Drain what is left in the pipes without blocking (grandchildren may hold them).
    for fd in (out_r, err_r):
        try:
            while fd in open_fds and select.select([fd], [], [], 0)[0]:
                data = os.read(fd, 1 << 16)
                if not data:
                    break
                if sizes[fd] <= max_output:
                    bufs[fd].append(data)
                    sizes[fd] += len(data)
        except OSError:
            pass
        os.close(fd)
    if pidfd is not None:
        os.close(pidfd)
    out = decode_output(b"".join(bufs[out_r]), max_output)
    err = decode_output(b"".join(bufs[err_r]), max_output)
    if killed:
        return ("killed", 0), out, err
    if os.WIFSIGNALED(wait_status):
        return ("signaled", os.WTERMSIG(wait_status)), out, err
    return ("exited", os.WEXITSTATUS(wait_status)), out, err


def _kill(pid, sigkill):
    try:
        os.killpg(pid, sigkill)
    except Exception:
        try:
            os.kill(pid, sigkill)
        except Exception:
            pass
