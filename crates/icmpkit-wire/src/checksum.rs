//! The Internet checksum (RFC 1071), the ICMPv6 pseudo-header (RFC 8200
//! §8.1) and incremental update (RFC 1624).
//!
//! Sums are kept as `u32` accumulators so that pieces (pseudo-header,
//! header, payload) can be added before one final [`fold`].

use core::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// An odd trailing byte is padded with zero, as RFC 1071 says; so only the
/// last piece of a message may have odd length.
#[inline]
pub fn accumulate(sum: u32, data: &[u8]) -> u32 {
    // RFC 1071 §2(B): one's-complement sums can be taken over 32-bit words
    // in a wide accumulator and folded at the end.
    let mut wide: u64 = u64::from(sum);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        wide += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    wide += u64::from(u32::from_be_bytes(tail));
    wide = (wide & 0xffff_ffff) + (wide >> 32);
    wide = (wide & 0xffff_ffff) + (wide >> 32);
    // Fold to 16 bits' worth so callers can keep adding u32 pieces.
    let mut s = wide as u32;
    s = (s & 0xffff) + (s >> 16);
    s
}

/// Folds a running sum to 16 bits and complements it: the value to store
/// in a checksum field.
#[inline]
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The RFC 1071 checksum of `data` (with its checksum field zeroed, to
/// compute; as is, to verify: see [`verify`]).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    fold(accumulate(0, data))
}

/// True when `data`, checksum field included, sums to all ones (RFC 1071 §1
/// verification).
#[inline]
pub fn verify(data: &[u8]) -> bool {
    fold(accumulate(0, data)) == 0
}

/// The running sum of the IPv6 pseudo-header for an upper-layer packet of
/// `length` bytes with `next_header` (58 for ICMPv6).
#[inline]
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, length: u32, next_header: u8) -> u32 {
    let mut sum = accumulate(0, &src.octets());
    sum = accumulate(sum, &dst.octets());
    sum = accumulate(sum, &length.to_be_bytes());
    accumulate(sum, &[0, 0, 0, next_header])
}

/// The running sum of the IPv4 pseudo-header (UDP/TCP in quoted datagrams
/// and crafted probes).
#[inline]
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, length: u16, protocol: u8) -> u32 {
    let mut sum = accumulate(0, &src.octets());
    sum = accumulate(sum, &dst.octets());
    accumulate(sum, &[0, protocol, (length >> 8) as u8, length as u8])
}

/// The ICMPv6 checksum of `message` (checksum field zeroed) between `src`
/// and `dst`.
#[inline]
pub fn icmpv6(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> u16 {
    let pseudo = pseudo_header_v6(src, dst, message.len() as u32, 58);
    fold(accumulate(pseudo, message))
}

/// True when the ICMPv6 `message` (checksum included) verifies between
/// `src` and `dst`.
#[inline]
pub fn verify_icmpv6(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> bool {
    let pseudo = pseudo_header_v6(src, dst, message.len() as u32, 58);
    fold(accumulate(pseudo, message)) == 0
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered
/// data changed from `old_word` to `new_word`, without re-summing.
///
/// `HC' = ~(~HC + ~m + m')`, which (unlike RFC 1141's form) never yields
/// the ambiguous `-0`.
#[inline]
pub fn update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    let sum = u32::from(!old_checksum) + u32::from(!old_word) + u32::from(new_word);
    fold(sum)
}

/// RFC 1624 eqn. 3 for whole spans of words: the running sum `~HC + Σ~m`
/// of a message whose checksum is `old_checksum`, less the words `old`
/// about to be rewritten (even length, at an even offset of the covered
/// data; call again with the sum returned for more spans). Add the new
/// words with [`accumulate`], then [`fold`]: the new checksum, without
/// summing the words that did not change. A template's sum is taken
/// once; each copy then pays only for the words it rewrites.
#[inline]
pub fn retract(sum: u32, old: &[u8]) -> u32 {
    // ~m summed over the span is the complement of the span's sum, which
    // fold gives.
    sum + u32::from(fold(accumulate(0, old)))
}

/// The start of an RFC 1624 rewrite of a message whose checksum field
/// holds `old_checksum`: `~HC`, to which [`retract`] and [`accumulate`]
/// add.
#[inline]
pub fn rewrite_start(old_checksum: u16) -> u32 {
    u32::from(!old_checksum)
}

/// The 16-bit word to put at an even offset of the covered data so that
/// the whole sums to `target` (checksum field content) given its current
/// checksum with that word zero. Paris traceroute uses this to keep a
/// probe's checksum (its flow identity) constant while the sequence moves.
#[inline]
pub fn compensating_word(checksum_with_zero_word: u16, target: u16) -> u16 {
    // checksum = ~(S + w) where ~S = checksum_with_zero_word; solve for w.
    let s = u32::from(!checksum_with_zero_word);
    let want = u32::from(!target);
    // w = want - S in one's complement arithmetic.
    let w = want + u32::from(!(s as u16));
    let mut folded = w;
    while folded > 0xffff {
        folded = (folded & 0xffff) + (folded >> 16);
    }
    folded as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retracting_and_adding_spans_gives_the_full_checksum() {
        let mut data = [
            0x45u8, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0,
        ];
        let old = checksum(&data);
        let start = retract(retract(rewrite_start(old), &data[4..6]), &data[16..20]);
        data[4..6].copy_from_slice(&[0xbe, 0xef]);
        data[16..20].copy_from_slice(&[10, 20, 30, 40]);
        let sum = accumulate(accumulate(start, &data[4..6]), &data[16..20]);
        assert_eq!(fold(sum), checksum(&data));
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 numerical example: 0001 f203 f4f5 f6f7 sums to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(accumulate(0, &data)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(checksum(&[0xab]), checksum(&[0xab, 0x00]));
    }

    #[test]
    fn verify_accepts_what_checksum_wrote() {
        let mut msg = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i', b'!'];
        let c = checksum(&msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&msg));
        msg[10] ^= 1;
        assert!(!verify(&msg));
    }

    #[test]
    fn incremental_update_matches_full_recompute() {
        let mut msg = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4];
        let c = checksum(&msg);
        msg[6..8].copy_from_slice(&0xbeefu16.to_be_bytes());
        assert_eq!(update(c, 0x0001, 0xbeef), checksum(&msg));
    }

    #[test]
    fn compensating_word_keeps_checksum() {
        let mut msg = [8u8, 0, 0, 0, 0x12, 0x34, 0, 7, 0, 0, 9, 9];
        let target = 0x5a5a;
        let zero = checksum(&msg);
        let w = compensating_word(zero, target);
        msg[8..10].copy_from_slice(&w.to_be_bytes());
        assert_eq!(checksum(&msg), target);
    }
}
