//! Tunnels and mirror encapsulations around ICMP: the IP packet a GRE,
//! VXLAN, Geneve, MPLS-over-UDP, IP-in-IP or PIM register packet carries,
//! and what carried it ([`unwrap`], one level per call), and the ICMP
//! message found through them ([`locate_icmp_within`], bounded by
//! [`MAX_DEPTH`]). Link layers inside (Ethernet in VXLAN, ERSPAN...) are
//! read by [`link`]. What `icmpkit decode` reads in captures
//! and `icmpkit listen` in what a packet socket hears: one code path.

use core::fmt;

use crate::ip::{self, ipv4, ipv6};
use crate::link;

/// A tunnel or mirror encapsulation that carried a packet: `GRE key 5`,
/// `VXLAN vni 42`; with `serde`, `{"type":"VXLAN","vni":42}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carrier {
    /// Its name (`GRE`, `VXLAN`, `ERSPAN II`, `6in4`...).
    pub name: &'static str,
    /// Its identifier's name and value, when it has one (GRE's key,
    /// VXLAN's and Geneve's VNI, ERSPAN's session).
    pub id: Option<(&'static str, u32)>,
}

impl Carrier {
    /// One without an identifier.
    pub const fn new(name: &'static str) -> Carrier {
        Carrier { name, id: None }
    }

    /// One whose identifier `id_name` may be absent (a GRE key is optional).
    pub fn with_id(name: &'static str, id_name: &'static str, id: Option<u32>) -> Carrier {
        Carrier {
            name,
            id: id.map(|id| (id_name, id)),
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        match self.id {
            Some((name, id)) => write!(f, " {name} {id}"),
            None => Ok(()),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Carrier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", self.name)?;
        if let Some((name, id)) = self.id {
            map.serialize_entry(name, &id)?;
        }
        map.end()
    }
}

/// The carriers around one packet, outermost first: at most
/// [`MAX_DEPTH`], kept without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carriers {
    list: [Carrier; MAX_DEPTH],
    len: usize,
}

impl Default for Carriers {
    fn default() -> Self {
        Carriers {
            list: [Carrier::new(""); MAX_DEPTH],
            len: 0,
        }
    }
}

impl Carriers {
    /// Outermost first.
    pub fn as_slice(&self) -> &[Carrier] {
        &self.list[..self.len]
    }

    /// Whether no tunnel carried the packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// False when full.
    fn push(&mut self, carrier: Carrier) -> bool {
        let Some(slot) = self.list.get_mut(self.len) else {
            return false;
        };
        *slot = carrier;
        self.len += 1;
        true
    }
}

/// An ICMP message found in a packet, through the tunnels around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Within<'a> {
    /// The message, in the innermost IP packet.
    pub located: ip::Located<'a>,
    /// That innermost IP packet (the whole input when no tunnel carried it).
    pub ip: &'a [u8],
    /// What carried it, outermost first.
    pub carriers: Carriers,
}

/// The ICMP/ICMPv6 message in the IP packet `ip`, or inside the tunnels
/// it carries (up to [`MAX_DEPTH`] of them), read as
/// [`ip::locate_icmp_captured`] reads a capture (`cut`: bytes the snap
/// length left out). `None` when there is none (ICMP quoted inside an
/// ICMP error is the quote, not a second packet).
pub fn locate_icmp_within(ip: &[u8], cut: usize) -> Option<Within<'_>> {
    locate_icmp_carried(ip, cut, None)
}

/// [`locate_icmp_within`] for a packet a link layer already carried
/// (`outer`: MACsec, see [`link::ip_packet_carried`]), named first.
pub fn locate_icmp_carried(
    mut ip: &[u8],
    cut: usize,
    outer: Option<Carrier>,
) -> Option<Within<'_>> {
    let mut carriers = Carriers::default();
    if let Some(carrier) = outer {
        carriers.push(carrier);
    }
    loop {
        if let Ok(located) = ip::locate_icmp_captured(ip, cut) {
            return Some(Within {
                located,
                ip,
                carriers,
            });
        }
        let (inner, carrier) = unwrap(ip)?;
        if !carriers.push(carrier) {
            return None;
        }
        ip = inner;
    }
}

