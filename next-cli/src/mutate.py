# The bug operators of `next data mutate`: trusted code, run as a sandbox job. It parses
# each reference program with Python's `ast` and writes mutants of it; it never runs
# them (the verifier does, in the sandbox).
#
# Request (stdin): {"sources": [str, ...], "per_operator": int}
# Answer (stdout): [[{"op": str, "src": str}, ...], ...], one list per source (empty
# for a source that does not parse).
import ast
import copy
import json
import sys

COMPARE_FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
COMPARE_WRONG = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.Gt, ast.Gt: ast.Lt,
                 ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.In: ast.NotIn, ast.NotIn: ast.In}
ARITH_WRONG = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult,
               ast.FloorDiv: ast.Mod, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}


def sites(tree):
    """Every (operator, site) of the tree: a site is what the operator changes."""
    out = []
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))]:
        stored = sorted({n.id for n in ast.walk(func)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                        | {a.arg for a in func.args.args})
        for node in ast.walk(func):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in stored:
                others = [v for v in stored if v != node.id]
                if others:
                    out.append(("wrong-variable", node, others[0]))
            if isinstance(node, ast.Return) and node.value is not None:
                others = [v for v in stored if not (isinstance(node.value, ast.Name)
                                                    and node.value.id == v)]
                out.append(("wrong-return", node, others[0] if others else None))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_FLIP:
                    out.append(("off-by-one", node, i))
                if type(op) in COMPARE_WRONG:
                    out.append(("wrong-comparison", node, i))
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITH_WRONG:
            out.append(("wrong-arithmetic", node, None))
        elif isinstance(node, ast.Call) and len(node.args) >= 2 \
                and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            out.append(("swapped-arguments", node, None))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append(("wrong-constant", node, None))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "range" and node.args:
            out.append(("off-by-one", node, "range"))
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if isinstance(body, list) and len(body) > 1:
                for i, stmt in enumerate(body):
                    if not isinstance(stmt, (ast.Return, ast.FunctionDef, ast.Import,
                                             ast.ImportFrom, ast.ClassDef)):
                        out.append(("dropped-statement", node, (field, i)))
    return out


def apply(node, op, arg):
    """Changes `node` (a copy's) by the operator."""
    if op == "wrong-variable":
        node.id = arg
    elif op == "wrong-return":
        node.value = ast.Name(id=arg, ctx=ast.Load()) if arg else ast.Constant(value=None)
    elif op == "off-by-one" and arg == "range":
        stop = 1 if len(node.args) >= 2 else 0
        node.args[stop] = ast.BinOp(left=node.args[stop], op=ast.Add(), right=ast.Constant(1))
    elif op == "off-by-one":
        node.ops[arg] = COMPARE_FLIP[type(node.ops[arg])]()
    elif op == "wrong-comparison":
        node.ops[arg] = COMPARE_WRONG[type(node.ops[arg])]()
    elif op == "wrong-arithmetic":
        node.op = ARITH_WRONG[type(node.op)]()
    elif op == "swapped-arguments":
        node.args[0], node.args[1] = node.args[1], node.args[0]
    elif op == "wrong-constant":
        node.value = 0 if node.value != 0 else 1
    elif op == "dropped-statement":
        field, i = arg
        body = getattr(node, field)
        del body[i]


def mutants(source, per_operator):
    try:
        tree = ast.parse(source)
        original = ast.unparse(tree)
    except (SyntaxError, ValueError, RecursionError):
        return []
    found = sites(tree)
    by_op = {}
    for index, (op, _, _) in enumerate(found):
        by_op.setdefault(op, []).append(index)
    out, seen = [], {original}
    for op in sorted(by_op):
        picks = by_op[op]
        # Spread the picks over the program: first, last, then the middle.
        order = [picks[0], picks[-1]] + picks[1:-1][len(picks) // 2 - 1:len(picks) // 2]
        made = 0
        for index in order:
            if made == per_operator:
                break
            mutant = copy.deepcopy(tree)
            site = list(sites(mutant))[index]
            apply(site[1], site[0], site[2])
            try:
                text = ast.unparse(ast.fix_missing_locations(mutant))
                compile(text, "<mutant>", "exec")
            except (SyntaxError, ValueError, RecursionError):
                continue
            if text in seen:
                continue
            seen.add(text)
            out.append({"op": op, "src": text + "\n"})
            made += 1
    return out


def main():
    request = json.loads(sys.stdin.read())
    per_operator = int(request.get("per_operator", 2))
    answer = [mutants(src, per_operator) for src in request["sources"]]
    sys.stdout.write(json.dumps(answer))


main()
