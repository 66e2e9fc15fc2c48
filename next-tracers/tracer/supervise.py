# NExT tracing harness, part 9 of 9: the supervisor. Where the interpreter can fork,
# the job's process runs no program code: it forks a child that runs the program (its
# module level, then the tests one after another, as the verifier runs them), and
# watches it: the child records each test into the shared memory map and hands it over
# (a byte on a pipe, answered by a byte back) before it starts the next one; its output
# comes through pipes, read as it comes and bounded. A child that overruns a test's
# time limit is killed there, one that ends (`os._exit`, a signal) is seen ending, and
# either way the test keeps every step recorded and gets its marker (`__timeout__`,
# `__exit__=...`) where the child was; the tests after it run in a fresh child (the
# module level run again, as the verifier runs them in a new job).
# ------------------------------------------------------------------------ supervise

_OWN_FORK = [False]  # set while the harness forks its own child
_FORKED_AWAY = [False]  # set in a process the program forked during a test
_AWAY_HOOKS = []  # what a process the program forked must switch off


def _after_fork_in_child():
    """A process forked by the program (not by the harness) records nothing: its
    parent's events must come through alone."""
    if _OWN_FORK[0]:
        return
    _FORKED_AWAY[0] = True
    for hook in _AWAY_HOOKS:
        try:
            hook()
        except BaseException:
            pass


def _install_fork_hook():
    try:
        os.register_at_fork(after_in_child=_after_fork_in_child)
    except Exception:
        pass


def leave_if_forked_away(code):
    """Ends a process the program forked, once its test is over, rather than letting it
    run the harness on (the next tests, a second report)."""
    if _FORKED_AWAY[0]:
        _flush_std()
        os._exit(code)


_SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}


def _signal_name(number):
    """The name of a signal (Linux numbers; `SIG` and the number for others)."""
    return _SIGNALS.get(number) or "SIG%d" % number


