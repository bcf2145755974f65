//! `checksum::accumulate` against a naive RFC 1071 sum, over random data
//! split into random even-length pieces (as pseudo-header + header +
//! payload sums are built).

use icmpkit_wire::checksum;
use proptest::prelude::*;

/// RFC 1071 word by word, the way the RFC's C example does it.
fn naive(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn pieces_sum_like_the_whole(data in proptest::collection::vec(any::<u8>(), 0..300), cuts in proptest::collection::vec(any::<usize>(), 0..5)) {
        let mut bounds: Vec<usize> = cuts.iter().map(|c| (c % (data.len() + 1)) & !1).collect();
        bounds.sort();
        let mut sum = 0;
        let mut at = 0;
        for b in bounds {
            sum = checksum::accumulate(sum, &data[at..b.max(at)]);
            at = b.max(at);
        }
        sum = checksum::accumulate(sum, &data[at..]);
        prop_assert_eq!(checksum::fold(sum), naive(&data));
        prop_assert_eq!(checksum::checksum(&data), naive(&data));
    }
}

#[test]
fn all_ones_data_does_not_overflow() {
    let data = vec![0xffu8; 70_000];
    assert_eq!(checksum::checksum(&data), naive(&data));
    let mut sum = 0;
    for _ in 0..1000 {
        sum = checksum::accumulate(sum, &data);
    }
    // Any number of 0xffff words sums to 0xffff: checksum 0, no overflow.
    assert_eq!(checksum::fold(sum), 0);
}
