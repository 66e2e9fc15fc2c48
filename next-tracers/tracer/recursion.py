# NExT tracing harness, part 7 of 9: the program's recursion limit while it is traced
# (Room). The limit as a plain script has it, `RecursionLimit` and `harness_depth`, is
# the part shared with the test harness (next_core::sandbox::HARNESS_RECURSION), joined
# in right before this one.
# ---------------------------------------------------------------------- recursion


def _limit_refused_at(depth):
    """The least limit that CPython refuses to set at `depth` (or deeper): the callbacks'
    edge (see Room._apply; `_lowest_refused` is the shared part's)."""
    if _version != (3, 8):
        return depth
    if depth > 150:
        return depth + 50
    limit = max(depth * 4 // 3 - 3, 1)
    while _lowest_refused(limit) < depth:
        limit += 1
    return limit


class Room(RecursionLimit):
    """The program's recursion limit as it sees it, kept while it is traced.

    The program's traced frames call the tracing callbacks, which need frames of their
    own. So while a test is traced the interpreter's limit is `visible + offset +
    HEADROOM`, and the start callbacks refuse a program frame deeper than `visible +
    offset` with the RecursionError CPython would have raised there (`limits`, below).

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
        RecursionLimit.__init__(self)
        # Shared with the engines' start callbacks: [edge, real]. A callback calls
        # `setrecursionlimit(edge)`, which fails exactly when the frame starting is
        # deeper than the program's limit, then `setrecursionlimit(real)` again.
        self.limits = [_INT_MAX, _INT_MAX]

    def leave(self):
        self.limits[0] = self.limits[1] = _INT_MAX
        RecursionLimit.leave(self)

    def exact(self):
        """Tracing stopped before the test ended: the limit exact again, where it can
        be set (not from deeper than it)."""
        self.room = 0
        self._apply()

    def _apply(self):
        limit = RecursionLimit._apply(self)
        if limit is not None:
            # A start callback runs one frame below the frame starting (up to 3.11 its
            # call from C counts once more); that frame is too deep when the callback's
            # depth passes limit + CALLBACK.
            self.limits[0] = _limit_refused_at(limit + self.CALLBACK + 1)
            self.limits[1] = min(limit + self.room, _INT_MAX)
        return limit


ROOM = Room()
