//! A packet-too-big captured from a real Linux router (see
//! `fixtures/capture.sh`): the host pinged 2001:db8:2::2 with 1400 bytes
//! and DF semantics through a router whose next link has MTU 1280.

use core::net::{IpAddr, Ipv6Addr};

use icmpkit_wire::icmpv6::{Packet, Repr};
use icmpkit_wire::quoted::Transport;
use icmpkit_wire::{Family, ip};

fn fixture(text: &str) -> Vec<u8> {
    let hex: String = text.lines().filter(|l| !l.starts_with('#')).collect();
    hex::decode(hex.trim()).expect("fixture is hex")
}

#[test]
fn kernel_packet_too_big() {
    let packet = fixture(include_str!("fixtures/icmpv6-packet-too-big.hex"));
    let found = ip::locate_icmp(&packet).expect("an ICMPv6 packet");
    assert_eq!(found.family, Family::V6);
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (found.src, found.dst) else {
        panic!("{found:?}")
    };
    assert_eq!(
        src,
        "2001:db8:1::1".parse::<Ipv6Addr>().unwrap(),
        "sent by the router"
    );
    assert_eq!(dst, "2001:db8:1::2".parse::<Ipv6Addr>().unwrap());

    let icmp = Packet::new_checked(found.icmp).unwrap();
    assert!(
        icmp.verify_checksum(&src, &dst),
        "the kernel's checksum verifies"
    );
    assert!(
        !icmp.verify_checksum(&src, &Ipv6Addr::LOCALHOST),
        "and depends on the pseudo-header"
    );
    let repr = Repr::parse(&icmp).unwrap();
    let Repr::PacketTooBig { mtu, original } = repr else {
        panic!("{repr:?}")
    };
    assert_eq!(mtu, 1280);
    // Linux quotes as much as fits in the minimum MTU: 1280 - 40 - 8.
    assert_eq!(original.len(), 1232);
    assert_eq!(repr.buffer_len(), found.icmp.len());

    let quoted = repr.quoted().expect("quoted datagram parses");
    assert_eq!(quoted.src, IpAddr::V6("2001:db8:1::2".parse().unwrap()));
    assert_eq!(quoted.dst, IpAddr::V6("2001:db8:2::2".parse().unwrap()));
    assert_eq!(quoted.protocol, 58);
    assert_eq!(
        quoted.total_length,
        40 + 1408,
        "ping -s 1400: 8-byte header + 1400"
    );
    let Transport::Echo {
        icmp_type,
        id,
        sequence,
        ..
    } = quoted.transport
    else {
        panic!("{:?}", quoted.transport)
    };
    assert_eq!(icmp_type, 128);
    assert_eq!(sequence, 1);
    assert_eq!(id, u16::from_be_bytes([original[44], original[45]]));
    assert!(quoted.truncated.datagram);

    assert_eq!(
        repr.to_string(),
        "ICMP6, packet too big, mtu 1280, length 1240"
    );

    // Re-emitting reproduces the kernel's bytes exactly, checksum included.
    let mut out = vec![0; repr.buffer_len()];
    repr.emit(&src, &dst, &mut out).unwrap();
    assert_eq!(out, found.icmp);
}
