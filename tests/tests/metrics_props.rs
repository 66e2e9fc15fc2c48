//! Properties of the pass@k estimator: it is the exact expectation over k-subsets, it
//! grows with k, and it is 0 or 1 where it must be.
#![allow(clippy::unwrap_used)]

use next_core::metrics::{pass_at_k, Counts};
use proptest::prelude::*;

/// The chance that a uniformly chosen k-subset of n samples, of which the first c pass,
/// holds a passing sample: counted over every subset.
fn brute_force(n: usize, c: usize, k: usize) -> f64 {
    let pass_mask: u32 = (1_u32 << c) - 1;
    let mut subsets = 0_u32;
    let mut hits = 0_u32;
    for subset in 0_u32..(1 << n) {
        if subset.count_ones() as usize != k {
            continue;
        }
        subsets += 1;
        if subset & pass_mask != 0 {
            hits += 1;
        }
    }
    f64::from(hits) / f64::from(subsets)
}

/// `(n, c, k)` with `1 <= k <= n <= max_n` and `c <= n`.
fn counts_and_k(max_n: usize) -> impl Strategy<Value = (usize, usize, usize)> {
    (1..=max_n).prop_flat_map(|n| (Just(n), 0..=n, 1..=n))
}

proptest! {
    #[test]
    fn equals_the_average_over_all_k_subsets((n, c, k) in counts_and_k(10)) {
        let estimate = pass_at_k(Counts::new(n, c).unwrap(), k).unwrap();
        let exact = brute_force(n, c, k);
        prop_assert!((estimate - exact).abs() < 1e-9, "n={n} c={c} k={k}: {estimate} vs {exact}");
    }

    #[test]
    fn is_monotone_in_k((n, c) in (1_usize..=300).prop_flat_map(|n| (Just(n), 0..=n))) {
        let counts = Counts::new(n, c).unwrap();
        let mut last = 0.0;
        for k in 1..=n {
            let p = pass_at_k(counts, k).unwrap();
            prop_assert!((0.0..=1.0).contains(&p), "pass@{k} = {p}");
            prop_assert!(p >= last - 1e-12, "pass@{k} = {p} < pass@{} = {last}", k - 1);
            last = p;
        }
    }

    #[test]
    fn is_zero_without_passes_and_one_when_every_draw_must_pass(
        (n, c, k) in counts_and_k(200)
    ) {
        let none = pass_at_k(Counts::new(n, 0).unwrap(), k).unwrap();
        prop_assert!(none.abs() < f64::EPSILON, "pass@{k} of 0/{n} = {none}");
        let all = pass_at_k(Counts::new(n, n).unwrap(), k).unwrap();
        prop_assert!((all - 1.0).abs() < f64::EPSILON, "pass@{k} of {n}/{n} = {all}");
        let p = pass_at_k(Counts::new(n, c).unwrap(), k).unwrap();
        if n - c < k {
            prop_assert!((p - 1.0).abs() < f64::EPSILON, "pass@{k} of {c}/{n} = {p}");
        } else if c > 0 {
            // Some draw may miss every pass, yet a pass is possible. (Not `p < 1`: the
            // miss probability can round to 0.)
            prop_assert!(p > 0.0 && p <= 1.0, "pass@{k} of {c}/{n} = {p}");
        }
    }

    #[test]
    fn undefined_k_is_an_error((n, c) in (0_usize..50).prop_flat_map(|n| (Just(n), 0..=n))) {
        let counts = Counts::new(n, c).unwrap();
        prop_assert!(pass_at_k(counts, 0).is_err());
        prop_assert!(pass_at_k(counts, n + 1).is_err());
    }
}
