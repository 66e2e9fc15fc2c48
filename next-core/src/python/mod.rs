//! Reading Python source without running Python: its text from a file's bytes, decoded
//! as CPython decodes a file ([`decode_source`], PEP 263), and where a logical line goes
//! on past a physical one ([`LineScan`]). The commands, the tracer's renderer and the
//! data loaders need both, and none may run Python for it.

mod source;

pub use source::{decode_source, SourceError};

/// The state of a line-by-line scan of Python source: open brackets, an open string
/// (its quote, and whether it is triple-quoted), a backslash joining the next line.
/// Comments are skipped; a single-quoted string ends with its line unless a backslash
/// joins the next.
#[derive(Debug, Default, Clone)]
pub struct LineScan {
    depth: usize,
    string: Option<(char, bool)>,
    joined: bool,
}

impl LineScan {
    /// Scans one line, updating brackets, strings and the backslash join.
    pub fn line(&mut self, line: &str) {
        self.joined = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match self.string {
                Some((quote, triple)) => {
                    if c == '\\' {
                        if i + 1 == chars.len() {
                            self.joined = true;
                        }
                        i += 1;
                    } else if c == quote {
                        if !triple {
                            self.string = None;
                        } else if chars.get(i + 1) == Some(&quote)
                            && chars.get(i + 2) == Some(&quote)
                        {
                            self.string = None;
                            i += 2;
                        }
                    }
                }
                None => match c {
                    '#' => break,
                    '\'' | '"' => {
                        let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
                        self.string = Some((c, triple));
                        if triple {
                            i += 2;
                        }
                    }
                    '(' | '[' | '{' => self.depth += 1,
                    ')' | ']' | '}' => self.depth = self.depth.saturating_sub(1),
                    '\\' if i + 1 == chars.len() => self.joined = true,
                    _ => {}
                },
            }
            i += 1;
        }
        // A single-quoted string ends with its line unless a backslash joins the next.
        if matches!(self.string, Some((_, false))) && !self.joined {
            self.string = None;
        }
    }

    /// Whether the next physical line continues the logical line scanned so far.
    pub fn continuing(&self) -> bool {
        self.depth > 0 || self.string.is_some() || self.joined
    }
}

#[cfg(test)]
mod tests {
    use super::LineScan;

    fn continuing(lines: &[&str]) -> Vec<bool> {
        let mut scan = LineScan::default();
        lines
            .iter()
            .map(|line| {
                scan.line(line);
                scan.continuing()
            })
            .collect()
    }

    #[test]
    fn brackets_strings_and_backslashes_continue_a_line() {
        assert_eq!(
            continuing(&["x = (1,", "  2)", "y = 3"]),
            [true, false, false]
        );
        assert_eq!(
            continuing(&["s = \"\"\"a", "b\"\"\"", "t = 'c'  # (\""]),
            [true, false, false]
        );
        assert_eq!(continuing(&["x = 1 + \\", "  2"]), [true, false]);
        assert_eq!(continuing(&["s = 'a\\", "b'"]), [true, false]);
        assert_eq!(continuing(&["s = 'a", "x = 1"]), [false, false]);
    }
}
