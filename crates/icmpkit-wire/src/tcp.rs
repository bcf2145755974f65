//! The TCP header, as far as TCP traceroute needs it: building a SYN probe
//! (with its pseudo-header checksum, RFC 9293 §3.1) and reading the ports,
//! numbers and flags of the SYN-ACK or RST that answers it.
//!
//! ```
//! use icmpkit_wire::tcp::{self, Flags, Repr};
//! let (src, dst) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
//! let syn = Repr {
//!     src_port: 40_000,
//!     dst_port: 443,
//!     sequence: 0x1234_0001,
//!     ack: 0,
//!     flags: Flags::SYN,
//!     window: 65_535,
//! };
//! let mut segment = [0u8; tcp::HEADER_LEN];
//! syn.emit(src, dst, &mut segment).unwrap();
//! assert!(tcp::verify(src, dst, &segment));
//! assert_eq!(Repr::parse(&segment).unwrap(), (syn, tcp::HEADER_LEN));
//! ```

use core::fmt;
use core::net::IpAddr;

use crate::bytes;
use crate::checksum;
use crate::{Error, Result};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;

/// The options of a SYN probe, those Linux's own SYNs (and traceroute
/// `-T`'s) carry: MSS 1460, SACK permitted, timestamps (value and echo 0),
/// a NOP, window scale 2. 20 bytes: the SYN is 60 bytes in IPv4 and 80 in
/// IPv6, as traceroute's (some firewalls drop SYNs without options).
pub const SYN_OPTIONS: [u8; 20] = [
    2, 4, 0x05, 0xb4, // MSS 1460
    4, 2, // SACK permitted
    8, 10, 0, 0, 0, 0, 0, 0, 0, 0, // timestamps
    1, // NOP
    3, 3, 2, // window scale 2
];

/// The most option bytes a header holds (data offset 15 words).
const MAX_OPTIONS: usize = 40;

/// The IP protocol number of TCP.
pub const PROTOCOL: u8 = 6;

/// Where the checksum field sits in the header.
const CHECKSUM_AT: usize = 16;

/// The control bits of a TCP header (the low byte of its flags field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Flags(pub u8);

