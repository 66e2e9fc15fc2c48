# The trusted plan step of the NExT test verifier.
#
# This script never sees the program under test. It reads tests (Python statements) on
# stdin as JSON and writes, on stdout, one plan per test: which sub-expressions need the
# candidate's code ("holes", sent as source text to the candidate job) and the judgement
# over them (a small expression tree the Rust judge evaluates on the plain-data values
# the candidate job returns). Everything in a test that does not need the candidate's code
# (expected values, tolerances, inputs built from helpers) is evaluated here, so expected
# values never enter the candidate's process.
#
# A test's names are the program's only when neither the test, the builtins nor the
# standard library gives them (or, for tests that name nothing else, the builtin every
# test calls: that is the entry point, as MBPP 126's `sum`). Standard-library names the
# program imports (its import lines come with the request; they are parsed, never run)
# are the standard library's. A hole is a call into the program (`f(x)`, `Cls(a).m(b)`),
# cut before a method or subscript of a plain value (`f(x).startswith(...)` sends `f(x)`),
# so that nothing the test compares with enters the program's process. A judgement the
# Rust judge does not model (a method of the returned value, a standard-library call, an
# operator it lacks) is a "py" check: the same walk runs again as the trusted judge
# ("judge" mode), with the holes' values, and evaluates every assert in CPython (the
# Rust judge also asks it for checks whose values it does not compute as CPython does).
#
# Request: {"mode": "plan", "tests": [str, ...], "imports": [str, ...]}
#          {"mode": "judge", "tests": [str, ...], "imports": [str, ...],
#           "values": [[py literal | null, ...] | null, ...]}
#          {"mode": "split", "test": str, "entry_point": str}
# Answer:  {"ok": true, "plans": [...]} / {"ok": true, "answers": [[answer, ...] | null, ...]}
#          / {"ok": true, "tests": [...]} / {"ok": false, "error": str}
# A judge answer, one per check of each test given values: {"ok": bool}
#                 | {"err": str, "type": str} | {"skip": true} (a hole has no value)
import ast
import builtins
import collections
import copy
import importlib
import json
import math
import os
import sys
import types

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

try:
    _OUT = os.dup(1)
    os.dup2(2, 1)  # anything a test prints goes to stderr, never into the plan
except (AttributeError, OSError):
    # No descriptor to duplicate (WASI): the plan goes to fd 1, prints to stderr.
    _OUT = 1
    sys.stdout = sys.stderr

MAX_CHECKS = 20000
MAX_ITERATIONS = 100000

# Standard modules a test may use without importing them; the planner imports them.
MODULES = {
    "math", "cmath", "sys", "re", "string", "collections", "itertools", "functools",
    "heapq", "bisect", "random", "copy", "operator", "statistics", "decimal",
    "fractions", "array", "datetime", "typing", "numpy", "np",
}
MODULE_ALIASES = {"np": "numpy"}

# Builtins the judge evaluates itself (see judge.rs); a call to one of these with an
# argument that needs the candidate stays in the judge.
JUDGE_CALLS = {
    "abs", "len", "set", "frozenset", "sorted", "list", "tuple", "min", "max", "sum",
    "all", "any", "float", "int", "bool", "__next_evalplus__",
}
MATH_CALLS = {"isclose", "fabs", "floor", "ceil", "sqrt", "isnan", "isinf", "isfinite"}
TYPE_NAMES = {
    int: "int", float: "float", complex: "complex", str: "str", bool: "bool", list: "list", tuple: "tuple",
    dict: "dict", set: "set", frozenset: "frozenset", bytes: "bytes", type(None): "NoneType",
}
CMP_OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}
BIN_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.Mod: "%", ast.Pow: "**",
}
UN_OPS = {ast.Not: "not", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}


