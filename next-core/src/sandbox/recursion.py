# NExT harness part, shared (next_core::sandbox::HARNESS_RECURSION): a program's
# recursion limit and depth kept what they are in a plain script while a harness runs
# the program's code below frames of its own. The tracing harness and the test harness
# both join this part to their source, so that a trace and a verdict see the program
# recurse exactly as deep as `python program.py` would. It only defines (a sandbox may
# preload a harness ahead of its jobs); `RecursionLimit.install` makes the settings.
# It uses only what it captures here: the program may replace the builtins. Where it
# is loaded in a job whose `sys` holds another RecursionLimit's functions (the warm
# process sandbox gives every job a plain script's limit this way), it takes CPython's
# own from them (`__wrapped__`): it counts from the bottom of the stack all the same,
# and its callers' calls stay builtin calls.
# ---------------------------------------------------------------------- recursion limit

import sys as _rl_sys

_real_getlimit = getattr(_rl_sys.getrecursionlimit, "__wrapped__", _rl_sys.getrecursionlimit)
_real_setlimit = getattr(_rl_sys.setrecursionlimit, "__wrapped__", _rl_sys.setrecursionlimit)
_rl_getframe = _rl_sys._getframe
_rl_min, _rl_max, _rl_int = min, max, int
_rl_RecursionError, _rl_Exception = RecursionError, Exception
_rl_py38 = _rl_sys.version_info[:2] == (3, 8)
_INT_MAX = (1 << 31) - 1


def _lowest_refused(limit):
    """The least recursion depth at which CPython refuses to set `limit`: the limit
    itself, or on 3.8 its "low-water mark"."""
    if not _rl_py38:
        return limit
    return limit - 50 if limit > 200 else 3 * (limit >> 2)


def _depth_now():
    """CPython's own recursion counter where this is called from (the frame calling
    `_depth_now` included, this one not); read from the message of the limit's refusal,
    the one place CPython tells it (it counts C-to-Python transitions differently per
    version, so no frame count gives it). None if it cannot be read."""
    try:
        _real_setlimit(1)
    except _rl_RecursionError as e:
        try:
            m = e.args[0]
            i = m.rindex("depth ") + 6
            return _rl_int(m[i : m.index(":", i)]) - 1
        except _rl_Exception:
            return None
    except _rl_Exception:
        return None
    return None  # not reached: a limit of 1 is below any depth


def harness_depth():
    """CPython's recursion counter at the caller, which is about to run the program's
    code (`exec` or `eval`): the depth that code starts deeper than a plain script's
    module. (Where the counter cannot be read, the caller's frames are counted.)"""
    depth = _depth_now()
    if depth is None:
        depth, frame = 0, _rl_getframe(1)
        while frame is not None:
            depth += 1
            frame = frame.f_back
        return depth
    return depth - 1


class RecursionLimit:
    """The program's recursion limit as it sees it (`visible`), and the interpreter's.

    Untraced, a plain script's module frame is at recursion depth 1; a harness runs the
    program's code `offset` frames deeper, so while that code runs the interpreter's
    limit is `visible + offset` (plus `room` frames a harness may need below the
    program's limit for code of its own that the program's frames call: the tracer's
    callbacks). The program reads and sets `visible` through `sys.getrecursionlimit` and
    `sys.setrecursionlimit`, which `install` replaces; a limit the program's depth does
    not allow is refused with CPython's own error and message. Between runs of the
    program's code the harness has its own limit, never below the interpreter's
    default, whatever the program set."""

    def __init__(self):
        self.visible = self.initial = _real_getlimit()
        self.offset = 0
        self.room = 0

    def enter(self, offset, room=0):
        """The program's code is about to run `offset` frames down (`harness_depth()`,
        called by the frame that runs it), with `room` frames of headroom."""
        self.offset = offset
        self.room = room
        self._apply()

    def leave(self):
        """The program's code stopped running: the harness's own limit."""
        self.offset = 0
        self.room = 0
        try:
            _real_setlimit(_rl_max(self.visible, self.initial))
        except _rl_Exception:
            pass

    def _apply(self):
        """Sets the interpreter's limit for the program's code running now and returns
        the program's limit as the interpreter counts it; where CPython refuses it (the
        harness is already deeper), nothing changes and this returns None."""
        limit = _rl_min(self.visible + self.offset, _INT_MAX)
        try:
            _real_setlimit(_rl_min(limit + self.room, _INT_MAX))
        except _rl_Exception:
            return None
        return limit

    def install(self):
        """Takes the limit `sys` shows now as the program's, and puts the program's view
        of it in `sys`."""
        self.visible = self.initial = _rl_sys.getrecursionlimit()
        limits = self

        def getrecursionlimit():
            return limits.visible

        def setrecursionlimit(limit):
            # CPython's own checks and messages for the argument first: this call fails
            # them, or sets a limit that is set right below before any other frame runs.
            try:
                _real_setlimit(limit)
            except _rl_RecursionError:
                pass  # below the real depth: decided on the program's depth below
            n = limit.__index__()
            depth = _depth_now()
            if depth is not None:
                depth -= limits.offset + 1  # the program's depth, its caller's frame
                if depth >= _lowest_refused(n):
                    limits._apply()
                    raise _rl_RecursionError(
                        "cannot set the recursion limit to %d at the recursion depth %d: the limit is too low" % (n, depth)
                    )
            limits.visible = n
            limits._apply()

        for fn, real in ((getrecursionlimit, _real_getlimit), (setrecursionlimit, _real_setlimit)):
            fn.__doc__ = real.__doc__
            fn.__qualname__ = real.__name__
            fn.__module__ = "sys"
            fn.__wrapped__ = real
        _rl_sys.getrecursionlimit = getrecursionlimit
        _rl_sys.setrecursionlimit = setrecursionlimit
