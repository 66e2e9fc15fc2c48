# NExT tracing harness, part 3 of 9: the helpers and tables of value printing
# (snapshots, type names, address stripping, container brackets) and the opcodes that
# tell a settrace 'return' event apart.
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
    """Removes the memory address of a default repr: `<Foo object at 0x7f3a...>`
    becomes `<Foo object>`; only ` at 0x` and hex digits that end a `<...>` go. Applied
    to the repr of one object that is not a string (strings are never touched)."""
    out = []
    i = 0
    n = len(s)
    while True:
        j = s.find(" at 0x", i)
        if j < 0:
            out.append(s[i:])
            return "".join(out)
        k = j + 6
        while k < n and s[k] in _HEX:
            k += 1
        if k > j + 6 and k < n and s[k] == ">":
            out.append(s[i:j])
        else:
            out.append(s[i:k])
        i = k


# Control characters that a `__repr__` may return raw, written as `\xNN` (trace-format).
_CONTROL = {c: "\\x%02x" % c for c in list(range(32)) + list(range(127, 160))}


def escape_controls(s):
    """`s` with its control characters written as `\\xNN`."""
    if s.isprintable():
        return s
    return s.translate(_CONTROL)


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


