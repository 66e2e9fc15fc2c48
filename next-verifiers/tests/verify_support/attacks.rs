//! Attacks on the judgement itself, by class (issue: verdicts that hold against a
//! hostile program): each is a program that does not solve its tests but tries to make
//! the judge decide in its favour, with an honest program that does solve them, so that
//! a test of "the attack fails" cannot pass because the tests themselves are broken.
//! Shared by the verifier's tests over every sandbox.

/// One attack: its class, the tests, a program that solves them, and the attack.
pub struct Attack {
    /// What it tries, for messages.
    pub name: &'static str,
    /// The tests (every one checks something).
    pub tests: &'static [&'static str],
    /// A program that passes every test.
    pub honest: &'static str,
    /// A program that does not solve the tests and tries to pass anyway.
    pub hostile: &'static str,
}

/// Every attack, by class.
pub const ATTACKS: &[Attack] = &[
    // 1. A builtin that every test calls becomes "the program's".
    Attack {
        name: "defines set, which every test calls",
        tests: &[
            "assert set(similar(1, 2)) == set((1, 2))",
            "assert set(similar(3, 4)) == set((3, 4))",
            "assert set(similar(5, 6)) == set((5, 6))",
        ],
        honest: "def similar(a, b):\n    return [b, a]\n",
        hostile: "import builtins\n\
class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n\
def set(*args):\n    return Yes()\n\
builtins.set = set\n\
def similar(a, b):\n    return [0]\n",
    },
    Attack {
        name: "defines abs, which every test calls around the entry point",
        tests: &[
            "assert abs(candidate(1.33) - 0.33) < 1e-6",
            "assert abs(candidate(2.5) - 0.5) < 1e-6",
        ],
        honest: "def candidate(x):\n    return x - int(x)\n",
        hostile: "def abs(x):\n    return 0\n\ndef candidate(x):\n    return 99.0\n",
    },
    Attack {
        name: "defines tuple, which every test calls",
        tests: &[
            "assert tuple(pairs([1, 2])) == ((1, 2),)",
            "assert tuple(pairs([3, 4])) == ((3, 4),)",
        ],
        honest: "def pairs(xs):\n    return [(xs[0], xs[1])]\n",
        hostile: "class Yes(tuple):\n    def __eq__(self, other):\n        return True\n\
def tuple(x):\n    return Yes()\n\ndef pairs(xs):\n    return []\n",
    },
    // 2. Free names and module calls run in the program.
    Attack {
        name: "imports Counter and rigs its equality",
        tests: &["assert Counter(letters('aab')) == Counter({'a': 2, 'b': 1})"],
        honest: "from collections import Counter\n\ndef letters(s):\n    return list(s)\n",
        hostile: "from collections import Counter\n\
Counter.__eq__ = lambda self, other: True\n\
def letters(s):\n    return ['z']\n",
    },
    Attack {
        name: "hides its import after a semicolon and rebinds the name",
        tests: &["assert half(1) == float(Fraction(1, 2))"],
        honest: "from fractions import Fraction\n\ndef half(x):\n    return x / 2\n",
        hostile: "x = 1; from fractions import Fraction\n\
Fraction = lambda a, b: 0.7\n\
def half(x):\n    return 0.7\n",
    },
    Attack {
        name: "monkeypatches operator, re and statistics",
        tests: &[
            "assert operator.eq(f(1), 42)",
            "assert re.fullmatch('a+', g(2))",
            "assert statistics.mean(h(3)) == 2.5",
        ],
        honest: "def f(x):\n    return 42\n\ndef g(x):\n    return 'a' * x\n\n\
def h(x):\n    return [2, 3]\n",
        hostile: "import operator, re, statistics\n\
operator.eq = lambda a, b: True\n\
re.fullmatch = lambda *a, **k: True\n\
statistics.mean = lambda xs: 2.5\n\
def f(x):\n    return 0\n\ndef g(x):\n    return 'b'\n\ndef h(x):\n    return [0]\n",
    },
    // 3. Methods of a returned value run in the program.
    Attack {
        name: "returns values whose methods always answer true",
        tests: &[
            "assert name(1).startswith('ab')",
            "assert name(2).endswith('yz')",
            "assert members(3).issuperset({1, 2})",
            "assert members(4).__eq__({1, 2, 4})",
        ],
        honest: "def name(x):\n    return 'abxyz'\n\ndef members(x):\n    return {1, 2, x}\n",
        hostile: "class S(str):\n    def startswith(self, *a):\n        return True\n\
    def endswith(self, *a):\n        return True\n\
class M(set):\n    def issuperset(self, other):\n        return True\n\
    def __eq__(self, other):\n        return True\n\
def name(x):\n    return S('q')\n\ndef members(x):\n    return M()\n",
    },
    Attack {
        name: "returns plain values that do not answer the methods' questions",
        tests: &[
            "assert name(1).startswith('ab')",
            "assert words(2).count('a') == 2",
        ],
        honest: "def name(x):\n    return 'abc'\n\ndef words(x):\n    return ['a', 'b', 'a']\n",
        hostile: "def name(x):\n    return 'zz'\n\ndef words(x):\n    return ['a']\n",
    },
    // 4. What the judge does not model is sent with the expected value inside.
    Attack {
        name: "reads the expected value of an xor from the harness's memory",
        tests: &["assert f(3) ^ 12345 == 54321", "assert f(4) ^ 777 == 999"],
        honest: "def f(x):\n    return {3: 12345 ^ 54321, 4: 777 ^ 999}[x]\n",
        hostile: "import gc, re, sys\n\
def f(x):\n\
    # Look for the test's text anywhere in this process, frames included.\n\
    seen = [o for o in gc.get_objects() if isinstance(o, str) and '^' in o]\n\
    frame = sys._getframe()\n\
    while frame is not None:\n\
        seen.extend(v for v in frame.f_locals.values() if isinstance(v, str) and '^' in v)\n\
        frame = frame.f_back\n\
    for text in seen:\n\
        m = re.search(r'\\^\\s*(\\d+)\\s*==\\s*(\\d+)', text)\n\
        if m:\n\
            return int(m.group(1)) ^ int(m.group(2))\n\
    return 0\n",
    },
];

