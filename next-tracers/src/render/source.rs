//! Program and test text as the renderers see it: lines as Python numbers them, and a
//! light scan of where statements start (for the basic blocks of `blocks`).

/// Splits `text` into lines as Python's compiler numbers them: `\r\n`, `\r` and `\n` each
/// end a line (so MBPP's `\r\n` programs number like Python does), and a final line
/// break does not start an empty line. The returned lines hold no line-break characters.
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(at) = rest.find(['\r', '\n']) {
            lines.push(&rest[..at]);
            let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
            rest = &rest[at + skip..];
        } else {
            lines.push(rest);
            rest = "";
        }
    }
    lines
}

/// The lines of `text` without its trailing blank (whitespace-only) lines.
pub(crate) fn trimmed_lines(text: &str) -> Vec<&str> {
    let mut lines = split_lines(text);
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// The 0-based index of 1-based line `line` among `len` lines, if it is one of them.
pub(crate) fn line_index(line: u32, len: usize) -> Option<usize> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    (index < len).then_some(index)
}

/// What a source line is, for finding the textually next statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// Starts a statement.
    Statement,
    /// Continues the statement of an earlier line (open brackets, a backslash, a string
    /// left open).
    Continuation,
    /// Blank or a comment alone.
    Blank,
}

/// Where the statements of a program start, from a light scan that knows brackets,
/// strings (single, triple-quoted, escaped quotes), comments and backslash line joins.
/// It is a heuristic for laying out basic blocks, not a Python parser.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    kinds: Vec<LineKind>,
    /// By 0-based line: the index of the textually next statement, if any.
    next: Vec<Option<usize>>,
}

impl Layout {
    /// Scans `lines`.
    pub(crate) fn new(lines: &[&str]) -> Self {
        let mut scan = next_core::python::LineScan::default();
        let mut kinds = Vec::with_capacity(lines.len());
        let mut indents = Vec::with_capacity(lines.len());
        let mut opens_body = Vec::with_capacity(lines.len());
        for line in lines {
            let body = line.trim_start();
            let kind = if scan.continuing() {
                LineKind::Continuation
            } else if body.is_empty() || body.starts_with('#') {
                LineKind::Blank
            } else {
                LineKind::Statement
            };
            kinds.push(kind);
            indents.push(line.len() - body.len());
            opens_body.push(
                kind == LineKind::Statement
                    && ["def ", "async def ", "class "]
                        .iter()
                        .any(|keyword| body.starts_with(keyword)),
            );
            scan.line(line);
        }
        let next = (0..kinds.len())
            .map(|from| {
                (from + 1..kinds.len()).find(|&index| {
                    kinds[index] == LineKind::Statement
                        && (!opens_body[from] || indents[index] <= indents[from])
                })
            })
            .collect();
        Self { kinds, next }
    }

    /// Whether control going from 1-based line `from` to line `to` of one frame is the
    /// fall-through to the textually next statement: the first statement after `from`
    /// (after the body, when `from` defines a function or a class).
    pub(crate) fn falls_through(&self, from: u32, to: u32) -> bool {
        let (Some(from), Some(to)) = (
            line_index(from, self.kinds.len()),
            line_index(to, self.kinds.len()),
        ) else {
            return false;
        };
        self.next[from] == Some(to)
    }

    /// The last 1-based line of the statement that starts at `line`: `line` and the
    /// continuation lines that follow it.
    pub(crate) fn statement_end(&self, line: u32) -> u32 {
        let Some(start) = line_index(line, self.kinds.len()) else {
            return line;
        };
        let extra = self.kinds[start + 1..]
            .iter()
            .take_while(|kind| **kind == LineKind::Continuation)
            .count();
        line.saturating_add(u32::try_from(extra).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_python() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n\n"), ["a", ""]);
        assert_eq!(split_lines(""), Vec::<&str>::new());
        assert_eq!(trimmed_lines("a\n  \n\t\n"), ["a"]);
        assert_eq!(line_index(0, 3), None);
        assert_eq!(line_index(3, 3), Some(2));
        assert_eq!(line_index(4, 3), None);
    }

    #[test]
    fn layout_finds_statements() {
        let source = "def f(a,\n      b):\n    x = [1,\n         2]  # (\n\n    # c\n    s = '''\n)\n'''\n    t = 'a\\\n b'\n    u = 1 + \\\n 2\n    def g():\n        return 1\n    return x\n";
        let lines = split_lines(source);
        let layout = Layout::new(&lines);
        assert!(!layout.falls_through(1, 3));
        assert_eq!(layout.statement_end(1), 2);
        assert_eq!(layout.statement_end(3), 4);
        assert!(layout.falls_through(3, 7));
        assert_eq!(layout.statement_end(7), 9);
        assert!(layout.falls_through(7, 10));
        assert_eq!(layout.statement_end(10), 11);
        assert!(layout.falls_through(10, 12));
        assert!(layout.falls_through(12, 14));
        assert!(layout.falls_through(14, 16));
        assert!(!layout.falls_through(14, 15));
        assert!(!layout.falls_through(16, 3));
        assert!(!layout.falls_through(99, 100));
        assert_eq!(layout.statement_end(99), 99);
    }
}