impl Flags {
    /// FIN: no more data from the sender.
    pub const FIN: Flags = Flags(0x01);
    /// SYN: synchronise sequence numbers (opens a connection).
    pub const SYN: Flags = Flags(0x02);
    /// RST: reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// PSH: push.
    pub const PSH: Flags = Flags(0x08);
    /// ACK: the acknowledgment number is significant.
    pub const ACK: Flags = Flags(0x10);
    /// URG: the urgent pointer is significant.
    pub const URG: Flags = Flags(0x20);

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

impl fmt::Display for Flags {
    /// tcpdump's notation: `S`, `S.`, `R.`, `F.`, `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (flag, letter) in [
            (Flags::FIN, "F"),
            (Flags::SYN, "S"),
            (Flags::RST, "R"),
            (Flags::PSH, "P"),
            (Flags::URG, "U"),
            (Flags::ACK, "."),
        ] {
            if self.contains(flag) {
                f.write_str(letter)?;
                any = true;
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A TCP header's fields (options are skipped on parse, none are emitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub sequence: u32,
    /// Acknowledgment number (meaningful with [`Flags::ACK`]).
    pub ack: u32,
    /// Control bits.
    pub flags: Flags,
    /// Receive window.
    pub window: u16,
}

impl Repr {
    /// Reads the header at the start of `segment`; returns it and the
    /// header's length (options included), where the payload starts.
    ///
    /// Errors: fewer than 20 bytes, or a data offset below 5 words or past
    /// the end of `segment`.
    pub fn parse(segment: &[u8]) -> Result<(Repr, usize)> {
        let header = bytes::slice(segment, 0, HEADER_LEN, "TCP header")?;
        let header_len = usize::from(bytes::get_u8(header, 12) >> 4) * 4;
        if header_len < HEADER_LEN {
            return Err(Error::Malformed("TCP data offset below 5 words"));
        }
        bytes::slice(segment, 0, header_len, "TCP options")?;
        let repr = Repr {
            src_port: bytes::get_u16(header, 0),
            dst_port: bytes::get_u16(header, 2),
            sequence: bytes::get_u32(header, 4),
            ack: bytes::get_u32(header, 8),
            flags: Flags(bytes::get_u8(header, 13)),
            window: bytes::get_u16(header, 14),
        };
        Ok((repr, header_len))
    }

    /// Writes this header (no options, urgent pointer 0) over the first
    /// [`HEADER_LEN`] bytes of `segment`, whose remaining bytes are the
    /// payload, and fills in the checksum over the whole segment with the
    /// pseudo-header of `src` and `dst`.
    ///
    /// Errors: `segment` shorter than the header, addresses of different
    /// families, or a segment too long for its IP family to carry.
    pub fn emit(&self, src: IpAddr, dst: IpAddr, segment: &mut [u8]) -> Result<()> {
        self.emit_with_options(src, dst, &[], segment)
    }

    /// As [`Repr::emit`], with `options` (a multiple of 4 bytes, at most
    /// 40, e.g. [`SYN_OPTIONS`]) after the header: the payload starts
    /// after them.
    ///
    /// Errors: as [`Repr::emit`], or options of a bad length.
    pub fn emit_with_options(
        &self,
        src: IpAddr,
        dst: IpAddr,
        options: &[u8],
        segment: &mut [u8],
    ) -> Result<()> {
        if options.len() % 4 != 0 || options.len() > MAX_OPTIONS {
            return Err(Error::Malformed(
                "TCP options must be whole words, at most 40 bytes",
            ));
        }
        let header_len = HEADER_LEN + options.len();
        bytes::check_room(segment, header_len)?;
        bytes::put_bytes(segment, HEADER_LEN, options);
        bytes::put_u16(segment, 0, self.src_port);
        bytes::put_u16(segment, 2, self.dst_port);
        bytes::put_u32(segment, 4, self.sequence);
        bytes::put_u32(segment, 8, self.ack);
        bytes::put_u8(segment, 12, ((header_len / 4) as u8) << 4);
        bytes::put_u8(segment, 13, self.flags.0);
        bytes::put_u16(segment, 14, self.window);
        bytes::put_u16(segment, CHECKSUM_AT, 0);
        bytes::put_u16(segment, 18, 0);
        let sum = segment_checksum(src, dst, segment)?;
        bytes::put_u16(segment, CHECKSUM_AT, sum);
        Ok(())
    }
}

/// The checksum of `segment` (as it stands, checksum field included)
/// between `src` and `dst`: to fill in over a zeroed field, or 0 when a
/// filled-in one is right.
fn segment_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Result<u16> {
    let pseudo = match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let length = u16::try_from(segment.len())
                .map_err(|_| Error::Malformed("TCP segment too long for IPv4"))?;
            checksum::pseudo_header_v4(&src, &dst, length, PROTOCOL)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let length = u32::try_from(segment.len())
                .map_err(|_| Error::Malformed("TCP segment too long for IPv6"))?;
            checksum::pseudo_header_v6(&src, &dst, length, PROTOCOL)
        }
        _ => return Err(Error::Malformed("TCP addresses of different IP families")),
    };
    Ok(checksum::fold(checksum::accumulate(pseudo, segment)))
}

/// Whether `segment`'s checksum is right for a segment from `src` to
/// `dst`.
pub fn verify(src: IpAddr, dst: IpAddr, segment: &[u8]) -> bool {
    segment.len() >= HEADER_LEN && segment_checksum(src, dst, segment) == Ok(0)
}

