# NExT tracing harness, part 1 of 9 (the parts are joined in order into one program,
# see HARNESS in next-tracers/src/python/mod.rs): the harness's description, its
# imports and constants, and JSON string quoting.
"""NExT tracing harness: runs a program on its tests and streams what it did.

Its parts (this file, then render.py, values.py, sink.py, tracer.py, engines.py,
next-core's sandbox/recursion.py shared with the test harness, recursion.py, runner.py
and supervise.py) are joined in that order into one program embedded in the
`next-tracers` crate (`HARNESS`) and sent to the sandbox on the stdin of every tracing job;
`bootstrap.py`, the job's source, compiles it (or loads it already compiled) and calls
`boot`, which reads the payload and calls `main`; where the sandbox preloaded it, the
job's source only calls `enter`, which reads the payload from stdin the same way. It runs on CPython 3.8 to 3.13,
including the WASI build of CPython 3.12 (no fork, no signals, no threads, no
subprocess: everything is feature-detected).

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
  3. per test: compile it as "<test>" (all of them once the program is compiled, in
     this process: see `compile_tests`), start tracing, exec it in the program's
     namespace, stop tracing, report how it ended. Where `os.fork` exists, steps 2 and
     3 run in a child forked by this process, which runs no program code and
     supervises the child (supervise.py: hand-over of each test through a shared
     memory map, output through pipes, a kill at the time limit, a fresh child for the
     tests after one that ended its process); with `isolate` the module level runs
     here and each test in a child of its own. Without fork every test runs here: the
     time limit is checked in the callbacks only, and a test that ends the process
     loses the lines not yet written out (at most `Sink.flush_every`). Where there is a
     timer, SIGALRM interrupts a test at its limit, as the verifier does.

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
tracer is removed anyway (the program calls `sys.settrace(None)`, or a settrace tracer
raises the program's RecursionError, see recursion.py), or a callback failed, the test
is reported incomplete.
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


