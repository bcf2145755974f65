//! Echo probes on the wire: building requests and sorting what comes back
//! (our replies, errors quoting our requests, everything else).

use std::net::IpAddr;

use icmpkit_wire::quoted::{Quoted, Transport};
use icmpkit_wire::{Family, icmpv4, icmpv6};

/// Writes an echo request (header + `data`) into `out`. For ICMPv4 the
/// checksum is filled in; for ICMPv6 the kernel computes it (it needs the
/// pseudo-header's source address, which it chooses).
pub fn echo_request(family: Family, id: u16, sequence: u16, data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    append_echo_request(family, id, sequence, data, out);
}

/// Like [`echo_request`], after what `out` already holds (an IP header
/// written first, so the message is never moved to make room for it).
pub fn append_echo_request(family: Family, id: u16, sequence: u16, data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + 8 + data.len(), 0);
    let slot = &mut out[start..];
    let written = match family {
        Family::V4 => icmpv4::Repr::EchoRequest { id, sequence, data }.emit(slot),
        // The pseudo-header sum is left to the kernel (unspecified
        // addresses here): it overwrites the checksum field.
        Family::V6 => icmpv6::Repr::EchoRequest { id, sequence, data }.emit(
            &std::net::Ipv6Addr::UNSPECIFIED,
            &std::net::Ipv6Addr::UNSPECIFIED,
            slot,
        ),
    };
    // The buffer was sized for exactly this message.
    debug_assert_eq!(written.ok(), Some(8 + data.len()));
}

/// An echo reply as a driver decoded it, with what the socket told about
/// its arrival: what ping and sweep sessions take to match and time it.
#[derive(Debug, Clone, Copy)]
pub struct EchoReply<'a> {
    /// Source of the reply.
    pub from: IpAddr,
    /// Echo id as received.
    pub id: u16,
    /// Echo sequence.
    pub sequence: u16,
    /// Echo data.
    pub data: &'a [u8],
    /// ICMP bytes (header + data).
    pub bytes: usize,
    /// Reply TTL / hop limit.
    pub ttl: Option<u8>,
    /// Kernel receive stamp (CLOCK_REALTIME ns).
    pub kernel_rx_ns: Option<u64>,
    /// False when the ICMPv4 checksum does not verify ([`Incoming::EchoReply`]'s
    /// `checksum_ok`): shown (iputils' `(BAD CHECKSUM!)`), never counted as
    /// an answer.
    pub checksum_ok: bool,
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
        /// False when the ICMPv4 checksum does not verify: the reply was
        /// damaged on its way (its id and sequence may be too). Always true
        /// for ICMPv6, whose checksum the kernel verified.
        checksum_ok: bool,
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
    /// An ICMPv4 message other than an echo reply whose checksum does not
    /// verify: nothing in it can be trusted (an error's quote included).
    Corrupted,
    /// Anything else (other types, errors about other traffic, garbage).
    Other,
}

/// Sorts an ICMP message (starting at its type byte).
///
/// ICMPv4 checksums are verified here: a raw socket receives ICMPv4 before
/// the kernel checks it (`raw_local_deliver` runs ahead of `icmp_rcv`), so a
/// damaged message reaches us as it came. ICMPv6 needs no check: the kernel
/// verifies its checksum (pseudo-header included) before any socket, raw or
/// datagram, gets the packet.
pub fn classify(family: Family, icmp: &[u8]) -> Incoming<'_> {
    match family {
        Family::V4 => {
            let checksum_ok = icmpkit_wire::checksum::verify(icmp);
            match icmpv4::Repr::parse_bytes(icmp) {
                Ok(icmpv4::Repr::EchoReply { id, sequence, data }) => Incoming::EchoReply {
                    id,
                    sequence,
                    data,
                    checksum_ok,
                },
                Ok(_) if !checksum_ok => Incoming::Corrupted,
                Ok(r) => error(icmp, r.quoted()),
                Err(_) => Incoming::Other,
            }
        }
        Family::V6 => match icmpv6::Repr::parse_bytes(icmp) {
            Ok(icmpv6::Repr::EchoReply { id, sequence, data }) => Incoming::EchoReply {
                id,
                sequence,
                data,
                checksum_ok: true,
            },
            Ok(r) => error(icmp, r.quoted()),
            Err(_) => Incoming::Other,
        },
    }
}

