//! Whole Ethernet frames for the packet sender, built once per egress as a
//! [`FrameTemplate`] (Ethernet + IPv4/IPv6 + ICMP echo request with the
//! payload's fill pattern and both checksums). Each probe copies the
//! template and rewrites only what differs: the next hop's MAC address,
//! the destination, the IPv4 id, the echo sequence and the payload's stamp;
//! the checksums are updated from the template's by RFC 1624 over those
//! words alone (the IPv6 pseudo-header's destination included).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use icmpkit_wire::Family;
use icmpkit_wire::checksum::{accumulate, fold, pseudo_header_v6, retract, rewrite_start};

use crate::engine::stamp::TAGGED_STAMP_LEN;

/// Ethernet header: destination, source, EtherType.
pub(super) const ETHERNET_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const IPV4_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const ICMP_HEADER_LEN: usize = 8;

/// What every frame of a sweep carries as asked (the raw socket's
/// header template reads the same options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameSettings {
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 DF (fping's `-M`).
    pub dont_fragment: bool,
    pub payload_size: usize,
}

impl FrameSettings {
    /// Bytes of the IP packet (header included) a probe of `family` is.
    pub(super) fn ip_len(&self, family: Family) -> usize {
        let header = match family {
            Family::V4 => IPV4_LEN,
            Family::V6 => IPV6_LEN,
        };
        header + ICMP_HEADER_LEN + self.payload_size
    }
}

/// One egress's frame: the source MAC and address fixed, the rest
/// rewritten per probe by [`FrameTemplate::write`].
#[derive(Debug, Clone)]
pub(super) struct FrameTemplate {
    frame: Vec<u8>,
    family: Family,
    /// Where the IP header and the ICMP message start.
    ip: usize,
    icmp: usize,
    /// RFC 1624 sums of the template less the words each probe rewrites.
    ip_sum: u32,
    icmp_sum: u32,
}

impl FrameTemplate {
    /// The template of echo requests with echo id `id` from `source` (its
    /// family's) on a link whose address is `source_mac`.
    pub(super) fn new(
        source_mac: [u8; 6],
        source: IpAddr,
        id: u16,
        settings: &FrameSettings,
    ) -> FrameTemplate {
        let family = crate::resolve::family_of(source);
        let ip_len = settings.ip_len(family);
        let ip = ETHERNET_LEN;
        let icmp = ip + ip_len - ICMP_HEADER_LEN - settings.payload_size;
        let mut frame = vec![0u8; ETHERNET_LEN + ip_len];
        frame[6..12].copy_from_slice(&source_mac);
        let (ethertype, echo_type) = match family {
            Family::V4 => (ETHERTYPE_IPV4, 8),
            Family::V6 => (ETHERTYPE_IPV6, 128),
        };
        frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
        // The payload's fill pattern, as Session::fill_payload writes it.
        for (i, b) in frame[icmp + ICMP_HEADER_LEN..].iter_mut().enumerate() {
            *b = i as u8;
        }
        frame[icmp] = echo_type;
        frame[icmp + 4..icmp + 6].copy_from_slice(&id.to_be_bytes());
        match source {
            IpAddr::V4(src) => write_ipv4_header(&mut frame[ip..icmp], src, settings, ip_len),
            IpAddr::V6(src) => write_ipv6_header(&mut frame[ip..icmp], src, settings, ip_len),
        }
        // The ICMP checksum (IPv6: with the pseudo-header, destination
        // still unspecified).
        let message_sum = accumulate(0, &frame[icmp..]);
        let icmp_checksum = match source {
            IpAddr::V4(_) => fold(message_sum),
            IpAddr::V6(src) => {
                let pseudo =
                    pseudo_header_v6(&src, &Ipv6Addr::UNSPECIFIED, (ip_len - IPV6_LEN) as u32, 58);
                fold(accumulate(pseudo, &frame[icmp..]))
            }
        };
        frame[icmp + 2..icmp + 4].copy_from_slice(&icmp_checksum.to_be_bytes());
        let mut template = FrameTemplate {
            frame,
            family,
            ip,
            icmp,
            ip_sum: 0,
            icmp_sum: 0,
        };
        template.take_sums();
        template
    }

