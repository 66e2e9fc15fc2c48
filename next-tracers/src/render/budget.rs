//! Budget mode: render with successively smaller options until the text fits.
//!
//! A prompt has room for so much trace. [`Budgeted`] wraps a renderer whose options can
//! [`Shrink`], renders with the full options, and while the text is longer than the
//! [`Budget`] renders again with the next smaller options. The first rendering that fits
//! is the answer; when none fits, the shortest one (the first among equally short ones),
//! which for the renderers of this crate is the one with the smallest options.

use next_core::render::TraceRenderer;
use next_core::task::{Program, TestCase};
use next_core::trace::Trace;

/// Options (or a renderer holding them) that can be made smaller, step by step.
///
/// Each call gives options whose rendering is no longer than the current one's, and
/// repeated calls reach `None` after finitely many steps. [`Budgeted`] stops after
/// [`Budgeted::MAX_RENDERINGS`] renderings in any case.
pub trait Shrink: Sized {
    /// The next smaller options, or `None` when these are the smallest.
    fn shrink(&self) -> Option<Self>;
}

/// The next smaller of a count: about half of it, at least `min`; `None` when it is at
/// `min` already (or below).
pub(crate) fn halve(value: usize, min: usize) -> Option<usize> {
    (value > min).then(|| (value / 2).max(min))
}

/// The next smaller of a count, rounding up: `3 -> 2 -> 1`, `10 -> 5 -> 3 -> 2 -> 1`.
pub(crate) fn halve_up(value: usize, min: usize) -> Option<usize> {
    (value > min).then(|| value.div_ceil(2).max(min))
}

/// How long a rendering may be, in characters (Unicode scalar values).
///
/// A token budget is approximated as four characters a token, so
/// `Budget::tokens(1000)` is `Budget::chars(4000)`: roughly right for English and code
/// with the tokenizers of current models, and cheap. Where a model's exact count matters,
/// leave some room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Budget {
    max_chars: usize,
}

impl Budget {
    /// The characters per token of [`Budget::tokens`].
    pub const CHARS_PER_TOKEN: usize = 4;

    /// At most `max_chars` characters.
    pub const fn chars(max_chars: usize) -> Self {
        Self { max_chars }
    }

    /// At most about `max_tokens` tokens: `max_tokens * 4` characters.
    pub const fn tokens(max_tokens: usize) -> Self {
        Self::chars(max_tokens.saturating_mul(Self::CHARS_PER_TOKEN))
    }

    /// The number of characters allowed.
    pub const fn max_chars(self) -> usize {
        self.max_chars
    }

    /// The tighter of two budgets.
    #[must_use]
    pub fn min(self, other: Budget) -> Budget {
        Budget::chars(self.max_chars.min(other.max_chars))
    }

    /// Whether `text` is within the budget.
    pub fn fits(self, text: &str) -> bool {
        text.chars().count() <= self.max_chars
    }
}

/// A renderer held to a [`Budget`]. Its name and whether it shows execution are the
/// inner renderer's.
///
/// It renders with the inner renderer's full options and, while the text is longer than
/// the budget, renders again with the next smaller options ([`Shrink`]). The first
/// rendering that fits is the answer; when none fits, the shortest one (the first among
/// equally short ones), which for the renderers of this crate is the one with the
/// smallest options.
///
/// ```
/// use next_core::render::TraceRenderer;
/// use next_core::task::{Program, TestCase};
/// use next_tracers::render::{Budget, Budgeted, InlineRenderer};
///
/// let renderer = Budgeted::new(InlineRenderer::default(), Budget::chars(100));
/// let program = Program::new("def f(x):\n    return x\n");
/// let tests = [TestCase::new("assert f(1) == 1")?];
/// let text = renderer.render(&program, &tests, &[]);
/// assert!(Budget::chars(100).fits(&text));
/// assert_eq!(renderer.name(), "inline");
/// # Ok::<(), next_core::error::InvalidInput>(())
/// ```
#[derive(Debug, Clone)]
pub struct Budgeted<R> {
    inner: R,
    budget: Budget,
}

impl<R> Budgeted<R> {
    /// At most this many renderings are tried, whatever the options' [`Shrink`] does.
    pub const MAX_RENDERINGS: usize = 256;

    /// Holds `inner` to `budget`.
    pub const fn new(inner: R, budget: Budget) -> Self {
        Self { inner, budget }
    }

    /// The renderer with its full options.
    pub const fn inner(&self) -> &R {
        &self.inner
    }

    /// The budget.
    pub const fn budget(&self) -> Budget {
        self.budget
    }
}

impl<R: TraceRenderer + Shrink> TraceRenderer for Budgeted<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn shows_execution(&self) -> bool {
        self.inner.shows_execution()
    }

    fn legend(&self) -> &str {
        self.inner.legend()
    }

    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String {
        let mut best = self.inner.render(program, tests, traces);
        if self.budget.fits(&best) {
            return best;
        }
        let mut best_chars = best.chars().count();
        let mut current = self.inner.shrink();
        for _ in 1..Self::MAX_RENDERINGS {
            let Some(renderer) = current else { break };
            let text = renderer.render(program, tests, traces);
            if self.budget.fits(&text) {
                return text;
            }
            let chars = text.chars().count();
            if chars < best_chars {
                best = text;
                best_chars = chars;
            }
            current = renderer.shrink();
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_reaches_the_minimum() {
        let mut seen = vec![60];
        while let Some(next) = halve(seen[seen.len() - 1], 5) {
            seen.push(next);
        }
        assert_eq!(seen, [60, 30, 15, 7, 5]);
        let mut seen = vec![10];
        while let Some(next) = halve_up(seen[seen.len() - 1], 1) {
            seen.push(next);
        }
        assert_eq!(seen, [10, 5, 3, 2, 1]);
        assert_eq!(halve_up(3, 2), Some(2));
        assert_eq!(halve(1, 5), None);
    }

    #[test]
    fn token_budgets_are_four_chars_a_token() {
        assert_eq!(Budget::tokens(10), Budget::chars(40));
        assert_eq!(Budget::tokens(usize::MAX).max_chars(), usize::MAX);
        assert_eq!(Budget::chars(3).min(Budget::tokens(1)), Budget::chars(3));
        assert!(Budget::chars(2).fits("éé"));
        assert!(!Budget::chars(1).fits("éé"));
    }
}
