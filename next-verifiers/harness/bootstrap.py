# Starts the candidate harness (candidate.py) in a job that carries it (where the
# sandbox preloaded it, a job's source only calls its `main`:
# next_core::sandbox::Preload::entry). Its stdin begins with four frames, each
# a 4-byte big-endian length and its bytes (next_core::sandbox::Preload::stdin_head
# writes them; the tracer's bootstrap reads the same): the name under which the sandbox
# may have preloaded the harness, the tag of the interpreter build that compiled it
# (empty when none has), the harness compiled by the trusted planner job (marshal,
# empty likewise), and the harness's source. A harness the sandbox holds after all is
# used as it is; otherwise the compiled form where this interpreter made it (it saves
# compiling the harness in every job), else the source; with neither (a malformed
# head), the job says so (next_core::sandbox::HARNESS_MISSING) and ends.
# The rest of stdin is the request.
import sys as _s, marshal as _m

_b = _s.stdin.buffer


def _take():
    return _b.read(int.from_bytes(_b.read(4), "big"))


_name, _tag, _code, _src = _take(), _take(), _take(), _take()
_p = _s.modules.get(_name.decode())
if _p is not None:
    del _s, _m, _b, _take, _name, _tag, _code, _src
    _p.main()
else:
    if _code and _tag == ("%s %s" % (_s.implementation.cache_tag, _s.version)).encode():
        _c = _m.loads(_code)
    elif _src:
        _c = compile(_src, "<harness>", "exec")
    else:
        _s.stdout.write("NEXT-HARNESS-MISSING\n")
        _s.exit(3)
    del _s, _m, _b, _take, _name, _tag, _code, _src, _p
    exec(_c, {"__name__": "__main__", "__builtins__": __builtins__})
