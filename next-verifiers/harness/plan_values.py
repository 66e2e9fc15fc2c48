# Plain values as the NExT test verifier's planner handles them: which values are plain
# data, their wire form (the same as the candidate harness writes) and their Python
# source. Joined ahead of planner.py when embedded (see next-verifiers/src/verify/mod.rs).
import collections
import math

DICTS = (dict, collections.Counter, collections.OrderedDict, collections.defaultdict)


class Delegate(Exception):
    """This test cannot be split; it runs whole in the candidate's process."""


class Opaque:
    """A value computed here that is not plain data (a type, a function, a module)."""

    def __init__(self, value):
        self.value = value


def is_plain(v, depth=0):
    if depth > 200:
        return False
    t = type(v)
    if v is None or t in (bool, int, float, complex, str, bytes):
        return True
    if t in (list, tuple, set, frozenset):
        return all(is_plain(x, depth + 1) for x in v)
    if t in DICTS:
        return all(is_plain(k, depth + 1) and is_plain(x, depth + 1) for k, x in v.items())
    return False


def enc(v):
    """The wire form of a plain value (the same as the candidate harness writes)."""
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -(1 << 63) <= v < (1 << 63) else {"int": str(v)}
    if t is float:
        if math.isnan(v):
            return {"float": "nan"}
        if math.isinf(v):
            return {"float": "inf" if v > 0 else "-inf"}
        return v
    if t is complex:
        return {"complex": [enc(v.real), enc(v.imag)]}
    if t is bytes:
        return {"bytes": v.hex()}
    if t is list:
        return [enc(x) for x in v]
    if t is tuple:
        return {"tuple": [enc(x) for x in v]}
    if t is set:
        return {"set": [enc(x) for x in v]}
    if t is frozenset:
        return {"frozenset": [enc(x) for x in v]}
    if t in DICTS:
        return {"dict": [[enc(k), enc(x)] for k, x in v.items()]}
    raise TypeError("not plain data: " + t.__name__)


def lit(v):
    """Python source that evaluates to the plain value `v`."""
    t = type(v)
    if t is float:
        if math.isnan(v):
            return "float('nan')"
        if math.isinf(v):
            return "float('inf')" if v > 0 else "float('-inf')"
        return repr(v)
    if v is None or t in (bool, int, str, bytes):
        return repr(v)
    if t is complex:
        return "complex(" + lit(v.real) + ", " + lit(v.imag) + ")"
    if t is list:
        return "[" + ", ".join(lit(x) for x in v) + "]"
    if t is tuple:
        if len(v) == 1:
            return "(" + lit(v[0]) + ",)"
        return "(" + ", ".join(lit(x) for x in v) + ")"
    if t is set:
        return "{" + ", ".join(lit(x) for x in v) + "}" if v else "set()"
    if t is frozenset:
        return "frozenset(" + (lit(set(v)) if v else "") + ")"
    if t in DICTS:
        return "{" + ", ".join(lit(k) + ": " + lit(x) for k, x in v.items()) + "}"
    raise Delegate("a value the candidate needs is not plain data")
