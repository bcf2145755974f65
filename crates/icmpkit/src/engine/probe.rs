//! Echo probes on the wire: building requests and sorting what comes back
//! (our replies, errors quoting our requests, everything else).

use std::net::IpAddr;

use icmpkit_wire::{Family, checksum};

/// ICMP type numbers the engine needs, per family.
fn echo_request_type(f: Family) -> u8 {
    match f {
        Family::V4 => 8,
        Family::V6 => 128,
    }
}

fn echo_reply_type(f: Family) -> u8 {
    match f {
        Family::V4 => 0,
        Family::V6 => 129,
    }
}

fn is_error_type(f: Family, t: u8) -> bool {
    match f {
        Family::V4 => matches!(t, 3 | 4 | 5 | 11 | 12),
        Family::V6 => matches!(t, 1..=4),
    }
}

/// Writes an echo request (header + `data`) into `out`. For ICMPv4 the
/// checksum is filled in; for ICMPv6 the kernel computes it (it needs the
/// pseudo-header's source address, which it chooses).
pub fn echo_request(family: Family, id: u16, sequence: u16, data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[echo_request_type(family), 0, 0, 0]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(data);
    if family == Family::V4 {
        let c = checksum::checksum(out);
        out[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

/// The echo request an error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedProbe {
    /// Where the quoted request was going, when the quote includes the IP
    /// header (raw sockets); `None` from the error queue.
    pub destination: Option<IpAddr>,
    /// Its echo identifier.
    pub id: u16,
    /// Its sequence number.
    pub sequence: u16,
}

/// What an ICMP message received on a probe socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// An echo reply.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// An ICMP error quoting one of our echo requests.
    Error {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
        /// The 32-bit field after the checksum (MTU, pointer, gateway).
        info: u32,
        /// The request it quotes.
        quoted: QuotedProbe,
        /// The quoted request itself, from its type byte (as much as the
        /// router quoted: its payload stamp, when long enough).
        quoted_icmp: &'a [u8],
    },
    /// Anything else (other types, errors about other traffic, garbage).
    Other,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Sorts an ICMP message (starting at its type byte).
pub fn classify(family: Family, icmp: &[u8]) -> Incoming<'_> {
    let (Some(&t), Some(&code)) = (icmp.first(), icmp.get(1)) else {
        return Incoming::Other;
    };
    if t == echo_reply_type(family) && code == 0 {
        return match (u16_at(icmp, 4), u16_at(icmp, 6)) {
            (Some(id), Some(sequence)) => Incoming::EchoReply {
                id,
                sequence,
                data: &icmp[8..],
            },
            _ => Incoming::Other,
        };
    }
    if !is_error_type(family, t) {
        return Incoming::Other;
    }
    let Some(info) = u32_at(icmp, 4) else {
        return Incoming::Other;
    };
    match quoted_request(family, icmp.get(8..).unwrap_or(&[])) {
        Some((quoted, quoted_icmp)) => Incoming::Error {
            icmp_type: t,
            code,
            info,
            quoted,
            quoted_icmp,
        },
        None => Incoming::Other,
    }
}

/// Finds our echo request inside the datagram an error quotes.
fn quoted_request(family: Family, quote: &[u8]) -> Option<(QuotedProbe, &[u8])> {
    let (destination, icmp) = match family {
        Family::V4 => {
            let ihl = usize::from(quote.first()? & 0x0f) * 4;
            if quote.first()? >> 4 != 4 || ihl < 20 || *quote.get(9)? != 1 {
                return None;
            }
            let dst: [u8; 4] = quote.get(16..20)?.try_into().ok()?;
            (IpAddr::from(dst), quote.get(ihl..)?)
        }
        Family::V6 => {
            if quote.first()? >> 4 != 6 || *quote.get(6)? != 58 {
                return None;
            }
            let dst: [u8; 16] = quote.get(24..40)?.try_into().ok()?;
            (IpAddr::from(dst), quote.get(40..)?)
        }
    };
    let own = parse_own_request(family, icmp)?;
    let quoted = QuotedProbe {
        destination: Some(destination),
        ..own
    };
    Some((quoted, icmp))
}

/// The echo data of an ICMP echo message (request or reply) starting at
/// its type byte: what follows the 8-byte header.
pub fn echo_data(icmp: &[u8]) -> &[u8] {
    icmp.get(8..).unwrap_or(&[])
}

/// Reads our own echo request (as the error queue returns it: the ICMP
/// message we sent, no IP header).
pub fn parse_own_request(family: Family, icmp: &[u8]) -> Option<QuotedProbe> {
    if *icmp.first()? != echo_request_type(family) {
        return None;
    }
    Some(QuotedProbe {
        destination: None,
        id: u16_at(icmp, 4)?,
        sequence: u16_at(icmp, 6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksums_v4() {
        let mut out = Vec::new();
        echo_request(Family::V4, 0x1234, 1, b"abcdefgh", &mut out);
        assert_eq!(&out[..2], &[8, 0]);
        assert!(checksum::verify(&out));
    }

    #[test]
    fn classifies_reply_and_quoted_error() {
        let mut req = Vec::new();
        echo_request(Family::V4, 7, 9, &[0; 8], &mut req);
        let mut reply = req.clone();
        reply[0] = 0;
        assert_eq!(
            classify(Family::V4, &reply),
            Incoming::EchoReply {
                id: 7,
                sequence: 9,
                data: &[0; 8]
            }
        );
        // Time exceeded quoting an IPv4 header + our request.
        let mut err = vec![11, 0, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![
            0x45, 0, 0, 36, 0, 0, 0, 0, 1, 1, 0, 0, 192, 0, 2, 1, 198, 51, 100, 9,
        ];
        ip.extend_from_slice(&req);
        err.extend_from_slice(&ip);
        match classify(Family::V4, &err) {
            Incoming::Error {
                icmp_type: 11,
                quoted,
                quoted_icmp,
                ..
            } => {
                assert_eq!(quoted_icmp, &req[..]);
                assert_eq!(echo_data(quoted_icmp), &[0; 8]);
                assert_eq!(quoted.id, 7);
                assert_eq!(quoted.sequence, 9);
                assert_eq!(quoted.destination, Some("198.51.100.9".parse().unwrap()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(classify(Family::V4, &[11, 0]), Incoming::Other);
        assert_eq!(classify(Family::V4, &[]), Incoming::Other);
    }
}
