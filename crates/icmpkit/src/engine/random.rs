//! Random numbers: from the OS for ids, keys and seeds (a handful per
//! run, so no generator is kept), and a small seedable generator for the
//! responder's loss and jitter, which tests replay. Both stand in for the
//! `rand` crate, whose generators (ChaCha and its SIMD support) a probe
//! tool does not need.

use std::hash::{BuildHasher, RandomState};

/// 64 random bits from the OS (getrandom). Should the OS refuse, std's
/// per-process random hash keys (themselves from the OS at start) mixed
/// with the time stand in: never a panic for an id.
pub(crate) fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        RandomState::new().hash_one(now)
    })
}

/// Random values of the integer types icmpkit draws (ids, sequence
/// bases, keys, seeds).
pub(crate) trait Random {
    /// A random value.
    fn random() -> Self;
}

macro_rules! random_by_truncation {
    ($($t:ty),*) => {$(
        impl Random for $t {
            fn random() -> Self {
                // Truncation keeps the low bits, as random as the rest.
                random_u64() as $t
            }
        }
    )*};
}

random_by_truncation!(u16, u32, u64);

/// A random value of `T` from the OS.
pub(crate) fn random<T: Random>() -> T {
    T::random()
}

/// SplitMix64 (Steele, Lea, Flood 2014): a seedable generator whose
/// outputs pass BigCrush, ample for drawing loss and jitter.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The generator that `seed` starts.
    pub(crate) fn seed_from_u64(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// A generator with a seed from the OS.
    pub(crate) fn from_os() -> SplitMix64 {
        Self::seed_from_u64(random_u64())
    }

    /// The next 64 bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform `f64` in [0, 1): the top 53 bits as the mantissa.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform value in `0..=max` (Lemire's multiply-shift: the bias is
    /// at most `max / 2^64`, nothing at nanosecond jitters).
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(span) => ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64,
            None => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_draws_replay_and_stay_in_range() {
        let mut a = SplitMix64::seed_from_u64(42);
        let mut b = SplitMix64::seed_from_u64(42);
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert!(first.iter().all(|&x| x == b.next_u64()));
        // SplitMix64's published first output for seed 0.
        assert_eq!(
            SplitMix64::seed_from_u64(0).next_u64(),
            0xe220_a839_7b1d_cdaf
        );
        let mut rng = SplitMix64::seed_from_u64(7);
        let (mut below_half, mut top_seen) = (0, false);
        for _ in 0..10_000 {
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
            below_half += usize::from(f < 0.5);
            let n = rng.up_to(9);
            assert!(n <= 9);
            top_seen |= n == 9;
        }
        assert!((4_700..5_300).contains(&below_half), "{below_half}");
        assert!(top_seen);
        assert_eq!(rng.up_to(0), 0);
        rng.up_to(u64::MAX);
    }

    #[test]
    fn os_draws_differ() {
        let draws: Vec<u64> = (0..4).map(|_| random()).collect();
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "{draws:?}");
    }
}