# Attributes of plain values: a call into the program is cut before one of these, which
# the judge then applies to the plain value the program returned.
PLAIN_ATTRS = set()
for _t in (str, bytes, list, tuple, dict, set, frozenset, int, float, complex, bool, type(None)):
    PLAIN_ATTRS.update(dir(_t))

# Standard modules a program may import that the planner must not import itself.
UNIMPORTABLE = {"antigravity", "this", "tkinter", "turtle", "turtledemo", "idlelib", "webbrowser"}

def bound_names(node):
    """Names bound inside `node` (comprehension targets, lambda parameters)."""
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.comprehension):
            for t in ast.walk(sub.target):
                if isinstance(t, ast.Name):
                    out.add(t.id)
        elif isinstance(sub, ast.Lambda):
            a = sub.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs:
                out.add(arg.arg)
            if a.vararg:
                out.add(a.vararg.arg)
            if a.kwarg:
                out.add(a.kwarg.arg)
        elif isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
            out.add(sub.target.id)
    return out


class Planner:
    def __init__(self, candidate_builtins, std=None, values=None):
        # Builtin names that, for this test set, name the program's own function.
        self.candidate_builtins = candidate_builtins
        # Standard-library names the program imports: the judge's, never the program's.
        self.std = std or {}
        # In judge mode, the hole values of the test being walked (Python literals).
        self.values = values
        self.answers = []

    # ---- names -------------------------------------------------------------------
    def is_candidate_name(self, name, env):
        if name in env:
            return env[name][0] == "hole"
        if name in self.candidate_builtins:
            return True
        if hasattr(builtins, name) or name in MODULES or name in self.std \
                or name == "__next_evalplus__":
            return False
        return True

    def mentions_candidate(self, node, env, local=()):
        local = bound_names(node) | set(local)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id not in local:
                if self.is_candidate_name(sub.id, env):
                    return True
        return False

    def chain_hole(self, node, env, local=()):
        """The call into the program that `node` starts with (`f(x)` in
        `f(x).strip()[0]`), or None when `node` is not one: the longest chain of calls and
        attributes from a program name, cut before a subscript or an attribute of a plain
        value."""
        links = []
        root = node
        while isinstance(root, (ast.Call, ast.Attribute, ast.Subscript)):
            links.append(root)
            root = root.func if isinstance(root, ast.Call) else root.value
        if not (isinstance(root, ast.Name) and root.id not in local
                and self.is_candidate_name(root.id, env)):
            return None
        hole = root
        for link in reversed(links):
            if isinstance(link, ast.Subscript):
                break
            if isinstance(link, ast.Attribute) and link.attr in PLAIN_ATTRS:
                break
            hole = link
        return hole

    # ---- evaluation here (no candidate code) -------------------------------------
    def scope(self, env):
        g = {"__builtins__": builtins, "__next_evalplus__": __next_evalplus__}
        g.update(self.std)
        for name, (kind, value) in env.items():
            if kind != "hole":
                g[name] = value
        return g

    def scope_for(self, node, env):
        """The scope, with the standard modules `node` names imported."""
        g = self.scope(env)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in MODULES and sub.id not in g:
                try:
                    g[sub.id] = importlib.import_module(MODULE_ALIASES.get(sub.id, sub.id))
                except ImportError:
                    pass
        return g

    def peval(self, node, env):
        g = self.scope_for(node, env)
        code = compile(ast.Expression(body=node), "<test>", "eval")
        return eval(code, g)  # noqa: S307 - test code, never candidate code

    def pexec(self, stmt, env):
        g = self.scope(env)
        before = dict(g)
        code = compile(ast.Module(body=[stmt], type_ignores=[]), "<test>", "exec")
        exec(code, g)  # noqa: S102 - test code, never candidate code
        for name, value in g.items():
            if name == "__builtins__":
                continue
            if name not in before or before[name] is not value:
                env[name] = ("value", value)

    # ---- holes --------------------------------------------------------------------
    def render(self, node, env):
        """Source of `node` with test-side values substituted as literals."""
        planner = self
        names = self.free_names(node)
        if all(self.is_candidate_name(n, env) and n not in env for n in names):
            return ast.unparse(node)  # only the program's names and literals

        class Subst(ast.NodeTransformer):
            def __init__(self):
                self.local = bound_names(node)

            def generic_visit(self, sub):
                if isinstance(sub, ast.expr) and not isinstance(sub, (ast.Name, ast.Constant)) \
                        and not isinstance(sub, ast.Lambda) \
                        and not planner.mentions_candidate(sub, env) \
                        and not (planner.free_names(sub) & self.local):
                    try:
                        v = planner.peval(sub, env)
                    except Exception:
                        return super().generic_visit(sub)
                    if is_plain(v):
                        return ast.parse(lit(v), mode="eval").body
                return super().generic_visit(sub)

            def visit_Name(self, sub):
                if sub.id in self.local or not isinstance(sub.ctx, ast.Load):
                    return sub
                if sub.id in env:
                    kind, value = env[sub.id]
                    if kind == "hole":
                        return ast.parse(value, mode="eval").body
                    if is_plain(value):
                        return ast.parse(lit(value), mode="eval").body
                    if isinstance(value, types.ModuleType):
                        return sub  # imported for the candidate too (see `hole`)
                    raise Delegate("the test passes the candidate a test-local object `%s`" % sub.id)
                return sub

        new = Subst().visit(ast.parse(ast.unparse(node), mode="eval").body)
        return ast.unparse(new)

    def free_names(self, node):
        local = bound_names(node)
        return {s.id for s in ast.walk(node) if isinstance(s, ast.Name) and s.id not in local}

    def hole(self, node, env, state):
        text = self.render(node, env)
        modules = []
        for n in sorted(self.free_names(ast.parse(text, mode="eval"))):
            if n in env and isinstance(env[n][1], types.ModuleType):
                modules.append([n, env[n][1].__name__])
            elif n in MODULES and n not in env:
                modules.append([n, MODULE_ALIASES.get(n, n)])
        state["holes"].append({"src": text, "modules": modules})
        state["nodes"].append((id(node), len(state["holes"]) - 1))
        if not (isinstance(node, ast.Name)
                or isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            state["wrapped"] = True
        return {"h": len(state["holes"]) - 1}

    # ---- expressions ----------------------------------------------------------------
    def expr(self, node, env, state):
        """A judge expression for `node`, or an Opaque for a non-data test-side value."""
        if not self.mentions_candidate(node, env):
            try:
                v = self.peval(node, env)
            except Exception as e:  # the test itself raises here, as it would anyway
                return {"raise": "%s: %s" % (type(e).__name__, e)}
            if is_plain(v):
                return {"c": enc(v)}
            return Opaque(v)
        if self.chain_hole(node, env) is node:
            return self.hole(node, env, state)
        return self.structure(node, env, state)

    def structure(self, node, env, state):
        """The Rust judge's construct for `node`; raises _Py when it has none."""

        def sub(n):
            r = self.expr(n, env, state)
            if isinstance(r, Opaque):
                raise _Undo()
            return r

        try:
            if isinstance(node, ast.Compare):
                ops = []
                for op in node.ops:
                    if type(op) not in CMP_OPS:
                        raise _Undo()
                    ops.append(CMP_OPS[type(op)])
                left = sub(node.left)
                rights = [sub(c) for c in node.comparators]
                operands = [left] + rights
                for i, op in enumerate(ops):
                    if op in ("is", "is not"):
                        a, b = operands[i], operands[i + 1]
                        if not (_singleton(a) or _singleton(b)):
                            # Identity is the program's process's to know.
                            raise Delegate("an `is` between values that are not singletons")
                return {"cmp": left, "ops": ops, "r": rights}
            if isinstance(node, ast.BoolOp):
                return {"and" if isinstance(node.op, ast.And) else "or": [sub(v) for v in node.values]}
            if isinstance(node, ast.UnaryOp) and type(node.op) in UN_OPS:
                return {"un": UN_OPS[type(node.op)], "v": sub(node.operand)}
            if isinstance(node, ast.BinOp) and type(node.op) in BIN_OPS:
                return {"bin": BIN_OPS[type(node.op)], "l": sub(node.left), "r": sub(node.right)}
            if isinstance(node, ast.IfExp):
                return {"ifx": sub(node.test), "then": sub(node.body), "else": sub(node.orelse)}
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                if any(isinstance(e, ast.Starred) for e in node.elts):
                    raise _Undo()
                kind = {ast.Tuple: "tuple", ast.List: "list", ast.Set: "set"}[type(node)]
                return {"build": kind, "items": [sub(e) for e in node.elts]}
            if isinstance(node, ast.Subscript):
                value = sub(node.value)
                s = node.slice
                if isinstance(s, ast.Slice):
                    return {
                        "slice": value,
                        "lo": sub(s.lower) if s.lower else None,
                        "hi": sub(s.upper) if s.upper else None,
                        "step": sub(s.step) if s.step else None,
                    }
                return {"idx": value, "i": sub(s)}
            if isinstance(node, ast.Call):
                return self.call(node, env, state, sub)
        except _Undo:
            raise _Py()
        raise _Py()

    def call(self, node, env, state, sub):
        f = node.func
        name = None
        if isinstance(f, ast.Name) and not self.is_candidate_name(f.id, env) and f.id not in env:
            if f.id in JUDGE_CALLS:
                name = f.id
            elif f.id == "isinstance":
                name = "isinstance"
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                and f.attr in MATH_CALLS and self.names_math(f.value.id, env):
            name = "math." + f.attr
        if name is None:
            raise _Undo()
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _Undo()
        if name == "isinstance":
            if len(node.args) != 2 or node.keywords:
                raise _Undo()
            t = self.expr(node.args[1], env, state)
            if not isinstance(t, Opaque):
                raise _Undo()
            types = t.value if isinstance(t.value, tuple) else (t.value,)
            if not all(x in TYPE_NAMES for x in types):
                raise _Undo()
            return {"isinstance": sub(node.args[0]), "types": [TYPE_NAMES[x] for x in types]}
        kw = {}
        for k in node.keywords:
            if k.arg is None:
                raise _Undo()
            kw[k.arg] = sub(k.value)
        return {"call": name, "args": [sub(a) for a in node.args], "kw": kw}

    def py_check(self, node, env, state):
        """A check the trusted judge evaluates in CPython: the calls into the program in
        `node` become holes."""
        local = bound_names(node)
        found = []

        def outside(n, hole):
            # The parts of a chain above its hole: arguments, keywords and subscripts.
            while n is not hole:
                if isinstance(n, ast.Call):
                    for a in n.args:
                        visit(a)
                    for k in n.keywords:
                        visit(k.value)
                    n = n.func
                elif isinstance(n, ast.Subscript):
                    visit(n.slice)
                    n = n.value
                else:
                    n = n.value

        def visit(n):
            if isinstance(n, ast.expr) and self.mentions_candidate(n, env, local):
                hole = self.chain_hole(n, env, local)
                if hole is not None:
                    if self.free_names(hole) & local:
                        raise Delegate("a call into the program uses a name bound inside the "
                                       "assert (a comprehension's or a lambda's)")
                    found.append(hole)
                    outside(n, hole)
                    return
            for child in ast.iter_child_nodes(n):
                visit(child)

        visit(node)
        ks = [self.hole(h, env, state)["h"] for h in found]
        return {"py": True, "holes": ks}

    def judge_py(self, node, env, holes):
        """Evaluates `node` with each hole (by node id) replaced by its value."""
        names = {}
        for k in holes.values():
            literal = self.values[k] if k < len(self.values) else None
            if literal is None:
                return {"skip": True}
            names["__next_hole_%d__" % k] = eval(literal, dict(LITERAL_SCOPE))  # noqa: S307

        def subst(n):
            if id(n) in holes:
                return ast.Name(id="__next_hole_%d__" % holes[id(n)], ctx=ast.Load())
            new = copy.copy(n)
            for field, value in ast.iter_fields(n):
                if isinstance(value, ast.AST):
                    setattr(new, field, subst(value))
                elif isinstance(value, list):
                    setattr(new, field, [subst(x) if isinstance(x, ast.AST) else x for x in value])
            return new

        tree = ast.fix_missing_locations(ast.Expression(body=subst(node)))
        g = self.scope_for(tree, env)
        g.update(names)
        try:
            ok = bool(eval(compile(tree, "<test>", "eval"), g))  # noqa: S307 - test code
        except Exception as e:
            return {"err": "%s: %s" % (type(e).__name__, e), "type": type(e).__name__}
        return {"ok": True} if ok else {"ok": False}

    def names_math(self, name, env):
        if name in env:
            return env[name][1] is math
        return name == "math" and not self.is_candidate_name(name, env)

    # ---- statements -----------------------------------------------------------------
    def block(self, body, env, state):
        for stmt in body:
            self.stmt(stmt, env, state)

    def stmt(self, stmt, env, state):
        if len(state["checks"]) > MAX_CHECKS:
            raise Delegate("too many checks to unroll")
        if isinstance(stmt, ast.Assert):
            mark, marked = len(state["holes"]), len(state["nodes"])
            wrapped = state["wrapped"]
            try:
                j = self.expr(stmt.test, env, state)
            except _Py:
                del state["holes"][mark:]
                del state["nodes"][marked:]
                state["wrapped"] = wrapped
                j = self.py_check(stmt.test, env, state)
            if self.values is not None:
                # Judge mode: every check of the test, evaluated here on the values.
                self.answers.append(
                    self.judge_py(stmt.test, env, dict(state["nodes"][marked:])))
            if isinstance(j, Opaque):
                j = {"c": bool(j.value)}
            msg = None
            if stmt.msg is not None and not self.mentions_candidate(stmt.msg, env):
                try:
                    msg = str(self.peval(stmt.msg, env))
                except Exception:
                    msg = None
            state["checks"].append({"expr": j, "msg": msg, "src": _short(ast.unparse(stmt))})
            return
        if isinstance(stmt, ast.Pass):
            return
        if not self.mentions_candidate_stmt(stmt, env):
            if _has_assert(stmt):
                if isinstance(stmt, ast.For):
                    return self.loop(stmt, env, state)
                if isinstance(stmt, ast.If):
                    branch = stmt.body if self.peval(stmt.test, env) else stmt.orelse
                    return self.block(branch, env, state)
                raise Delegate("an assert inside a %s statement" % type(stmt).__name__)
            self.pexec(stmt, env)
            return
        # It mentions the candidate.
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            if self.chain_hole(stmt.value, env) is not stmt.value:
                raise Delegate("an assignment of a computation on the program's values")
            text = self.render(stmt.value, env)
            env[stmt.targets[0].id] = ("hole", "(" + text + ")")
            return
        if isinstance(stmt, ast.For) and not self.mentions_candidate(stmt.iter, env):
            return self.loop(stmt, env, state)
        if isinstance(stmt, ast.If) and not self.mentions_candidate(stmt.test, env):
            branch = stmt.body if self.peval(stmt.test, env) else stmt.orelse
            return self.block(branch, env, state)
        raise Delegate("a %s statement that uses the program" % type(stmt).__name__)

    def mentions_candidate_stmt(self, stmt, env):
        local = set()
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                local.add(sub.id)
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.expr) and self.mentions_candidate(sub, {**env, **{n: ("value", None) for n in local if n not in env}}):
                # names the statement binds itself are test-side unless already holes
                return True
        return False

    def loop(self, stmt, env, state):
        if stmt.orelse:
            raise Delegate("a for loop with an else branch")
        items = self.peval(stmt.iter, env)
        count = 0
        for item in items:
            count += 1
            state["iterations"] += 1
            if state["iterations"] > MAX_ITERATIONS:
                raise Delegate("a loop too long to unroll")
            self.bind(stmt.target, item, env)
            for inner in stmt.body:
                if isinstance(inner, (ast.Break, ast.Continue)):
                    raise Delegate("break or continue in a test loop")
                self.stmt(inner, env, state)

    def bind(self, target, value, env):
        if isinstance(target, ast.Name):
            env[target.id] = ("value", value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = list(value)
            if len(values) != len(target.elts):
                raise Delegate("a loop target that does not unpack")
            for t, v in zip(target.elts, values):
                self.bind(t, v, env)
        else:
            raise Delegate("a loop target that is not a name")


class _Undo(Exception):
    pass


class _Py(Exception):
    """The Rust judge does not model this judgement: the trusted judge evaluates it."""


LITERAL_SCOPE = {"__builtins__": {}, "float": float, "complex": complex, "set": set,
                 "frozenset": frozenset}


def _singleton(j):
    return isinstance(j, dict) and "c" in j and (j["c"] is None or type(j["c"]) is bool)


def _has_assert(stmt):
    return any(isinstance(s, ast.Assert) for s in ast.walk(stmt))


def _short(text, limit=300):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unbound_names(tree):
    """Names a test reads without binding them anywhere in itself."""
    bound, used = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (used if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                bound.add((a.asname or a.name).split(".")[0])
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
    return used - bound


def candidate_builtins(trees, std):
    """The builtin that is the entry point, for tests that name nothing else of the
    program and all call that builtin on the left of `==` (MBPP 126 defines `sum`). Where
    the tests name the program otherwise (`set(f(x)) == ...`), every builtin is the
    judge's, whatever the program defines."""
    names = None
    for tree in trees:
        if tree is None:
            return set()
        program = {n for n in unbound_names(tree)
                   if not hasattr(builtins, n) and n not in MODULES and n not in std
                   and n != "__next_evalplus__"}
        if program:
            return set()
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            return set()
        t = tree.body[0].test
        if not (isinstance(t, ast.Compare) and isinstance(t.left, ast.Call)
                and isinstance(t.left.func, ast.Name)):
            return set()
        name = t.left.func.id
        if names is None:
            names = {name}
        elif name not in names:
            return set()
    if not names:
        return set()
    return {n for n in names if hasattr(builtins, n) and n not in ("isinstance",)}


def stdlib_names(imports):
    """The names the program's import lines bind to standard-library modules or their
    members (the lines are parsed, never run; the modules are imported here)."""
    std_modules = getattr(sys, "stdlib_module_names", None) or (MODULES - {"numpy", "np"})
    out = {}

    def load(name):
        if name.split(".")[0] not in std_modules or name.split(".")[0] in UNIMPORTABLE:
            return None
        try:
            return importlib.import_module(name)
        except Exception:
            return None

    for line in imports:
        try:
            tree = ast.parse(line)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for a in node.names:
                    module = load(a.name)
                    if module is not None:
                        top = a.name.split(".")[0]
                        out[a.asname or top] = module if a.asname else sys.modules[top]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = load(node.module)
                for a in node.names if module is not None else ():
                    if a.name != "*" and hasattr(module, a.name):
                        out[a.asname or a.name] = getattr(module, a.name)
    return out


def walk_tests(tests, imports, values=None):
    """Plans every test (values None) or, in judge mode, judges every check of the
    tests that have values."""
    trees = []
    for src in tests:
        try:
            trees.append(ast.parse(src))
        except (SyntaxError, ValueError):
            trees.append(None)
    std = stdlib_names(imports)
    program_builtins = candidate_builtins(trees, std) if len(tests) > 1 else set()
    plans, answers = [], []
    for i, (src, tree) in enumerate(zip(tests, trees)):
        test_values = values[i] if values is not None and i < len(values) else None
        planner = Planner(program_builtins, std, test_values)
        if values is not None:
            if test_values is None or tree is None:
                answers.append(None)
                continue
            state = {"checks": [], "holes": [], "wrapped": False, "iterations": 0, "nodes": []}
            try:
                planner.block(tree.body, {}, state)
                answers.append(planner.answers)
            except Exception:
                answers.append(None)
            continue
        if tree is None:
            try:
                ast.parse(src)
                err = "SyntaxError"
            except (SyntaxError, ValueError) as e:
                err = "%s: %s" % (type(e).__name__, e)
            plans.append({"mode": "invalid", "error": err})
            continue
        state = {"checks": [], "holes": [], "wrapped": False, "iterations": 0, "nodes": []}
        try:
            planner.block(tree.body, {}, state)
        except Delegate as d:
            plans.append({"mode": "delegated", "reason": str(d)})
            continue
        except RecursionError:
            plans.append({"mode": "delegated", "reason": "the test is too deeply nested"})
            continue
        except Exception as e:  # the test-side code raised: every program errors here
            plans.append({"mode": "invalid", "error": "%s: %s" % (type(e).__name__, e)})
            continue
        plans.append({
            "mode": "judged",
            "checks": state["checks"],
            "holes": state["holes"],
            "wrapped": state["wrapped"],
        })
    return answers if values is not None else plans


def split_check(test, entry_point):
    """The asserts of HumanEval's `check(candidate)`, with the parameter renamed to the
    entry point; the statements before an assert inside `check` are kept as its prelude."""
    tree = ast.parse(test)
    check = None
    helpers = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "check":
            check = stmt
        elif isinstance(stmt, ast.Assign) and all(
                isinstance(t, ast.Name) and t.id == "METADATA" for t in stmt.targets):
            continue
        else:
            helpers.append(stmt)
    if check is None:
        raise ValueError("the test defines no check function")
    if len(check.args.args) != 1:
        raise ValueError("check takes %d parameters, not one" % len(check.args.args))
    param = check.args.args[0].arg

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id == param:
                return ast.copy_location(ast.Name(id=entry_point, ctx=node.ctx), node)
            return node

    prelude = [ast.unparse(h) for h in helpers]
    out = []
    for stmt in check.body:
        stmt = Rename().visit(stmt)
        text = ast.unparse(stmt)
        if _has_assert(stmt):
            out.append("\n".join(prelude + [text]))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Name):
            continue  # a bare name (HumanEval/129's `print`)
        else:
            prelude.append(text)
    return out


def main():
    request = json.loads(sys.stdin.buffer.read())
    try:
        if request["mode"] == "plan":
            answer = {"ok": True,
                      "plans": walk_tests(request["tests"], request.get("imports", ()))}
            if "harness" in request:
                # The candidate harness compiled here, so that candidate jobs on this
                # interpreter need not compile it (see bootstrap.py).
                import marshal
                code = compile(request["harness"], "<harness>", "exec")
                answer["compiled"] = {
                    "tag": "%s %s" % (sys.implementation.cache_tag, sys.version),
                    "code": marshal.dumps(code).hex(),
                }
        elif request["mode"] == "judge":
            answer = {"ok": True, "answers": walk_tests(
                request["tests"], request.get("imports", ()), request["values"])}
        elif request["mode"] == "split":
            answer = {"ok": True, "tests": split_check(request["test"], request["entry_point"])}
        else:
            answer = {"ok": False, "error": "unknown mode"}
    except Exception as e:
        answer = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    data = json.dumps(answer, allow_nan=False).encode()
    view = memoryview(data)
    while view:
        n = os.write(_OUT, view)
        view = view[n:]
    sys.stdout.flush()
    os._exit(0)


main()
