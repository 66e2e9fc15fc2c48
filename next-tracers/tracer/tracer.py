# NExT tracing harness, part 5 of 9: the tracer's closures (make_tracer): frames,
# events, changes and limits, shared by both engines.
# ------------------------------------------------------------------------- tracer


class Frame:
    """What the tracer keeps about one activation of program code: its id, the
    rendering of each local as last recorded (`rep`, in first-appearance order via
    `order`), the immutable objects behind them (`obj`), the line running (`pending`)."""

    __slots__ = ("fid", "rep", "obj", "order", "pending", "first")

    def __init__(self, fid, code):
        self.fid = fid
        self.rep = {}
        self.obj = {}
        self.order = {}
        self.pending = None
        self.first = code.co_firstlineno


def make_tracer(opts, sink, render_obj, in_child, program_codes):
    """Builds the tracing state machine and its callbacks for one engine; returns an
    object with start(), stop() and the bookkeeping the runner needs."""
    max_events = int(opts.get("max_events", "10000"))
    time_limit = float(opts.get("time_limit", "2.0"))
    engine = opts.get("engine", "auto")
    has_monitoring = hasattr(sys, "monitoring")
    if engine == "auto":
        engine = "monitoring" if has_monitoring else "settrace"
    if engine == "monitoring" and not has_monitoring:
        engine = "settrace"

    import time

    clock = time.perf_counter
    render = render_obj.render
    getframe = sys._getframe
    emit = sink.emit

    st = _State()
    frames = {}
    stack = []
    # Exceptions already recorded: id -> a weak reference (or the exception, where it
    # takes none), so that the tracer keeps alive neither them nor their frames.
    recorded = {}
    recorded_ids = recorded
    st.engine = engine

    def pos_now():
        if stack:
            rec = stack[-1]
            return rec.fid, rec.pending if rec.pending is not None else rec.first
        return 0, 0

    def put(text):
        st.count += 1
        if not emit(text):
            st.count = max_events  # the byte budget is used up: stop as at the limit

    emit_line = sink.emit_line
    line_event = sink.nonce + '["l",%d,%d,[%s]]\n'

    def put_line_event(fid, line, pairs):
        """`put` of a Line event (the most frequent), formatted in one step."""
        st.count += 1
        if not emit_line(line_event % (fid, line, pairs)):
            st.count = max_events

    # Handlers render first and commit after, so that a handler interrupted by a
    # RecursionError (the program is near the recursion limit) can be run again.

    def diff(rec, loc):
        """The locals of `loc` that are new or whose rendering changed, in
        first-appearance order, as [name, rendering, value]; commits nothing."""
        rep = rec.rep
        obj = rec.obj
        changed = []
        for name, v in loc.items():
            if obj.get(name, _MISSING) is v:
                continue  # the same immutable object as when last rendered
            old = rep.get(name)
            if old is _HIDDEN:
                continue
            t = type(v)
            if (
                t not in ATOMS
                and t not in CONTAINERS
                and (t in SKIPPED or t is _ModuleType or isinstance(v, type))
            ):
                continue
            r = render(v)
            if old != r:
                changed.append([name, r, v if t in ATOMS else _MISSING, old is None])
            elif t in ATOMS:
                obj[name] = v  # same rendering: remembering the object commits nothing
        return changed

    def commit(rec, changed):
        """Applies a diff to the frame's record; returns the JSON pairs."""
        rep = rec.rep
        obj = rec.obj
        order = rec.order
        out = []
        for name, r, v, new in changed:
            if new:
                if name[0] == "." or (name[:2] == "__" and name[-2:] == "__"):
                    rep[name] = _HIDDEN
                    continue
                order[name] = len(order)
            rep[name] = r
            if v is _MISSING:
                obj.pop(name, None)
            else:
                obj[name] = v
            out.append(name)
        if len(out) > 1:
            out.sort(key=order.__getitem__)
        parts = []
        for n in out:
            qn = quoted.get(n)
            if qn is None:
                qn = quoted[n] = q(n)
            parts.append("[%s,%s]" % (qn, qv(rep[n])))
        return ",".join(parts)

    quoted = {}  # name -> its JSON string literal
    # Long renderings -> their JSON string literals: a value that did not change (a
    # long list passed down a recursion, say) is quoted once, not at every step. At
    # most 256 of them and about a million characters.
    quoted_values = {}
    quoted_chars = [0]

    def qv(r):
        """`q` of a rendering."""
        if len(r) < 64:
            return q(r)
        s = quoted_values.get(r)
        if s is None:
            s = q(r)
            if len(quoted_values) >= 256 or quoted_chars[0] > 1 << 20:
                quoted_values.clear()
                quoted_chars[0] = 0
            quoted_values[r] = s
            quoted_chars[0] += len(r) + len(s)
        return s

    def new_frame(frame):
        code = frame.f_code
        loc = frame.f_locals
        args = []
        for name in _arg_names(code):
            if name not in loc:
                continue
            v = loc[name]
            t = type(v)
            if name[0] == "." or t in SKIPPED or t is _ModuleType or isinstance(v, type):
                args.append((name, None, v))
            else:
                args.append((name, render(v), v))
        st.next_fid += 1
        rec = Frame(st.next_fid, code)
        rep = rec.rep
        order = rec.order
        pairs = []
        for name, r, v in args:
            if r is None:
                if name[0] == ".":
                    rep[name] = _HIDDEN
                continue
            order[name] = len(order)
            rep[name] = r
            if type(v) in ATOMS:
                rec.obj[name] = v
            pairs.append("[%s,%s]" % (q(name), qv(r)))
        # Recorded before the frame is known: a handler cut short by a RecursionError
        # (the program is at its recursion limit) leaves the frame unknown, and its
        # next event starts it again, rather than leaving a frame without a Call.
        put('["c",%d,%d,%s,[%s]]' % (rec.fid, rec.first, q(code.co_name), ",".join(pairs)))
        frames[frame] = rec
        return rec

    def limits(frame):
        """Stops at the event, byte or time limit: a timeout marker where the run is,
        then (time) the test ends, or (events, bytes) the program goes on untraced.
        The callbacks call it once `check_at` events were recorded: the clock is read
        every `CHECK_EVERY` events, not at each."""
        if clock() > st.deadline:
            st.timed_out = True
        elif st.count < max_events:
            st.check_at = min(st.count + CHECK_EVERY, max_events)
            return
        if st.recording:
            fid, line = pos_now()
            sink.emit_forced('["t",%d,%d]' % (fid, line))
            st.truncated = True
            st.stop_recording()
        if st.timed_out:
            raise _Deadline()

    # The state machine, shared by both engines. Each handler is called with the
    # program frame the event belongs to.

    where = sink.where  # [frame, line]: where the run is (see Sink)

    def on_start(frame):
        rec = frames.get(frame)
        if rec is None:
            rec = new_frame(frame)
        # else a generator resumes: it goes on with the line of its yield, still pending
        stack.append(rec)
        where[0] = rec.fid
        where[1] = rec.pending if rec.pending is not None else rec.first

    def on_line(frame, line):
        rec = frames.get(frame)
        if rec is None:  # a frame that started while tracing was off
            rec = new_frame(frame)
            stack.append(rec)
        else:
            done = rec.pending
            if done is not None:
                changed = diff(rec, frame.f_locals)
                st.count += 1
                text = line_event % (rec.fid, done, commit(rec, changed) if changed else "")
                if not emit_line(text):
                    st.count = max_events
        rec.pending = line
        where[0] = rec.fid
        where[1] = line

    def finish(rec, frame, step):
        """Renders the pending line of a frame that stops running; commits nothing. For
        a return or an exception (`step`), which must follow a line event of their
        line, a line without one gets an empty one."""
        line = rec.pending
        if line is None:
            return ([] if step else None), frame.f_lineno
        return diff(rec, frame.f_locals), line

    def put_line(rec, changed, line):
        if changed is not None:
            rec.pending = None
            put_line_event(rec.fid, line, commit(rec, changed))

    def on_return(frame, value):
        rec = frames.get(frame)
        if rec is None:
            return
        changed, line = finish(rec, frame, True)
        r = render(value)
        put_line(rec, changed, line)
        put('["r",%d,%d,%s]' % (rec.fid, line, qv(r)))
        del frames[frame]
        _pop(stack, rec)
        set_pos()

    def on_yield(frame, value):
        # A yield suspends the frame: its line's changes so far, then the value yielded,
        # are recorded now, in execution order; the line stays pending, and what the
        # resumed frame changes on it is recorded when it moves on.
        rec = frames.get(frame)
        if rec is None:
            return
        changed, line = finish(rec, frame, True)
        r = render(value)
        put_line(rec, changed, line)
        put('["y",%d,%d,%s]' % (rec.fid, line, qv(r)))
        rec.pending = line
        _pop(stack, rec)
        set_pos()

    def on_raise(frame, exc):
        rec = frames.get(frame)
        if rec is None:
            return
        if type(exc) is _Deadline:
            # The timer stopped the test here: the marker goes where the program is.
            if st.recording:
                fid, at = pos_now()
                sink.emit_forced('["t",%d,%d]' % (fid, at))
                st.truncated = True
                st.stop_recording()
            return
        seen = recorded.get(id(exc))
        fresh = type(exc) is not GeneratorExit and (
            seen is None or (seen() if type(seen) is _WeakRef else seen) is not exc
        )
        changed, line = finish(rec, frame, fresh)
        r = render(exc) if fresh else None
        put_line(rec, changed, line)
        if fresh:
            try:
                recorded[id(exc)] = _WeakRef(exc)
            except TypeError:
                recorded[id(exc)] = exc
            put('["x",%d,%d,%s]' % (rec.fid, line, q(r)))
        where[0] = rec.fid
        where[1] = line

    def on_unwind(frame):
        rec = frames.get(frame)
        if rec is None:
            return
        changed, line = finish(rec, frame, False)
        put_line(rec, changed, line)
        del frames[frame]
        _pop(stack, rec)
        set_pos()

    def set_pos():
        if stack:
            rec = stack[-1]
            where[0] = rec.fid
            where[1] = rec.pending if rec.pending is not None else rec.first
        else:
            where[0] = where[1] = 0

    def guarded(handler, *args):
        """Runs a handler; any failure of the tracer (a RecursionError when the program
        is near the recursion limit, say) loses that event, marks the trace incomplete
        and is swallowed: an exception escaping a callback would reach the program.

        The recursion limit is not raised to make room: it could not be restored at
        that depth (CPython refuses a limit below the current depth), and a program
        allowed to recurse deeper would behave differently."""
        try:
            handler(*args)
        except _Deadline:
            raise
        except BaseException:
            render_obj.busy.clear()
            st.incomplete = True

    st.pos_now = pos_now
    st.handlers = (on_start, on_line, on_return, on_yield, on_raise, on_unwind)
    st.guarded = guarded
    st.limits = limits
    st.frames = frames
    st.stack = stack
    st.recorded = recorded
    st.recorded_ids = recorded_ids
    st.time_limit = time_limit
    st.clock = clock
    st.sink = sink
    st.render = render
    st.render_obj = render_obj
    st.max_events = max_events
    st.in_child = in_child
    if engine == "monitoring":
        _monitoring_engine(st, program_codes, getframe)
    else:
        _settrace_engine(st)
    return st


