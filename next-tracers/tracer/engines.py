# NExT tracing harness, part 6 of 9: the tracing state (_State) and the two engines
# that feed the tracer, sys.settrace and sys.monitoring, and the program's code tree.
CHECK_EVERY = 16  # events between two readings of the clock


class _State:
    def __init__(self):
        self.count = 0
        self.check_at = 0  # the event count at which the limits are checked next
        self.next_fid = 0
        self.truncated = False
        self.timed_out = False
        self.incomplete = False
        self.recording = False
        self.watching = False
        self.active = False
        self.deadline = float("inf")
        self.alarm = False  # a timer interrupts the test at its limit (see run_test)


from _weakref import ref as _WeakRef

_MISSING = object()
_HIDDEN = object()  # a name never shown (`.0`, dunders)
_ModuleType = type(sys)


def _pop(stack, rec):
    if stack and stack[-1] is rec:
        stack.pop()
    else:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is rec:
                del stack[i]
                break


def _arg_names(code):
    """Argument names in signature order: positional, *args, keyword-only, **kwargs."""
    names = code.co_varnames
    n = code.co_argcount
    kw = code.co_kwonlyargcount
    out = list(names[:n])
    i = n + kw
    flags = code.co_flags
    if flags & 0x04:  # CO_VARARGS
        out.append(names[i])
        i += 1
    out.extend(names[n : n + kw])
    if flags & 0x08:  # CO_VARKEYWORDS
        out.append(names[i])
    return out


def _settrace_engine(st):
    on_start, on_line, on_return, on_yield, on_raise, on_unwind = st.handlers
    guarded = st.guarded
    limits = st.limits
    render_obj = st.render_obj
    max_events = st.max_events
    frames = st.frames
    returns, yields, loop_ends = _opcodes()
    GEN = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator
    bytecode = {}  # id(code) -> co_code (a new bytes object per access from 3.11)

    def opcode_at(code, offset):
        raw = bytecode.get(id(code))
        if raw is None:
            raw = bytecode[id(code)] = code.co_code
        return raw[offset]

    # The callbacks have room below the program's recursion limit (see Room); the
    # start callback refuses a frame deeper than that limit, as CPython would untraced.
    # (So no RecursionError of the tracer's own puts CPython 3.8 to 3.10 in their sticky
    # "overflowed" state, where a program may recurse 50 frames past its limit.)
    setlimit = _real_setlimit
    room = ROOM.limits

    clock = st.clock

    def watch():
        """Recording stopped at the event limit, in process: only the clock is checked."""
        if clock() > st.deadline:
            st.timed_out = True
            st.watching = False
            raise _Deadline()
        return local

    def local(frame, event, arg):
        if not st.recording:
            return watch() if st.watching else None
        if event == "line":
            try:
                on_line(frame, frame.f_lineno)
            except _Deadline:
                raise
            except BaseException:
                render_obj.busy.clear()
                st.incomplete = True
            if st.count >= st.check_at:
                limits(frame)
            return local if st.recording else None
        if event == "return":
            code = frame.f_code
            try:
                op = opcode_at(code, frame.f_lasti)
            except Exception:
                op = -1
            if op in returns:
                guarded(on_return, frame, arg)
            elif code.co_flags & GEN and op in yields:
                guarded(on_yield, frame, arg)
            else:
                guarded(on_unwind, frame)
        elif event == "exception":
            exc = arg[1]
            if isinstance(exc, StopIteration):
                try:
                    op = opcode_at(frame.f_code, frame.f_lasti)
                except Exception:
                    op = -1
                if op in loop_ends:
                    return local
            guarded(on_raise, frame, exc)
        if st.count >= st.check_at:
            limits(frame)
        return local if st.recording else None

    def global_(frame, event, arg):
        if not st.recording:
            return watch() if st.watching else None
        if frame.f_code.co_filename != PROGRAM:
            return None
        try:
            setlimit(room[0])  # fails where the frame is deeper than the program's limit
            setlimit(room[1])
        except RecursionError:
            deep = True
        else:
            deep = False
        if deep:  # raised out here, the program's own exception is its context
            refuse(frame)
        try:
            guarded(on_start, frame)
        except _Deadline:
            raise
        except BaseException:  # the call itself hit the recursion limit
            st.incomplete = True
        if st.count >= st.check_at:
            limits(frame)
        return local if st.recording else None

    def refuse(frame):
        """A program frame deeper than the program's recursion limit starts: the
        RecursionError CPython would have raised untraced, recorded in the caller.
        Raising it from here removes the tracer; it is set again at the next call or
        return (the events in between are lost: the trace is incomplete)."""
        exc = RecursionError("maximum recursion depth exceeded")
        caller = frame.f_back
        if caller is not None and caller in frames:
            guarded(on_raise, caller, exc)
        st.incomplete = True
        sys.setprofile(rescue)
        raise exc

    def rescue(frame, event, arg):
        sys.setprofile(None)
        if not st.active or sys.gettrace() is not None:
            return
        sys.settrace(global_)
        # The tracer's own event for this one came before this (profile) one.
        if event == "call":
            trace = global_(frame, event, arg)
            if trace is not None:
                frame.f_trace = trace
        elif event == "return" and frame in frames:
            local(frame, event, arg)

    def start():
        st.recording = True
        st.active = True
        sys.settrace(global_)

    def stop():
        installed = sys.gettrace()
        sys.settrace(None)
        if st.recording and installed is not global_:
            st.incomplete = True  # the program, or CPython, removed the tracer
        st.recording = False
        st.watching = False
        st.active = False

    def stop_recording():
        st.recording = False
        ROOM.exact()
        if not st.in_child and not st.timed_out:
            st.watching = True  # nothing else stops the test: the clock must be watched
            return
        sys.settrace(None)
        for frame in list(st.frames):
            try:
                frame.f_trace = None
            except Exception:
                pass

    st.start = start
    st.stop = stop
    st.stop_recording = stop_recording
    st.prepare_children = lambda: None


