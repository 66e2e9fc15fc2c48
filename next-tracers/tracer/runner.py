# NExT tracing harness, part 8 of 9: the runner: the payload (boot), output capture,
# the program's module level, the tests in process or forked, and their end messages.
# ------------------------------------------------------------------------- runner


class Channel:
    """The private event channel (a duplicate of the original stdout) and the capture
    of the program's own output."""

    def __init__(self, nonce):
        self.nonce = nonce
        self.fd = None
        self.pyout = None
        try:
            sys.stdout.flush()
        except Exception:
            pass
        try:
            self.fd = os.dup(1)
        except Exception:
            self.fd = None
            self.pyout = sys.stdout.buffer if sys.stdout is not None else None

    def write(self, data):
        if self.fd is not None:
            view = memoryview(data)
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        elif self.pyout is not None:
            self.pyout.write(data)
            self.pyout.flush()

    def message(self, text):
        self.write((self.nonce + text + "\n").encode("utf-8", "replace"))


class Capture:
    """Captures fds 1 and 2 (and sys.stdout/sys.stderr) in files; falls back to
    in-memory streams where file descriptors cannot be redirected."""

    def __init__(self, nonce, limit):
        self.limit = limit
        self.fds = None
        self.streams = None
        if hasattr(os, "dup2"):
            try:
                self.fds = (self._open(nonce, "out"), self._open(nonce, "err"))
                os.dup2(self.fds[0], 1)
                os.dup2(self.fds[1], 2)
            except Exception:
                self.fds = None
        if self.fds is None:
            import io

            self.streams = (io.StringIO(), io.StringIO())
            sys.stdout, sys.stderr = self.streams

    @staticmethod
    def _open(nonce, which):
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_APPEND", 0)
        for folder in (".", os.environ.get("TMPDIR") or "/tmp"):
            path = os.path.join(folder, ".next-trace-%s-%s" % (nonce[-12:], which))
            try:
                fd = os.open(path, flags, 0o600)
            except OSError:
                continue
            try:
                os.unlink(path)
            except OSError:
                pass
            return fd
        raise OSError("no place for capture files")

    def take(self):
        """What was captured since the last call: (stdout, stderr) text, bounded."""
        _flush_std()
        if self.streams is not None:
            out = []
            for s in self.streams:
                text = s.getvalue()
                s.seek(0)
                s.truncate()
                out.append(_bound_text(text, self.limit))
            return out[0], out[1]
        out = []
        for fd in self.fds:
            try:
                os.lseek(fd, 0, 0)
                data = os.read(fd, self.limit + 1)
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, 0)
            except OSError:
                data = b""
            out.append(decode_output(data, self.limit))
        return out[0], out[1]


def _flush_std():
    for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if s is not None:
                s.flush()
        except BaseException:
            pass


def decode_output(data, limit):
    if len(data) > limit:
        return data[:limit].decode("utf-8", "replace") + "\n[output cut]"
    return data.decode("utf-8", "replace")


def _bound_text(text, limit):
    if len(text) > limit:
        return text[:limit] + "\n[output cut]"
    return text


def exception_line(exc, code):
    """The line of `code` (the test or the module) that the exception passed through,
    the deepest such entry of its traceback."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def program_line(exc):
    """The deepest line of the program in the exception's traceback."""
    line = 0
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def syntax_value(exc):
    msg = getattr(exc, "msg", None)
    if type(msg) is not str:
        msg = str(exc)
    return "%s(%s)" % (_type_name(type(exc)), str.__repr__(msg))


def _set_alarm(tracer):
    """Where there is a timer, the test is interrupted at its time limit as the
    verifier interrupts it (SIGALRM, `_Deadline` raised where the program is), traced
    or not; without one, the tracing callbacks check the clock."""
    if not tracer.alarm:
        return False
    import _signal as signal

    def expired(signum, frame):
        tracer.timed_out = True
        tracer.check_at = 0  # should a callback swallow this, the next one raises
        raise _Deadline()

    try:
        signal.signal(signal.SIGALRM, expired)
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGALRM,))
        signal.setitimer(signal.ITIMER_REAL, tracer.time_limit)
    except Exception:
        return False
    return True


def _cancel_alarm():
    import _signal as signal

    signal.setitimer(signal.ITIMER_REAL, 0)