impl fmt::Display for Repr {
    /// tcpdump's: `40000 > 443: Flags [S], seq 305397761, ack 0, win 65535`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}: Flags [{}], seq {}",
            self.src_port, self.dst_port, self.flags, self.sequence
        )?;
        if self.flags.contains(Flags::ACK) {
            write!(f, ", ack {}", self.ack)?;
        }
        write!(f, ", win {}", self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// Checksums scapy computes for the same segments.
    #[test]
    fn checksums_match_scapy() {
        // IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80,
        // seq=1, flags="S", window=1024, options=[]): chksum 0x92bd.
        let repr = Repr {
            src_port: 1234,
            dst_port: 80,
            sequence: 1,
            ack: 0,
            flags: Flags::SYN,
            window: 1024,
        };
        let mut segment = [0u8; HEADER_LEN];
        repr.emit(v4("10.0.0.1"), v4("10.0.0.2"), &mut segment)
            .unwrap();
        assert_eq!(u16::from_be_bytes([segment[16], segment[17]]), 0x92bd);
        assert!(verify(v4("10.0.0.1"), v4("10.0.0.2"), &segment));
        assert!(!verify(v4("10.0.0.1"), v4("10.0.0.3"), &segment));
        // IPv6(src="2001:db8::1", dst="2001:db8:1::7") / TCP(sport=40000,
        // dport=443, seq=0xdeadbeef, ack=7, flags="SA", window=512,
        // options=[]) / (b"\x5a" * 13): chksum 0x9e8c.
        let repr = Repr {
            src_port: 40_000,
            dst_port: 443,
            sequence: 0xdead_beef,
            ack: 7,
            flags: Flags::SYN | Flags::ACK,
            window: 512,
        };
        let mut segment = [0x5au8; HEADER_LEN + 13];
        repr.emit(v6("2001:db8::1"), v6("2001:db8:1::7"), &mut segment)
            .unwrap();
        assert_eq!(u16::from_be_bytes([segment[16], segment[17]]), 0x9e8c);
    }

    #[test]
    fn round_trip_with_payload_both_families() {
        let repr = Repr {
            src_port: 40_000,
            dst_port: 443,
            sequence: 0xdead_beef,
            ack: 7,
            flags: Flags::SYN | Flags::ACK,
            window: 512,
        };
        for (src, dst) in [
            (v4("192.0.2.1"), v4("198.51.100.7")),
            (v6("2001:db8::1"), v6("2001:db8:1::7")),
        ] {
            let mut segment = [0x5au8; HEADER_LEN + 13];
            repr.emit(src, dst, &mut segment).unwrap();
            assert!(verify(src, dst, &segment), "{src}");
            assert_eq!(Repr::parse(&segment).unwrap(), (repr, HEADER_LEN));
            segment[HEADER_LEN + 3] ^= 1;
            assert!(!verify(src, dst, &segment), "payload is covered");
        }
    }

    /// A SYN with Linux's options (traceroute -T's): 40 bytes of header,
    /// read back with its data offset, checksum right; options of a bad
    /// length refused.
    #[test]
    fn syn_with_options() {
        let (src, dst) = (v4("192.0.2.1"), v4("198.51.100.7"));
        let syn = Repr {
            src_port: 40_000,
            dst_port: 80,
            sequence: 7,
            ack: 0,
            flags: Flags::SYN,
            window: 65_535,
        };
        let mut segment = [0u8; HEADER_LEN + SYN_OPTIONS.len() + 3];
        syn.emit_with_options(src, dst, &SYN_OPTIONS, &mut segment)
            .unwrap();
        assert!(verify(src, dst, &segment));
        assert_eq!(Repr::parse(&segment).unwrap(), (syn, 40));
        assert_eq!(&segment[20..40], &SYN_OPTIONS);
        let mut short = [0u8; 30];
        assert!(
            syn.emit_with_options(src, dst, &SYN_OPTIONS, &mut short)
                .is_err()
        );
        assert!(
            syn.emit_with_options(src, dst, &[1, 1], &mut segment)
                .is_err()
        );
        assert!(
            syn.emit_with_options(src, dst, &[1; 44], &mut [0u8; 80])
                .is_err()
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(Repr::parse(&[0; 19]).is_err());
        let mut short_offset = [0u8; 20];
        short_offset[12] = 4 << 4;
        assert!(Repr::parse(&short_offset).is_err());
        let mut options_cut = [0u8; 20];
        options_cut[12] = 6 << 4;
        assert!(Repr::parse(&options_cut).is_err());
        let mut with_options = [0u8; 24];
        with_options[12] = 6 << 4;
        assert_eq!(Repr::parse(&with_options).unwrap().1, 24);
        let repr = Repr::parse(&with_options).unwrap().0;
        assert_eq!(
            repr.emit(v4("192.0.2.1"), v6("::1"), &mut [0; 20]),
            Err(Error::Malformed("TCP addresses of different IP families"))
        );
        assert!(
            repr.emit(v4("192.0.2.1"), v4("192.0.2.2"), &mut [0; 19])
                .is_err()
        );
        assert!(!verify(v4("192.0.2.1"), v4("192.0.2.2"), &[0; 10]));
    }

    #[test]
    fn flags_and_header_print_like_tcpdump() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(Flags::SYN.to_string(), "S");
        assert_eq!((Flags::SYN | Flags::ACK).to_string(), "S.");
        assert_eq!((Flags::RST | Flags::ACK).to_string(), "R.");
        assert_eq!(Flags(0).to_string(), "none");
        let rst = Repr {
            src_port: 80,
            dst_port: 40_000,
            sequence: 0,
            ack: 2,
            flags: Flags::RST | Flags::ACK,
            window: 0,
        };
        assert_eq!(
            rst.to_string(),
            "80 > 40000: Flags [R.], seq 0, ack 2, win 0"
        );
    }
}