/// The most encapsulations unwrapped around one packet (a deeper nest is
/// garbage or an attack on the decoder).
pub const MAX_DEPTH: usize = 8;

const PROTOCOL_IPIP: u8 = 4;
const PROTOCOL_IPV6: u8 = 41;
const PROTOCOL_GRE: u8 = 47;
const PROTOCOL_PIM: u8 = 103;
const PROTOCOL_UDP: u8 = 17;

const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
const PORT_MPLS_UDP: u16 = 6635;
const UDP_HEADER_LEN: usize = 8;

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_HEADER_LEN: usize = 4;
const GRE_OPTION_LEN: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_BRIDGING: u16 = 0x6558;
const ETHERTYPE_ERSPAN_2: u16 = 0x88be;
const ETHERTYPE_ERSPAN_3: u16 = 0x22eb;
/// NHRP (RFC 2332) over GRE, as DMVPN sends it.
const GRE_NHRP: u16 = 0x2001;
/// NHRP's fixed header, then the mandatory part's own fixed fields
/// (source and destination protocol address lengths, then 6 bytes: a
/// traffic indication's code and unused bytes).
const NHRP_HEADER_LEN: usize = 20;
const NHRP_MANDATORY_FIXED_LEN: usize = 8;
/// The packet type of a traffic indication, which carries the packet that
/// caused it (Cisco DMVPN's redirect).
const NHRP_TRAFFIC_INDICATION: u8 = 8;
const ERSPAN_2_HEADER_LEN: usize = 8;
/// The version nibbles of ERSPAN II and III headers (tshark reads no
/// other).
const ERSPAN_2_VERSION: u8 = 1;
const ERSPAN_3_VERSION: u8 = 2;
const ERSPAN_3_HEADER_LEN: usize = 12;
/// ERSPAN III's optional platform-specific subheader (the O bit).
const ERSPAN_3_SUBHEADER_LEN: usize = 8;

const VXLAN_HEADER_LEN: usize = 8;
const GENEVE_HEADER_LEN: usize = 8;
/// PIM version 2, type 1: a register, whose data is the multicast packet.
const PIM_V2_REGISTER: u8 = 0x21;
const PIM_REGISTER_HEADER_LEN: usize = 8;

/// The IP packet inside `ip` when `ip` is a tunnel or mirror packet, with
/// what carried it; `None` for anything else (or cut short).
pub fn unwrap(ip: &[u8]) -> Option<(&[u8], Carrier)> {
    let (protocol, payload) = ip_payload(ip)?;
    match protocol {
        PROTOCOL_IPIP | PROTOCOL_IPV6 => {
            let outer = if ip.first()? >> 4 == 4 { "4" } else { "6" };
            let inner = if protocol == PROTOCOL_IPIP { "4" } else { "6" };
            let name = match (outer, inner) {
                ("4", "4") | ("6", "6") => "IP-in-IP",
                ("4", _) => "6in4",
                _ => "4in6",
            };
            Some((payload, Carrier::new(name)))
        }
        PROTOCOL_GRE => gre(payload),
        PROTOCOL_UDP => udp(payload),
        PROTOCOL_PIM if *payload.first()? == PIM_V2_REGISTER => Some((
            payload.get(PIM_REGISTER_HEADER_LEN..)?,
            Carrier::new("PIM register"),
        )),
        _ => None,
    }
}

