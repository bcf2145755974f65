//! Trace probes on the wire, with no I/O: building Paris-stable ICMP echo,
//! UDP and TCP SYN probes, and turning what comes back (packets from a raw
//! socket, TCP segments, error-queue entries) into [`Response`]s that name
//! the probe they answer.

use std::net::{IpAddr, SocketAddr};

use icmpkit_wire::extension::ErrorBody;
use icmpkit_wire::quoted::Transport;
use icmpkit_wire::{Family, checksum, tcp};

use super::report::{Annotation, Extension, ReplyKind};

/// The protocol the probes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ProbeProtocol {
    /// ICMP / ICMPv6 echo requests (`traceroute -I`); the default.
    #[default]
    Icmp,
    /// UDP datagrams to one constant port (`traceroute -U`, Paris style).
    Udp,
    /// TCP SYNs (`traceroute -T`). With raw sockets each flow's SYNs
    /// leave from one reserved source port to one destination port and
    /// are told apart by their sequence number (Paris-stable, like
    /// `tcptraceroute`); unprivileged, each probe is a `connect()` from a
    /// port of its own, so a flow's source port changes when its probes
    /// overlap.
    Tcp,
}

impl ProbeProtocol {
    /// The bytes a probe carries between its IP header and its data: 8
    /// (ICMP echo, UDP), or a SYN's 20-byte header with its 20 bytes of
    /// options (raw SYNs carry Linux's, as connect()'s SYNs do). With the
    /// IP header and the data: traceroute's "N byte packets".
    pub const fn header_len(self) -> usize {
        match self {
            ProbeProtocol::Icmp | ProbeProtocol::Udp => 8,
            ProbeProtocol::Tcp => SYN_HEADER_LEN,
        }
    }
}

/// Bytes at the start of a UDP probe's payload: a marker and the probe's
/// sequence number.
pub const UDP_HEADER: [u8; 2] = *b"iK";

/// The checksum an ICMP probe of `flow` carries: the same for every probe
/// of the flow (Paris traceroute), different between flows.
pub fn flow_checksum(flow: u16) -> u16 {
    0x4b1d_u16.wrapping_add(flow.wrapping_mul(0x0101))
}

/// Writes an echo request whose checksum is `flow_checksum` whatever its
/// sequence and data: the first two data bytes compensate (RFC 1624).
/// `data` must be at least 2 bytes; its first two are overwritten.
///
/// ICMPv4: the checksum field holds `flow_checksum`. ICMPv6: the kernel
/// fills the checksum in, adding a pseudo-header that is the same for every
/// probe, so the message's own sum being constant keeps it constant too.
pub fn paris_echo_request(
    family: Family,
    id: u16,
    sequence: u16,
    data: &[u8],
    flow_checksum: u16,
    out: &mut Vec<u8>,
) {
    crate::engine::probe::echo_request(family, id, sequence, data, out);
    if out.len() < 10 {
        return;
    }
    out[2..4].fill(0);
    out[8..10].fill(0);
    let with_zero_word = checksum::checksum(out);
    let word = checksum::compensating_word(with_zero_word, flow_checksum);
    out[8..10].copy_from_slice(&word.to_be_bytes());
    if family == Family::V4 {
        out[2..4].copy_from_slice(&flow_checksum.to_be_bytes());
    }
}

/// A UDP probe's payload: marker, sequence, zero fill up to `size` bytes
/// (at least 4).
pub fn udp_payload(sequence: u16, size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&UDP_HEADER);
    out.extend_from_slice(&sequence.to_be_bytes());
    out.resize(size.max(4), 0);
}

/// The TCP sequence number of raw SYN probe `seq` in a trace whose
/// sequence numbers start at `base`. Consecutive probes get consecutive
/// numbers: a SYN arriving at a listener that still holds a half-open
/// connection of the same flow is then inside its window and answered with
/// a reset that acknowledges it (an out-of-window one would only make the
/// listener repeat its first SYN-ACK).
pub fn tcp_sequence(base: u32, seq: u16) -> u32 {
    base.wrapping_add(u32::from(seq))
}

