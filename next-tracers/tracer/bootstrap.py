# NExT tracing harness, bootstrap: the source of every tracing job, kept this short
# because the sandbox compiles it in every job. Stdin: the name under which the sandbox
# may have preloaded the harness, the tag of the interpreter build that compiled it (or
# an empty line), the harness compiled (marshal) and its source, each after a line with
# its length (both empty when the sandbox said it preloaded the harness); then the
# payload that `boot` reads. A preloaded harness is used as it is; otherwise the
# compiled one where this interpreter made it, else the source; with neither, the job
# says so (next_core::sandbox::HARNESS_MISSING) and ends.
import sys as _s, marshal as _m
_b = _s.stdin.buffer
_p = _s.modules.get(_b.readline()[:-1].decode())
_t = _b.readline()[:-1]
_c = _b.read(int(_b.readline()))
_r = _b.read(int(_b.readline()))
_h = "%s %s" % (_s.implementation.cache_tag, " ".join(_s.version.split()))
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
