//! Packets the Linux kernel sent (captured by `tests/fixtures/capture.sh`
//! inside network namespaces): the parser verifies their checksums and
//! reads their fields.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::fixture;
use icmpkit_wire::icmpv4::{self, Repr};
use icmpkit_wire::ip::{self, ipv4, ipv6};
use icmpkit_wire::quoted::{Quoted, Transport};
use icmpkit_wire::{Family, checksum};

const HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const TARGET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// Locates the ICMPv4 message, checks both checksums, parses it.
fn parse_v4(bytes: &[u8]) -> (ip::Located<'_>, Repr<'_>) {
    assert!(
        ipv4::Packet::new_checked(bytes).unwrap().verify_checksum(),
        "IPv4 header checksum"
    );
    let found = ip::locate_icmp(bytes).unwrap();
    assert_eq!(found.family, Family::V4);
    assert!(!found.truncated);
    let packet = icmpv4::Packet::new_checked(found.icmp).unwrap();
    assert!(packet.verify_checksum(), "ICMPv4 checksum");
    let repr = Repr::parse(&packet).unwrap();
    // Re-emitting the kernel's message reproduces it byte for byte.
    let mut again = vec![0u8; repr.buffer_len()];
    repr.emit(&mut again).unwrap();
    assert_eq!(again, found.icmp);
    (found, repr)
}

#[test]
fn kernel_echo_reply() {
    let bytes = fixture("icmpv4-echo-reply");
    let (found, repr) = parse_v4(&bytes);
    assert_eq!(
        (found.src, found.dst),
        (IpAddr::V4(TARGET), IpAddr::V4(HOST))
    );
    assert_eq!(found.ttl, 63, "one router on the way back");
    let Repr::EchoReply { sequence, data, .. } = repr else {
        panic!("{repr:?}")
    };
    assert_eq!(sequence, 1);
    assert_eq!(data.len(), 56);
    // ping's payload after its 16-byte timestamp counts up from 0x10.
    assert_eq!(&data[16..20], &[0x10, 0x11, 0x12, 0x13]);
    assert!(repr.to_string().starts_with("ICMP echo reply, id "));
    assert!(repr.to_string().ends_with(", seq 1, length 64"));
}

#[test]
fn kernel_host_unreachable() {
    let bytes = fixture("icmpv4-host-unreachable");
    let (found, repr) = parse_v4(&bytes);
    assert_eq!(found.src, IpAddr::V4(ROUTER));
    let Repr::DstUnreachable { code, .. } = repr else {
        panic!("{repr:?}")
    };
    assert_eq!(code, icmpv4::DstUnreachableCode::HostUnreachable);
    assert_eq!(code.name(), Some("host-unreachable"));
    let quoted = repr.quoted().unwrap();
    assert_eq!(quoted.dst, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));
    assert_eq!(quoted.src, IpAddr::V4(HOST));
    assert!(matches!(
        quoted.transport,
        Transport::Echo {
            icmp_type: 8,
            sequence: 1,
            ..
        }
    ));
    assert_eq!(repr.error_body().unwrap().extensions(), None);
    assert_eq!(repr.to_string(), "ICMP host 192.0.2.9 unreachable");
}

#[test]
fn kernel_time_exceeded() {
    let bytes = fixture("icmpv4-time-exceeded");
    let (found, repr) = parse_v4(&bytes);
    assert_eq!(found.src, IpAddr::V4(ROUTER));
    assert!(matches!(
        repr,
        Repr::TimeExceeded {
            code: icmpv4::TimeExceededCode::TtlExceeded,
            ..
        }
    ));
    let quoted = repr.quoted().unwrap();
    assert_eq!(quoted.dst, IpAddr::V4(TARGET));
    assert_eq!(quoted.ttl, 1, "ping -t 1, quoted as the router received it");
    assert!(matches!(
        quoted.transport,
        Transport::Echo {
            icmp_type: 8,
            code: 0,
            sequence: 1,
            ..
        }
    ));
    assert_eq!(repr.to_string(), "ICMP time exceeded in-transit");
}

#[test]
fn kernel_port_unreachable() {
    let bytes = fixture("icmpv4-port-unreachable");
    let (found, repr) = parse_v4(&bytes);
    assert_eq!(found.src, IpAddr::V4(TARGET));
    let quoted = repr.quoted().unwrap();
    assert!(matches!(
        quoted.transport,
        Transport::Udp {
            dst_port: 33434,
            ..
        }
    ));
    assert_eq!(
        repr.to_string(),
        "ICMP 203.0.113.2 udp port 33434 unreachable"
    );
}

#[test]
fn kernel_ipv6_packet_too_big() {
    let bytes = fixture("icmpv6-packet-too-big");
    let header = ipv6::Repr::parse(&ipv6::Packet::new_checked(&bytes[..]).unwrap()).unwrap();
    let router: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    assert_eq!(header.src, router);
    assert_eq!(header.next_header, ipv6::NEXT_ICMPV6);
    assert_eq!(header.payload_len, bytes.len() - 40);
    let found = ip::locate_icmp(&bytes).unwrap();
    assert_eq!(found.family, Family::V6);
    assert!(checksum::verify_icmpv6(
        &header.src,
        &header.dst,
        found.icmp
    ));
    assert_eq!(found.icmp[0], 2, "packet too big");
    assert_eq!(
        u32::from_be_bytes(found.icmp[4..8].try_into().unwrap()),
        1280
    );
    // Its body is as much of the offending packet as fits in 1280 bytes.
    assert_eq!(bytes.len(), 1280);
    let quoted = Quoted::parse(&found.icmp[8..]).unwrap();
    assert_eq!(quoted.dst, "2001:db8:2::2".parse::<IpAddr>().unwrap());
    assert!(matches!(
        quoted.transport,
        Transport::Echo { icmp_type: 128, .. }
    ));
    assert!(quoted.truncated.datagram);
}

#[test]
fn corrupted_fixtures_fail_their_checksums() {
    for name in common::FIXTURES {
        let mut bytes = fixture(name);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let found = ip::locate_icmp(&bytes).unwrap();
        let ok = match (found.src, found.dst) {
            (IpAddr::V6(s), IpAddr::V6(d)) => checksum::verify_icmpv6(&s, &d, found.icmp),
            _ => icmpv4::Packet::new_checked(found.icmp)
                .unwrap()
                .verify_checksum(),
        };
        assert!(!ok, "{name}: a flipped bit still verifies");
    }
}