/// Writes a raw SYN probe from `src` to `dst` with `sequence` into `out`,
/// with Linux's SYN options ([`tcp::SYN_OPTIONS`], as traceroute `-T`),
/// followed by `payload_len` zero bytes (path-MTU probes), checksum filled
/// in.
pub fn tcp_syn(
    src: SocketAddr,
    dst: SocketAddr,
    sequence: u32,
    payload_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), icmpkit_wire::Error> {
    out.clear();
    out.resize(SYN_HEADER_LEN + payload_len, 0);
    let syn = tcp::Repr {
        src_port: src.port(),
        dst_port: dst.port(),
        sequence,
        ack: 0,
        flags: tcp::Flags::SYN,
        window: u16::MAX,
    };
    syn.emit_with_options(src.ip(), dst.ip(), &tcp::SYN_OPTIONS, out)
}

/// A SYN probe's TCP header with its options: what a TCP probe adds to
/// the IP header (Linux's connect() SYNs carry as many option bytes).
pub const SYN_HEADER_LEN: usize = tcp::HEADER_LEN + tcp::SYN_OPTIONS.len();

/// Reads the sequence back from a UDP probe's payload.
pub fn udp_sequence(payload: &[u8]) -> Option<u16> {
    if payload.get(..2)? != UDP_HEADER {
        return None;
    }
    Some(u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]))
}

/// How a response names its probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKey {
    /// By sequence number (ICMP echo sequence, UDP payload).
    Sequence(u16),
    /// By local port (unprivileged TCP probes, one socket each).
    TcpPort(u16),
    /// A SYN-ACK or reset to raw TCP probes from local port `port`,
    /// acknowledging `ack`: the probe's sequence number plus one (plus its
    /// payload, for a reset to a path-MTU probe), which the sender knows.
    TcpAck {
        /// The local (flow) port it was sent to.
        port: u16,
        /// Its acknowledgment number.
        ack: u32,
    },
}

/// A response to some probe, decoded but not yet matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Which probe.
    pub key: ProbeKey,
    /// Who sent it.
    pub from: IpAddr,
    /// Time exceeded, reached, unreachable.
    pub kind: ReplyKind,
    /// traceroute's annotation.
    pub annotation: Option<Annotation>,
    /// RFC 4884 extension objects.
    pub extensions: Vec<Extension>,
    /// For echo replies: the echo data, to check the probe's stamp.
    pub echo_data: Option<Vec<u8>>,
    /// For errors read with their quote: the TTL / hop limit the probe
    /// still had when the sender of the error got it.
    pub quoted_ttl: Option<u8>,
}

/// What an ICMP error of `family` with `icmp_type`/`code` means for a
/// probe; `None` for messages a trace ignores (redirects, quench...).
/// `from_target`: the destination itself sent it.
pub fn error_meaning(
    family: Family,
    icmp_type: u8,
    code: u8,
    info: u32,
    from_target: bool,
) -> Option<(ReplyKind, Option<Annotation>)> {
    use Annotation as A;
    let unreachable = |a| Some((ReplyKind::Unreachable, Some(a)));
    match (family, icmp_type) {
        (Family::V4, 11) | (Family::V6, 3) => Some((ReplyKind::TimeExceeded, None)),
        // Port unreachable from the destination: how UDP probes arrive.
        (Family::V4, 3) | (Family::V6, 1) if code == port_unreachable(family) && from_target => {
            Some((ReplyKind::Reached, None))
        }
        (Family::V4, 3) => unreachable(match code {
            0 | 6 | 8 | 11 => A::NetUnreachable,
            1 | 7 | 12 => A::HostUnreachable,
            2 => A::ProtocolUnreachable,
            4 => A::FragmentationNeeded(info & 0xffff),
            5 => A::SourceRouteFailed,
            9 | 10 | 13 => A::Prohibited,
            14 => A::PrecedenceViolation,
            15 => A::PrecedenceCutoff,
            other => A::Code(other),
        }),
        (Family::V6, 1) => unreachable(match code {
            0 | 2 => A::NetUnreachable,
            1 | 5 | 6 => A::Prohibited,
            3 => A::HostUnreachable,
            other => A::Code(other),
        }),
        (Family::V6, 2) => unreachable(A::FragmentationNeeded(info)),
        _ => None,
    }
}

fn port_unreachable(family: Family) -> u8 {
    match family {
        Family::V4 => 3,
        Family::V6 => 4,
    }
}

