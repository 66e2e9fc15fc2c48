//! Fix-rate metrics: the unbiased pass@k estimator and its mean over tasks.
//!
//! For a task with `n` samples of which `c` pass, Chen et al. (2021) estimate the chance
//! that at least one of `k` samples passes as `1 - C(n-c, k) / C(n, k)`. The binomials
//! overflow for the sample counts of the paper (`C(32, 16)` is fine, `C(200, 100)` is
//! not), so it is computed in the product form `1 - prod_{i=n-c+1}^{n} (1 - k/i)`, which
//! stays within `[0, 1]` for every `n`.

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// The sample counts of one task: `n` drawn, `c` of them passing.
///
/// Invariant: `c <= n`; [`Counts::new`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    n: usize,
    c: usize,
}

impl Counts {
    /// Makes counts.
    ///
    /// # Errors
    /// [`InvalidInput`] when `c > n`.
    pub fn new(n: usize, c: usize) -> Result<Self, InvalidInput> {
        if c > n {
            return Err(InvalidInput::new(format!(
                "{c} passing samples out of {n} drawn"
            )));
        }
        Ok(Self { n, c })
    }

    /// Samples drawn.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Samples that passed.
    pub fn c(&self) -> usize {
        self.c
    }
}

/// The unbiased pass@k estimate for one task.
///
/// # Errors
/// [`InvalidInput`] when `k` is 0 or larger than `n`: the estimator is undefined there.
pub fn pass_at_k(counts: Counts, k: usize) -> Result<f64, InvalidInput> {
    let Counts { n, c } = counts;
    if k == 0 || k > n {
        return Err(InvalidInput::new(format!(
            "pass@{k} is undefined for {n} samples (need 1 <= k <= n)"
        )));
    }
    if n - c < k {
        return Ok(1.0);
    }
    #[allow(clippy::cast_precision_loss)] // sample counts are far below 2^52
    let miss: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    Ok(1.0 - miss)
}

/// The mean pass@k over tasks: the fix rate of a model on a task set.
///
/// Returns 0 for an empty task set.
///
/// # Errors
/// [`InvalidInput`] when `k` is undefined for some task (see [`pass_at_k`]).
pub fn mean_pass_at_k(tasks: &[Counts], k: usize) -> Result<f64, InvalidInput> {
    if tasks.is_empty() {
        return Ok(0.0);
    }
    let mut sum = 0.0;
    for counts in tasks {
        sum += pass_at_k(*counts, k)?;
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(sum / tasks.len() as f64)
}

/// The fraction of samples that passed, over all tasks (the plain "fix rate" of a
/// sample set). 0 when no sample was drawn.
pub fn sample_fix_rate(tasks: &[Counts]) -> f64 {
    let n: usize = tasks.iter().map(Counts::n).sum();
    let c: usize = tasks.iter().map(Counts::c).sum();
    if n == 0 {
        0.0
    } else {
        #[allow(clippy::cast_precision_loss)]
        let rate = c as f64 / n as f64;
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(n: usize, c: usize) -> Counts {
        Counts::new(n, c).unwrap()
    }

    #[test]
    fn known_values() {
        assert!((pass_at_k(counts(10, 1), 1).unwrap() - 0.1).abs() < 1e-12);
        // 1 - C(8,2)/C(10,2) = 1 - 28/45
        assert!((pass_at_k(counts(10, 2), 2).unwrap() - 17.0 / 45.0).abs() < 1e-12);
        assert!((pass_at_k(counts(5, 4), 2).unwrap() - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn undefined_k_is_an_error() {
        assert!(pass_at_k(counts(3, 1), 0).is_err());
        assert!(pass_at_k(counts(3, 1), 4).is_err());
        assert!(Counts::new(2, 3).is_err());
    }

    #[test]
    fn large_n_stays_in_range() {
        let p = pass_at_k(counts(10_000, 3), 100).unwrap();
        assert!(p > 0.0 && p < 1.0, "{p}");
    }

    #[test]
    fn mean_and_sample_rate() {
        let tasks = [counts(4, 0), counts(4, 4)];
        assert!((mean_pass_at_k(&tasks, 1).unwrap() - 0.5).abs() < 1e-12);
        assert!((sample_fix_rate(&tasks) - 0.5).abs() < 1e-12);
        assert!(mean_pass_at_k(&[], 1).unwrap().abs() < f64::EPSILON);
    }
}
