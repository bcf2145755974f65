//! Property tests of the IPv6 extension-header walk that finds ICMPv6:
//! routing headers of every type (their final destination for the
//! checksum) and jumbograms, built at random and then mutated. Whatever
//! the bytes, `locate_icmp` must not panic, and what it returns must lie
//! inside the buffer.

use core::net::{IpAddr, Ipv6Addr};

use icmpkit_wire::ip::{self, ipv6};
use proptest::prelude::*;

const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// A fixed header with this next header and payload length field.
fn fixed_header(next: u8, payload_len: u16) -> Vec<u8> {
    let repr = ipv6::Repr {
        src: SRC,
        dst: DST,
        next_header: next,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
        payload_len: usize::from(payload_len),
    };
    let mut buf = vec![0; ipv6::HEADER_LEN];
    repr.emit(&mut buf).unwrap();
    buf
}

/// A routing header of `routing_type` carrying `addresses`, then ICMPv6.
fn routing_header(routing_type: u8, segments_left: u8, addresses: &[[u8; 16]]) -> Vec<u8> {
    let mut h = vec![
        ipv6::NEXT_ICMPV6,
        (addresses.len() * 2) as u8,
        routing_type,
        segments_left,
        0,
        0,
        0,
        0,
    ];
    for a in addresses {
        h.extend_from_slice(a);
    }
    h
}

/// Checks the invariants every answer of `locate_icmp` keeps.
fn check(packet: &[u8]) {
    let Ok(found) = ip::locate_icmp(packet) else {
        return;
    };
    assert!(found.ip_header_len + found.icmp.len() <= packet.len());
    if found.family == icmpkit_wire::Family::V4 {
        assert_eq!(found.dst, found.checksum_dst, "IPv4 has no routing header");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn routing_headers_of_any_type_give_a_final_destination_only_with_segments_left(
        routing_type in 0u8..6,
        segments_left in 0u8..4,
        addresses in proptest::collection::vec(any::<[u8; 16]>(), 0..4),
        icmp in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut payload = routing_header(routing_type, segments_left, &addresses);
        payload.extend_from_slice(&icmp);
        let mut packet = fixed_header(ipv6::NEXT_ROUTING, payload.len() as u16);
        packet.extend_from_slice(&payload);
        let found = ip::locate_icmp(&packet).unwrap();
        let expected = match (routing_type, addresses.as_slice()) {
            (_, []) => None,
            _ if segments_left == 0 => None,
            (ipv6::ROUTING_TYPE_0, list) => list.last().copied(),
            (ipv6::ROUTING_TYPE_2 | ipv6::ROUTING_SEGMENT, list) => list.first().copied(),
            _ => None,
        };
        let expected = expected.map_or(DST, Ipv6Addr::from);
        prop_assert_eq!(found.checksum_dst, IpAddr::V6(expected));
        prop_assert_eq!(found.dst, IpAddr::V6(DST));
        prop_assert_eq!(found.icmp, &icmp[..]);
    }

    #[test]
    fn mutated_routing_and_jumbo_packets_never_panic(
        routing_type in 0u8..6,
        jumbo_len in any::<u32>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        // hop-by-hop (Jumbo Payload) -> routing -> ICMPv6 echo.
        let mut packet = fixed_header(ipv6::NEXT_HOP_BY_HOP, 0);
        let l = jumbo_len.to_be_bytes();
        packet.extend_from_slice(&[ipv6::NEXT_ROUTING, 0, ipv6::OPTION_JUMBO, 4, l[0], l[1], l[2], l[3]]);
        packet.extend_from_slice(&routing_header(routing_type, 1, &[[7; 16], [9; 16]]));
        packet.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
        check(&packet);
        for (at, byte) in flips {
            let len = packet.len();
            packet[at % len] ^= byte;
        }
        check(&packet);
        check(&packet[..cut % (packet.len() + 1)]);
        let view = ipv6::Packet::new_unchecked(&packet[..]);
        if view.check_len().is_ok() {
            let _ = (view.full_payload_len(), view.payload(), view.is_truncated());
        }
    }

    #[test]
    fn jumbo_option_is_read_wherever_the_options_put_it(
        pads in 0usize..5,
        jumbo_len in 65_536u32..200_000,
    ) {
        // Pad1s, then the option, then PadN to a multiple of 8.
        let mut h = vec![ipv6::NEXT_ICMPV6, 0];
        h.extend(std::iter::repeat_n(0u8, pads));
        h.extend_from_slice(&[ipv6::OPTION_JUMBO, 4]);
        h.extend_from_slice(&jumbo_len.to_be_bytes());
        let rest = (8 - h.len() % 8) % 8;
        match rest {
            0 => {}
            1 => h.push(0),
            n => h.extend(std::iter::once(1).chain(std::iter::once(n as u8 - 2)).chain(std::iter::repeat_n(0, n - 2))),
        }
        h[1] = (h.len() / 8 - 1) as u8;
        prop_assert_eq!(ipv6::jumbo_payload_len(&h), Some(jumbo_len));
    }
}