/// What the receiving side knows about the probes, to match responses.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The trace's family.
    pub family: Family,
    /// The destination.
    pub target: IpAddr,
    /// The protocol probed with.
    pub protocol: ProbeProtocol,
    /// ICMP: the echo identifier of our probes.
    pub echo_id: u16,
    /// UDP/TCP: the destination port.
    pub dst_port: u16,
    /// UDP: the local port of each flow's socket; raw TCP: each flow's
    /// reserved source port. Empty otherwise.
    pub flow_ports: Vec<u16>,
    /// Raw TCP probes: the sequence number of probe 0 (see
    /// [`tcp_sequence`]). `None` for unprivileged TCP probes, which are
    /// told apart by their local port.
    pub tcp_sequence_base: Option<u32>,
}

impl Matcher {
    /// False for an ICMPv4 message whose checksum does not verify: a raw
    /// socket receives ICMPv4 before the kernel checks it, so a damaged
    /// message (a hop's or the destination's answer included) reaches us as
    /// it came. ICMPv6 checksums are verified by the kernel before any
    /// socket gets the packet.
    pub fn checksum_ok(&self, icmp: &[u8]) -> bool {
        self.family == Family::V6 || checksum::verify(icmp)
    }

    /// Decodes an ICMP message received on a raw socket (`icmp` starts at
    /// the ICMP type), sent by `from`; `None` if it is not an answer to one
    /// of our probes or its checksum does not verify.
    pub fn raw_message(&self, icmp: &[u8], from: IpAddr) -> Option<Response> {
        if !self.checksum_ok(icmp) {
            return None;
        }
        let (&icmp_type, &code) = (icmp.first()?, icmp.get(1)?);
        let echo_reply = match self.family {
            Family::V4 => 0,
            Family::V6 => 129,
        };
        if icmp_type == echo_reply {
            if self.protocol != ProbeProtocol::Icmp || code != 0 {
                return None;
            }
            let id = u16::from_be_bytes([*icmp.get(4)?, *icmp.get(5)?]);
            let sequence = u16::from_be_bytes([*icmp.get(6)?, *icmp.get(7)?]);
            if id != self.echo_id || from != self.target {
                return None;
            }
            return Some(Response {
                key: ProbeKey::Sequence(sequence),
                from,
                kind: ReplyKind::Reached,
                annotation: None,
                extensions: Vec::new(),
                echo_data: Some(icmp.get(8..)?.to_vec()),
                quoted_ttl: None,
            });
        }
        let info = u32::from_be_bytes(icmp.get(4..8)?.try_into().ok()?);
        let (kind, annotation) =
            error_meaning(self.family, icmp_type, code, info, from == self.target)?;
        let length_field = match self.family {
            Family::V4 => *icmp.get(5)?,
            Family::V6 => *icmp.get(4)?,
        };
        let body = ErrorBody::parse(icmp.get(8..)?, length_field, self.family);
        let quoted = body.quoted().ok()?;
        if quoted.dst != self.target {
            return None;
        }
        let key = self.quoted_key(quoted.transport, quoted.payload)?;
        let extensions = body
            .extensions()
            .map(|ext| {
                ext.objects()
                    .filter_map(|o| o.ok())
                    .map(|o| Extension::from_object(&o))
                    .collect()
            })
            .unwrap_or_default();
        Some(Response {
            key,
            from,
            kind,
            annotation,
            extensions,
            echo_data: None,
            quoted_ttl: Some(quoted.ttl),
        })
    }

    /// Which of our probes a quoted transport header (and the transport
    /// bytes after the IP header) is.
    fn quoted_key(&self, transport: Transport<'_>, payload: &[u8]) -> Option<ProbeKey> {
        match (self.protocol, transport) {
            (ProbeProtocol::Icmp, Transport::Echo { id, sequence, .. }) if id == self.echo_id => {
                Some(ProbeKey::Sequence(sequence))
            }
            (
                ProbeProtocol::Udp,
                Transport::Udp {
                    src_port, dst_port, ..
                },
            ) if dst_port == self.dst_port && self.flow_ports.contains(&src_port) => {
                udp_sequence(payload.get(8..)?).map(ProbeKey::Sequence)
            }
            (
                ProbeProtocol::Tcp,
                Transport::Tcp {
                    src_port,
                    dst_port,
                    sequence,
                },
            ) if dst_port == self.dst_port => match self.tcp_sequence_base {
                Some(base) if self.flow_ports.contains(&src_port) => {
                    u16::try_from(sequence.wrapping_sub(base))
                        .ok()
                        .map(ProbeKey::Sequence)
                }
                Some(_) => None,
                None => Some(ProbeKey::TcpPort(src_port)),
            },
            _ => None,
        }
    }

