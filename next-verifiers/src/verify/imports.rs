//! The program's import lines that bear on its tests: the planner resolves the names a
//! test uses from them (`Counter` is `collections.Counter` when the program imports it),
//! without running the program.
//!
//! The lines are found by their text, not parsed: every line that starts (after
//! indentation) with `import ` or `from `, with its continuation lines while a
//! parenthesis is open or a line ends in a backslash. The planner parses each and keeps
//! only standard-library imports, so a line found inside a string does no harm. A line is
//! kept only when a name it binds appears in the tests, so that programs of one task that
//! differ in unrelated imports share one plan.

use next_core::task::TestCase;

/// Most import lines sent to the planner, and the longest one kept.
const MAX_LINES: usize = 64;
const MAX_LINE: usize = 2_000;

/// The program's import lines that bind a name the tests use, in order, without repeats.
pub(crate) fn relevant_imports(source: &str, tests: &[TestCase]) -> Vec<String> {
    let words: std::collections::HashSet<&str> = tests
        .iter()
        .flat_map(|t| t.code().split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for statement in import_statements(source) {
        if out.len() == MAX_LINES {
            break;
        }
        if statement.len() <= MAX_LINE
            && bound_names(&statement)
                .iter()
                .any(|n| words.contains(n.as_str()))
            && !out.contains(&statement)
        {
            out.push(statement);
        }
    }
    out
}

/// Import statements by their text, each joined onto one line: also those after a `;`
/// (`x = 1; import os`), which a program could use to hide one.
fn import_statements(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let segments: Vec<&str> = line.split(';').collect();
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            let trimmed = segment.trim_start();
            if !(trimmed.starts_with("import ") || trimmed.starts_with("from ")) {
                continue;
            }
            let mut statement = trimmed.trim_end().to_owned();
            let mut depth = paren_depth(&statement);
            while i == last && (depth > 0 || statement.ends_with('\\')) {
                let Some(next) = lines.next() else { break };
                if statement.ends_with('\\') {
                    statement.pop();
                }
                statement.push(' ');
                statement.push_str(next.trim());
                depth += paren_depth(next);
                if statement.len() > MAX_LINE {
                    break;
                }
            }
            // A comment ends the statement.
            let end = statement.find('#').unwrap_or(statement.len());
            out.push(statement[..end].trim_end().to_owned());
        }
    }
    out
}

fn paren_depth(text: &str) -> i64 {
    text.chars()
        .map(|c| match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        })
        .sum()
}

/// The names an import statement binds (`a` for `import a.b`, `y` for `from x import z
/// as y`), read loosely: a word the statement does not bind only costs a planner run.
fn bound_names(statement: &str) -> Vec<String> {
    let names = match statement.split_once(" import ") {
        Some((head, tail)) if head.trim_start().starts_with("from ") => tail,
        _ => statement.trim_start().strip_prefix("import ").unwrap_or(""),
    };
    names
        .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace())
        .split(',')
        .filter_map(|part| {
            let part = part.trim().trim_matches(|c| c == '(' || c == ')').trim();
            let name = match part.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.split('.').next().unwrap_or("").trim(),
            };
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tests(lines: &[&str]) -> Vec<TestCase> {
        lines.iter().map(|l| TestCase::new(*l).unwrap()).collect()
    }

    #[test]
    fn keeps_only_imports_of_names_the_tests_use() {
        let source = "import math\nfrom collections import (\n    Counter,\n    deque as dq)\n\
                      def f(x):\n    from fractions import Fraction  # local\n    return x\n";
        let t = tests(&[
            "assert Counter(f('ab')) == Counter('ba')",
            "assert f(Fraction(1, 2))",
        ]);
        assert_eq!(
            relevant_imports(source, &t),
            vec![
                "from collections import ( Counter, deque as dq)".to_owned(),
                "from fractions import Fraction".to_owned(),
            ]
        );
        assert!(relevant_imports(source, &tests(&["assert f(1) == 1"])).is_empty());
    }

    #[test]
    fn reads_aliases_and_dotted_modules() {
        assert_eq!(
            bound_names("import os.path, re as regex"),
            vec!["os", "regex"]
        );
        assert_eq!(bound_names("from a.b import c, d as e"), vec!["c", "e"]);
        assert_eq!(
            import_statements("x = 1; import os\nimport a, \\\n  b  # c\n"),
            vec!["import os".to_owned(), "import a,  b".to_owned()]
        );
    }
}