def run_test(tracer, code, ns, render, sink):
    """Runs one test under the tracer; returns (result code, exception or None). Records
    the exception that ends the test at the test line, frame 0."""
    # The test runs some frames deeper than in a plain script; give the program the
    # same recursion depth it would have there, and the callbacks room (see Room).
    ROOM.enter(harness_depth(), Room.HEADROOM)
    exc = None
    tracer.deadline = tracer.clock() + tracer.time_limit
    alarm = _set_alarm(tracer)
    tracer.start()
    try:
        try:
            exec(code, ns)
        finally:
            if alarm:
                _cancel_alarm()
    except BaseException as e:  # everything, SystemExit included, ends the test
        exc = e
    tracer.stop()
    ROOM.leave()
    if exc is None:
        return R_PASSED
    if isinstance(exc, _Deadline):
        if not tracer.truncated:
            # The timer stopped the test (the tracer did not): where it was running.
            fid, line = tracer.pos_now()
            tracer.truncated = True
            sink.emit_forced('["t",%d,%d]' % (fid, line))
        return R_TIMEOUT
    line = exception_line(exc, code) or 1
    try:
        value = render(exc)
    except BaseException:
        value = "<%s repr failed>" % _type_name(type(exc))
    sink.emit_forced('["x",0,%d,%s]' % (line, q(value)))
    return R_FAILED


def boot(stdin, compiled):
    """Reads the payload (what follows the harness on stdin, see `bootstrap.py`) and
    runs `main`. `compiled` is (tag, code) when the bootstrap compiled this harness from
    source: it is sent back marshalled when the payload asks (`want_code=1`), for the
    next jobs on the same interpreter build."""
    try:
        data = stdin.read()
    except Exception:
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
    records = {"program": [], "test": []}
    i = end + 2
    n = len(data)
    while i < n:
        j = data.index(b"\n", i)
        kind, _, size = data[i:j].decode("ascii").partition(" ")
        size = int(size)
        records[kind].append(data[j + 1 : j + 1 + size])
        i = j + 1 + size + 1
    blob = None
    if compiled is not None and opts.get("want_code") == "1" and sys.implementation.cache_tag:
        try:
            import marshal

            blob = (compiled[0], marshal.dumps(compiled[1]))
        except Exception:
            blob = None
    program = records["program"][0].decode("utf-8")
    tests = [t.decode("utf-8") for t in records["test"]]
    main(opts, program, tests, blob)


def enter():
    """The job's entry where the sandbox preloaded this harness (the source of
    next_core::sandbox::Preload::entry calls it): the payload is all of stdin."""
    boot(sys.stdin.buffer, None)


def main(opts, program, tests, code_blob=None):
    """Runs everything and ends the process (`os._exit`: nothing is left to flush, and
    the interpreter's own teardown would cost more than the run)."""
    try:
        harness_err = os.dup(2)  # where the harness reports its own failure
    except Exception:
        harness_err = 2
    try:
        run(opts, program, tests, code_blob)
    except BaseException as error:  # a failure of the harness itself: say so on stderr
        try:
            os.write(harness_err, ("next-trace harness failed: %r\n" % (error,)).encode("utf-8", "replace"))
        except BaseException:
            pass
        _exit(3)
    _exit(0)


def _exit(code):
    if hasattr(os, "_exit"):
        os._exit(code)
    raise SystemExit(code)


