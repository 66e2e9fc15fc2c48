"""NExT tracing harness, bootstrap: the source of every tracing job.

It reads the payload on stdin, gets the tracer (`next_trace.py`, sent in the payload)
as a code object and runs it. Compiling the tracer costs about 10 ms, as much as
starting the interpreter, so the payload may also carry the tracer already compiled
(`marshal`), as an earlier job on the same interpreter build reported it; it is used
only when its tag names this very build, and the source is compiled otherwise.

Payload (bytes): a header of `key=value` lines after the line `NEXT-TRACE 1`, a blank
line, then records: `KIND LENGTH\\n` followed by LENGTH bytes and `\\n`. Kinds: `tracer`
(the tracer's source), `code` (its marshal, for the build named by the header's
`code_tag`), `program`, `test` (one per test, in order).
"""
import sys


def _boot():
    try:
        data = sys.stdin.buffer.read()
    except Exception:
        import os

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
    records = {"tracer": [], "code": [], "program": [], "test": []}
    i = end + 2
    n = len(data)
    while i < n:
        j = data.index(b"\n", i)
        kind, _, size = data[i:j].decode("ascii").partition(" ")
        size = int(size)
        records[kind].append(data[j + 1 : j + 1 + size])
        i = j + 1 + size + 1
    tag = "%s %s" % (sys.implementation.cache_tag, " ".join(sys.version.split()))
    code = None
    if records["code"] and opts.get("code_tag") == tag:
        try:
            import marshal

            code = marshal.loads(records["code"][0])
        except Exception:
            code = None
    blob = None
    if code is None:
        code = compile(records["tracer"][0].decode("utf-8"), "<next-trace>", "exec", dont_inherit=True, optimize=2)
        if opts.get("want_code") == "1" and sys.implementation.cache_tag:
            try:
                import marshal

                blob = (tag, marshal.dumps(code))
            except Exception:
                blob = None
    ns = {"__name__": "next_trace", "__builtins__": __builtins__}
    exec(code, ns)
    program = records["program"][0].decode("utf-8")
    tests = [t.decode("utf-8") for t in records["test"]]
    ns["main"](opts, program, tests, blob)


_boot()