/// An error quoting one of our echo requests; its type, code and 32-bit
/// info field as they stand in the header.
fn error<'a>(icmp: &'a [u8], quoted: Option<Quoted<'a>>) -> Incoming<'a> {
    let (Some(q), Some(header)) = (quoted, icmp.get(..8)) else {
        return Incoming::Other;
    };
    let Transport::Echo {
        icmp_type,
        id,
        sequence,
        ..
    } = q.transport
    else {
        return Incoming::Other;
    };
    if icmp_type != echo_request_type(q.family) {
        return Incoming::Other;
    }
    Incoming::Error {
        icmp_type: header[0],
        code: header[1],
        info: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        quoted: QuotedProbe {
            destination: Some(q.dst),
            id,
            sequence,
        },
        quoted_icmp: q.payload,
    }
}

/// The echo data of an ICMP echo message (request or reply) starting at
/// its type byte: what follows the 8-byte header.
pub fn echo_data(icmp: &[u8]) -> &[u8] {
    icmp.get(8..).unwrap_or(&[])
}

fn echo_request_type(family: Family) -> u8 {
    match family {
        Family::V4 => icmpv4::msg_type::ECHO_REQUEST,
        Family::V6 => icmpv6::msg_type::ECHO_REQUEST,
    }
}

/// Reads our own echo request (as the error queue returns it: the ICMP
/// message we sent, no IP header).
pub fn parse_own_request(family: Family, icmp: &[u8]) -> Option<QuotedProbe> {
    let (id, sequence) = match family {
        Family::V4 => match icmpv4::Repr::parse_bytes(icmp).ok()? {
            icmpv4::Repr::EchoRequest { id, sequence, .. } => (id, sequence),
            _ => return None,
        },
        Family::V6 => match icmpv6::Repr::parse_bytes(icmp).ok()? {
            icmpv6::Repr::EchoRequest { id, sequence, .. } => (id, sequence),
            _ => return None,
        },
    };
    Some(QuotedProbe {
        destination: None,
        id,
        sequence,
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
        assert!(icmpkit_wire::checksum::verify(&out));
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
                data: &[0; 8],
                checksum_ok: false,
            }
        );
        // Reply checksum made right: the type changed from 8 to 0.
        reply[2..4].fill(0);
        let sum = icmpkit_wire::checksum::checksum(&reply);
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        assert!(matches!(
            classify(Family::V4, &reply),
            Incoming::EchoReply {
                checksum_ok: true,
                ..
            }
        ));
        // Time exceeded quoting an IPv4 header + our request.
        let mut err = vec![11, 0, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![
            0x45, 0, 0, 36, 0, 0, 0, 0, 1, 1, 0, 0, 192, 0, 2, 1, 198, 51, 100, 9,
        ];
        ip.extend_from_slice(&req);
        err.extend_from_slice(&ip);
        let sum = icmpkit_wire::checksum::checksum(&err);
        err[2..4].copy_from_slice(&sum.to_be_bytes());
        match classify(Family::V4, &err) {
            Incoming::Error {
                icmp_type: 11,
                quoted,
                ..
            } => {
                assert_eq!(quoted.id, 7);
                assert_eq!(quoted.sequence, 9);
                assert_eq!(quoted.destination, Some("198.51.100.9".parse().unwrap()));
            }
            other => panic!("{other:?}"),
        }
        // The same error damaged on its way: not trusted, its quote included.
        err[30] ^= 0x40;
        assert_eq!(classify(Family::V4, &err), Incoming::Corrupted);
        assert_eq!(classify(Family::V4, &[11, 0]), Incoming::Other);
        assert_eq!(classify(Family::V4, &[]), Incoming::Other);
    }
}
