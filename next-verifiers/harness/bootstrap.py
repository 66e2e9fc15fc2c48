# Starts the candidate harness (candidate.py). Its stdin begins with three
# length-prefixed fields: a tag naming the interpreter that compiled the harness, the
# harness compiled by the trusted planner job (marshal), and the harness's source. The
# compiled form is used when this interpreter is the one that made it (it saves compiling
# the harness in every job); otherwise the source is compiled here. The rest of stdin is
# the harness's request.
import sys as _s, marshal as _m

_b = _s.stdin.buffer


def _take():
    return _b.read(int.from_bytes(_b.read(4), "little"))


_tag, _code, _src = _take(), _take(), _take()
if _code and _tag == ("%s %s" % (_s.implementation.cache_tag, _s.version)).encode():
    _c = _m.loads(_code)
else:
    _c = compile(_src, "<harness>", "exec")
del _s, _m, _b, _take, _tag, _code, _src
exec(_c, {"__name__": "__main__", "__builtins__": __builtins__})