    /// Decodes a TCP segment from `from` (read on a raw TCP socket): the
    /// destination's SYN-ACK (an open port) or reset (a closed one) to one
    /// of our raw SYN probes, both meaning the destination is reached.
    pub fn tcp_segment(&self, segment: &[u8], from: IpAddr) -> Option<Response> {
        if self.protocol != ProbeProtocol::Tcp || self.tcp_sequence_base.is_none() {
            return None;
        }
        let (header, _) = tcp::Repr::parse(segment).ok()?;
        let answers_syn = header.flags.contains(tcp::Flags::ACK)
            && (header.flags.contains(tcp::Flags::SYN) || header.flags.contains(tcp::Flags::RST));
        if from != self.target
            || header.src_port != self.dst_port
            || !self.flow_ports.contains(&header.dst_port)
            || !answers_syn
        {
            return None;
        }
        Some(Response {
            key: ProbeKey::TcpAck {
                port: header.dst_port,
                ack: header.ack,
            },
            from,
            kind: ReplyKind::Reached,
            annotation: None,
            extensions: Vec::new(),
            echo_data: None,
            quoted_ttl: None,
        })
    }

    /// Decodes an error-queue entry: ICMP `icmp_type`/`code`/`info` from
    /// `offender` about the datagram whose start (our ICMP message, or our
    /// UDP payload) is `original`. TCP entries have no key here: the
    /// socket they came from names the probe.
    pub fn queued(
        &self,
        icmp_type: u8,
        code: u8,
        info: u32,
        offender: IpAddr,
        original: &[u8],
    ) -> Option<(Option<ProbeKey>, ReplyKind, Option<Annotation>)> {
        let (kind, annotation) =
            error_meaning(self.family, icmp_type, code, info, offender == self.target)?;
        let key = match self.protocol {
            ProbeProtocol::Icmp => {
                let own = crate::engine::probe::parse_own_request(self.family, original)?;
                Some(ProbeKey::Sequence(own.sequence))
            }
            ProbeProtocol::Udp => Some(ProbeKey::Sequence(udp_sequence(original)?)),
            ProbeProtocol::Tcp => None,
        };
        Some((key, kind, annotation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icmpkit_wire::extension::{Extensions, MplsEntry, MplsStack, Object};

    #[test]
    fn paris_checksum_is_constant_per_flow() {
        let mut out = Vec::new();
        let mut sums = Vec::new();
        for seq in [0u16, 1, 77, 65535] {
            let data: Vec<u8> = (0..40u16).map(|i| i.wrapping_mul(seq) as u8).collect();
            paris_echo_request(Family::V4, 0x1234, seq, &data, flow_checksum(0), &mut out);
            assert!(checksum::verify(&out), "seq {seq}: checksum must be valid");
            sums.push(u16::from_be_bytes([out[2], out[3]]));
            assert_eq!(u16::from_be_bytes([out[6], out[7]]), seq);
        }
        assert!(sums.iter().all(|&s| s == flow_checksum(0)));
        paris_echo_request(Family::V4, 0x1234, 5, &[0; 8], flow_checksum(1), &mut out);
        assert_ne!(u16::from_be_bytes([out[2], out[3]]), flow_checksum(0));
        // ICMPv6: the message's own sum is what stays constant.
        let mut a = Vec::new();
        let mut b = Vec::new();
        paris_echo_request(Family::V6, 9, 1, &[1; 30], flow_checksum(0), &mut a);
        paris_echo_request(Family::V6, 9, 2, &[7; 30], flow_checksum(0), &mut b);
        assert_eq!(checksum::checksum(&a), checksum::checksum(&b));
    }

    #[test]
    fn udp_payload_round_trip() {
        let mut p = Vec::new();
        udp_payload(513, 2, &mut p);
        assert_eq!(p.len(), 4);
        assert_eq!(udp_sequence(&p), Some(513));
        assert_eq!(udp_sequence(b"xx\0\x01"), None);
        assert_eq!(udp_sequence(b"iK"), None);
    }

    #[test]
    fn unreachable_codes_map_to_traceroute_annotations() {
        let m = |f, t, c, target| error_meaning(f, t, c, 1400, target);
        assert_eq!(
            m(Family::V4, 3, 1, false),
            Some((ReplyKind::Unreachable, Some(Annotation::HostUnreachable)))
        );
        assert_eq!(
            m(Family::V4, 3, 13, false),
            Some((ReplyKind::Unreachable, Some(Annotation::Prohibited)))
        );
        assert_eq!(
            m(Family::V4, 3, 4, false),
            Some((
                ReplyKind::Unreachable,
                Some(Annotation::FragmentationNeeded(1400))
            ))
        );
        assert_eq!(m(Family::V4, 3, 3, true), Some((ReplyKind::Reached, None)));
        assert_eq!(m(Family::V6, 1, 4, true), Some((ReplyKind::Reached, None)));
        assert_eq!(
            m(Family::V6, 1, 1, false),
            Some((ReplyKind::Unreachable, Some(Annotation::Prohibited)))
        );
        assert_eq!(
            m(Family::V6, 3, 0, false),
            Some((ReplyKind::TimeExceeded, None))
        );
        assert_eq!(m(Family::V4, 5, 0, false), None);
    }

    /// A time exceeded for an ICMP probe, with an MPLS extension, as a
    /// router would send it (body built with the wire crate's builder).
    #[test]
    fn raw_time_exceeded_with_mpls() {
        let target: IpAddr = "198.51.100.7".parse().unwrap();
        let mut probe = Vec::new();
        paris_echo_request(Family::V4, 42, 300, &[0; 32], flow_checksum(0), &mut probe);
        let mut original = vec![
            0x45, 0, 0, 60, 0, 0, 0, 0, 1, 1, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
        ];
        original.extend_from_slice(&probe);
        let labels = [MplsEntry {
            label: 16001,
            tc: 0,
            s: true,
            ttl: 1,
        }];
        let objects = [Object::Mpls(MplsStack::from_entries(&labels))];
        let body = ErrorBody::with_extensions(&original, Extensions::from_objects(&objects));
        let mut buf = vec![0u8; 8 + body.buffer_len(Family::V4)];
        let n = body.emit(Family::V4, &mut buf[8..]).unwrap();
        buf.truncate(8 + n);
        buf[0] = 11;
        buf[5] = body.length_field(Family::V4);
        let sum = checksum::checksum(&buf);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
        let matcher = Matcher {
            family: Family::V4,
            target,
            protocol: ProbeProtocol::Icmp,
            echo_id: 42,
            dst_port: 0,
            flow_ports: vec![],
            tcp_sequence_base: None,
        };
        let r = matcher
            .raw_message(&buf, "192.0.2.254".parse().unwrap())
            .unwrap();
        assert_eq!(r.key, ProbeKey::Sequence(300));
        assert_eq!(r.kind, ReplyKind::TimeExceeded);
        assert_eq!(
            r.extensions,
            vec![Extension::Mpls {
                labels: labels.to_vec()
            }]
        );
        // The same answer damaged on its way (one bit of the quoted
        // request's payload): not taken as the hop's answer.
        let mut damaged = buf.clone();
        damaged[60] ^= 0x10;
        assert!(!matcher.checksum_ok(&damaged));
        assert!(
            matcher
                .raw_message(&damaged, "192.0.2.254".parse().unwrap())
                .is_none()
        );
        // Someone else's probe (other id) is not ours.
        let other = Matcher {
            echo_id: 43,
            ..matcher
        };
        assert!(other.raw_message(&buf, target).is_none());
    }

    fn tcp_matcher(base: Option<u32>) -> Matcher {
        Matcher {
            family: Family::V4,
            target: "198.51.100.7".parse().unwrap(),
            protocol: ProbeProtocol::Tcp,
            echo_id: 0,
            dst_port: 443,
            flow_ports: vec![40_000, 40_001],
            tcp_sequence_base: base,
        }
    }

    /// A time exceeded quoting `datagram` (IPv4 header + transport), as
    /// routers send it: the first 8 transport bytes only.
    fn time_exceeded_quoting(datagram: &[u8]) -> Vec<u8> {
        let mut icmp = vec![11, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&datagram[..28]);
        let sum = checksum::checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        icmp
    }

    fn ipv4_around(segment: &[u8]) -> Vec<u8> {
        let mut packet = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 1, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
        ];
        packet.extend_from_slice(segment);
        packet
    }

    #[test]
    fn raw_syn_is_found_by_its_sequence_in_a_quote() {
        let src: SocketAddr = "192.0.2.1:40001".parse().unwrap();
        let dst: SocketAddr = "198.51.100.7:443".parse().unwrap();
        let base = u32::MAX - 2;
        let mut syn = Vec::new();
        tcp_syn(src, dst, tcp_sequence(base, 9), 0, &mut syn).unwrap();
        assert!(tcp::verify(src.ip(), dst.ip(), &syn));
        let (header, _) = tcp::Repr::parse(&syn).unwrap();
        assert_eq!(header.flags, tcp::Flags::SYN);
        assert_eq!(header.sequence, 6, "the numbering wraps");
        let icmp = time_exceeded_quoting(&ipv4_around(&syn));
        let router: IpAddr = "192.0.2.254".parse().unwrap();
        let r = tcp_matcher(Some(base)).raw_message(&icmp, router).unwrap();
        assert_eq!(r.key, ProbeKey::Sequence(9));
        assert_eq!(r.kind, ReplyKind::TimeExceeded);
        // Another flow port or destination port: someone else's SYN.
        let mut other = Vec::new();
        let stranger: SocketAddr = "192.0.2.1:50000".parse().unwrap();
        tcp_syn(stranger, dst, tcp_sequence(base, 9), 0, &mut other).unwrap();
        let icmp = time_exceeded_quoting(&ipv4_around(&other));
        assert!(tcp_matcher(Some(base)).raw_message(&icmp, router).is_none());
        // Unprivileged probes are named by their port instead.
        assert_eq!(
            tcp_matcher(None).raw_message(&icmp, router).unwrap().key,
            ProbeKey::TcpPort(50_000)
        );
    }

    #[test]
    fn syn_ack_and_reset_from_the_destination_answer_raw_syns() {
        let target: IpAddr = "198.51.100.7".parse().unwrap();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let matcher = tcp_matcher(Some(1000));
        let answer = |flags, src_port, dst_port, from: IpAddr| {
            let mut segment = [0u8; tcp::HEADER_LEN];
            tcp::Repr {
                src_port,
                dst_port,
                sequence: 77,
                ack: 1010,
                flags,
                window: 0,
            }
            .emit(from, client, &mut segment)
            .unwrap();
            matcher.tcp_segment(&segment, from)
        };
        let (syn_ack, rst_ack) = (
            tcp::Flags::SYN | tcp::Flags::ACK,
            tcp::Flags::RST | tcp::Flags::ACK,
        );
        for flags in [syn_ack, rst_ack] {
            let r = answer(flags, 443, 40_001, target).unwrap();
            assert_eq!(
                r.key,
                ProbeKey::TcpAck {
                    port: 40_001,
                    ack: 1010
                }
            );
            assert_eq!((r.from, r.kind), (target, ReplyKind::Reached));
        }
        assert!(
            answer(syn_ack, 443, 40_001, client).is_none(),
            "not the target"
        );
        assert!(answer(syn_ack, 80, 40_001, target).is_none(), "other port");
        assert!(answer(syn_ack, 443, 50_000, target).is_none(), "not a flow");
        assert!(answer(tcp::Flags::SYN, 443, 40_001, target).is_none());
        assert!(answer(tcp::Flags::RST, 443, 40_001, target).is_none());
        assert!(matcher.tcp_segment(&[0; 12], target).is_none());
        // Unprivileged probes have no raw TCP socket to read from.
        assert!(
            tcp_matcher(None)
                .tcp_segment(&[0; tcp::HEADER_LEN], target)
                .is_none()
        );
    }
}
