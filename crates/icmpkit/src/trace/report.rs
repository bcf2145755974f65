//! What a trace reports: each probe's fate ([`ProbeResult`]) as it is
//! known, and per hop ([`Hop`]) its responders, loss and RTT statistics
//! (icmplib's `Hop` plus mtr's and traceroute's details).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::extension::{InterfaceRole, MplsEntry, OBJECT_HEADER_LEN, Object};

use crate::engine::stats::{RttStats, RttSummary, loss};

/// traceroute's annotation of an unreachable (or otherwise unusual)
/// answer, shown after the RTT (`!H`, `!N`, `!P`, `!X`, `!F-1400`, `!S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(into = "String"))]
pub enum Annotation {
    /// Network unreachable (`!N`).
    NetUnreachable,
    /// Host / address unreachable (`!H`).
    HostUnreachable,
    /// Protocol unreachable (`!P`).
    ProtocolUnreachable,
    /// Communication administratively prohibited (`!X`).
    Prohibited,
    /// Fragmentation needed / packet too big, with the next-hop MTU
    /// (`!F-<mtu>`).
    FragmentationNeeded(u32),
    /// Source route failed (`!S`).
    SourceRouteFailed,
    /// Host precedence violation (`!V`).
    PrecedenceViolation,
    /// Precedence cutoff (`!C`).
    PrecedenceCutoff,
    /// Another unreachable code (`!<code>`).
    Code(u8),
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Annotation::NetUnreachable => f.write_str("!N"),
            Annotation::HostUnreachable => f.write_str("!H"),
            Annotation::ProtocolUnreachable => f.write_str("!P"),
            Annotation::Prohibited => f.write_str("!X"),
            Annotation::FragmentationNeeded(mtu) => write!(f, "!F-{mtu}"),
            Annotation::SourceRouteFailed => f.write_str("!S"),
            Annotation::PrecedenceViolation => f.write_str("!V"),
            Annotation::PrecedenceCutoff => f.write_str("!C"),
            Annotation::Code(code) => write!(f, "!{code}"),
        }
    }
}

impl From<Annotation> for String {
    fn from(a: Annotation) -> String {
        a.to_string()
    }
}

/// What kind of answer a probe got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ReplyKind {
    /// A router said the TTL ran out: an intermediate hop.
    TimeExceeded,
    /// The destination answered (echo reply, UDP port unreachable, TCP
    /// SYN-ACK or reset).
    Reached,
    /// Someone said the destination cannot be reached (see the
    /// annotation); the trace ends there.
    Unreachable,
}

/// An RFC 4884 extension object of a reply, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "object", rename_all = "kebab-case"))]
pub enum Extension {
    /// An MPLS label stack (RFC 4950), top first. In JSON as `decode
    /// --json` writes it: `mpls-label-stack` with `entries`.
    #[cfg_attr(feature = "serde", serde(rename = "mpls-label-stack"))]
    Mpls {
        /// The label stack entries.
        #[cfg_attr(feature = "serde", serde(rename = "entries"))]
        labels: Vec<MplsEntry>,
    },
    /// Interface information (RFC 5837). In JSON as `decode --json` writes
    /// the object: `interface-information`, absent fields left out.
    #[cfg_attr(feature = "serde", serde(rename = "interface-information"))]
    InterfaceInfo {
        /// Incoming / outgoing interface, sub-IP component or next hop
        /// (in JSON as `decode --json` names it: `incoming-interface`...).
        role: InterfaceRole,
        /// ifIndex (`ifindex` in JSON, as `decode --json`).
        #[cfg_attr(
            feature = "serde",
            serde(rename = "ifindex", skip_serializing_if = "Option::is_none")
        )]
        if_index: Option<u32>,
        /// An address of the interface.
        #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
        address: Option<IpAddr>,
        /// Its name.
        #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
        name: Option<String>,
        /// Its MTU.
        #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
        mtu: Option<u32>,
    },
    /// Any other object, raw.
    Other {
        /// Class-Num.
        class: u8,
        /// C-Type.
        c_type: u8,
        /// Payload bytes.
        data: Vec<u8>,
    },
}