/// The protocol and payload of an IPv4 or IPv6 packet (past extension
/// headers), up to its length; first fragments only.
fn ip_payload(ip: &[u8]) -> Option<(u8, &[u8])> {
    match ip.first()? >> 4 {
        4 => {
            let packet = ipv4::Packet::new_checked(ip).ok()?;
            (packet.frag_offset() == 0).then(|| (packet.protocol(), packet.into_payload()))
        }
        6 => {
            let packet = ipv6::Packet::new_checked(ip).ok()?;
            let chain = ipv6::walk_extensions(packet.next_header(), packet.into_payload()).ok()?;
            chain
                .is_first_fragment()
                .then_some((chain.protocol, chain.payload))
        }
        _ => None,
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// GRE (RFC 2784/2890): IP, MPLS, bridged Ethernet or ERSPAN inside.
fn gre(packet: &[u8]) -> Option<(&[u8], Carrier)> {
    let flags = be16(packet, 0)?;
    let protocol = be16(packet, 2)?;
    let mut at = GRE_HEADER_LEN;
    if flags & GRE_CHECKSUM != 0 {
        at += GRE_OPTION_LEN;
    }
    let key = (flags & GRE_KEY != 0).then(|| be32(packet, at));
    if key.is_some() {
        at += GRE_OPTION_LEN;
    }
    let has_sequence = flags & GRE_SEQUENCE != 0;
    if has_sequence {
        at += GRE_OPTION_LEN;
    }
    let rest = packet.get(at..)?;
    let key = key.flatten();
    let carrier = |name| Carrier::with_id(name, "key", key);
    match protocol {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some((rest, carrier("GRE"))),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => {
            Some((link::mpls_payload(rest)?, carrier("MPLS over GRE")))
        }
        ETHERTYPE_BRIDGING => Some((link::ethernet_payload(rest)?, carrier("GRE"))),
        // ERSPAN type I has no header of its own (and no sequence number).
        ETHERTYPE_ERSPAN_2 if !has_sequence => {
            Some((link::ethernet_payload(rest)?, Carrier::new("ERSPAN I")))
        }
        ETHERTYPE_ERSPAN_2 if rest.first()? >> 4 == ERSPAN_2_VERSION => {
            let session = be16(rest, 2).map(|s| u32::from(s & 0x03ff));
            let frame = rest.get(ERSPAN_2_HEADER_LEN..)?;
            let via = Carrier::with_id("ERSPAN II", "session", session);
            Some((link::ethernet_payload(frame)?, via))
        }
        ETHERTYPE_ERSPAN_3 if rest.first()? >> 4 == ERSPAN_3_VERSION => {
            let session = be16(rest, 2).map(|s| u32::from(s & 0x03ff));
            let optional = rest.get(ERSPAN_3_HEADER_LEN - 1)? & 1 == 1;
            let len = ERSPAN_3_HEADER_LEN + if optional { ERSPAN_3_SUBHEADER_LEN } else { 0 };
            let via = Carrier::with_id("ERSPAN III", "session", session);
            Some((link::ethernet_payload(rest.get(len..)?)?, via))
        }
        GRE_NHRP => Some((
            nhrp_traffic_indication(rest)?,
            Carrier::new("NHRP over GRE"),
        )),
        _ => None,
    }
}

/// The IP packet an NHRP traffic indication carries (the packet that
/// caused it, read as tshark reads it: after the mandatory part's
/// addresses, up to the extensions or the packet size); `None` for other
/// NHRP packets and protocols other than IP.
fn nhrp_traffic_indication(nhrp: &[u8]) -> Option<&[u8]> {
    let protocol = be16(nhrp, 2)?;
    if *nhrp.get(17)? != NHRP_TRAFFIC_INDICATION
        || !matches!(protocol, ETHERTYPE_IPV4 | ETHERTYPE_IPV6)
    {
        return None;
    }
    let packet_size = usize::from(be16(nhrp, 10)?);
    let extensions = usize::from(be16(nhrp, 14)?);
    let end = match extensions {
        0 => packet_size,
        at => at,
    }
    .min(nhrp.len());
    // Type/length bytes: the low 6 bits are the length.
    let nbma_len = usize::from(nhrp.get(18)? & 0x3f) + usize::from(nhrp.get(19)? & 0x3f);
    let src_len = usize::from(*nhrp.get(NHRP_HEADER_LEN)?);
    let dst_len = usize::from(*nhrp.get(NHRP_HEADER_LEN + 1)?);
    let start = NHRP_HEADER_LEN + NHRP_MANDATORY_FIXED_LEN + nbma_len + src_len + dst_len;
    nhrp.get(start..end).filter(|p| !p.is_empty())
}

/// UDP to a tunnel port: VXLAN, Geneve, MPLS over UDP.
fn udp(datagram: &[u8]) -> Option<(&[u8], Carrier)> {
    let port = be16(datagram, 2)?;
    let payload = datagram.get(UDP_HEADER_LEN..)?;
    match port {
        PORT_VXLAN => {
            let vni = be32(payload, 4)? >> 8;
            let frame = payload.get(VXLAN_HEADER_LEN..)?;
            Some((
                link::ethernet_payload(frame)?,
                Carrier::with_id("VXLAN", "vni", Some(vni)),
            ))
        }
        PORT_GENEVE => {
            let options = usize::from(payload.first()? & 0x3f) * 4;
            let protocol = be16(payload, 2)?;
            let vni = be32(payload, 4)? >> 8;
            let inner = payload.get(GENEVE_HEADER_LEN + options..)?;
            let via = Carrier::with_id("Geneve", "vni", Some(vni));
            match protocol {
                ETHERTYPE_BRIDGING => Some((link::ethernet_payload(inner)?, via)),
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some((inner, via)),
                _ => None,
            }
        }
        PORT_MPLS_UDP => Some((link::mpls_payload(payload)?, Carrier::new("MPLS over UDP"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::borrow::ToOwned;
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;

    /// An IPv4 header (20 bytes) for `protocol` around `payload`.
    fn ipv4_around(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    const INNER: [u8; 4] = [0x45, 0, 0, 4];

    fn ethernet(ip: &[u8]) -> Vec<u8> {
        [&[0u8; 12][..], &[0x08, 0x00], ip].concat()
    }

    /// The inner packet and the carrier's words, of `payload` in IPv4.
    fn unwrapped(protocol: u8, payload: &[u8]) -> (Vec<u8>, String) {
        let outer = ipv4_around(protocol, payload);
        let (inner, carrier) = unwrap(&outer).expect("a tunnel");
        (inner.to_vec(), carrier.to_string())
    }

    #[test]
    fn gre_with_key_vxlan_geneve_and_ip_in_ip() {
        let gre = [&[0x20, 0x00, 0x08, 0x00, 0, 0, 0, 5][..], &INNER].concat();
        assert_eq!(
            unwrapped(PROTOCOL_GRE, &gre),
            (INNER.to_vec(), "GRE key 5".to_owned())
        );
        let vxlan = [
            &[0, 1, 0x12, 0xb5, 0, 0, 0, 0][..],
            &[0x08, 0, 0, 0, 0, 0, 42, 0],
            &ethernet(&INNER),
        ]
        .concat();
        assert_eq!(
            unwrapped(PROTOCOL_UDP, &vxlan),
            (INNER.to_vec(), "VXLAN vni 42".to_owned())
        );
        let geneve = [
            &[0, 1, 0x17, 0xc1, 0, 0, 0, 0][..],
            &[1, 0, 0x65, 0x58, 0, 0, 7, 0, 1, 2, 3, 4],
            &ethernet(&INNER),
        ]
        .concat();
        assert_eq!(
            unwrapped(PROTOCOL_UDP, &geneve),
            (INNER.to_vec(), "Geneve vni 7".to_owned())
        );
        assert_eq!(
            unwrapped(PROTOCOL_IPIP, &INNER),
            (INNER.to_vec(), "IP-in-IP".to_owned())
        );
        assert_eq!(unwrapped(PROTOCOL_IPV6, &INNER).1, "6in4");
    }

    /// An NHRP traffic indication carries the packet that caused it; other
    /// NHRP packets carry none.
    #[test]
    fn nhrp_traffic_indication_over_gre() {
        let indication = |packet_type: u8| {
            let size = (20 + 8 + 4 + 4 + 4 + INNER.len()) as u16;
            let mut nhrp = vec![0, 1, 0x08, 0x00, 0, 0, 0, 0, 0, 255];
            nhrp.extend_from_slice(&size.to_be_bytes());
            nhrp.extend_from_slice(&[0, 0, 0, 0, 1, packet_type, 4, 0]);
            nhrp.extend_from_slice(&[4, 4, 0, 0, 0, 0, 0, 0]);
            nhrp.extend_from_slice(&[192, 0, 2, 9, 10, 0, 0, 1, 10, 0, 0, 2]);
            nhrp.extend_from_slice(&INNER);
            [&[0x00, 0x00, 0x20, 0x01][..], &nhrp].concat()
        };
        assert_eq!(
            unwrapped(PROTOCOL_GRE, &indication(8)),
            (INNER.to_vec(), "NHRP over GRE".to_owned())
        );
        // A resolution request (type 1): nothing inside.
        assert!(unwrap(&ipv4_around(PROTOCOL_GRE, &indication(1))).is_none());
    }

    #[test]
    fn erspan_mpls_and_pim() {
        let erspan2 = [
            &[0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1][..],
            &[0x10, 0, 0x00, 0x09, 0, 0, 0, 0],
            &ethernet(&INNER),
        ]
        .concat();
        assert_eq!(
            unwrapped(PROTOCOL_GRE, &erspan2),
            (INNER.to_vec(), "ERSPAN II session 9".to_owned())
        );
        let erspan1 = [&[0x00, 0x00, 0x88, 0xbe][..], &ethernet(&INNER)].concat();
        assert_eq!(unwrapped(PROTOCOL_GRE, &erspan1).1, "ERSPAN I");
        let mpls_udp = [
            &[0, 1, 0x19, 0xeb, 0, 0, 0, 0][..],
            &[0, 0x3e, 0x81, 0x40],
            &INNER,
        ]
        .concat();
        assert_eq!(
            unwrapped(PROTOCOL_UDP, &mpls_udp),
            (INNER.to_vec(), "MPLS over UDP".to_owned())
        );
        let pim = [&[0x21, 0, 0, 0, 0, 0, 0, 0][..], &INNER].concat();
        assert_eq!(unwrapped(PROTOCOL_PIM, &pim).1, "PIM register");
    }

    /// Random tunnel payloads (and every link type over random frames)
    /// never panic, and what is found lies inside the input.
    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let protocols = [
            PROTOCOL_GRE,
            PROTOCOL_UDP,
            PROTOCOL_IPIP,
            PROTOCOL_IPV6,
            PROTOCOL_PIM,
        ];
        let heads: [&[u8]; 7] = [
            &[0x20, 0, 0x08, 0],
            &[0, 0, 0x20, 0x01],
            &[0xb0, 0, 0x88, 0xbe],
            &[0x10, 0, 0x22, 0xeb],
            &[0, 0, 0x65, 0x58],
            &[0, 1, 0x12, 0xb5],
            &[0, 1, 0x17, 0xc1],
        ];
        for round in 0..20_000 {
            let len = (next() % 120) as usize;
            let mut payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let head = heads[round % heads.len()];
            payload.splice(0..0, head.iter().copied());
            let protocol = protocols[round % protocols.len()];
            let packet = ipv4_around(protocol, &payload);
            let cut = (next() as usize) % (packet.len() + 1);
            for bytes in [&packet[..], &packet[..cut], &payload[..]] {
                if let Some((inner, _)) = unwrap(bytes) {
                    assert!(inner.len() <= bytes.len());
                }
                for linktype in [0, 1, 9, 50, 104, 113, 129, 226, 242, 276] {
                    if let Some(ip) = link::ip_packet(linktype, bytes) {
                        assert!(ip.len() <= bytes.len());
                    }
                }
            }
        }
    }

    #[test]
    fn other_traffic_and_short_packets_are_not_tunnels() {
        let dns = [&[0, 53, 0, 53, 0, 12, 0, 0][..], &INNER].concat();
        assert!(unwrap(&ipv4_around(PROTOCOL_UDP, &dns)).is_none());
        assert!(unwrap(&ipv4_around(PROTOCOL_GRE, &[0x20, 0, 8, 0])).is_none());
        assert!(unwrap(&ipv4_around(PROTOCOL_UDP, &[0, 1, 0x12, 0xb5])).is_none());
        assert!(unwrap(&[]).is_none());
        assert!(unwrap(&[0x45]).is_none());
    }
}