    /// The sums each probe starts from: the template's checksums less the
    /// words it rewrites.
    fn take_sums(&mut self) {
        let (ip, icmp, f) = (self.ip, self.icmp, &self.frame);
        let stamp = icmp + ICMP_HEADER_LEN..icmp + ICMP_HEADER_LEN + TAGGED_STAMP_LEN;
        let icmp_checksum = u16::from_be_bytes([f[icmp + 2], f[icmp + 3]]);
        let mut icmp_sum = retract(rewrite_start(icmp_checksum), &f[icmp + 6..icmp + 8]);
        icmp_sum = retract(icmp_sum, &f[stamp]);
        match self.family {
            Family::V4 => {
                let ip_checksum = u16::from_be_bytes([f[ip + 10], f[ip + 11]]);
                let ip_sum = retract(rewrite_start(ip_checksum), &f[ip + 4..ip + 6]);
                self.ip_sum = retract(ip_sum, &f[ip + 16..ip + 20]);
            }
            Family::V6 => icmp_sum = retract(icmp_sum, &f[ip + 24..ip + 40]),
        }
        self.icmp_sum = icmp_sum;
    }

    /// Writes the frame of one probe into `out`: to `destination` through
    /// the next hop `next_hop_mac`, with IPv4 id `ident`, echo `sequence`
    /// and `stamp` (the payload's first [`TAGGED_STAMP_LEN`] bytes).
    pub(super) fn write(
        &self,
        out: &mut Vec<u8>,
        next_hop_mac: [u8; 6],
        destination: IpAddr,
        ident: u16,
        sequence: u16,
        stamp: &[u8],
    ) {
        let (ip, icmp) = (self.ip, self.icmp);
        out.clear();
        out.extend_from_slice(&self.frame);
        out[..6].copy_from_slice(&next_hop_mac);
        let stamp_at = icmp + ICMP_HEADER_LEN;
        out[stamp_at..stamp_at + TAGGED_STAMP_LEN].copy_from_slice(&stamp[..TAGGED_STAMP_LEN]);
        out[icmp + 6..icmp + 8].copy_from_slice(&sequence.to_be_bytes());
        let mut icmp_sum = accumulate(self.icmp_sum, &out[icmp + 6..icmp + 8]);
        icmp_sum = accumulate(icmp_sum, &out[stamp_at..stamp_at + TAGGED_STAMP_LEN]);
        match destination {
            IpAddr::V4(dst) => {
                out[ip + 4..ip + 6].copy_from_slice(&ident.to_be_bytes());
                out[ip + 16..ip + 20].copy_from_slice(&dst.octets());
                let ip_sum = accumulate(self.ip_sum, &out[ip + 4..ip + 6]);
                let ip_checksum = fold(accumulate(ip_sum, &out[ip + 16..ip + 20]));
                out[ip + 10..ip + 12].copy_from_slice(&ip_checksum.to_be_bytes());
            }
            IpAddr::V6(dst) => {
                out[ip + 24..ip + 40].copy_from_slice(&dst.octets());
                icmp_sum = accumulate(icmp_sum, &out[ip + 24..ip + 40]);
            }
        }
        out[icmp + 2..icmp + 4].copy_from_slice(&fold(icmp_sum).to_be_bytes());
    }
}

