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
# Request: {"mode": "plan", "tests": [str, ...]}
#          {"mode": "split", "test": str, "entry_point": str}
# Answer:  {"ok": true, "plans": [...]} / {"ok": true, "tests": [...]} / {"ok": false, "error": str}
import ast
import builtins
import collections
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


def __next_evalplus__(out, exp, atol):
    """What the judge computes for EvalPlus cases (used when planning constants)."""
    if out == exp:
        return True
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if atol == 0:
        return False
    return _allclose(out, exp, atol)


def _is_floats(x):
    if type(x) is float:
        return True
    if type(x) in (list, tuple):
        return all(type(i) is float for i in x)
    return False


def _allclose(out, exp, atol):
    if type(out) in (list, tuple) and type(exp) in (list, tuple):
        return len(out) == len(exp) and all(_allclose(a, b, atol) for a, b in zip(out, exp))
    if type(out) in (int, float, bool) and type(exp) in (int, float, bool):
        return abs(out - exp) <= atol + 1e-07 * abs(exp)
    return False


DICTS = (dict, collections.Counter, collections.OrderedDict, collections.defaultdict)


class Delegate(Exception):
    """This test cannot be split; it runs whole in the candidate's process."""


class Opaque:
    """A value computed here that is not plain data (a type, a function, a module)."""

    def __init__(self, value):
        self.value = value


def is_plain(v, depth=0):
    if depth > 200:
        return False
    t = type(v)
    if v is None or t in (bool, int, float, complex, str, bytes):
        return True
    if t in (list, tuple, set, frozenset):
        return all(is_plain(x, depth + 1) for x in v)
    if t in DICTS:
        return all(is_plain(k, depth + 1) and is_plain(x, depth + 1) for k, x in v.items())
    return False


def enc(v):
    """The wire form of a plain value (the same as the candidate harness writes)."""
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if -(1 << 63) <= v < (1 << 63) else {"int": str(v)}
    if t is float:
        if math.isnan(v):
            return {"float": "nan"}
        if math.isinf(v):
            return {"float": "inf" if v > 0 else "-inf"}
        return v
    if t is complex:
        return {"complex": [enc(v.real), enc(v.imag)]}
    if t is bytes:
        return {"bytes": v.hex()}
    if t is list:
        return [enc(x) for x in v]
    if t is tuple:
        return {"tuple": [enc(x) for x in v]}
    if t is set:
        return {"set": [enc(x) for x in v]}
    if t is frozenset:
        return {"frozenset": [enc(x) for x in v]}
    if t in DICTS:
        return {"dict": [[enc(k), enc(x)] for k, x in v.items()]}
    raise TypeError("not plain data: " + t.__name__)


