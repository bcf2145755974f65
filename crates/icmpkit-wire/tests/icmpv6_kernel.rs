//! ICMPv6 the Linux kernel sent: a packet-too-big from a router (see
//! `fixtures/capture.sh`: the host pinged 2001:db8:2::2 with 1400 bytes
//! through a router whose next link has MTU 1280), and the NDP and MLD
//! messages two namespaces exchange on link up and address resolution
//! (`fixtures/capture_ndp.sh`).

mod common;

use core::net::{IpAddr, Ipv6Addr};

use icmpkit_wire::icmpv6::{NdpOption, NeighborFlags, Packet, Repr};
use icmpkit_wire::quoted::Transport;
use icmpkit_wire::{Family, ip};

#[test]
fn kernel_packet_too_big() {
    let packet = common::fixture("icmpv6-packet-too-big");
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

/// Reads a fixture captured by `fixtures/capture_ndp.sh`: the ICMPv6
/// message, its addresses, and checks the kernel's checksum and that we
/// re-emit its exact bytes.
fn ndp_fixture(name: &str, check: impl FnOnce(&Repr<'_>, Ipv6Addr, Ipv6Addr)) {
    let packet = common::fixture(name);
    let found = ip::locate_icmp(&packet).expect("an ICMPv6 packet");
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (found.src, found.dst) else {
        panic!("{found:?}")
    };
    assert_eq!(
        found.ttl, 255,
        "NDP and MLD are link-local: hop limit 255 or 1"
    );
    let icmp = Packet::new_checked(found.icmp).unwrap();
    assert!(icmp.verify_checksum(&src, &dst), "kernel checksum");
    let repr = Repr::parse(&icmp).unwrap();
    check(&repr, src, dst);
    let mut out = vec![0; repr.buffer_len()];
    repr.emit(&src, &dst, &mut out).unwrap();
    assert_eq!(out, found.icmp, "byte-identical re-emit");
}

const MAC_A: &[u8] = &[2, 0, 0, 0, 0, 0x0a];
const MAC_B: &[u8] = &[2, 0, 0, 0, 0, 0x0b];

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn kernel_router_solicitation() {
    ndp_fixture("icmpv6-router-solicitation", |repr, src, dst| {
        assert_eq!((src, dst), (addr("fe80::ff:fe00:a"), addr("ff02::2")));
        let Repr::RouterSolicit { options } = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(options.source_link_layer_addr(), Some(MAC_A));
        assert_eq!(repr.to_string(), "ICMP6, router solicitation, length 16");
    });
}

#[test]
fn kernel_dad_solicitation_with_nonce() {
    ndp_fixture("icmpv6-dad-solicitation", |repr, src, dst| {
        assert_eq!((src, dst), (Ipv6Addr::UNSPECIFIED, addr("ff02::1:ff00:a")));
        let Repr::NeighborSolicit { target, options } = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(*target, addr("2001:db8:10::a"));
        // RFC 7527 enhanced DAD: a nonce option (type 14), which we keep raw;
        // no source link-layer address from the unspecified address.
        let items: Vec<_> = options.iter().map(Result::unwrap).collect();
        assert_eq!(items.len(), 1);
        assert!(
            matches!(items[0], NdpOption::Unknown { kind: 14, data } if data.len() == 6),
            "{items:?}"
        );
        assert_eq!(options.source_link_layer_addr(), None);
        assert_eq!(
            repr.to_string(),
            "ICMP6, neighbor solicitation, who has 2001:db8:10::a, length 32"
        );
    });
}

#[test]
fn kernel_address_resolution() {
    ndp_fixture("icmpv6-neighbor-solicitation", |repr, src, dst| {
        assert_eq!((src, dst), (addr("2001:db8:10::a"), addr("ff02::1:ff00:b")));
        let Repr::NeighborSolicit { target, options } = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(*target, addr("2001:db8:10::b"));
        assert_eq!(options.source_link_layer_addr(), Some(MAC_A));
    });
    ndp_fixture("icmpv6-neighbor-advertisement", |repr, src, dst| {
        assert_eq!((src, dst), (addr("2001:db8:10::b"), addr("2001:db8:10::a")));
        let Repr::NeighborAdvert {
            flags,
            target,
            options,
        } = repr
        else {
            panic!("{repr:?}")
        };
        assert!(flags.contains(NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE));
        assert!(!flags.contains(NeighborFlags::ROUTER));
        assert_eq!(*target, addr("2001:db8:10::b"));
        assert_eq!(options.target_link_layer_addr(), Some(MAC_B));
        assert_eq!(
            repr.to_string(),
            "ICMP6, neighbor advertisement, tgt is 2001:db8:10::b, Flags [solicited, override], length 32"
        );
    });
}

#[test]
fn kernel_mldv2_report_behind_hop_by_hop() {
    let packet = common::fixture("icmpv6-mldv2-report");
    let found = ip::locate_icmp(&packet).unwrap();
    assert_eq!(
        found.ip_header_len, 48,
        "IPv6 header + hop-by-hop router alert"
    );
    assert_eq!(found.ttl, 1);
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (found.src, found.dst) else {
        panic!()
    };
    assert_eq!((src, dst), (Ipv6Addr::UNSPECIFIED, addr("ff02::16")));
    let icmp = Packet::new_checked(found.icmp).unwrap();
    assert!(icmp.verify_checksum(&src, &dst));
    let repr = Repr::parse(&icmp).unwrap();
    let Repr::Mldv2Report { records } = repr else {
        panic!("{repr:?}")
    };
    let records: Vec<_> = records.iter().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record_type, 4, "CHANGE_TO_EXCLUDE_MODE: join");
    assert_eq!(records[0].multicast_address, addr("ff02::1:ff00:a"));
    assert!(records[0].sources.is_empty() && records[0].aux_data.is_empty());
    assert_eq!(
        repr.to_string(),
        "ICMP6, multicast listener report v2, 1 group record(s) [gaddr ff02::1:ff00:a to_ex, 0 source(s)], length 28"
    );
    let mut out = vec![0; repr.buffer_len()];
    repr.emit(&src, &dst, &mut out).unwrap();
    assert_eq!(out, found.icmp);
}

const NDP_FIXTURES: [&str; 5] = [
    "router-solicitation",
    "dad-solicitation",
    "neighbor-solicitation",
    "neighbor-advertisement",
    "mldv2-report",
];

/// Runs `capture_ndp.sh` again into a scratch directory: today's kernel
/// sends messages that read like the committed ones (same types, targets,
/// flags, records; nonces and checksums may differ).
#[test]
fn capture_ndp_script_reproduces_fixtures() {
    let tools = ["ip", "tcpdump", "ping", "python3", "timeout"];
    if let Some(why) = common::missing_lab_prerequisite(&tools) {
        common::report_skip("capture_ndp_script_reproduces_fixtures", &why);
        return;
    }
    let out = common::run_capture_script("capture_ndp.sh");
    let dir = common::fixtures_dir();
    for name in NDP_FIXTURES {
        let read = |d: &std::path::Path| common::hex_file(&d.join(format!("icmpv6-{name}.hex")));
        let (fresh, committed) = (read(&out), read(&dir));
        let line = |packet: &[u8]| {
            let found = ip::locate_icmp(packet).unwrap();
            (
                found.src,
                found.dst,
                Repr::parse_bytes(found.icmp).unwrap().to_string(),
            )
        };
        assert_eq!(line(&fresh), line(&committed), "{name}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
