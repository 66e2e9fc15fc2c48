//! Deterministic randomness for the mocks: FNV-1a hashing of inputs into a seed, and a
//! `SplitMix64` stream drawn from it. No global state: every draw is a pure function of
//! what was hashed.

/// FNV-1a over a sequence of fields. Strings are length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` hash differently.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn bytes(mut self, bytes: &[u8]) -> Self {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    pub(crate) fn u64(self, value: u64) -> Self {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn usize(self, value: usize) -> Self {
        self.u64(u64::try_from(value).unwrap_or(u64::MAX))
    }

    pub(crate) fn str(self, text: &str) -> Self {
        self.usize(text.len()).bytes(text.as_bytes())
    }

    /// The hash, passed through the `SplitMix64` finaliser so that every bit depends on
    /// every input byte.
    pub(crate) fn finish(self) -> u64 {
        SplitMix64::new(self.0).next_u64()
    }
}

/// The `SplitMix64` generator (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        // 53 random bits fit an f64 mantissa exactly.
        #[allow(clippy::cast_precision_loss)]
        let mantissa = (self.next_u64() >> 11) as f64;
        mantissa / 9_007_199_254_740_992.0
    }

    /// A uniform draw from `0..bound`; 0 when `bound` is 0.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        // The high half of a 64x64-bit product fits 64 bits.
        #[allow(clippy::cast_possible_truncation)]
        let high = (wide >> 64) as u64;
        high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed() {
        let a = Fnv::new().str("ab").str("c").finish();
        let b = Fnv::new().str("a").str("bc").finish();
        assert_ne!(a, b);
        assert_eq!(a, Fnv::new().str("ab").str("c").finish());
    }

    #[test]
    fn draws_stay_in_range_and_spread() {
        let mut rng = SplitMix64::new(7);
        let mut buckets = [0_u32; 4];
        for _ in 0..4000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            let b = rng.below(4);
            buckets[usize::try_from(b).unwrap_or(0)] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (850..1150).contains(&n)),
            "{buckets:?}"
        );
        assert_eq!(rng.below(0), 0);
    }
}