def lit(v):
    """Python source that evaluates to the plain value `v`."""
    t = type(v)
    if t is float:
        if math.isnan(v):
            return "float('nan')"
        if math.isinf(v):
            return "float('inf')" if v > 0 else "float('-inf')"
        return repr(v)
    if v is None or t in (bool, int, str, bytes):
        return repr(v)
    if t is complex:
        return "complex(" + lit(v.real) + ", " + lit(v.imag) + ")"
    if t is list:
        return "[" + ", ".join(lit(x) for x in v) + "]"
    if t is tuple:
        if len(v) == 1:
            return "(" + lit(v[0]) + ",)"
        return "(" + ", ".join(lit(x) for x in v) + ")"
    if t is set:
        return "{" + ", ".join(lit(x) for x in v) + "}" if v else "set()"
    if t is frozenset:
        return "frozenset(" + (lit(set(v)) if v else "") + ")"
    if t in DICTS:
        return "{" + ", ".join(lit(k) + ": " + lit(x) for k, x in v.items()) + "}"
    raise Delegate("a value the candidate needs is not plain data")


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
    def __init__(self, candidate_builtins):
        # Builtin names that, for this test set, name the program's own function.
        self.candidate_builtins = candidate_builtins

    # ---- names -------------------------------------------------------------------
    def is_candidate_name(self, name, env):
        if name in env:
            return env[name][0] == "hole"
        if name in self.candidate_builtins:
            return True
        if hasattr(builtins, name) or name in MODULES or name == "__next_evalplus__":
            return False
        return True

    def mentions_candidate(self, node, env):
        local = bound_names(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id not in local:
                if self.is_candidate_name(sub.id, env):
                    return True
        return False

    # ---- evaluation here (no candidate code) -------------------------------------
    def scope(self, env):
        g = {"__builtins__": builtins, "__next_evalplus__": __next_evalplus__}
        for name, (kind, value) in env.items():
            if kind != "hole":
                g[name] = value
        return g

    def peval(self, node, env):
        g = self.scope(env)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in MODULES and sub.id not in g:
                try:
                    g[sub.id] = importlib.import_module(MODULE_ALIASES.get(sub.id, sub.id))
                except ImportError:
                    pass
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
        if not self.is_pure(node, env):
            state["wrapped"] = True
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Compare, ast.BoolOp)):
                state["judged_inside"] = True
        return {"h": len(state["holes"]) - 1}

    def is_pure(self, node, env):
        """A call of (or a reference to) the candidate's code with test inputs."""
        root = node
        while True:
            if isinstance(root, ast.Call):
                root = root.func
            elif isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            else:
                break
        return isinstance(root, ast.Name) and self.is_candidate_name(root.id, env)

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
        parts = self.structure(node, env, state)
        if parts is None:
            return self.hole(node, env, state)
        return parts

    def structure(self, node, env, state):
        """The judge's own construct for `node`, or None when it must become a hole."""
        mark = len(state["holes"])
        saved = (state["wrapped"], state["judged_inside"])

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
                            raise _Undo()
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
            del state["holes"][mark:]
            state["wrapped"], state["judged_inside"] = saved
            return None
        return None

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
            j = self.expr(stmt.test, env, state)
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


def _singleton(j):
    return isinstance(j, dict) and "c" in j and (j["c"] is None or type(j["c"]) is bool)


def _has_assert(stmt):
    return any(isinstance(s, ast.Assert) for s in ast.walk(stmt))


def _short(text, limit=300):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def candidate_builtins(trees):
    """Builtin names that every test calls on the left of `==` (MBPP 126 defines `sum`)."""
    names = None
    for tree in trees:
        if tree is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
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


def plan_tests(tests):
    trees = []
    for src in tests:
        try:
            trees.append(ast.parse(src))
        except (SyntaxError, ValueError):
            trees.append(None)
    planner = Planner(candidate_builtins(trees) if len(tests) > 1 else set())
    plans = []
    for src, tree in zip(tests, trees):
        if tree is None:
            try:
                ast.parse(src)
                err = "SyntaxError"
            except (SyntaxError, ValueError) as e:
                err = "%s: %s" % (type(e).__name__, e)
            plans.append({"mode": "invalid", "error": err})
            continue
        state = {"checks": [], "holes": [], "wrapped": False, "judged_inside": False,
                 "iterations": 0}
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
        if state["judged_inside"]:
            plans.append({"mode": "delegated", "reason": "a comparison needs the program's values inside its own code"})
            continue
        plans.append({
            "mode": "judged",
            "checks": state["checks"],
            "holes": state["holes"],
            "wrapped": state["wrapped"],
        })
    return plans


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
            answer = {"ok": True, "plans": plan_tests(request["tests"])}
            if "harness" in request:
                # The candidate harness compiled here, so that candidate jobs on this
                # interpreter need not compile it (see bootstrap.py).
                import marshal
                code = compile(request["harness"], "<harness>", "exec")
                answer["compiled"] = {
                    "tag": "%s %s" % (sys.implementation.cache_tag, sys.version),
                    "code": marshal.dumps(code).hex(),
                }
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
