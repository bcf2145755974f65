//! What counts as an answer to a sent message: its reply type with the
//! same identifiers (or, for router and neighbor solicitations, the
//! advertisement it asked for), or an ICMP error quoting it. Pure: bytes
//! in, verdict out.

use std::net::IpAddr;

use icmpkit_wire::quoted::Quoted;
use icmpkit_wire::{Family, icmpv4, icmpv6};

use super::message::reply_type;

/// How an answer relates to the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum AnswerKind {
    /// The reply type of the request, with its identifiers.
    Reply,
    /// An ICMP error quoting the probe.
    Error,
}

/// A sent message, as far as matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    family: Family,
    dst: IpAddr,
    /// Type, code, and bytes 4..8: what an error's quote must repeat (the
    /// checksum is left out: the kernel may fill it in).
    head: [u8; 6],
    /// NDP target of a neighbor solicitation.
    ns_target: Option<[u8; 16]>,
    reply: Option<u8>,
    any_source: bool,
}

impl Probe {
    /// The probe `message` (an ICMP message, from its type byte) sent to
    /// `dst`. `None` when the message is shorter than an ICMP header.
    pub fn new(family: Family, dst: IpAddr, message: &[u8]) -> Option<Probe> {
        let header = message.get(..8)?;
        let head = [
            header[0], header[1], header[4], header[5], header[6], header[7],
        ];
        let ns_target = (family == Family::V6 && header[0] == icmpv6::msg_type::NEIGHBOR_SOLICIT)
            .then(|| message.get(8..24)?.try_into().ok())
            .flatten();
        Some(Probe {
            family,
            dst,
            head,
            ns_target,
            reply: reply_type(family, header[0]),
            any_source: dst.is_multicast() || is_v4_broadcast(dst),
        })
    }

    /// Accept replies from any source (a broadcast destination, or a
    /// target that answers from another address). Multicast destinations
    /// do so already.
    pub fn accept_any_source(&mut self, yes: bool) {
        self.any_source = yes || self.dst.is_multicast() || is_v4_broadcast(self.dst);
    }

    /// The reply type expected, if the message is a request.
    pub fn reply_type(&self) -> Option<u8> {
        self.reply
    }

    /// Whether `icmp` (an ICMP message from `from`) answers this probe.
    #[cfg(test)]
    pub fn matches(&self, from: IpAddr, icmp: &[u8]) -> Option<AnswerKind> {
        self.matches_incoming(&Incoming::parse(self.family, from, icmp))
    }

    /// Whether a message parsed once with [`Incoming::parse`] (to hold
    /// against many probes) answers this probe.
    pub fn matches_incoming(&self, incoming: &Incoming<'_>) -> Option<AnswerKind> {
        let t = *incoming.icmp.first()?;
        if Some(t) == self.reply && self.reply_matches(incoming.from, incoming.icmp) {
            return Some(AnswerKind::Reply);
        }
        self.error_matches(incoming).then_some(AnswerKind::Error)
    }

    fn reply_matches(&self, from: IpAddr, icmp: &[u8]) -> bool {
        if !self.any_source && from != self.dst {
            return false;
        }
        let Some(header) = icmp.get(..8) else {
            return false;
        };
        let request = self.head[0];
        match (self.family, request) {
            // Router advertisements answer a solicitation as a whole.
            (Family::V4, 10) | (Family::V6, 133) => true,
            // Neighbor advertisements carry the solicited target.
            (Family::V6, 135) => {
                self.ns_target.is_some()
                    && icmp.get(8..24) == self.ns_target.as_ref().map(|t| &t[..])
            }
            // Extended echo: id and an 8-bit sequence; byte 7 holds flags.
            (Family::V4, 42) | (Family::V6, 160) => header[4..7] == self.head[2..5],
            // Echo, timestamp, information, address mask: id and sequence.
            _ => header[4..8] == self.head[2..6],
        }
    }

    fn error_matches(&self, incoming: &Incoming<'_>) -> bool {
        let protocol = match self.family {
            Family::V4 => 1,
            Family::V6 => 58,
        };
        incoming.quoted == Some((self.dst, protocol, self.head))
    }
}

/// An ICMP message as matching needs it: who sent it, its bytes, and for
/// an error what it quotes (parsed once, however many probes it is held
/// against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming<'a> {
    from: IpAddr,
    icmp: &'a [u8],
    /// An error's quoted datagram: destination, protocol, and the bytes a
    /// probe's head must repeat.
    quoted: Option<(IpAddr, u8, [u8; 6])>,
}

