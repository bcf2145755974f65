//! A random order over `0..n` with no list in memory: a keyed Feistel
//! network over the smallest even power of two that holds `n`, walked until
//! it lands inside `0..n` (cycle walking, a format-preserving cipher). Any
//! position maps to its element in O(1) expected time (under four Feistel
//! evaluations), so shards can jump straight to their share.
//!
//! Randomization is for spreading load over a range (as zmap's cyclic group
//! does), not for secrecy: the round function is a fast 64-bit mixer, not a
//! cryptographic PRF.

use std::fmt;
use std::str::FromStr;

/// Feistel rounds; Luby–Rackoff needs four, two more mix small domains well.
const ROUNDS: usize = 6;

/// A bijection of `0..len` chosen by a seed.
#[derive(Clone, PartialEq, Eq)]
pub struct Permutation {
    len: u64,
    half_bits: u32,
    keys: [u64; ROUNDS],
}

impl fmt::Debug for Permutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permutation(0..{})", self.len)
    }
}

/// SplitMix64's output function: a fast, well-mixed 64-bit hash.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Permutation {
    /// The permutation of `0..len` that `seed` selects.
    pub fn new(len: u64, seed: u64) -> Permutation {
        // Bits to hold 0..len, at least 2, rounded up to even so both
        // Feistel halves are the same width; the domain is then < 4 * len.
        let bits = (64 - len.saturating_sub(1).leading_zeros()).max(2);
        let bits = bits + bits % 2;
        let mut state = seed;
        let keys = std::array::from_fn(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(state)
        });
        Permutation {
            len,
            half_bits: bits / 2,
            keys,
        }
    }

    /// How many elements it orders.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if it orders nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `position` (`position < len`; larger positions are
    /// taken modulo `len`, and an empty permutation returns 0).
    pub fn at(&self, position: u64) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mut x = position % self.len;
        loop {
            x = self.encrypt(x);
            if x < self.len {
                return x;
            }
        }
    }

    /// Every element, in permuted order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).map(|p| self.at(p))
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for key in self.keys {
            let next = left ^ (mix(right ^ key) & mask);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }
}

/// One share of a sweep split across machines: shard `index` of `count`
/// takes positions `index, index + count, index + 2·count, …` of the
/// permutation, so the shards never overlap and together cover everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Shard `index` (from 0) of `count`; `None` unless `index < count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// This shard's number, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// How many shards there are.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many of `total` positions are this shard's.
    pub fn len_of(&self, total: u64) -> u64 {
        if self.index >= total {
            0
        } else {
            (total - self.index - 1) / self.count + 1
        }
    }

    /// The permutation position of this shard's `k`-th element.
    pub fn position(&self, k: u64) -> u64 {
        self.index + k * self.count
    }
}

impl FromStr for Shard {
    type Err = String;

    /// Parses `i/n` (0 ≤ i < n), as zmap's `--shard i --shards n`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("bad shard {s:?}: expected i/n with 0 <= i < n");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n).ok_or_else(bad)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_bijection(p: &Permutation) -> bool {
        let mut seen = vec![false; p.len() as usize];
        p.iter().all(|x| {
            let fresh = x < p.len() && !seen[x as usize];
            if fresh {
                seen[x as usize] = true;
            }
            fresh
        })
    }

    #[test]
    fn every_size_is_a_bijection() {
        for len in (0..300).chain([1023, 1024, 1025, 65_534, 65_536]) {
            for seed in [0, 1, 0xfeed] {
                assert!(is_bijection(&Permutation::new(len, seed)), "len {len}");
            }
        }
    }

    #[test]
    fn seed_reproduces_and_changes_the_order() {
        let a: Vec<u64> = Permutation::new(1000, 7).iter().collect();
        let b: Vec<u64> = Permutation::new(1000, 7).iter().collect();
        let c: Vec<u64> = Permutation::new(1000, 8).iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Shuffled, not the identity or a rotation of it.
        let in_place = a
            .iter()
            .enumerate()
            .filter(|(i, x)| *i as u64 == **x)
            .count();
        assert!(in_place < 20, "{in_place} fixed points");
        let ascending = a.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(ascending < 20, "{ascending} ascending steps");
    }

    #[test]
    fn huge_domains_stay_in_range() {
        let p = Permutation::new(u64::MAX, 3);
        for pos in [0, 1, u64::MAX / 2, u64::MAX - 1] {
            assert!(p.at(pos) < u64::MAX);
        }
        let p = Permutation::new(1 << 40, 3);
        assert!(p.at(12_345) < 1 << 40);
        assert_eq!(Permutation::new(0, 1).at(5), 0);
    }

    #[test]
    fn shards_partition_the_positions() {
        for total in [0u64, 1, 7, 100, 101] {
            for count in 1..6 {
                let mut covered = vec![0u8; total as usize];
                for index in 0..count {
                    let shard = Shard::new(index, count).unwrap();
                    for k in 0..shard.len_of(total) {
                        covered[shard.position(k) as usize] += 1;
                    }
                }
                assert!(covered.iter().all(|&c| c == 1), "total {total} n {count}");
            }
        }
    }

    #[test]
    fn shard_parses() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard::new(2, 5).unwrap()));
        assert!("5/5".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("a/b".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert_eq!(Shard::new(2, 5).unwrap().to_string(), "2/5");
    }
}