def run(opts, program, tests, code_blob):
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)  # as the verifier runs the program
    ROOM.install()
    nonce = opts["nonce"]
    channel = Channel(nonce)
    fork_ok = hasattr(os, "fork") and hasattr(os, "register_at_fork")
    isolate = opts.get("isolate", "0") == "1"
    max_output = int(opts.get("max_output_bytes", "65536"))
    engine = opts.get("engine", "auto")
    if engine not in ("settrace", "monitoring") or not hasattr(sys, "monitoring"):
        engine = "monitoring" if hasattr(sys, "monitoring") else "settrace"
    opts["engine"] = engine
    byte_budget = int(opts.get("max_trace_bytes", str(8 << 20)))
    mm = None
    if fork_ok:
        try:
            import mmap

            mm = mmap.mmap(-1, Sink.HEADER + byte_budget + (1 << 20))
        except Exception:
            fork_ok = False
    channel.message(
        '{"t":"hello","python":%s,"engine":%s,"fork":%s}'
        % (q("%d.%d.%d" % sys.version_info[:3]), q(engine), "true" if fork_ok else "false")
    )
    if code_blob is not None:
        channel.message('{"t":"code","tag":%s,"hex":"%s"}' % (q(code_blob[0]), code_blob[1].hex()))

    try:
        code = compile(program, PROGRAM, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        channel.message('{"t":"crash","line":%d,"value":%s}' % (line, q(syntax_value(exc))))
        channel.message('{"t":"done"}')
        return

    tests = compile_tests(tests)
    render_obj = Renderer(int(opts.get("max_value_chars", "500")))
    sink = Sink(nonce, channel.write, mm, byte_budget)
    _install_fork_hook()
    ns = None
    if isolate or not fork_ok:
        # The module level runs here, once; with fork, each test then runs in a child
        # of its own, forked from this state.
        capture = Capture(nonce, max_output)
        ns, failure = load_module(code)
        out, err = capture.take()
        channel.message('{"t":"module","out":%s,"err":%s}' % (q(out), q(err)))
        if failure is not None:
            channel.message(crash_message(failure, render_obj.render))
            channel.message('{"t":"done"}')
            return
    # Made after the module level ran here (its calls must not switch events off).
    alarm = _has_timer()
    tracer = make_tracer(opts, sink, render_obj, fork_ok or alarm, code_tree(code)[1:])
    tracer.alarm = alarm
    _AWAY_HOOKS.append(lambda: _switch_off(tracer, sink))
    if fork_ok:
        tracer.prepare_children()
        ctx = {"tracer": tracer, "sink": sink, "render": render_obj, "code": code, "tests": tests, "max_output": max_output}
        supervise(opts, channel, ctx, ns)
    else:
        run_in_process(opts, channel, capture, sink, render_obj, tracer, tests, ns)
    channel.message('{"t":"done"}')


def _has_timer():
    try:
        import _signal as signal

        return hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
    except Exception:
        return False


def _switch_off(tracer, sink):
    """In a process the program forked: record nothing, write nothing."""
    tracer.recording = False
    tracer.watching = False
    try:
        tracer.stop()
    except BaseException:
        pass
    sink.mm = None
    sink.buf = []
    sink.budget = -1
    sink.write = lambda data: None
    sink.commit = lambda: None
    try:
        sink.where.release()  # a handler still running here fails, and is swallowed
    except Exception:
        pass


def compile_tests(tests):
    """Each test compiled as "<test>", here, right after the program: in a forked child
    the compiler's first run would cost its page faults again. A test that does not
    compile is (its line, its error rendered) instead, for the test's turn."""
    out = []
    for test in tests:
        try:
            out.append(compile(test, TEST, "exec", dont_inherit=True))
        except (SyntaxError, ValueError) as exc:
            out.append((getattr(exc, "lineno", None) or 1, syntax_value(exc)))
    return out


def end_message(index, status, tracer_flags, out, err, extra=""):
    truncated, incomplete = tracer_flags
    return '{"t":"end","test":%d,"status":"%s","truncated":%s,"incomplete":%s,"out":%s,"err":%s%s}' % (
        index,
        status,
        "true" if truncated else "false",
        "true" if incomplete else "false",
        q(out),
        q(err),
        extra,
    )


STATUS = {R_PASSED: "passed", R_FAILED: "failed", R_TIMEOUT: "timeout"}


def run_in_process(opts, channel, capture, sink, render_obj, tracer, tests, ns):
    """Runs the tests one after the other in this process (no fork: WASI). Best
    effort: the tests share the program's state, and a test that loops outside traced
    code can only be stopped by the sandbox's own time limit."""
    for index, test in enumerate(tests):
        channel.message('{"t":"begin","test":%d}' % index)
        if type(test) is tuple:  # it did not compile
            channel.message('["x",0,%d,%s]' % (test[0], q(test[1])))
            channel.message('{"t":"end","test":%d,"status":"failed","out":"","err":""}' % index)
            continue
        run_here(tracer, channel, capture, sink, render_obj, index, test, ns)


def reset_tracer(tracer, sink):
    """Makes the tracer and the sink ready for the next test."""
    tracer.count = tracer.check_at = 0
    tracer.next_fid = 0
    tracer.truncated = tracer.timed_out = tracer.incomplete = tracer.watching = False
    tracer.frames.clear()
    del tracer.stack[:]
    tracer.recorded.clear()
    sink.reset()


def run_here(tracer, channel, capture, sink, render_obj, index, code, ns):
    """Traces test `index` in this process and reports its end."""
    reset_tracer(tracer, sink)
    result = run_test(tracer, code, ns, render_obj.render, sink)
    leave_if_forked_away(0 if result == R_PASSED else 1)
    sink.flush()
    out, err = capture.take()
    channel.message(end_message(index, STATUS[result], (tracer.truncated, tracer.incomplete), out, err))


def _kill(pid, sigkill):
    try:
        os.killpg(pid, sigkill)
    except Exception:
        try:
            os.kill(pid, sigkill)
        except Exception:
            pass