def _monitoring_engine(st, program_codes, getframe):
    on_start, on_line, on_return, on_yield, on_raise, on_unwind = st.handlers
    guarded = st.guarded
    limits = st.limits
    render_obj = st.render_obj
    max_events = st.max_events
    mon = sys.monitoring
    ev = mon.events
    DISABLE = mon.DISABLE
    tool = None
    for candidate in (4, 3, 2, 1, 0, 5):
        try:
            mon.use_tool_id(candidate, "next-trace")
            tool = candidate
            break
        except Exception:
            continue
    if tool is None:
        raise RuntimeError("no free sys.monitoring tool id")
    local_events = ev.PY_START | ev.PY_RESUME | ev.PY_RETURN | ev.PY_YIELD | ev.LINE | ev.JUMP
    global_events = ev.RAISE | ev.PY_UNWIND | ev.PY_THROW
    program_ids = set(id(c) for c in program_codes)

    clock = st.clock
    dirty = [False]  # some location was disabled while not recording

    def idle():
        """A callback while not recording: in a child, disable the location (the parent
        enforces the time limit); in process, keep enforcing it while a test runs."""
        if st.in_child or not st.active:
            dirty[0] = True  # the next test switches the location on again
            return DISABLE
        if clock() > st.deadline:
            st.timed_out = True
            raise _Deadline()
        return None

    busy = render_obj.busy

    # The callbacks run a handler and then check the limits; the handlers' guard
    # (see `guarded`) is written out in each, for speed.

    setlimit = _real_setlimit
    room = ROOM.limits

    def py_start(code, offset):
        if not st.recording:
            return idle()
        try:
            setlimit(room[0])  # fails where the frame is deeper than the program's limit
            setlimit(room[1])
        except RecursionError:
            deep = True
        else:
            deep = False
        if deep:
            # What CPython raises untraced, here raised in the refused frame (out of
            # the handler: the program's own exception is its context); the tracer
            # has no record of the frame and ignores its unwinding.
            raise RecursionError("maximum recursion depth exceeded")
        frame = getframe(1)
        try:
            on_start(frame)
        except _Deadline:
            raise
        except BaseException:
            st.incomplete = True  # written out: a call here could hit the recursion limit
            busy.clear()
        if st.count >= st.check_at:
            limits(frame)

    def py_resume(code, offset):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_start(frame)
        except _Deadline:
            raise
        except BaseException:
            st.incomplete = True  # written out: a call here could hit the recursion limit
            busy.clear()
        if st.count >= st.check_at:
            limits(frame)

    def line(code, lineno):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_line(frame, lineno)
        except _Deadline:
            raise
        except BaseException:
            st.incomplete = True  # written out: a call here could hit the recursion limit
            busy.clear()
        if st.count >= st.check_at:
            limits(frame)

    def py_return(code, offset, value):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_return(frame, value)
        except _Deadline:
            raise
        except BaseException:
            st.incomplete = True  # written out: a call here could hit the recursion limit
            busy.clear()
        if st.count >= st.check_at:
            limits(frame)

    def py_yield(code, offset, value):
        if not st.recording:
            return idle()
        frame = getframe(1)
        try:
            on_yield(frame, value)
        except _Deadline:
            raise
        except BaseException:
            st.incomplete = True  # written out: a call here could hit the recursion limit
            busy.clear()
        if st.count >= st.check_at:
            limits(frame)

    def raise_(code, offset, exc):
        if not st.recording or id(code) not in program_ids:
            return None
        frame = getframe(1)
        guarded(on_raise, frame, exc)
        limits(frame)

    def unwind(code, offset, exc):
        if not st.recording or id(code) not in program_ids:
            return None
        frame = getframe(1)
        guarded(on_unwind, frame)
        limits(frame)

    line_tables = {}

    def jump(code, source, target):
        # A backward jump within one line (a loop on one line, a comprehension) is a
        # new execution of that line for sys.settrace; LINE does not fire for it. Do
        # what CPython's own settrace emulation does; other jumps are disabled.
        if not st.recording:
            return idle()
        if target > source:
            return DISABLE
        table = line_tables.get(code)
        if table is None:
            table = line_tables[code] = _line_table(code)
        line = table.get(target)
        if line is None or line != table.get(source):
            return DISABLE
        frame = getframe(1)
        guarded(on_line, frame, line)
        limits(frame)

    def throw(code, offset, exc):
        if not st.recording or id(code) not in program_ids:
            return None
        frame = getframe(1)
        guarded(on_start, frame)
        limits(frame)

    for event, fn in (
        (ev.PY_START, py_start),
        (ev.PY_RESUME, py_resume),
        (ev.LINE, line),
        (ev.PY_RETURN, py_return),
        (ev.PY_YIELD, py_yield),
        (ev.RAISE, raise_),
        (ev.PY_UNWIND, unwind),
        (ev.PY_THROW, throw),
        (ev.JUMP, jump),
    ):
        mon.register_callback(tool, event, fn)

    for code in program_codes:
        mon.set_local_events(tool, code, local_events)

    prepared = [False]
    cleared = [False]  # the program's code objects were left uninstrumented

    def prepare_children():
        """Before forking: turn the global events on once, here, rather than in every
        child (in 3.12 that re-instruments every code object a process runs next). Until
        a child records, the callbacks return at once."""
        mon.set_events(tool, global_events)
        prepared[0] = True

    def start():
        st.recording = True
        st.active = True
        if cleared[0]:
            cleared[0] = False
            for code in program_codes:
                mon.set_local_events(tool, code, local_events)
        # Each of these re-instruments the code the process runs next: only when needed.
        if dirty[0]:
            dirty[0] = False
            mon.restart_events()
        if not prepared[0] or mon.get_events(tool) != global_events:
            prepared[0] = True
            mon.set_events(tool, global_events)

    def stop():
        if st.recording:
            try:
                intact = mon.get_tool(tool) == "next-trace" and mon.get_events(tool) == global_events
            except Exception:
                intact = False
            if not intact:
                st.incomplete = True  # the program switched the tool off
        st.recording = False
        st.active = False
        if st.in_child:
            return  # supervised: the global events stay on for the next test
        prepared[0] = False
        try:
            mon.set_events(tool, 0)
        except Exception:
            pass

    def stop_recording():
        st.recording = False
        ROOM.exact()
        if st.in_child:
            prepared[0] = False
            try:
                mon.set_events(tool, 0)
                # The program runs on at full speed: a location that is only switched
                # off (DISABLE) still costs its instrumentation at every pass.
                cleared[0] = True
                for code in program_codes:
                    mon.set_local_events(tool, code, 0)
            except Exception:
                pass

    st.start = start
    st.stop = stop
    st.stop_recording = stop_recording
    st.prepare_children = prepare_children


def _line_table(code):
    """Instruction offset -> line number."""
    table = {}
    for start, end, line in code.co_lines():
        if line is not None:
            for offset in range(start, end, 2):
                table[offset] = line
    return table


def code_tree(code):
    """The code object and every code object nested in it."""
    out = [code]
    i = 0
    while i < len(out):
        for c in out[i].co_consts:
            if type(c) is type(code):
                out.append(c)
        i += 1
    return out


