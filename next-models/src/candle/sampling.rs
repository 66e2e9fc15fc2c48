//! Choosing the next token from logits: greedy at temperature 0, otherwise nucleus
//! sampling at a temperature, with a seeded generator per sample.
//!
//! Sample `k` of a call with seed `s` draws from `fastrand::Rng::with_seed(s + k)`
//! (wrapping), the convention of the hosted backends. The nucleus is found exactly without sorting the
//! whole vocabulary: the tokens above a probability threshold are sorted, the threshold
//! lowered until they hold `top_p` of the mass.

/// How one row picks its tokens.
///
/// Invariant: `temperature >= 0` and finite, `0 < top_p <= 1` (the loop validates
/// [`SamplingParams`](next_core::sample::SamplingParams) before it builds one).
pub(crate) struct TokenSampler {
    temperature: f32,
    top_p: f64,
    rng: fastrand::Rng,
    /// Scratch: `(probability, token)` candidates.
    candidates: Vec<(f32, u32)>,
}

impl TokenSampler {
    /// A sampler for the `index`-th sample of a call seeded with `seed`.
    pub fn new(temperature: f64, top_p: f64, seed: u64, index: usize) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let temperature = temperature as f32;
        Self {
            temperature,
            top_p,
            rng: fastrand::Rng::with_seed(seed.wrapping_add(index as u64)),
            candidates: Vec::new(),
        }
    }

    /// The next token given the logits over the vocabulary.
    pub fn pick(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 {
            return argmax(logits);
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return argmax(logits);
        }
        let inv_t = 1.0 / self.temperature;
        let weights: Vec<f32> = logits.iter().map(|&l| ((l - max) * inv_t).exp()).collect();
        let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let want = self.top_p * total;
        // Lower the threshold until the tokens above it hold the nucleus.
        let mut threshold = 1e-3_f32;
        loop {
            self.candidates.clear();
            self.candidates.extend(
                weights
                    .iter()
                    .enumerate()
                    .filter(|(_, &w)| w >= threshold)
                    .map(|(i, &w)| (w, u32::try_from(i).unwrap_or(u32::MAX))),
            );
            let mass: f64 = self.candidates.iter().map(|&(w, _)| f64::from(w)).sum();
            if mass >= want || threshold == 0.0 {
                break;
            }
            threshold = if threshold < 1e-12 {
                0.0
            } else {
                threshold / 64.0
            };
        }
        // Most probable first; ties by token id, so that the order is total.
        self.candidates
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut nucleus = 0;
        let mut mass = 0.0;
        for &(w, _) in &self.candidates {
            mass += f64::from(w);
            nucleus += 1;
            if mass >= want {
                break;
            }
        }
        let mut target = self.rng.f64() * mass;
        for &(w, token) in &self.candidates[..nucleus] {
            target -= f64::from(w);
            if target < 0.0 {
                return token;
            }
        }
        self.candidates[nucleus.saturating_sub(1)].1
    }
}

/// The first index of the largest logit (llama.cpp's greedy choice).
pub(crate) fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    u32::try_from(best).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_zero_is_the_first_maximum() {
        let mut s = TokenSampler::new(0.0, 1.0, 1, 0);
        assert_eq!(s.pick(&[0.0, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Probabilities about 0.7, 0.26, 0.04: top_p 0.5 leaves the first token only.
        let logits = [2.0_f32, 1.0, -1.0];
        let mut s = TokenSampler::new(1.0, 0.5, 7, 0);
        assert!((0..200).all(|_| s.pick(&logits) == 0));
        // top_p 0.9 allows the first two and never the third.
        let mut s = TokenSampler::new(1.0, 0.9, 7, 0);
        let picks: Vec<u32> = (0..400).map(|_| s.pick(&logits)).collect();
        assert!(picks.contains(&0) && picks.contains(&1) && !picks.contains(&2));
    }

    #[test]
    fn the_nucleus_is_found_among_many_small_tokens() {
        // 10,000 equally likely tokens, each far below the first threshold.
        let logits = vec![0.0_f32; 10_000];
        let mut s = TokenSampler::new(1.0, 0.95, 3, 0);
        let picks: std::collections::BTreeSet<u32> = (0..500).map(|_| s.pick(&logits)).collect();
        assert!(picks.len() > 400, "{}", picks.len());
        assert!(picks.iter().all(|&t| t < 9_500), "outside the nucleus");
    }

    #[test]
    fn seeds_reproduce_and_index_shifts_the_seed() {
        let logits: Vec<f32> = (0..50)
            .map(|i| f32::from(u8::try_from(i % 7).unwrap()) * 0.3)
            .collect();
        let draw = |seed, index| {
            let mut s = TokenSampler::new(0.9, 0.95, seed, index);
            (0..30).map(|_| s.pick(&logits)).collect::<Vec<u32>>()
        };
        assert_eq!(draw(5, 0), draw(5, 0));
        assert_eq!(draw(5, 2), draw(7, 0));
        assert_ne!(draw(5, 0), draw(6, 0));
    }
}