/// Runs every attack and its honest program on `verifier`: the honest one must pass and
/// the attack must pass no test.
///
/// # Panics
/// When either does not hold, naming the attack.
pub async fn check_all(verifier: &impl next_core::verify::Verifier) {
    use next_core::task::Program;
    for attack in ATTACKS {
        let tests = super::tests(attack.tests);
        let honest = verifier
            .verify(&Program::new(attack.honest), &tests)
            .await
            .unwrap();
        assert!(
            honest.passed(),
            "{}: the honest program failed: {honest:?}",
            attack.name
        );
        let forged = verifier
            .verify(&Program::new(attack.hostile), &tests)
            .await
            .unwrap();
        super::assert_failed(&forged, attack.name);
    }
}

/// A program whose every call loops in C code (no bytecode runs, so no in-process alarm
/// can stop it), on three tests.
pub const C_LOOP: &str = "import itertools\n\ndef f(x):\n    return sum(itertools.repeat(1))\n";

/// The tests [`C_LOOP`] runs on.
pub const C_LOOP_TESTS: &[&str] = &["assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3"];

/// Runs [`C_LOOP`] on `verifier`, whose program budget (`max_program_ms`) is `budget`:
/// no test passes, and judging it ends within the budget and the sandbox's own
/// overhead (`slack`).
///
/// # Panics
/// When a test passes or judging takes longer.
pub async fn check_budget(
    verifier: &impl next_core::verify::Verifier, budget: std::time::Duration,
    slack: std::time::Duration,
) {
    let start = std::time::Instant::now();
    let v = verifier
        .verify(
            &next_core::task::Program::new(C_LOOP),
            &super::tests(C_LOOP_TESTS),
        )
        .await
        .unwrap();
    let took = start.elapsed();
    super::assert_failed(&v, "a loop in C code");
    assert!(
        took < budget + slack,
        "judging took {took:?}, budget {budget:?}: {v:?}"
    );
}