impl Extension {
    /// The owned form of a parsed object.
    pub fn from_object(object: &Object<'_>) -> Extension {
        match object {
            Object::Mpls(stack) => Extension::Mpls {
                labels: stack.entries().collect(),
            },
            Object::InterfaceInfo(info) => Extension::InterfaceInfo {
                role: info.role,
                if_index: info.if_index,
                address: info.address,
                name: info.name.map(|n| String::from_utf8_lossy(n).into_owned()),
                mtu: info.mtu,
            },
            other => Extension::Other {
                class: other.class(),
                c_type: other.c_type(),
                data: object_payload(other),
            },
        }
    }
}

/// The payload of an object shown raw: as received for an unknown one, as
/// the wire crate writes it back for one it models but the report does not
/// (interface identification).
fn object_payload(object: &Object<'_>) -> Vec<u8> {
    if let Object::Unknown(raw) = object {
        return raw.data.to_vec();
    }
    let mut bytes = vec![0; object.buffer_len()];
    match object.emit(&mut bytes) {
        Ok(_) => bytes.split_off(OBJECT_HEADER_LEN),
        Err(_) => Vec::new(),
    }
}

/// traceroute's tag for a role.
fn role_tag(role: InterfaceRole) -> &'static str {
    match role {
        InterfaceRole::IncomingInterface => "INC",
        InterfaceRole::IncomingSubIp => "SUB",
        InterfaceRole::OutgoingInterface => "OUT",
        InterfaceRole::NextHop => "NXT",
    }
}

/// An interface name as traceroute quotes it: bytes other than printable
/// ASCII, and `%` and `"`, as `%XX`, so that the quotes stay unambiguous.
struct EscapedName<'a>(&'a str);

impl fmt::Display for EscapedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.as_bytes() {
            if b.is_ascii_graphic() && b != b'%' && b != b'"' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Extension {
    /// traceroute `-e`'s notation: `<MPLS:L=16001,E=0,S=1,T=1>`, interface
    /// information as `<INC:7,192.0.2.1,"ge-0/0/1",mtu=1500>` (the role's
    /// tag, `INC`, `SUB`, `OUT` or `NXT`, then ifIndex, address, name and
    /// MTU when present), other objects as `<class/c-type:N bytes>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extension::Mpls { labels } => {
                f.write_str("<MPLS:")?;
                for (i, e) in labels.iter().enumerate() {
                    if i > 0 {
                        f.write_str("/")?;
                    }
                    write!(
                        f,
                        "L={},E={},S={},T={}",
                        e.label,
                        e.tc,
                        u8::from(e.s),
                        e.ttl
                    )?;
                }
                f.write_str(">")
            }
            Extension::InterfaceInfo {
                role,
                if_index,
                address,
                name,
                mtu,
            } => {
                // traceroute's print_iface_info: the role's tag, then the
                // fields present, comma-separated.
                write!(f, "<{}:", role_tag(*role))?;
                let mut separator = "";
                if let Some(i) = if_index {
                    write!(f, "{i}")?;
                    separator = ",";
                }
                if let Some(a) = address {
                    write!(f, "{separator}{a}")?;
                    separator = ",";
                }
                if let Some(n) = name {
                    write!(f, "{separator}\"{}\"", EscapedName(n))?;
                    separator = ",";
                }
                if let Some(m) = mtu {
                    write!(f, "{separator}mtu={m}")?;
                }
                f.write_str(">")
            }
            Extension::Other {
                class,
                c_type,
                data,
            } => {
                write!(f, "<{class}/{c_type}:{} bytes>", data.len())
            }
        }
    }
}

/// The answer to one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProbeReply {
    /// Who answered.
    pub from: IpAddr,
    /// Round-trip time.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::one"))]
    pub rtt: Duration,
    /// Time exceeded, destination reached, or unreachable.
    pub kind: ReplyKind,
    /// traceroute's annotation (`!H`...), if any.
    pub annotation: Option<Annotation>,
    /// TTL / hop limit of the reply as it arrived (raw sockets and
    /// datagram echo replies; the error queue does not tell).
    pub reply_ttl: Option<u8>,
    /// RFC 4884 extension objects (MPLS labels...). Only raw sockets see
    /// them: the error queue hands over the quoted datagram alone.
    pub extensions: Vec<Extension>,
}

