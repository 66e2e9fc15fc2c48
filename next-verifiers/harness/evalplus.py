# EvalPlus's output check (evalplus/eval/__init__.py), without numpy:
# `__next_evalplus__(out, exp, atol)`, which the HumanEval+ tests call. Joined ahead of
# both the planner (the trusted judge evaluates it for a split test) and the candidate
# harness (a delegated test runs it in the program's process) when embedded, so that
# the two judge alike. The builtins it uses are bound here, once, so that a program
# that rebinds `type` or `len` does not change it.
_ep_type, _ep_len, _ep_abs, _ep_all, _ep_zip = type, len, abs, all, zip
_ep_int, _ep_float, _ep_bool, _ep_list, _ep_tuple = int, float, bool, list, tuple
_EP_INF = float("inf")


def __next_evalplus__(out, exp, atol):
    """EvalPlus's check: equal, or (with a tolerance, 1e-6 for floats when none is
    given) close as numpy.allclose would find them."""
    if out == exp:
        return True
    if atol == 0 and _ep_is_floats(exp):
        atol = 1e-6
    if atol == 0 or _ep_type(out) is not _ep_type(exp):
        return False
    if _ep_type(exp) in (_ep_list, _ep_tuple) and _ep_len(out) != _ep_len(exp):
        return False
    return _ep_allclose(out, exp, atol)


def _ep_is_floats(x):
    if _ep_type(x) is _ep_float:
        return True
    seq = (_ep_list, _ep_tuple)
    return _ep_type(x) in seq and _ep_len(x) > 0 and _ep_all(_ep_type(i) is _ep_float for i in x)


def _ep_allclose(out, exp, atol):
    # numpy.allclose(out, exp, rtol=1e-07, atol=atol) over nested lists of numbers, with
    # numpy's broadcasting of a length-one side.
    seq = (_ep_list, _ep_tuple)
    if _ep_type(out) in seq and _ep_type(exp) in seq:
        if _ep_len(out) == _ep_len(exp):
            return _ep_all(_ep_allclose(a, b, atol) for a, b in _ep_zip(out, exp))
        if _ep_len(out) == 1:
            return _ep_all(_ep_allclose(out[0], b, atol) for b in exp)
        if _ep_len(exp) == 1:
            return _ep_all(_ep_allclose(a, exp[0], atol) for a in out)
        return False
    if _ep_type(out) in seq:
        return _ep_all(_ep_allclose(a, exp, atol) for a in out)
    if _ep_type(exp) in seq:
        return _ep_all(_ep_allclose(out, b, atol) for b in exp)
    numbers = (_ep_int, _ep_float, _ep_bool)
    if _ep_type(out) in numbers and _ep_type(exp) in numbers:
        if _ep_abs(out) == _EP_INF or _ep_abs(exp) == _EP_INF:
            return out == exp
        return _ep_abs(out - exp) <= atol + 1e-07 * _ep_abs(exp)
    return False
