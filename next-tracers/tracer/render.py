# NExT tracing harness, part 2 of 9: value printing, the bounded `repr` (Renderer).
# ------------------------------------------------------------------------- values


class Renderer:
    """Bounded `repr`: at most `max_chars` characters, the head and tail of the true
    repr around `...` for longer values, addresses removed, `<T repr failed>` for a
    repr that raises, and `<T repr too slow>` for a type whose reprs used up their time
    budget.

    Builtin containers (list, tuple, dict, set, frozenset), str, bytes and int are
    rendered by walking them from both ends (`pre`, `suf`), so that a huge value costs
    no more than a small one and the head and tail are exactly those of the full repr.
    An int too long for `repr` (3.11+ refuses more than 4300 digits) gets its head and
    tail digits computed arithmetically."""

    def __init__(self, max_chars):
        self.max = max(max_chars, 8)
        self.head = (self.max - 3) // 2
        self.tail = self.max - 3 - self.head
        self.busy = set()  # ids of containers being rendered (recursive containers)
        self.slow = {}  # type -> seconds spent in its reprs
        self.careful = False  # set once a whole-container repr was slow or huge
        # id -> (container, snapshot, rendering) for containers of immutable elements:
        # re-rendered only when an element was replaced (see `_snapshot`).
        self.memo = {}
        # id -> container whose repr, long and not memoizable (containers inside), costs
        # more whole than walked from both ends: it is walked from then on.
        self.walked = {}
        import time

        self.clock = time.perf_counter

    def cut(self, s):
        if len(s) <= self.max:
            return s
        return s[: self.head] + "..." + s[-self.tail :]

    def render(self, v):
        t = type(v)
        if t in CONTAINERS:
            memo = self.memo.get(id(v))
            if memo is not None and memo[0] is t:
                snap = memo[1]
                if t is dict:
                    keys, values = snap
                    if (
                        len(v) == len(keys)
                        and all(map(_is, keys, v))
                        and all(map(_is, values, v.values()))
                    ):
                        return memo[3]
                elif memo[4] is not None:
                    # Cut: only its first and last elements show (see `ends`).
                    if len(v) > len(snap) + len(memo[4]) and all(map(_is, snap, v)):
                        if all(map(_is, memo[4], reversed(v))):
                            return memo[3]
                        s = self.retail(v, t, memo)
                        if s is not None:
                            return s
                elif len(v) == len(snap):
                    if all(map(_is, snap, v)):
                        return memo[3]
                    if t is list and not self.careful:
                        changed = _compress(range(len(snap)), map(_is_not, snap, v))
                        s = self.patch(v, memo, changed)
                        if s is not None:
                            return s
        elif t is int and -_BIG < v < _BIG:
            s = int.__repr__(v)
            return s if len(s) <= self.max else self.cut(s)
        if t is str and len(v) <= self.max:
            return self.cut(str.__repr__(v))
        if t is float or t is bool or v is None:
            return self.cut(repr(v))
        if t in CONTAINERS and len(v) <= 256 and not self.careful and id(v) not in self.walked:
            s = self.whole(v, t)
            if s is not None:
                full = s
                s = self.cut(s)
                snapshot = _snapshot(v, t)
                if snapshot is not None:
                    if len(self.memo) > 1024:
                        self.memo.clear()
                    memo = [t, snapshot, None, s, None]
                    if full is not s and (t is list or t is tuple) and " at 0x" not in full:
                        self.ends(memo, full)
                    self.memo[id(v)] = memo
                elif len(full) > 8 * self.max:
                    # A matrix, say: its whole repr costs every element, a walk from
                    # both ends only what shows.
                    if len(self.walked) > 1024:
                        self.walked.clear()
                    self.walked[id(v)] = True
                return s
        if t in CONTAINERS or t is int or t is str or t is bytes:
            try:
                s, done = self.pre(v, self.max + 1, 0)
                if done:
                    return self.cut(s)
                e, _ = self.suf(v, self.tail, 0)
                s = s[: self.head] + "..." + e[-self.tail :]
                if (t is list or t is tuple) and not self.careful:
                    self.remember_ends(v, t, s)
                return s
            except _TooDeep:
                self.busy.clear()
        return self.cut(self.generic(v, t))

    def patch(self, v, memo, changed):
        """The rendering of a memoized list of atoms (or of tuples of atoms) whose length
        is unchanged but some of whose elements were replaced: the reprs of its elements
        are kept (from its first change on), and only the replaced ones are rendered
        again, then joined, which gives the very text of the list's repr. None, with the
        memo dropped, when an element is no longer such a value or its repr fails (an
        int too long for `repr`): the caller renders the list afresh."""
        snap = memo[1]
        reprs = memo[2]
        try:
            if reprs is None:
                items = list(v)
                if not _flat(items):
                    raise _Stale()
                reprs = list(map(repr, items))
                memo[1] = items
                memo[2] = reprs
            else:
                for i in changed:
                    e = v[i]
                    te = type(e)
                    if te not in ATOMS and (te is not tuple or not _flat(e)):
                        raise _Stale()
                    reprs[i] = repr(e)
                    snap[i] = e
        except Exception:
            del self.memo[id(v)]
            return None
        s = "[" + ", ".join(reprs) + "]"
        if len(s) > 100000:
            self.careful = True
        s = self.cut(s)
        memo[3] = s
        return s

    def ends(self, memo, full):
        """Keeps, for a list or tuple of atoms (or of tuples of atoms) whose rendering
        is cut, only the elements that show: the first ones, whose reprs make up the
        rendering's head (after the opening bracket), and the last ones, its tail (up to
        the closing one). While it keeps more elements than those and they stay the
        same objects, whatever happens between them changes
        neither the head nor the tail of its repr, and its repr stays longer than the
        cut (each element in between adds at least 3 characters): the check then costs
        a few elements, not all of them. `full` is the list's repr. (`retail` keeps
        the reprs of the last ones, in the slot `patch` uses for a whole list's.)"""
        items = memo[1]
        n = len(items)
        a = _shown(items, self.head)
        b = _shown(items[::-1], self.tail)
        if n > a + b:
            memo[1] = items[:a]
            memo[4] = items[n - b :][::-1]

    def remember_ends(self, v, t, s):
        """Memoizes `s`, the cut rendering of `v`, a list or tuple too long to be
        rendered whole, as `ends` keeps a shorter one: by the elements that show, when
        those are atoms or tuples of atoms. Only those elements are looked at, so that
        a long list costs its ends, here and at every later check."""
        head = v[: self.head // 3 + 4]
        tail = v[-(self.tail // 3 + 4) :]
        if len(v) <= len(head) + len(tail) or " at 0x" in s:
            return
        if not (_flat(head) and _flat(tail)):
            return
        if len(self.memo) > 1024:
            self.memo.clear()
        memo = [t, list(head) + list(tail), None, s, None]
        try:
            self.ends(memo, s)
        except Exception:
            return  # an element whose own repr fails (an int too long for `repr`)
        if memo[4] is not None:
            self.memo[id(v)] = memo

    def retail(self, v, t, memo):
        """The rendering of a list or tuple kept by `ends` whose first elements are the
        same but whose last ones are not (it grew, say): only the tail is rendered
        again, from the last elements. None, with the memo dropped, when the list got too
        short for that or holds other values now: the caller renders it afresh.

        The reprs of the last elements are kept (slot 2, in the order of slot 4, the
        last element first): an element still there (the list grew at its end, say) is
        not looked at again, as its repr cannot have changed."""
        n = len(v)
        a = len(memo[1])
        old = memo[4]
        old_reprs = memo[2]
        m = len(old) if old_reprs is not None else 0
        j = m  # the index in `old` of the element expected next
        items = []
        reprs = []
        size = 1
        try:
            while size < self.tail:
                if n <= a + len(items) + 1:
                    raise _Stale()
                e = v[n - 1 - len(items)]
                if j < m and old[j] is e:
                    r = old_reprs[j]
                    j += 1
                elif m and old[0] is e:
                    r = old_reprs[0]
                    j = 1
                else:
                    te = type(e)
                    if te not in ATOMS and (te is not tuple or not _flat(e)):
                        raise _Stale()
                    r = repr(e)
                size += len(r) + (2 if items else 0)
                items.append(e)
                reprs.append(r)
        except Exception:
            del self.memo[id(v)]
            return None
        tail = ", ".join(reprs[::-1]) + BRACKETS[t][1]
        if " at 0x" in tail:
            del self.memo[id(v)]
            return None
        s = memo[3][: self.head] + "..." + tail[-self.tail :]
        memo[2] = reprs
        memo[3] = s
        memo[4] = items
        return s

    def whole(self, v, t):
        """The C-level repr of a container that is not long (exact by definition), or
        None when it fails (a huge int inside, a repr that raises). A repr that turns out
        slow or huge (long strings or deep nesting inside) blows a fuse: from then on
        containers are walked from both ends, whose cost is bounded."""
        start = self.clock()
        try:
            s = t.__repr__(v)
        except _Deadline:
            raise  # the test's time is up: it ends where it is
        except BaseException:
            return None
        if len(s) > 100000 or self.clock() - start > 0.05:
            self.careful = True
        if " at 0x" in s or not s.isprintable():
            return None  # walked element by element: only objects' own reprs change
        return s

    # Prefix and suffix walks. `pre(v, k, d)` returns (text, complete): complete is
    # True when text is the whole repr; otherwise text is an exact prefix of it, at
    # least k characters long. `suf` is the same for suffixes.

    def short(self, v, t, k, d, head):
        """What `pre` (head True) or `suf` (head False) returns for `v` of type `t`
        without walking its items one by one: the text of an atom, of a container that is
        empty or being walked already, or of a list or tuple of plain items; None when
        the items must be walked."""
        if t not in CONTAINERS:
            return self.atom(v, t, k, head)
        if d > 50:
            raise _TooDeep()
        if id(v) in self.busy:
            return RECURSIVE[t], True
        if not v:
            return EMPTY[t], True
        if t is list or t is tuple:
            # Enough elements for k characters (each takes at least three, with its
            # separator): when they are plain numbers or short strings, one C-level
            # repr of that slice is an exact prefix (or suffix) of the whole repr.
            m = k // 3 + 2
            chunk = v[:m] if head else v[-m:]
            if _plain(chunk):
                opener, closer = BRACKETS[t]
                items = list.__repr__(list(chunk))[1:-1]
                if m < len(v):
                    if head:
                        return opener + items + ", ", False
                    return ", " + items + closer, False
                if t is tuple and len(v) == 1:
                    items += ","
                return opener + items + closer, True
        return None

    def pre(self, v, k, d):
        t = type(v)
        done = self.short(v, t, k, d, True)
        if done is not None:
            return done
        key = id(v)
        opener, closer = BRACKETS[t]
        out = [opener]
        n = len(opener)
        pre = self.pre
        self.busy.add(key)
        try:
            first = True
            for item in v.items() if t is dict else v:
                if n >= k:
                    return "".join(out), False
                if not first:
                    out.append(", ")
                    n += 2
                first = False
                if t is dict:
                    s, c = pre(item[0], k - n, d + 1)
                    out.append(s)
                    n += len(s)
                    if not c:
                        return "".join(out), False
                    out.append(": ")
                    n += 2
                    item = item[1]
                s, c = pre(item, k - n, d + 1)
                out.append(s)
                n += len(s)
                if not c:
                    return "".join(out), False
            if t is tuple and len(v) == 1:
                out.append(",")
        finally:
            self.busy.discard(key)
        out.append(closer)
        return "".join(out), True

    def suf(self, v, k, d):
        t = type(v)
        done = self.short(v, t, k, d, False)
        if done is not None:
            return done
        key = id(v)
        opener, closer = BRACKETS[t]
        out = [closer]
        n = len(closer)
        if t is tuple and len(v) == 1:
            out.append(",")
            n += 1
        suf = self.suf
        self.busy.add(key)
        try:
            if t is dict:
                items = _rev_dict_items(v)
            elif t is list or t is tuple:
                items = reversed(v)
            else:
                items = reversed(list(v))
            first = True
            for item in items:
                if n >= k:
                    out.reverse()
                    return "".join(out), False
                if not first:
                    out.append(", ")
                    n += 2
                first = False
                if t is dict:
                    s, c = suf(item[1], k - n, d + 1)
                    out.append(s)
                    n += len(s)
                    if not c:
                        out.reverse()
                        return "".join(out), False
                    out.append(": ")
                    n += 2
                    item = item[0]
                s, c = suf(item, k - n, d + 1)
                out.append(s)
                n += len(s)
                if not c:
                    out.reverse()
                    return "".join(out), False
        finally:
            self.busy.discard(key)
        out.append(opener)
        out.reverse()
        return "".join(out), True

    def atom(self, v, t, k, head):
        """The repr of a non-container: (whole repr, True), or for a long str, bytes or
        int an exact prefix (head) or suffix of at least k characters, False."""
        if k < 1:
            k = 1
        if t is int:
            if -_BIG < v < _BIG:
                return int.__repr__(v), True
            return self.int_part(v, k, head)
        if t is str:
            if len(v) <= k:
                return str.__repr__(v), True
            # The quote character depends on the whole string: an extra quote added to
            # the piece forces the same choice, and is cut off again.
            extra = "'" if ("'" in v and '"' not in v) else '"'
            if head:
                return str.__repr__(v[:k] + extra)[:-2], False
            return str.__repr__(extra + v[-k:])[2:], False
        if t is bytes:
            if len(v) <= k:
                return bytes.__repr__(v), True
            extra = b"'" if (b"'" in v and b'"' not in v) else b'"'
            if head:
                return bytes.__repr__(v[:k] + extra)[:-2], False
            return bytes.__repr__(extra + v[-k:])[3:], False
        if t is float or t is bool or v is None:
            return repr(v), True
        return self.generic(v, t), True

    def int_part(self, v, k, head):
        """(text, complete) for a huge int: its first (head) or last k digits, computed
        arithmetically, or the whole repr when it is short after all."""
        a = -v if v < 0 else v
        bits = a.bit_length()
        if bits > (1 << 22):
            return "<int with about %d digits>" % int(bits * 0.30103), True
        digits = int(bits * 0.30102999566398) + 1
        if a < 10 ** (digits - 1):
            digits -= 1
        if digits <= k and digits <= 4000:
            return int.__repr__(v), True
        k = min(k, 4000)
        if not head:
            return str(a % 10**k).rjust(k, "0"), False
        return ("-" if v < 0 else "") + str(a // 10 ** (digits - k)), False

    def generic(self, v, t):
        """repr() of anything else, guarded: a repr that raises gives `<T repr failed>`,
        addresses are removed, and a type whose reprs took more than a quarter second
        in total is no longer asked (`<T repr too slow>`)."""
        slow = self.slow.get(t)
        if slow is not None and slow > 0.25:
            return "<%s repr too slow>" % _type_name(t)
        start = self.clock()
        try:
            s = repr(v)
        except RecursionError:
            # The repr recursed without end, or the program is near the recursion
            # limit and so is this callback: only the first is the value's fault.
            if not _headroom(40):
                raise
            s = None
        except _Deadline:
            raise
        except BaseException:
            s = None
        spent = self.clock() - start
        if spent > 0.001:
            self.slow[t] = (slow or 0.0) + spent
        if type(s) is not str:
            return "<%s repr failed>" % _type_name(t)
        if " at 0x" in s:
            s = strip_addresses(s)
        return escape_controls(s)