/// One probe: which hop and flow it was for and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProbeResult {
    /// The probe's number in this trace (its ICMP sequence).
    pub seq: u16,
    /// The TTL it was sent with (the hop's distance).
    pub ttl: u8,
    /// Its flow (0 unless several flows are probed).
    pub flow: u16,
    /// Which attempt for this hop and flow (0-based; `-q`).
    pub attempt: u16,
    /// Path-MTU discovery: the probe's size in bytes (the whole IP packet,
    /// DF set); `None` without discovery.
    pub size: Option<u32>,
    /// The answer, or `None` if none came within the wait time.
    pub reply: Option<ProbeReply>,
    /// Why sending failed, if it did.
    pub send_error: Option<String>,
}

/// One address that answered at a hop.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Responder {
    /// Its address.
    pub address: IpAddr,
    /// Its reverse DNS name, when looked up and found.
    pub name: Option<String>,
    /// The flows whose probes it answered.
    pub flows: Vec<u16>,
    /// Answers received from it.
    pub received: usize,
    /// TTL of its last answer as received.
    pub reply_ttl: Option<u8>,
    /// Distinct annotations of its answers.
    pub annotations: Vec<Annotation>,
    /// Distinct extension objects of its answers.
    pub extensions: Vec<Extension>,
    /// Its RTTs.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::list"))]
    pub rtts: Vec<Duration>,
}

/// One hop of a trace: icmplib's `Hop` (distance, address, RTTs, loss,
/// jitter) with every responder seen (several where paths split).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Hop {
    /// The TTL that reaches it.
    pub distance: u8,
    /// The first responder's address (icmplib's `address`); `None` when
    /// nothing answered.
    pub address: Option<IpAddr>,
    /// Everyone who answered, in order of first answer.
    pub responders: Vec<Responder>,
    /// Probes sent.
    pub packets_sent: usize,
    /// Answers received.
    pub packets_received: usize,
    /// Lost fraction, 0.0 to 1.0.
    pub packet_loss: f64,
    /// Every RTT, in probe order.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::list"))]
    pub rtts: Vec<Duration>,
    /// min/avg/max, standard deviation and jitter, exact to the
    /// nanosecond: the same figures ping and sweep report (JSON:
    /// `min_rtt`, `avg_rtt`, `max_rtt`, `mdev`, `jitter`).
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub rtt: RttSummary,
    /// The RTT of the last answer (mtr's `Last`).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_ms::option"))]
    pub last_rtt: Option<Duration>,
    /// The destination answered at this hop.
    pub reached: bool,
    /// Path-MTU discovery: the path MTU up to this hop, the size of the
    /// largest probe it answered (tracepath's `pmtu`); `None` without
    /// discovery or answer.
    pub pmtu: Option<u32>,
    /// Each probe of the hop, by attempt then flow.
    pub probes: Vec<ProbeResult>,
}

impl Hop {
    /// Builds a hop from its probes (in any order; kept sorted by attempt
    /// and flow).
    pub fn from_probes(distance: u8, mut probes: Vec<ProbeResult>) -> Hop {
        probes.sort_by_key(|p| (p.attempt, p.flow));
        let mut stats = RttStats::default();
        // A hop has at most Plan::MAX_PROBES probes: its RTTs all fit.
        let mut rtts = Vec::new();
        let mut responders: Vec<Responder> = Vec::new();
        let mut reached = false;
        for probe in &probes {
            let Some(reply) = &probe.reply else { continue };
            stats.record(reply.rtt);
            rtts.push(reply.rtt);
            reached |= reply.kind == ReplyKind::Reached;
            let index = match responders.iter().position(|r| r.address == reply.from) {
                Some(i) => i,
                None => {
                    responders.push(Responder {
                        address: reply.from,
                        name: None,
                        flows: Vec::new(),
                        received: 0,
                        reply_ttl: None,
                        annotations: Vec::new(),
                        extensions: Vec::new(),
                        rtts: Vec::new(),
                    });
                    responders.len() - 1
                }
            };
            let r = &mut responders[index];
            r.received += 1;
            r.rtts.push(reply.rtt);
            r.reply_ttl = reply.reply_ttl.or(r.reply_ttl);
            if !r.flows.contains(&probe.flow) {
                r.flows.push(probe.flow);
            }
            if let Some(a) = reply.annotation
                && !r.annotations.contains(&a)
            {
                r.annotations.push(a);
            }
            for e in &reply.extensions {
                if !r.extensions.contains(e) {
                    r.extensions.push(e.clone());
                }
            }
        }
        let sent = probes.iter().filter(|p| p.send_error.is_none()).count();
        let received = rtts.len();
        let pmtu = probes
            .iter()
            .filter(|p| {
                p.reply.as_ref().is_some_and(|r| {
                    !matches!(r.annotation, Some(Annotation::FragmentationNeeded(_)))
                })
            })
            .filter_map(|p| p.size)
            .max();
        Hop {
            distance,
            address: responders.first().map(|r| r.address),
            responders,
            packets_sent: sent,
            packets_received: received,
            packet_loss: loss(sent as u64, received as u64),
            rtts,
            rtt: stats.summary(),
            last_rtt: stats.last(),
            reached,
            pmtu,
            probes,
        }
    }