impl<'a> Incoming<'a> {
    /// `icmp` (from its type byte) of `family`, received from `from`.
    pub fn parse(family: Family, from: IpAddr, icmp: &'a [u8]) -> Incoming<'a> {
        let original = match family {
            Family::V4 => icmpv4::Repr::parse_bytes(icmp)
                .ok()
                .and_then(|r| r.error_body())
                .map(|b| b.original()),
            Family::V6 => icmpv6::Repr::parse_bytes(icmp)
                .ok()
                .and_then(|r| r.error_body())
                .map(|b| b.original()),
        };
        let quoted = original
            .and_then(|o| Quoted::parse(o).ok())
            .and_then(|quoted| {
                let q = quoted.payload.get(..8)?;
                Some((
                    quoted.dst,
                    quoted.protocol,
                    [q[0], q[1], q[4], q[5], q[6], q[7]],
                ))
            });
        Incoming { from, icmp, quoted }
    }
}

fn is_v4_broadcast(addr: IpAddr) -> bool {
    matches!(addr, IpAddr::V4(a) if a.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craft::message::MessageSpec;
    use icmpkit_wire::ip::ipv4;

    const DST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    const ROUTER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn timestamp(id: u16, seq: u16, reply: bool) -> Vec<u8> {
        let mut spec = MessageSpec::new(Family::V4, if reply { 14 } else { 13 });
        spec.id = Some(id);
        spec.sequence = Some(seq);
        spec.build(None, DST).unwrap()
    }

    /// A time exceeded from `ROUTER` quoting `message` sent to `dst`.
    fn time_exceeded(message: &[u8], dst: IpAddr) -> Vec<u8> {
        let IpAddr::V4(dst) = dst else { unreachable!() };
        let ip = ipv4::Repr {
            src: [192, 0, 2, 50].into(),
            dst,
            protocol: 1,
            ttl: 1,
            ident: 1,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            dscp: 0,
            ecn: 0,
            options: &[],
            payload_len: message.len(),
        };
        let mut quote = vec![0; 20];
        ip.emit(&mut quote).unwrap();
        quote.extend_from_slice(&message[..8]);
        let mut spec = MessageSpec::new(Family::V4, 11);
        spec.data = Some(quote);
        spec.build(None, ROUTER).unwrap()
    }

    #[test]
    fn a_reply_needs_its_type_ids_and_source() {
        let probe = Probe::new(Family::V4, DST, &timestamp(7, 9, false)).unwrap();
        assert_eq!(probe.reply_type(), Some(14));
        assert_eq!(
            probe.matches(DST, &timestamp(7, 9, true)),
            Some(AnswerKind::Reply)
        );
        assert_eq!(probe.matches(DST, &timestamp(7, 10, true)), None);
        assert_eq!(probe.matches(DST, &timestamp(8, 9, true)), None);
        assert_eq!(probe.matches(ROUTER, &timestamp(7, 9, true)), None);
        // Our own request, looped back, is not a reply.
        assert_eq!(probe.matches(DST, &timestamp(7, 9, false)), None);
        assert_eq!(probe.matches(DST, &[]), None);
    }

    #[test]
    fn an_error_must_quote_the_probe_to_its_destination() {
        let sent = timestamp(7, 9, false);
        let probe = Probe::new(Family::V4, DST, &sent).unwrap();
        assert_eq!(
            probe.matches(ROUTER, &time_exceeded(&sent, DST)),
            Some(AnswerKind::Error)
        );
        assert_eq!(probe.matches(ROUTER, &time_exceeded(&sent, ROUTER)), None);
        let other = timestamp(7, 10, false);
        assert_eq!(probe.matches(ROUTER, &time_exceeded(&other, DST)), None);
    }

    #[test]
    fn extended_echo_ignores_the_flag_byte_and_ndp_matches_the_target() {
        let mut spec = MessageSpec::new(Family::V4, 42);
        spec.id = Some(3);
        spec.sequence = Some(4);
        let probe = Probe::new(Family::V4, DST, &spec.build(None, DST).unwrap()).unwrap();
        let mut reply = MessageSpec::new(Family::V4, 43);
        reply.id = Some(3);
        reply.sequence = Some(4);
        let mut bytes = reply.build(None, DST).unwrap();
        bytes[7] = 0x46; // state, A and 4 bits
        assert_eq!(probe.matches(DST, &bytes), Some(AnswerKind::Reply));

        let dst: IpAddr = "ff02::1:ff00:1".parse().unwrap();
        let target = "2001:db8::1".parse().unwrap();
        let mut ns = MessageSpec::new(Family::V6, 135);
        ns.target = Some(target);
        let probe = Probe::new(Family::V6, dst, &ns.build(None, dst).unwrap()).unwrap();
        let mut na = MessageSpec::new(Family::V6, 136);
        na.target = Some(target);
        let from: IpAddr = "2001:db8::1".parse().unwrap();
        let bytes = na.build(Some(from), dst).unwrap();
        assert_eq!(probe.matches(from, &bytes), Some(AnswerKind::Reply));
        na.target = Some("2001:db8::2".parse().unwrap());
        assert_eq!(probe.matches(from, &na.build(None, dst).unwrap()), None);
    }
}
