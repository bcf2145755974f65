//! Type/code names and the tcpdump-like one-line text.

use core::net::Ipv6Addr;

use icmpkit_wire::extension::{ErrorBody, Extensions, InterfaceId, MplsEntry, MplsStack, Object};

use icmpkit_wire::icmpv6::{
    DstUnreachableCode, ExtendedEchoCode, Ipv6Addrs, MldRecord, MldRecords, NdpOptions,
    NeighborFlags, ParamProblemCode, Repr, RouterFlags, TimeExceededCode, code_name, type_name,
};

#[test]
fn type_names_are_kebab_case_and_cover_the_registry() {
    assert_eq!(type_name(128), Some("echo-request"));
    assert_eq!(type_name(2), Some("packet-too-big"));
    assert_eq!(type_name(135), Some("neighbor-solicitation"));
    assert_eq!(type_name(143), Some("multicast-listener-report-v2"));
    assert_eq!(type_name(161), Some("extended-echo-reply"));
    assert_eq!(type_name(5), None);
    assert_eq!(type_name(162), None);
    for t in 0..=255u8 {
        if let Some(name) = type_name(t) {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }
}

#[test]
fn code_names() {
    assert_eq!(code_name(1, 0), Some("no-route-to-destination"));
    assert_eq!(code_name(1, 3), Some("address-unreachable"));
    assert_eq!(code_name(1, 4), Some("port-unreachable"));
    assert_eq!(
        code_name(1, 5),
        Some("source-address-failed-ingress-egress-policy")
    );
    assert_eq!(code_name(1, 6), Some("reject-route-to-destination"));
    assert_eq!(code_name(1, 7), Some("error-in-source-routing-header"));
    assert_eq!(code_name(1, 9), None);
    assert_eq!(code_name(3, 0), Some("hop-limit-exceeded-in-transit"));
    assert_eq!(code_name(3, 1), Some("fragment-reassembly-time-exceeded"));
    assert_eq!(code_name(4, 10), Some("option-too-big"));
    assert_eq!(code_name(4, 11), None);
    assert_eq!(code_name(128, 0), Some("no-code"));
    assert_eq!(code_name(128, 1), None);
    assert_eq!(code_name(161, 2), Some("no-such-interface"));
    // Every code the enums name has a name here, and converts both ways.
    for c in 0..=255u8 {
        assert_eq!(u8::from(DstUnreachableCode::from(c)), c);
        assert_eq!(u8::from(ParamProblemCode::from(c)), c);
        assert_eq!(u8::from(TimeExceededCode::from(c)), c);
        assert_eq!(u8::from(ExtendedEchoCode::from(c)), c);
        assert_eq!(
            !matches!(DstUnreachableCode::from(c), DstUnreachableCode::Unknown(_)),
            code_name(1, c).is_some()
        );
        assert_eq!(
            !matches!(ParamProblemCode::from(c), ParamProblemCode::Unknown(_)),
            code_name(4, c).is_some()
        );
    }
}

#[test]
fn tcpdump_like_lines() {
    let data = [0u8; 56];
    let quoted = [0u8; 1232];
    let target: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let records = [MldRecord {
        record_type: 4,
        multicast_address: "ff02::fb".parse().unwrap(),
        sources: Ipv6Addrs::EMPTY,
        aux_data: &[],
    }];
    let cases: Vec<(Repr<'_>, &str)> = vec![
        (
            Repr::EchoRequest {
                id: 4660,
                sequence: 1,
                data: &data,
            },
            "ICMP6, echo request, id 4660, seq 1, length 64",
        ),
        (
            Repr::EchoReply {
                id: 1,
                sequence: 2,
                data: &[],
            },
            "ICMP6, echo reply, id 1, seq 2, length 8",
        ),
        (
            Repr::PacketTooBig {
                mtu: 1280,
                original: &quoted,
            },
            "ICMP6, packet too big, mtu 1280, length 1240",
        ),
        (
            Repr::NeighborSolicit {
                target,
                options: NdpOptions::new(&[]),
            },
            "ICMP6, neighbor solicitation, who has 2001:db8::1, length 24",
        ),
        (
            Repr::NeighborAdvert {
                flags: NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
                target,
                options: NdpOptions::EMPTY,
            },
            "ICMP6, neighbor advertisement, tgt is 2001:db8::1, Flags [solicited, override], length 24",
        ),
        (
            Repr::DstUnreachable {
                code: DstUnreachableCode::PortUnreachable,
                body: ErrorBody::new(&[]),
            },
            "ICMP6, destination unreachable, unreachable port, length 8",
        ),
        (
            Repr::TimeExceeded {
                code: TimeExceededCode::HopLimitExceeded,
                body: ErrorBody::new(&[]),
            },
            "ICMP6, time exceeded in-transit, length 8",
        ),
        (
            Repr::ParamProblem {
                code: ParamProblemCode::ErroneousHeaderField,
                pointer: 40,
                original: &[],
            },
            "ICMP6, parameter problem, erroneous - octet 40, length 8",
        ),
        (
            Repr::RouterAdvert {
                hop_limit: 64,
                flags: RouterFlags::MANAGED,
                router_lifetime: 1800,
                reachable_time: 0,
                retrans_time: 0,
                options: NdpOptions::EMPTY,
            },
            "ICMP6, router advertisement, hop limit 64, Flags [managed], pref medium, router lifetime 1800s, reachable time 0ms, retrans timer 0ms, length 16",
        ),
        (
            Repr::Redirect {
                target: "fe80::1".parse().unwrap(),
                destination: target,
                options: NdpOptions::EMPTY,
            },
            "ICMP6, redirect, 2001:db8::1 to fe80::1, length 40",
        ),
        (
            Repr::Mldv2Report {
                records: MldRecords::new(&records),
            },
            "ICMP6, multicast listener report v2, 1 group record(s) [gaddr ff02::fb to_ex, 0 source(s)], length 28",
        ),
        (
            Repr::ExtendedEchoReply {
                code: ExtendedEchoCode::NoError,
                id: 1,
                sequence: 2,
                state: 2,
                active: true,
                ipv4: false,
                ipv6: true,
            },
            "ICMP6, extended echo reply, id 1, seq 2, state reachable, Flags [active, ipv6], length 8",
        ),
        (
            Repr::Unknown {
                msg_type: 139,
                code: 0,
                rest_of_header: 0,
                data: &[],
            },
            "ICMP6, node information query, code 0, length 8",
        ),
        (
            Repr::Unknown {
                msg_type: 250,
                code: 3,
                rest_of_header: 0,
                data: &[1],
            },
            "ICMP6, unknown icmp6 type (250), code 3, length 9",
        ),
    ];
    for (repr, line) in cases {
        assert_eq!(repr.to_string(), line);
    }
}

/// An IPv6 header + UDP header to 2001:db8::99 port 33435, as quoted.
fn quoted_udp() -> Vec<u8> {
    let mut q = vec![0x60, 0, 0, 0, 0, 8, 17, 1];
    q.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    q.extend_from_slice(&"2001:db8::99".parse::<Ipv6Addr>().unwrap().octets());
    q.extend_from_slice(&[0x82, 0x9a, 0x82, 0x9b, 0, 8, 0, 0]);
    q
}

#[test]
fn errors_name_the_quoted_target_and_extensions() {
    let q = quoted_udp();
    let unreachable = Repr::DstUnreachable {
        code: DstUnreachableCode::PortUnreachable,
        body: ErrorBody::new(&q),
    };
    assert_eq!(
        unreachable.to_string(),
        "ICMP6, destination unreachable, unreachable port, 2001:db8::99 udp port 33435, length 56"
    );
    let mut original = q.clone();
    original.resize(128, 0);
    let entries = [MplsEntry {
        label: 16_001,
        tc: 0,
        s: true,
        ttl: 1,
    }];
    let objects = [Object::Mpls(MplsStack::from_entries(&entries))];
    let expired = Repr::TimeExceeded {
        code: TimeExceededCode::HopLimitExceeded,
        body: ErrorBody::with_extensions(&original, Extensions::from_objects(&objects)),
    };
    let line = expired.to_string();
    // The quoted packet names the probe in every unreachable code.
    for (code, words) in [
        (
            DstUnreachableCode::NoRoute,
            "unreachable route 2001:db8::99",
        ),
        (
            DstUnreachableCode::AdminProhibited,
            "unreachable prohibited 2001:db8::99",
        ),
        (
            DstUnreachableCode::BeyondScope,
            "beyond scope 2001:db8::99, source address 2001:db8::1",
        ),
        (
            DstUnreachableCode::AddressUnreachable,
            "unreachable address 2001:db8::99",
        ),
        (
            DstUnreachableCode::FailedPolicy,
            "source address failed ingress egress policy 2001:db8::99",
        ),
        (
            DstUnreachableCode::RejectRoute,
            "reject route to destination 2001:db8::99",
        ),
        (
            DstUnreachableCode::SourceRoutingHeader,
            "error in source routing header 2001:db8::99",
        ),
        (
            DstUnreachableCode::HeadersTooLong,
            "headers too long 2001:db8::99",
        ),
        (
            DstUnreachableCode::Unknown(9),
            "unknown unreach code (9) 2001:db8::99",
        ),
    ] {
        let repr = Repr::DstUnreachable {
            code,
            body: ErrorBody::new(&q),
        };
        assert_eq!(
            repr.to_string(),
            format!("ICMP6, destination unreachable, {words}, length 56")
        );
    }
    let reassembly = Repr::TimeExceeded {
        code: TimeExceededCode::FragReassemblyExceeded,
        body: ErrorBody::new(&q),
    };
    assert_eq!(
        reassembly.to_string(),
        "ICMP6, time exceeded in-transit (reassembly), length 56"
    );
    assert!(
        line.starts_with("ICMP6, time exceeded in-transit for 2001:db8::99, "),
        "{line}"
    );
    assert!(line.contains("16001"), "MPLS label shown: {line}");
    assert!(line.ends_with(", length 148"), "{line}");

    let objects = [Object::InterfaceId(InterfaceId::Name(b"eth0"))];
    let request = Repr::ExtendedEchoRequest {
        id: 1,
        sequence: 2,
        local: true,
        extensions: Some(Extensions::from_objects(&objects)),
    };
    let line = request.to_string();
    assert!(
        line.starts_with("ICMP6, extended echo request, id 1, seq 2, local, interface "),
        "{line}"
    );
    assert!(line.contains("eth0"), "{line}");
}