    /// Whether anything answered at this hop (icmplib's `is_alive`).
    pub fn is_alive(&self) -> bool {
        self.packets_received > 0
    }
}

/// What a running trace hands out, as it happens.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "event", rename_all = "snake_case"))]
pub enum TraceEvent {
    /// A probe was answered, timed out or could not be sent.
    Probe(ProbeResult),
    /// A hop is complete (every probe answered or timed out) and so is
    /// every hop before it: hops come out in order, once each.
    Hop(Hop),
}

#[cfg(test)]
mod tests {
    use super::*;
    use icmpkit_wire::extension::{InterfaceId, InterfaceInfo, RawObject};

    fn reply(from: &str, ms: u64) -> Option<ProbeReply> {
        Some(ProbeReply {
            from: from.parse().unwrap(),
            rtt: Duration::from_millis(ms),
            kind: ReplyKind::TimeExceeded,
            annotation: None,
            reply_ttl: Some(64),
            extensions: vec![],
        })
    }

    fn probe(attempt: u16, flow: u16, reply: Option<ProbeReply>) -> ProbeResult {
        ProbeResult {
            seq: attempt,
            ttl: 3,
            flow,
            attempt,
            size: None,
            reply,
            send_error: None,
        }
    }

    #[test]
    fn hop_statistics_and_responders() {
        let hop = Hop::from_probes(
            3,
            vec![
                probe(2, 0, reply("192.0.2.1", 3)),
                probe(0, 0, reply("192.0.2.1", 1)),
                probe(1, 1, reply("192.0.2.9", 5)),
                probe(1, 0, None),
            ],
        );
        assert_eq!(hop.packets_sent, 4);
        assert_eq!(hop.packets_received, 3);
        assert!((hop.packet_loss - 0.25).abs() < 1e-9);
        assert_eq!(hop.rtt.min, Some(Duration::from_millis(1)));
        assert_eq!(hop.rtt.max, Some(Duration::from_millis(5)));
        assert_eq!(hop.rtt.avg, Some(Duration::from_millis(3)));
        // attempt 0 (1 ms), attempt 1 flow 1 (5 ms), attempt 2 (3 ms)
        assert_eq!(hop.rtt.jitter, Some(Duration::from_millis(3)));
        assert_eq!(hop.last_rtt, Some(Duration::from_millis(3)));
        assert_eq!(hop.address, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(hop.responders.len(), 2);
        assert_eq!(hop.responders[0].received, 2);
        assert_eq!(hop.responders[1].flows, vec![1]);
        assert!(!hop.reached && hop.is_alive());
        assert_eq!(hop.pmtu, None, "no discovery, no pmtu");
    }

    #[test]
    fn hop_pmtu_is_its_largest_answered_probe() {
        let sized = |attempt, size, reply| ProbeResult {
            size: Some(size),
            ..probe(attempt, 0, reply)
        };
        let mut too_big = reply("192.0.2.1", 1);
        if let Some(r) = too_big.as_mut() {
            r.kind = ReplyKind::Unreachable;
            r.annotation = Some(Annotation::FragmentationNeeded(1000));
        }
        let hop = Hop::from_probes(
            3,
            vec![
                sized(0, 1500, None),
                sized(1, 1400, reply("192.0.2.1", 1)),
                sized(2, 1280, reply("192.0.2.1", 1)),
                sized(3, 1480, too_big),
            ],
        );
        assert_eq!(hop.pmtu, Some(1400));
    }

    #[test]
    fn silent_hop() {
        let hop = Hop::from_probes(5, vec![probe(0, 0, None), probe(1, 0, None)]);
        assert!(!hop.is_alive());
        assert_eq!(hop.address, None);
        assert_eq!(hop.packet_loss, 1.0);
        assert_eq!(hop.rtt.avg, None);
    }

    #[test]
    fn annotations_and_extensions_print_like_traceroute() {
        assert_eq!(Annotation::FragmentationNeeded(1400).to_string(), "!F-1400");
        assert_eq!(Annotation::Prohibited.to_string(), "!X");
        assert_eq!(Annotation::Code(9).to_string(), "!9");
        let mpls = Extension::Mpls {
            labels: vec![
                MplsEntry {
                    label: 16001,
                    tc: 0,
                    s: false,
                    ttl: 1,
                },
                MplsEntry {
                    label: 24,
                    tc: 5,
                    s: true,
                    ttl: 1,
                },
            ],
        };
        assert_eq!(
            mpls.to_string(),
            "<MPLS:L=16001,E=0,S=0,T=1/L=24,E=5,S=1,T=1>"
        );
    }

    fn interface_info(
        role: InterfaceRole,
        if_index: Option<u32>,
        address: Option<&str>,
        name: Option<&'static [u8]>,
        mtu: Option<u32>,
    ) -> Extension {
        Extension::from_object(&Object::InterfaceInfo(InterfaceInfo {
            role,
            if_index,
            address: address.map(|a| a.parse().unwrap()),
            name,
            mtu,
        }))
    }

    /// traceroute's print_iface_info: the tag says the role (it is not
    /// always INC), then only the fields present, name quoted with `%XX`
    /// for what would break the quoting.
    #[test]
    fn interface_information_prints_like_traceroute() {
        let cases = [
            (
                interface_info(
                    InterfaceRole::IncomingInterface,
                    Some(7),
                    Some("192.0.2.1"),
                    Some(b"ge-0/0/1"),
                    Some(1500),
                ),
                r#"<INC:7,192.0.2.1,"ge-0/0/1",mtu=1500>"#,
            ),
            (
                interface_info(
                    InterfaceRole::IncomingSubIp,
                    None,
                    None,
                    Some(b"ae0 \"x\" 100%"),
                    None,
                ),
                r#"<SUB:"ae0%20%22x%22%20100%25">"#,
            ),
            (
                interface_info(
                    InterfaceRole::OutgoingInterface,
                    None,
                    None,
                    None,
                    Some(9000),
                ),
                "<OUT:mtu=9000>",
            ),
            (
                interface_info(
                    InterfaceRole::NextHop,
                    None,
                    Some("2001:db8::1"),
                    None,
                    None,
                ),
                "<NXT:2001:db8::1>",
            ),
            (
                interface_info(InterfaceRole::IncomingInterface, None, None, None, None),
                "<INC:>",
            ),
        ];
        for (extension, shown) in &cases {
            assert_eq!(extension.to_string(), *shown, "{extension:?}");
        }
        let Extension::InterfaceInfo { role, .. } = &cases[2].0 else {
            panic!("not interface information")
        };
        assert_eq!(*role, InterfaceRole::OutgoingInterface);
    }

    /// An object the report does not model keeps its payload (before, an
    /// interface identification object came out as 0 bytes).
    #[test]
    fn other_objects_keep_their_payload() {
        let id = Extension::from_object(&Object::InterfaceId(InterfaceId::Index(0x0102_0304)));
        assert_eq!(
            id,
            Extension::Other {
                class: 3,
                c_type: 2,
                data: vec![1, 2, 3, 4],
            }
        );
        assert_eq!(id.to_string(), "<3/2:4 bytes>");
        let raw = Extension::from_object(&Object::Unknown(RawObject {
            class: 200,
            c_type: 9,
            data: &[9, 8, 7, 6, 5, 4, 3, 2],
        }));
        assert_eq!(raw.to_string(), "<200/9:8 bytes>");
    }
}
