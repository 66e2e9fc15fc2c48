//! An example NExT plugin: the `linting` verifier, which judges a fix with another
//! verifier and then runs a small linter on it; a fix that passes its tests but breaks a
//! lint rule fails every test it passed, with the rule as the message.
//!
//! It is an ordinary [`Verifier`] with an ordinary registry builder; the one line that
//! makes it a plugin is [`next_core::export_plugin!`] at the bottom. See the README for
//! how to build it and load it.
//!
//! The design decision: **the inner verifier is built from the plugin's own registry**
//! (`inner = "mock"`, or any verifier compiled into the plugin), so the linter composes
//! with whichever verifier the plugin was built with, the way the host's configuration
//! composes roles.

use async_trait::async_trait;
use next_core::registry::{self, Context, Factory, OptionDoc, RegistryError, RoleKind};
use next_core::task::{Program, TestCase};
use next_core::verify::{TestOutcome, Verdict, Verifier, VerifyError};

/// The factory's name.
const NAME: &str = "linting";

/// The options of the `linting` verifier.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Options {
    /// The kind of the verifier that runs the tests, from the plugin's own registry.
    inner: String,
    /// The longest line allowed, in characters.
    max_line: usize,
    /// Functions the fix must not call.
    forbid: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            inner: "mock".to_owned(),
            max_line: 100,
            forbid: vec!["print".to_owned(), "eval".to_owned(), "exec".to_owned()],
        }
    }
}

/// The lint rules a fix must keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linter {
    max_line: usize,
    forbid: Vec<String>,
}

impl Linter {
    /// A linter allowing lines up to `max_line` characters and no call of `forbid`.
    pub fn new(max_line: usize, forbid: Vec<String>) -> Self {
        Self { max_line, forbid }
    }

    /// The first rule `source` breaks, in words, or `None`.
    pub fn check(&self, source: &str) -> Option<String> {
        for (number, line) in source.lines().enumerate() {
            let number = number + 1;
            let length = line.chars().count();
            if length > self.max_line {
                return Some(format!(
                    "line {number} has {length} characters, more than {}",
                    self.max_line
                ));
            }
            let code = line.split('#').next().unwrap_or_default();
            if let Some(name) = self.forbid.iter().find(|name| calls(code, name)) {
                return Some(format!("line {number} calls `{name}`"));
            }
        }
        None
    }
}

/// Whether `code` calls the function `name` (`name(` not preceded by an identifier
/// character or a dot).
fn calls(code: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    code.match_indices(&pattern).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|before| !(before.is_alphanumeric() || before == '_' || before == '.'))
    })
}

/// The `linting` verifier: `inner`'s verdict, with every pass turned into a failure when
/// the fix breaks a lint rule.
pub struct LintingVerifier {
    inner: Box<dyn Verifier>,
    linter: Linter,
}

#[async_trait]
impl Verifier for LintingVerifier {
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        let verdict = self.inner.verify(program, tests).await?;
        let Some(problem) = self.linter.check(program.source()) else {
            return Ok(verdict);
        };
        let outcomes = verdict
            .outcomes
            .into_iter()
            .map(|outcome| match outcome {
                TestOutcome::Pass => TestOutcome::Fail {
                    message: format!("lint: {problem}"),
                },
                other => other,
            })
            .collect();
        Ok(Verdict::new(outcomes))
    }
}

fn build_linting(options: &toml::Table, cx: &Context) -> Result<Box<dyn Verifier>, RegistryError> {
    let Options {
        inner,
        max_line,
        forbid,
    } = registry::options(RoleKind::Verifier, NAME, options)?;
    if max_line == 0 {
        return Err(RegistryError::options(
            RoleKind::Verifier,
            NAME,
            "`max_line` must be at least 1",
        ));
    }
    let inner = registry::verifier(&inner, &toml::Table::new(), cx)?;
    Ok(Box::new(LintingVerifier {
        inner,
        linter: Linter::new(max_line, forbid),
    }))
}

next_core::export_plugin![Factory::verifier(
    NAME,
    "another verifier's verdict, failing fixes that break a lint rule",
    build_linting
)
.with_options(&[
    OptionDoc::new("inner", "\"mock\"", "the verifier that runs the tests"),
    OptionDoc::new("max_line", "100", "the longest line allowed"),
    OptionDoc::new(
        "forbid",
        "[\"print\", \"eval\", \"exec\"]",
        "functions a fix must not call"
    ),
])];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linter_finds_long_lines_and_forbidden_calls() {
        let linter = Linter::new(20, vec!["print".to_owned()]);
        assert_eq!(linter.check("def f(x):\n    return x\n"), None);
        assert_eq!(
            linter
                .check("def f(x):\n    return x + 1000000000000\n")
                .as_deref(),
            Some("line 2 has 28 characters, more than 20")
        );
        assert_eq!(
            linter.check("def f(x):\n    print(x)\n").as_deref(),
            Some("line 2 calls `print`")
        );
        // Not a call of `print`: another name, a method, a comment.
        assert_eq!(linter.check("def f(x):\n    reprint(x)\n"), None);
        assert_eq!(linter.check("def f(x):\n    log.print(x)\n"), None);
        assert_eq!(linter.check("x = 1  # print(x)\n"), None);
    }
}