def load_module(code):
    """Runs the program's module level in a fresh `__main__`; (namespace, exception)."""
    module = type(sys)("__main__")
    ns = module.__dict__
    ns["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    failure = None
    ROOM.enter(harness_depth(), 0)  # untraced, as deep as in a plain script
    try:
        exec(code, ns)
    except BaseException as exc:
        failure = exc
    ROOM.leave()
    leave_if_forked_away(0)
    return ns, failure


def crash_message(failure, render):
    try:
        value = render(failure)
    except BaseException:
        value = "<%s repr failed>" % _type_name(type(failure))
    return '{"t":"crash","line":%d,"value":%s}' % (program_line(failure) or 1, q(value))


class _Child:
    """A child being watched: its pid, output pipes, hand-over pipes and pidfd."""

    def __init__(self, pid, out_r, err_r, note_r, ack_w):
        self.pid = pid
        self.out_r = out_r
        self.err_r = err_r
        self.note_r = note_r
        self.ack_w = ack_w
        self.bufs = {out_r: [], err_r: []}
        self.sizes = {out_r: 0, err_r: 0}
        self.open = [out_r, err_r, note_r]
        self.pidfd = None
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(pid)
            except OSError:
                self.pidfd = None
        self.status = None

    def read(self, fd, limit):
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.open.remove(fd)
        elif self.sizes[fd] <= limit:
            self.bufs[fd].append(data)
            self.sizes[fd] += len(data)

    def drain(self, select, limit):
        """Reads what the output pipes hold now, without blocking."""
        for fd in (self.out_r, self.err_r):
            try:
                while fd in self.open and select.select([fd], [], [], 0)[0]:
                    self.read(fd, limit)
            except (OSError, ValueError):
                pass

    def take(self, limit):
        """The output since the last call, decoded and bounded."""
        out = []
        for fd in (self.out_r, self.err_r):
            out.append(decode_output(b"".join(self.bufs[fd]), limit))
            self.bufs[fd] = []
            self.sizes[fd] = 0
        return out[0], out[1]

    def ack(self):
        try:
            os.write(self.ack_w, b"a")
        except OSError:
            pass

    def reap(self, block):
        """The child's wait status once it ended (None while it runs)."""
        if self.status is None:
            try:
                done, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                done, status = self.pid, 0
            if done:
                self.status = status
        return self.status

    def close(self, select, limit):
        self.drain(select, limit)
        for fd in (self.out_r, self.err_r, self.note_r, self.ack_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def next(self, deadline, clock, select, limit):
        """Waits for what the child does next: ("note", byte), ("dead", status) or
        ("late", None) once `deadline` passed."""
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                return "late", None
            watch = list(self.open)
            if self.pidfd is not None:
                watch.append(self.pidfd)
            else:
                remaining = min(remaining, 0.02)
            try:
                ready = select.select(watch, [], [], remaining)[0]
            except InterruptedError:
                ready = []
            for fd in ready:
                if fd == self.out_r or fd == self.err_r:
                    self.read(fd, limit)
            if self.note_r in ready:
                try:
                    note = os.read(self.note_r, 1)
                except OSError:
                    note = b""
                if note:
                    self.drain(select, limit)
                    return "note", note
                self.open.remove(self.note_r)
            if self.pidfd is None or self.pidfd in ready:
                status = self.reap(False)
                if status is not None:
                    self.drain(select, limit)
                    return "dead", status


def _hand_over(note_w, ack_r, note, wait):
    """In the child: says a record is ready and (`wait`) waits until the parent took
    it; the parent answers only records after which the child goes on writing into
    the map, so that the last one of a child costs no round trip."""
    _flush_std()
    try:
        os.write(note_w, note)
        if not wait or os.read(ack_r, 1):
            return
    except OSError:
        pass
    os._exit(0)  # the parent is gone, or the program closed the pipes


def _child_run(ctx, note_w, ack_r, first, stop, module_ns):
    """The child: the module level (unless inherited), then tests first..stop-1."""
    tracer, sink, render_obj, code, tests = ctx["tracer"], ctx["sink"], ctx["render"], ctx["code"], ctx["tests"]
    ns = module_ns
    if ns is None:
        sink.reset()
        ns, failure = load_module(code)
        if failure is not None:
            sink.emit_forced(crash_message(failure, render_obj.render))
            _hand_over(note_w, ack_r, b"c", False)
            os._exit(0)
        _hand_over(note_w, ack_r, b"m", False)
    mm = sink.mm
    for index in range(first, stop):
        reset_tracer(tracer, sink)
        mm[4:13] = bytes(9)
        test = tests[index]
        if type(test) is tuple:  # it did not compile (see compile_tests)
            sink.emit_forced('["x",0,%d,%s]' % (test[0], q(test[1])))
            result = R_FAILED
        else:
            result = run_test(tracer, test, ns, render_obj.render, sink)
            leave_if_forked_away(0 if result == R_PASSED else 1)
        sink.commit()
        mm[12] = result
        mm[13] = 1 if tracer.truncated else 0
        mm[14] = 1 if tracer.incomplete else 0
        _hand_over(note_w, ack_r, b"t", index + 1 < stop)
    os._exit(0)


def _spawn(ctx, first, stop, module_ns):
    """Forks a child running tests first..stop-1; returns its _Child."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    note_r, note_w = os.pipe()
    ack_r, ack_w = os.pipe()
    _flush_std()
    _OWN_FORK[0] = True
    try:
        pid = os.fork()
    finally:
        _OWN_FORK[0] = False
    if pid == 0:
        try:
            for fd in (out_r, err_r, note_r, ack_w):
                os.close(fd)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            try:
                os.setpgid(0, 0)
            except Exception:
                pass
            _child_run(ctx, note_w, ack_r, first, stop, module_ns)
        finally:
            os._exit(70)
    for fd in (out_w, err_w, note_w, ack_r):
        os.close(fd)
    return _Child(pid, out_r, err_r, note_r, ack_w)


def supervise(opts, channel, ctx, module_ns):
    """Runs the tests in children and reports them in order (see the part's header).
    `module_ns` is the namespace of a module level already run here (each test then runs
    in a child of its own), or None (the children run it, and the tests one after
    another)."""
    import select
    import time

    try:
        from _signal import SIGKILL
    except ImportError:
        from signal import SIGKILL
    from _struct import unpack_from

    clock = time.monotonic
    sink = ctx["sink"]
    mm = sink.mm
    tracer = ctx["tracer"]
    tests = ctx["tests"]
    limit = ctx["max_output"]
    time_limit = tracer.time_limit
    grace = min(0.5, 0.1 + time_limit * 0.1)
    setup_limit = float(opts.get("setup_time_limit", "5.0"))
    isolate = module_ns is not None
    reported_module = isolate
    index = 0
    n = len(tests)
    while index < n:
        stop = index + 1 if isolate else n
        mm[0 : Sink.HEADER] = bytes(Sink.HEADER)
        child = _spawn(ctx, index, stop, module_ns)
        in_module = not isolate
        deadline = clock() + (setup_limit if in_module else time_limit + grace)
        try:
            while True:
                what, value = child.next(deadline, clock, select, limit)
                if what == "note" and value == b"m":
                    out, err = child.take(limit)
                    if not reported_module:
                        channel.message('{"t":"module","out":%s,"err":%s}' % (q(out), q(err)))
                        reported_module = True
                    in_module = False
                    deadline = clock() + time_limit + grace
                    continue
                if what == "note" and value == b"c":
                    out, err = child.take(limit)
                    if not reported_module:
                        channel.message('{"t":"module","out":%s,"err":%s}' % (q(out), q(err)))
                        _copy_out(channel, mm, unpack_from)
                        return
                    # The module level ran once and raised the second time: the tests
                    # left end with that exception.
                    for rest in range(index, n):
                        channel.message('{"t":"begin","test":%d}' % rest)
                        channel.message('["x",0,1,%s]' % q("RuntimeError('the module level raised when run again')"))
                        channel.message(end_message(rest, "failed", (False, True), "", ""))
                    return
                if what == "note":  # b"t": test `index` is recorded
                    out, err = child.take(limit)
                    _report(channel, mm, unpack_from, index, out, err)
                    index += 1
                    if index >= stop:
                        break  # the child ends by itself: no need to wait for it
                    mm[0 : Sink.HEADER] = bytes(Sink.HEADER)
                    child.ack()
                    deadline = clock() + time_limit + grace
                    continue
                if what == "late":
                    _kill(child.pid, SIGKILL)
                    child.reap(True)
                    child.drain(select, limit)
                out, err = child.take(limit)
                if in_module:
                    if not reported_module:
                        channel.message('{"t":"module","out":%s,"err":%s}' % (q(out), q(err)))
                    end = "timeout" if what == "late" else _status_text(child.status)
                    channel.message('{"t":"stalled","end":%s}' % q(end))
                    return
                if mm[12] != R_NONE:  # recorded, then the pipes were lost: reported
                    _report(channel, mm, unpack_from, index, out, err)
                    index += 1
                    break
                channel.message('{"t":"begin","test":%d}' % index)
                _copy_out(channel, mm, unpack_from)
                fid, line = unpack_from("=II", mm, 4)
                flags = (mm[13] == 1, mm[14] == 1)
                if what == "late":
                    channel.message('["t",%d,%d]' % (fid, line))
                    channel.message(end_message(index, "timeout", (True, flags[1]), out, err))
                else:
                    status = child.status
                    channel.message('["e",%d,%d,%s]' % (fid, line, q(_status_text(status))))
                    if os.WIFSIGNALED(status):
                        kind, number = "signaled", os.WTERMSIG(status)
                    else:
                        kind, number = "exited", os.WEXITSTATUS(status)
                    channel.message(end_message(index, kind, flags, out, err, ',"code":%d' % number))
                index += 1
                break
        finally:
            child.close(select, limit)


def _status_text(status):
    if os.WIFSIGNALED(status):
        return _signal_name(os.WTERMSIG(status))
    return "%d" % os.WEXITSTATUS(status)


_ZEROS = bytes(1 << 16)


def _copy_out(channel, mm, unpack_from):
    """Forwards the lines the child wrote (up to the first zero byte, whole lines
    only) and zeroes them for the next test. Straight from the map, and zeroed from
    one small block: a copy as large as the lines would cost its every page."""
    start = Sink.HEADER
    end = mm.find(b"\0", start)
    if end < 0:
        end = len(mm)
    last = mm.rfind(b"\n", start, end)
    view = memoryview(mm)
    try:
        if last >= start:
            channel.write(view[start : last + 1])
        block = len(_ZEROS)
        for at in range(start, end, block):
            stop = min(end, at + block)
            view[at:stop] = _ZEROS[: stop - at]
    finally:
        view.release()


def _report(channel, mm, unpack_from, index, out, err):
    """Forwards a test the child recorded to its end."""
    channel.message('{"t":"begin","test":%d}' % index)
    _copy_out(channel, mm, unpack_from)
    result = mm[12]
    flags = (mm[13] == 1, mm[14] == 1)
    channel.message(end_message(index, STATUS.get(result, "failed"), flags, out, err))
