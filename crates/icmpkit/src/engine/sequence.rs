//! Echo sequence numbers and the record of which were answered (for
//! duplicate detection, as iputils' `rcvd_tbl`).

/// An ICMP echo sequence number; wraps at 2¹⁶.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sequence(pub u16);

impl Sequence {
    /// The sequence after this one, wrapping.
    pub fn next(self) -> Sequence {
        Sequence(self.0.wrapping_add(1))
    }
}

impl std::fmt::Display for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One bit per sequence number: answered or not. 8 KiB, fixed.
#[derive(Clone)]
pub struct AnsweredSet {
    bits: Box<[u64; 1024]>,
}

impl Default for AnsweredSet {
    fn default() -> Self {
        AnsweredSet {
            bits: Box::new([0; 1024]),
        }
    }
}

impl std::fmt::Debug for AnsweredSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        write!(f, "AnsweredSet({n} answered)")
    }
}

impl AnsweredSet {
    /// Marks `seq` answered; returns true if it already was (a duplicate).
    pub fn mark(&mut self, seq: Sequence) -> bool {
        let (word, bit) = (usize::from(seq.0 / 64), seq.0 % 64);
        let was = self.bits[word] & (1 << bit) != 0;
        self.bits[word] |= 1 << bit;
        was
    }

    /// Forgets `seq` (when the sequence space wraps around to it again).
    pub fn clear(&mut self, seq: Sequence) {
        let (word, bit) = (usize::from(seq.0 / 64), seq.0 % 64);
        self.bits[word] &= !(1 << bit);
    }

    /// True if `seq` was answered.
    pub fn contains(&self, seq: Sequence) -> bool {
        let (word, bit) = (usize::from(seq.0 / 64), seq.0 % 64);
        self.bits[word] & (1 << bit) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_mark_is_a_duplicate() {
        let mut s = AnsweredSet::default();
        assert!(!s.mark(Sequence(7)));
        assert!(s.mark(Sequence(7)));
        assert!(!s.mark(Sequence(65535)));
        s.clear(Sequence(7));
        assert!(!s.contains(Sequence(7)));
    }

    #[test]
    fn sequence_wraps() {
        assert_eq!(Sequence(u16::MAX).next(), Sequence(0));
    }
}
