# Starts the candidate harness (candidate.py). Its stdin begins with four
# length-prefixed fields: the name under which the sandbox may have preloaded the
# harness, a tag naming the interpreter that compiled it, the harness compiled by the
# trusted planner job (marshal), and the harness's source (both empty when the sandbox
# said it preloaded the harness). A preloaded harness is used as it is; otherwise the
# compiled form where this interpreter made it (it saves compiling the harness in every
# job), else the source; with neither, the job says so
# (next_core::sandbox::HARNESS_MISSING) and ends. The rest of stdin is the request.
import sys as _s, marshal as _m

_b = _s.stdin.buffer


def _take():
    return _b.read(int.from_bytes(_b.read(4), "little"))


_name, _tag, _code, _src = _take(), _take(), _take(), _take()
_p = _s.modules.get(_name.decode())
if _p is not None:
    del _s, _m, _b, _take, _name, _tag, _code, _src
    _p.main()
elif _code or _src:
    if _code and _tag == ("%s %s" % (_s.implementation.cache_tag, _s.version)).encode():
        _c = _m.loads(_code)
    else:
        _c = compile(_src, "<harness>", "exec")
    del _s, _m, _b, _take, _name, _tag, _code, _src, _p
    exec(_c, {"__name__": "__main__", "__builtins__": __builtins__})
else:
    _s.stdout.write("NEXT-HARNESS-MISSING\n")
    _s.exit(3)
