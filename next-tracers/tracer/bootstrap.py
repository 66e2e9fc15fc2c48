# NExT tracing harness, bootstrap: the source of every tracing job, kept this short
# because the sandbox compiles it in every job. Stdin: the tag of the interpreter build
# that compiled the harness (or an empty line), the harness compiled (marshal) and its
# source, each after a line with its length; then the payload that `boot` reads.
import sys as _s, marshal as _m
_b = _s.stdin.buffer
_t = _b.readline()[:-1]
_c = _b.read(int(_b.readline()))
_g = {"__name__": "next_trace", "__builtins__": __builtins__}
_h = "%s %s" % (_s.implementation.cache_tag, " ".join(_s.version.split()))
_r = _b.read(int(_b.readline()))
if _c and _t == _h.encode():
    exec(_m.loads(_c), _g)
    _g["boot"](_b, None)
else:
    _c = compile(_r, "<next-trace>", "exec", dont_inherit=True, optimize=2)
    exec(_c, _g)
    _g["boot"](_b, (_h, _c))
