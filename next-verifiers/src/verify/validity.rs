//! Checking tests as they are read: a test that checks nothing is an error, never a pass.
//!
//! A test passes when its statements run without an exception, so a test without an
//! `assert` (`x = 1`, `pass`, `import os`, or `add(1, 2) == 4`, a comparison whose
//! value is thrown away) would pass every program. [`validate`] refuses such a test
//! before anything runs. A test *checks something* when the keyword `assert` appears in
//! its code, outside its strings and comments: setup lines, loops and conditions around
//! the asserts, as in the tests [`TestVerifier::split_check`](super::TestVerifier::split_check)
//! makes of HumanEval's `check` (each assert with the statements before it), stay valid.
//!
//! The keyword is found by a small lexer ([`has_assert`]) that skips comments and every
//! kind of Python string literal: single- and triple-quoted, with any prefix (`r`, `b`,
//! `u`, `f`, `t` and their pairs), and f-strings with quotes nested in their fields.

use next_core::task::TestCase;

/// A test list that cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTests {
    /// A test has no `assert`: it would pass whatever the program does.
    #[error(
        "test {number} checks nothing (it has no assert, so it would pass any program; a \
         setup line belongs in the test that uses it): {test}"
    )]
    ChecksNothing {
        /// The test's number in its list, from 1.
        number: usize,
        /// The test's code (its first 200 characters).
        test: String,
    },
}

/// Checks that every test checks something: an `assert` keyword outside its strings
/// and comments (`x = 1`, `pass` or `add(1, 2) == 4` check nothing). Loops and setup
/// lines around an assert are fine.
///
/// # Errors
/// [`InvalidTests::ChecksNothing`] for the first test without an `assert`.
pub fn validate(tests: &[TestCase]) -> Result<(), InvalidTests> {
    for (i, test) in tests.iter().enumerate() {
        if !has_assert(test.code()) {
            let code = test.code();
            let mut shown: String = code.chars().take(200).collect();
            if shown.len() < code.len() {
                shown.push_str("...");
            }
            return Err(InvalidTests::ChecksNothing {
                number: i + 1,
                test: shown,
            });
        }
    }
    Ok(())
}

/// Whether the Python `code` holds the keyword `assert` outside its strings and
/// comments.
pub fn has_assert(code: &str) -> bool {
    let mut lexer = Lexer {
        s: code.as_bytes(),
        i: 0,
    };
    lexer.code()
}

/// Scans Python source byte by byte. Non-ASCII bytes count as identifier characters
/// (as the letters of a non-ASCII name).
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Whether `word` is a string prefix; if so, whether it makes a formatted string.
fn prefix(word: &[u8]) -> Option<bool> {
    let lower: Vec<u8> = word.iter().map(u8::to_ascii_lowercase).collect();
    match lower.as_slice() {
        b"r" | b"u" | b"b" | b"br" | b"rb" => Some(false),
        b"f" | b"t" | b"fr" | b"rf" | b"tr" | b"rt" => Some(true),
        _ => None,
    }
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.i + ahead).copied()
    }

    /// Top-level code, to the end: whether an `assert` keyword appears in it.
    fn code(&mut self) -> bool {
        let mut found = false;
        while let Some(b) = self.peek(0) {
            match b {
                b'#' => self.comment(),
                b'\'' | b'"' => self.string(false),
                b'\\' => self.i += 2,
                _ if is_word(b) => found |= self.word(),
                _ => self.i += 1,
            }
        }
        found
    }

    fn comment(&mut self) {
        while let Some(b) = self.peek(0) {
            if b == b'\n' {
                return;
            }
            self.i += 1;
        }
    }

    /// A name, keyword or number, or the prefix of a string (then the string too):
    /// whether it was the keyword `assert`.
    fn word(&mut self) -> bool {
        let start = self.i;
        while self.peek(0).is_some_and(is_word) {
            self.i += 1;
        }
        let word = &self.s[start..self.i];
        if matches!(self.peek(0), Some(b'\'' | b'"')) {
            if let Some(formatted) = prefix(word) {
                self.string(formatted);
                return false;
            }
        }
        word == b"assert"
    }

    /// A string literal from its opening quote to past its closing one (or to the end
    /// of an unterminated one).
    fn string(&mut self, formatted: bool) {
        let Some(quote) = self.peek(0) else { return };
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.i += if triple { 3 } else { 1 };
        while let Some(b) = self.peek(0) {
            match b {
                // An escaped character never ends the string (in a raw string too).
                b'\\' => self.i += 2,
                _ if b == quote => {
                    if !triple {
                        self.i += 1;
                        return;
                    }
                    if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                        self.i += 3;
                        return;
                    }
                    self.i += 1;
                }
                b'\n' if !triple => return,
                b'{' if formatted => {
                    self.i += 1;
                    if self.peek(0) == Some(b'{') {
                        self.i += 1;
                    } else {
                        self.field();
                    }
                }
                _ => self.i += 1,
            }
        }
    }

    /// A replacement field of an f-string, after its `{`, to past its `}`: an
    /// expression (strings in it may use the f-string's own quote), then an optional
    /// conversion and format spec (text, with fields of its own).
    fn field(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek(0) {
            match b {
                b'\'' | b'"' => self.string(false),
                b'#' => self.comment(),
                _ if is_word(b) => {
                    self.word();
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' if depth == 0 => {
                    self.i += 1;
                    return;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.i += 1;
                }
                b':' if depth == 0 => {
                    self.i += 1;
                    self.spec();
                    return;
                }
                _ => self.i += 1,
            }
        }
    }

    /// A format spec, after its `:`, to past the `}` that ends its field.
    fn spec(&mut self) {
        while let Some(b) = self.peek(0) {
            self.i += 1;
            match b {
                b'{' => self.field(),
                b'}' => return,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assert_counts_only_as_code() {
        for code in [
            "assert add(1, 2) == 3",
            "import math\nassert math.isclose(f(1), 2.0)",
            "for x in range(3):\n    assert f(x) == x",
            "x = 1; assert x",
            "if True:\n    assert(f(1))",
            "s = 'it''s'  # assert\nassert s",
            "r'\\'' ; assert 1",
            "f\"{x['k']:>10}\" ; assert 1",
            "f'{f\"{y}\"}'\nassert 1",
            "ünïcode = 1\nassert ünïcode",
        ] {
            assert!(has_assert(code), "{code:?}");
        }
        for code in [
            "x = 1",
            "pass",
            "import os",
            "add(1, 2) == 4",
            "# assert add(1, 2) == 3",
            "x = 'assert'",
            "x = \"\"\"\nassert f(1) == 2\n\"\"\"",
            "x = '''it's ''' + 'assert'",
            "x = rb'\\' assert'",
            "x = f\"{\"assert\"}\"",
            "x = f'{y:{\"assert\"}}'",
            "self.assertEqual(f(1), 2)",
            "assert_equal(f(1), 2)",
            "x.assert_ = 1",
            "'unterminated assert",
        ] {
            assert!(!has_assert(code), "{code:?}");
        }
    }

    #[test]
    fn a_test_without_an_assert_is_named_in_the_error() {
        let tests: Vec<TestCase> = ["assert f(1) == 1", "f(2) == 4"]
            .into_iter()
            .map(|t| TestCase::new(t).unwrap())
            .collect();
        let err = validate(&tests).unwrap_err();
        assert_eq!(
            err,
            InvalidTests::ChecksNothing {
                number: 2,
                test: "f(2) == 4".to_owned()
            }
        );
        assert!(err.to_string().contains("test 2 checks nothing"), "{err}");
        assert!(validate(&tests[..1]).is_ok());
    }
}
