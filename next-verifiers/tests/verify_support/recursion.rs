//! A program that shows how deep it may recurse, and the tests that expect what it
//! prints as a plain script: a verdict passes them only where the program recurses
//! exactly as deep, and reads and sets its limit exactly as, in `python program.py`.

/// Recurses until `RecursionError` at its module level (`TOP`) and in `depth(0)`; reads
/// its limit, sets a low one and one below its depth (`limits()`).
pub const PROGRAM: &str = "\
import sys

def depth(n):
    try:
        return depth(n + 1)
    except RecursionError:
        return n

TOP = depth(0)

def limits():
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    low = depth(0)
    try:
        sys.setrecursionlimit(3)
        refused = None
    except RecursionError as e:
        refused = str(e)
    sys.setrecursionlimit(before)
    return before, sys.getrecursionlimit(), low, refused
";

/// [`PROGRAM`] as a plain script that prints `TOP`, `depth(0)` and `repr(limits())`.
pub fn script() -> String {
    format!("{PROGRAM}print(TOP)\nprint(depth(0))\nprint(repr(limits()))\n")
}

/// The tests of [`PROGRAM`] that expect what [`script`] `printed`; the depth is checked
/// again after `limits()` set the limit low and back.
///
/// # Panics
/// Unless `printed` is three lines whose first is a depth of at least 100.
pub fn checks(printed: &str) -> Vec<String> {
    let lines: Vec<&str> = printed.lines().collect();
    let [top, deep, limits] = lines[..] else {
        panic!("the plain script printed {printed:?}")
    };
    assert!(top.parse::<u32>().unwrap() >= 100, "{top}");
    vec![
        format!("assert TOP == {top}"),
        format!("assert depth(0) == {deep}"),
        format!("assert limits() == {limits}"),
        format!("assert depth(0) == {deep}"),
    ]
}
