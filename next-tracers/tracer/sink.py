# NExT tracing harness, part 4 of 9: output, the event sink (Sink) writing nonce lines
# to the private stream or the shared memory map, and the result codes of a child.
# ------------------------------------------------------------------------- output


class Sink:
    """Where event lines go: straight to the event channel (in-process tests), or into
    a shared memory map that the parent copies out (forked tests), so that a child
    killed at the time limit loses nothing it recorded."""

    HEADER = 64

    def __init__(self, nonce, write, mm, byte_budget):
        self.nonce = nonce
        self.write = write
        self.mm = mm
        self.buf = []
        self.size = 0
        self.budget = byte_budget
        # Lines kept before they are written out (in process): a job killed meanwhile
        # loses at most these.
        self.flush_every = 64
        self.hdr = None  # the header as unsigned ints: size, frame, line (native order)
        # Where the run is now, [frame, line], for the parent to report if the child
        # ends there: the tracer's handlers store into it at every step (a view of the
        # header; in process, of a buffer nobody reads). The lines written need no
        # such update: the parent reads them up to the first zero byte, then to the
        # last whole line (a line is written in one copy, and its JSON holds no zero
        # byte).
        if mm is not None:
            self.hdr = memoryview(mm)[:12].cast("I")
            self.where = self.hdr[1:3]
        else:
            self.where = memoryview(bytearray(8)).cast("I")

    def reset(self):
        self.buf = []
        self.size = 0
        if self.mm is not None:
            self.mm[0 : self.HEADER] = bytes(self.HEADER)

    def emit(self, text):
        """Appends one line; False when the byte budget is used up. In the map, the
        line counts once committed (`commit`): handlers commit when done."""
        return self.emit_line(self.nonce + text + "\n")

    def emit_line(self, line):
        """`emit` of a line that already holds its nonce and newline (Line events)."""
        try:
            data = line.encode()
        except UnicodeError:  # a lone surrogate, from a `__repr__`
            data = line.encode("utf-8", "replace")
        size = self.size
        end = size + len(data)
        if end > self.budget:
            return False
        mm = self.mm
        if mm is not None:
            mm[64 + size : 64 + end] = data  # after the HEADER
            self.size = end
        else:
            if len(self.buf) >= self.flush_every:
                self.flush()  # first: if it fails, this line is not half-recorded
            self.buf.append(data)
            self.size += len(data)
        return True

    def emit_forced(self, text):
        """Appends and commits one line past the budget (the final markers of a test)."""
        saved = self.budget
        self.budget = self.size + (1 << 20)
        if self.mm is not None:
            self.budget = min(self.budget, len(self.mm) - self.HEADER)
        ok = self.emit(text)
        self.budget = saved
        self.commit()
        return ok

    def flush(self):
        """Writes out the kept lines. Lines are dropped only once written: a call cut
        short (a RecursionError near the program's recursion limit) loses none."""
        if self.buf:
            data = b"".join(self.buf)
            self.write(data)
            self.buf = []

    def commit(self):
        hdr = self.hdr
        if hdr is not None:
            hdr[0] = self.size


# Result codes in the shared header (byte 12): how the child's test ended.
R_NONE, R_PASSED, R_FAILED, R_TIMEOUT = 0, 1, 2, 3


class _Deadline(BaseException):
    """Raised into the program (in-process mode only) when its test ran out of time."""


