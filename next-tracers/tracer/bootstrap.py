# NExT tracing harness, bootstrap: the source of every tracing job that carries the
# harness (where the sandbox preloaded it, a job's source only calls it:
# next_core::sandbox::Preload::entry), kept this short because the sandbox compiles
# it in every job. Stdin begins with four frames, each a
# 4-byte big-endian length and its bytes (next_core::sandbox::Preload::stdin_head
# writes them; the verifier's bootstrap reads the same): the name under which the
# sandbox may have preloaded the harness, the tag of the interpreter build that
# compiled it (empty when none has), the harness compiled (marshal, empty likewise) and
# its source; then the payload that `boot` reads. A harness the sandbox holds after all
# is used as it is; otherwise the compiled one where this interpreter made it, else the
# source; with neither (a malformed head), the job says so
# (next_core::sandbox::HARNESS_MISSING) and ends.
import sys as _s, marshal as _m
_b = _s.stdin.buffer
_f = lambda: _b.read(int.from_bytes(_b.read(4), "big"))
_p = _s.modules.get(_f().decode())
_t, _c, _r = _f(), _f(), _f()
_h = "%s %s" % (_s.implementation.cache_tag, _s.version)
_g = {"__name__": "next_trace", "__builtins__": __builtins__}
if _p is not None:
    _p.boot(_b, None)
elif _c and _t == _h.encode():
    exec(_m.loads(_c), _g)
    _g["boot"](_b, None)
elif _r:
    _c = compile(_r, "<next-trace>", "exec", dont_inherit=True, optimize=2)
    exec(_c, _g)
    _g["boot"](_b, (_h, _c))
else:
    _s.stdout.write("NEXT-HARNESS-MISSING\n")
    _s.exit(3)