fn write_ipv4_header(h: &mut [u8], src: Ipv4Addr, settings: &FrameSettings, ip_len: usize) {
    h[0] = 0x45;
    h[1] = settings.tos;
    h[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    if settings.dont_fragment {
        h[6] = 0x40;
    }
    h[8] = settings.ttl;
    h[9] = 1;
    h[12..16].copy_from_slice(&src.octets());
    let checksum = fold(accumulate(0, h));
    h[10..12].copy_from_slice(&checksum.to_be_bytes());
}

fn write_ipv6_header(h: &mut [u8], src: Ipv6Addr, settings: &FrameSettings, ip_len: usize) {
    // Version 6, the traffic class, flow label 0.
    let first = (6u32 << 28) | (u32::from(settings.tos) << 20);
    h[..4].copy_from_slice(&first.to_be_bytes());
    h[4..6].copy_from_slice(&((ip_len - IPV6_LEN) as u16).to_be_bytes());
    h[6] = 58;
    h[7] = settings.ttl;
    h[8..24].copy_from_slice(&src.octets());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use icmpkit_wire::checksum::{checksum, verify, verify_icmpv6};

    fn settings(payload_size: usize) -> FrameSettings {
        FrameSettings {
            ttl: 33,
            tos: 0xb8,
            dont_fragment: true,
            payload_size,
        }
    }

    /// The frame written from scratch with full checksums: what the
    /// incremental update must equal.
    fn full(template: &FrameTemplate, frame: &[u8], destination: IpAddr) -> Vec<u8> {
        let mut expected = frame.to_vec();
        let (ip, icmp) = (template.ip, template.icmp);
        expected[icmp + 2..icmp + 4].fill(0);
        let sum = match destination {
            IpAddr::V4(_) => {
                expected[ip + 10..ip + 12].fill(0);
                let ip_sum = checksum(&expected[ip..icmp]);
                expected[ip + 10..ip + 12].copy_from_slice(&ip_sum.to_be_bytes());
                checksum(&expected[icmp..])
            }
            IpAddr::V6(dst) => {
                let src: [u8; 16] = expected[ip + 8..ip + 24].try_into().unwrap();
                let len = (expected.len() - icmp) as u32;
                let pseudo = pseudo_header_v6(&src.into(), &dst, len, 58);
                fold(accumulate(pseudo, &expected[icmp..]))
            }
        };
        expected[icmp + 2..icmp + 4].copy_from_slice(&sum.to_be_bytes());
        expected
    }

    #[test]
    fn an_ipv4_frame_carries_what_was_asked() {
        let src = Ipv4Addr::new(10, 1, 0, 1);
        let t = FrameTemplate::new([2, 0, 0, 0, 0, 1], src.into(), 0x1234, &settings(56));
        let mut out = Vec::new();
        let dst = Ipv4Addr::new(10, 20, 3, 4);
        let stamp = [0xa5u8; TAGGED_STAMP_LEN];
        t.write(&mut out, [2, 0, 0, 0, 0, 2], dst.into(), 77, 5, &stamp);
        assert_eq!(out.len(), 14 + 20 + 8 + 56);
        assert_eq!(&out[..6], &[2, 0, 0, 0, 0, 2]);
        assert_eq!(&out[6..12], &[2, 0, 0, 0, 0, 1]);
        let ip = &out[14..34];
        assert_eq!((ip[1], ip[6] & 0x40, ip[8], ip[9]), (0xb8, 0x40, 33, 1));
        assert_eq!(&ip[16..20], &dst.octets());
        assert!(verify(ip));
        let icmp = &out[34..];
        assert_eq!((icmp[0], &icmp[4..8]), (8, &[0x12, 0x34, 0, 5][..]));
        assert_eq!(&icmp[8..40], &stamp);
        assert_eq!(icmp[8 + 40], 40, "the fill pattern after the stamp");
        assert!(verify(icmp));
    }

    #[test]
    fn an_ipv6_frame_carries_what_was_asked() {
        let src: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let t = FrameTemplate::new([2, 0, 0, 0, 0, 1], src.into(), 7, &settings(40));
        let dst: Ipv6Addr = "fd00:20::7".parse().unwrap();
        let mut out = Vec::new();
        t.write(&mut out, [2; 6], dst.into(), 0, 9, &[1; 32]);
        assert_eq!(&out[12..14], &[0x86, 0xdd]);
        let ip = &out[14..54];
        assert_eq!(u32::from_be_bytes(ip[..4].try_into().unwrap()), 0x6b80_0000);
        assert_eq!((ip[6], ip[7]), (58, 33));
        assert_eq!(&ip[24..40], &dst.octets());
        assert!(verify_icmpv6(&src, &dst, &out[54..]));
    }

    fn any_ip(v6: bool) -> impl Strategy<Value = (IpAddr, IpAddr)> {
        (any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(move |(a, b)| {
            if v6 {
                (Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into())
            } else {
                let four = |x: [u8; 16]| IpAddr::from([x[0], x[1], x[2], x[3]]);
                (four(a), four(b))
            }
        })
    }

    proptest! {
        /// The RFC 1624 update equals the checksums summed in full, for
        /// any addresses, ids, sequences, stamps, TTL/TOS/DF and payload
        /// size (odd ones too), one frame after another from one template.
        #[test]
        fn incremental_checksums_equal_full_ones(
            v6 in any::<bool>(),
            addresses in any_ip(false),
            addresses6 in any_ip(true),
            id in any::<u16>(),
            ttl in 1u8..,
            tos in any::<u8>(),
            dont_fragment in any::<bool>(),
            payload_size in 32usize..200,
            probes in proptest::collection::vec(
                (any::<[u8; 16]>(), any::<u16>(), any::<u16>(), any::<[u8; 32]>()), 1..4),
        ) {
            let (src, _) = if v6 { addresses6 } else { addresses };
            let settings = FrameSettings { ttl, tos, dont_fragment, payload_size };
            let t = FrameTemplate::new([2, 1, 2, 3, 4, 5], src, id, &settings);
            let mut out = Vec::new();
            for (dst, ident, sequence, stamp) in probes {
                let destination = if v6 {
                    IpAddr::from(Ipv6Addr::from(dst))
                } else {
                    IpAddr::from([dst[0], dst[1], dst[2], dst[3]])
                };
                t.write(&mut out, [9; 6], destination, ident, sequence, &stamp);
                prop_assert_eq!(&out, &full(&t, &out, destination));
            }
        }
    }
}
