# NExT tracing harness, part 7 of 9: the program's recursion limit (Room), kept what it
# is untraced while the tracing callbacks get frames of their own.
# ---------------------------------------------------------------------- recursion

_real_getlimit = sys.getrecursionlimit
_real_setlimit = sys.setrecursionlimit
_INT_MAX = (1 << 31) - 1


def _lowest_refused(limit):
    """The least recursion depth at which CPython refuses to set `limit`: the limit
    itself, or on 3.8 its "low-water mark"."""
    if _version != (3, 8):
        return limit
    return limit - 50 if limit > 200 else 3 * (limit >> 2)


def _limit_refused_at(depth):
    """The least limit that CPython refuses to set at `depth` (or deeper)."""
    if _version != (3, 8):
        return depth
    if depth > 150:
        return depth + 50
    limit = max(depth * 4 // 3 - 3, 1)
    while _lowest_refused(limit) < depth:
        limit += 1
    return limit


def _depth_now():
    """CPython's own recursion counter where this is called from (the frame calling
    `_depth_now` included, this one not); read from the message of the limit's refusal,
    the one place CPython tells it. None if it cannot be read."""
    try:
        _real_setlimit(1)
    except RecursionError as e:
        try:
            m = e.args[0]
            i = m.rindex("depth ") + 6
            return int(m[i : m.index(":", i)]) - 1
        except Exception:
            return None
    except Exception:
        return None
    return None  # not reached: a limit of 1 is below any depth


def harness_depth():
    """CPython's recursion counter at the caller, which is about to run the program's
    code (`exec`): the depth that code starts deeper than a plain script's module."""
    depth = _depth_now()
    if depth is None:
        return stack_depth()
    return depth - 1


class Room:
    """The program's recursion limit as it sees it (`visible`) and the interpreter's.

    Untraced, a plain script's module frame is at recursion depth 1; here the program's
    code runs below the harness's frames (`offset` of them), and its traced frames
    call the tracing callbacks, which need frames of their own. So while a test is
    traced the interpreter's limit is `visible + offset + HEADROOM`, and the start
    callbacks refuse a program frame deeper than `visible + offset` with the
    RecursionError CPython would have raised there (`edge`, below). The program reads
    and sets `visible` through `sys.getrecursionlimit`/`sys.setrecursionlimit`, which
    `install` replaces.

    What remains different: recursion that starts no traced frame (C code such as a
    nested `repr` on CPython up to 3.11, or library code) may go up to HEADROOM deeper
    than untraced; on 3.12, whose C recursion has a fixed limit that the callbacks' C
    calls use up too, recursion through C calls (a class's, `map`'s) ends up to two
    calls sooner; and the traceback of a refused call has one more entry, the refused
    frame's."""

    # (3.8 refuses to set a limit within 50 of the depth: more room for the same.)
    HEADROOM = 100 if _version == (3, 8) else 50
    CALLBACK = 1 if _version >= (3, 12) else 2

    def __init__(self):
        self.visible = self.initial = _real_getlimit()
        self.offset = 0
        self.room = 0
        # Shared with the engines' start callbacks: [edge, real]. A callback calls
        # `setrecursionlimit(edge)`, which fails exactly when the frame starting is
        # deeper than the program's limit, then `setrecursionlimit(real)` again.
        self.limits = [_INT_MAX, _INT_MAX]

    def enter(self, offset, room):
        """The program's code is about to run `offset` frames down, with `room` frames
        of headroom for the callbacks (0 where nothing is traced)."""
        self.offset = offset
        self.room = room
        self._apply()

    def leave(self):
        """The program's code stopped running: the harness's own limit, never below the
        interpreter's default (the program may have set a tiny one)."""
        self.offset = 0
        self.room = 0
        self.limits[0] = self.limits[1] = _INT_MAX
        try:
            _real_setlimit(max(self.visible, self.initial))
        except Exception:
            pass

    def exact(self):
        """Tracing stopped before the test ended: the limit exact again, where it can
        be set (not from deeper than it)."""
        self.room = 0
        self._apply()

    def _apply(self):
        """Sets the interpreter's limit for the program running now; where CPython
        refuses it (the harness is already deeper), nothing changes."""
        limit = min(self.visible + self.offset, _INT_MAX)
        real = min(limit + self.room, _INT_MAX)
        try:
            _real_setlimit(real)
        except Exception:
            return
        # A start callback runs one frame below the frame starting (up to 3.11 its call
        # from C counts once more); that frame is too deep when the callback's depth
        # passes limit + CALLBACK.
        self.limits[0] = _limit_refused_at(limit + self.CALLBACK + 1)
        self.limits[1] = real

    def install(self):
        """Puts the program's view of the limit in `sys`."""
        room = self

        def getrecursionlimit():
            return room.visible

        def setrecursionlimit(limit):
            # CPython's own checks and messages for the argument first: this call fails
            # them, or sets a limit that is set right below before any other frame runs.
            try:
                _real_setlimit(limit)
            except RecursionError:
                pass  # below the real depth: decided on the program's depth below
            n = limit.__index__()
            depth = _depth_now()
            if depth is not None:
                depth -= room.offset + 1  # the program's depth, its caller's frame
                if depth >= _lowest_refused(n):
                    room._apply()
                    raise RecursionError(
                        "cannot set the recursion limit to %d at the recursion depth %d: the limit is too low" % (n, depth)
                    )
            room.visible = n
            room._apply()

        for fn, real in ((getrecursionlimit, _real_getlimit), (setrecursionlimit, _real_setlimit)):
            fn.__doc__ = real.__doc__
            fn.__qualname__ = real.__name__
            fn.__module__ = "sys"
        sys.getrecursionlimit = getrecursionlimit
        sys.setrecursionlimit = setrecursionlimit


ROOM = Room()
