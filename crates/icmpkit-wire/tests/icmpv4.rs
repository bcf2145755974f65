//! ICMPv4: every type round-trips (emit then parse is equal, checksum
//! verifies), and its names, Display and JSON shape.

use std::net::{IpAddr, Ipv4Addr};

use icmpkit_wire::extension::{
    ErrorBody, Extensions, InterfaceId, InterfaceInfo, InterfaceRole, MplsEntry, MplsStack, Object,
};
use icmpkit_wire::icmpv4::{self, Packet, Repr, RouterEntries, RouterEntry};
use icmpkit_wire::ip::ipv4;

/// A quoted UDP probe to 198.51.100.7:33434 with TTL 1 (IP header and 8
/// bytes, as routers quote).
fn quoted_udp() -> Vec<u8> {
    let ip = ipv4::Repr {
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(198, 51, 100, 7),
        protocol: 17,
        ttl: 1,
        ident: 7,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        dscp: 0,
        ecn: 0,
        options: &[],
        payload_len: 40,
    };
    let mut buf = vec![0u8; 28];
    ip.emit(&mut buf).unwrap();
    buf[20..28].copy_from_slice(&[0x9c, 0x40, 0x82, 0x9a, 0x00, 0x28, 0x12, 0x34]);
    buf
}

fn round_trip(repr: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
    let packet = Packet::new_checked(&buf[..]).unwrap();
    assert!(packet.verify_checksum(), "{repr:?}");
    assert_eq!(packet.msg_type(), repr.msg_type());
    assert_eq!(packet.msg_code(), repr.code());
    assert_eq!(&Repr::parse(&packet).unwrap(), repr);
    assert!(matches!(
        repr.emit(&mut buf[..repr.buffer_len() - 1]),
        Err(icmpkit_wire::Error::BufferTooSmall { .. })
    ));
    buf
}

const STACK: [MplsEntry; 2] = [
    MplsEntry {
        label: 24001,
        tc: 0,
        s: false,
        ttl: 1,
    },
    MplsEntry {
        label: 16,
        tc: 7,
        s: true,
        ttl: 254,
    },
];

#[test]
fn every_type_round_trips() {
    let original = quoted_udp();
    let padded = {
        let mut p = original.clone();
        p.resize(128, 0);
        p
    };
    let mpls = [Object::Mpls(MplsStack::from_entries(&STACK))];
    let info = [Object::InterfaceInfo(InterfaceInfo {
        role: InterfaceRole::IncomingInterface,
        if_index: Some(3),
        address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254))),
        name: Some(b"eth1"),
        mtu: Some(1500),
    })];
    let ident = [Object::InterfaceId(InterfaceId::Name(b"eth0"))];
    let routers = [
        RouterEntry {
            address: Ipv4Addr::new(192, 0, 2, 1),
            preference: 0,
        },
        RouterEntry {
            address: Ipv4Addr::new(192, 0, 2, 2),
            preference: -5,
        },
    ];
    let mut reprs = vec![
        Repr::EchoRequest {
            id: 1,
            sequence: 2,
            data: b"abc",
        },
        Repr::EchoReply {
            id: 0xffff,
            sequence: 0,
            data: &[],
        },
        Repr::SourceQuench {
            original: &original,
        },
        Repr::Redirect {
            code: icmpv4::redirect::HOST.into(),
            gateway: Ipv4Addr::new(192, 0, 2, 254),
            original: &original,
        },
        Repr::RouterAdvert {
            code: 0.into(),
            lifetime: 1800,
            entries: RouterEntries::from_entries(&routers),
        },
        Repr::RouterSolicit,
        Repr::TimeExceeded {
            code: 0.into(),
            body: ErrorBody::with_extensions(&padded, Extensions::from_objects(&mpls)),
        },
        Repr::TimeExceeded {
            code: 1.into(),
            body: ErrorBody::new(&original),
        },
        Repr::ParamProblem {
            code: 0.into(),
            pointer: 20,
            body: ErrorBody::new(&original),
        },
        Repr::ParamProblem {
            code: 2.into(),
            pointer: 0,
            body: ErrorBody::with_extensions(&padded, Extensions::from_objects(&info)),
        },
        Repr::Timestamp {
            reply: false,
            id: 9,
            sequence: 1,
            originate: 1000,
            receive: 0,
            transmit: 0,
        },
        Repr::Timestamp {
            reply: true,
            id: 9,
            sequence: 1,
            originate: 1000,
            receive: 1001,
            transmit: 1002,
        },
        Repr::Information {
            reply: false,
            id: 1,
            sequence: 1,
        },
        Repr::Information {
            reply: true,
            id: 1,
            sequence: 1,
        },
        Repr::AddressMask {
            reply: false,
            id: 3,
            sequence: 4,
            mask: Ipv4Addr::UNSPECIFIED,
        },
        Repr::AddressMask {
            reply: true,
            id: 3,
            sequence: 4,
            mask: Ipv4Addr::new(255, 255, 255, 0),
        },
        Repr::ExtendedEchoRequest {
            id: 5,
            sequence: 6,
            local: true,
            extensions: Some(Extensions::from_objects(&ident)),
        },
        Repr::ExtendedEchoRequest {
            id: 5,
            sequence: 7,
            local: false,
            extensions: None,
        },
        Repr::ExtendedEchoReply {
            code: 0.into(),
            id: 5,
            sequence: 6,
            state: 2,
            active: true,
            ipv4: true,
            ipv6: false,
        },
        Repr::ExtendedEchoReply {
            code: 2.into(),
            id: 5,
            sequence: 6,
            state: 0,
            active: false,
            ipv4: false,
            ipv6: false,
        },
        Repr::Unknown {
            msg_type: 200,
            code: 1,
            rest_of_header: 0xdeadbeef,
            data: b"xyz",
        },
        Repr::Unknown {
            msg_type: 8,
            code: 3,
            rest_of_header: 1,
            data: &[],
        },
    ];
    for code in 0..16 {
        reprs.push(Repr::DstUnreachable {
            code: code.into(),
            mtu: if code == 4 { 1400 } else { 0 },
            body: ErrorBody::new(&original),
        });
    }
    reprs.push(Repr::DstUnreachable {
        code: 1.into(),
        mtu: 0,
        body: ErrorBody::with_extensions(&padded, Extensions::from_objects(&info)),
    });
    for repr in &reprs {
        round_trip(repr);
    }
    // Every modelled type is covered.
    let mut seen: Vec<u8> = reprs.iter().map(Repr::msg_type).collect();
    seen.sort();
    seen.dedup();
    for t in 0..=255u8 {
        if icmpv4::type_name(t).is_some() {
            assert!(seen.contains(&t), "type {t} not covered");
        }
    }
}

#[test]
fn wire_layout_of_fields() {
    let bytes = round_trip(&Repr::DstUnreachable {
        code: 4.into(),
        mtu: 1400,
        body: ErrorBody::new(&[]),
    });
    assert_eq!(&bytes[..8], &[3, 4, bytes[2], bytes[3], 0, 0, 0x05, 0x78]);
    let bytes = round_trip(&Repr::ParamProblem {
        code: 0.into(),
        pointer: 9,
        body: ErrorBody::new(&[]),
    });
    assert_eq!(bytes[4], 9);
    let bytes = round_trip(&Repr::ExtendedEchoReply {
        code: 0.into(),
        id: 0x0102,
        sequence: 3,
        state: 2,
        active: true,
        ipv4: false,
        ipv6: true,
    });
    assert_eq!(&bytes[4..8], &[1, 2, 3, 0b0100_0101]); // state 2 (3 bits), A, 6
    let bytes = round_trip(&Repr::ExtendedEchoRequest {
        id: 1,
        sequence: 2,
        local: true,
        extensions: None,
    });
    assert_eq!(&bytes[4..8], &[0, 1, 2, 1]);
    let routers = [RouterEntry {
        address: Ipv4Addr::new(192, 0, 2, 1),
        preference: 7,
    }];
    let bytes = round_trip(&Repr::RouterAdvert {
        code: 0.into(),
        lifetime: 600,
        entries: RouterEntries::from_entries(&routers),
    });
    assert_eq!(&bytes[4..16], &[1, 2, 0x02, 0x58, 192, 0, 2, 1, 0, 0, 0, 7]);
}

#[test]
fn rfc4884_length_and_mpls_in_time_exceeded() {
    let original = quoted_udp();
    let mpls = [Object::Mpls(MplsStack::from_entries(&STACK))];
    let repr = Repr::TimeExceeded {
        code: 0.into(),
        body: ErrorBody::with_extensions(&original, Extensions::from_objects(&mpls)),
    };
    let bytes = round_trip_padded(&repr);
    assert_eq!(
        bytes[5], 32,
        "length in 32-bit words of the 128-byte original"
    );
    assert_eq!(bytes.len(), 8 + 128 + 4 + 4 + 8);
    let parsed = Repr::parse_bytes(&bytes).unwrap();
    let body = parsed.error_body().unwrap();
    assert_eq!(&body.original()[..28], &original[..]);
    let quoted = parsed.quoted().unwrap();
    assert_eq!(quoted.dst_port(), Some(33434));
    assert_eq!(
        parsed.to_string(),
        "ICMP time exceeded in-transit, MPLS label 24001, tc 0, s 0, ttl 1, MPLS label 16, tc 7, s 1, ttl 254"
    );
    // A pre-RFC 4884 sender (length 0) is still understood (§5).
    let mut old = bytes.clone();
    old[5] = 0;
    old[2..4].fill(0);
    let sum = icmpkit_wire::checksum::checksum(&old);
    old[2..4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        Repr::parse_bytes(&old)
            .unwrap()
            .error_body()
            .unwrap()
            .extensions(),
        body.extensions()
    );
}

/// Emits a repr whose body gets padded, and checks the result is stable.
fn round_trip_padded(repr: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut buf).unwrap();
    let parsed = Repr::parse_bytes(&buf).unwrap();
    let mut again = vec![0u8; parsed.buffer_len()];
    parsed.emit(&mut again).unwrap();
    assert_eq!(again, buf);
    buf
}

#[test]
fn display_like_tcpdump() {
    let original = quoted_udp();
    let cases: Vec<(Repr<'_>, &str)> = vec![
        (
            Repr::EchoRequest {
                id: 4660,
                sequence: 1,
                data: &[0; 56],
            },
            "ICMP echo request, id 4660, seq 1, length 64",
        ),
        (
            Repr::EchoReply {
                id: 1,
                sequence: 2,
                data: &[],
            },
            "ICMP echo reply, id 1, seq 2, length 8",
        ),
        (
            Repr::DstUnreachable {
                code: 1.into(),
                mtu: 0,
                body: ErrorBody::new(&original),
            },
            "ICMP host 198.51.100.7 unreachable",
        ),
        (
            Repr::DstUnreachable {
                code: 3.into(),
                mtu: 0,
                body: ErrorBody::new(&original),
            },
            "ICMP 198.51.100.7 udp port 33434 unreachable",
        ),
        (
            Repr::DstUnreachable {
                code: 4.into(),
                mtu: 1400,
                body: ErrorBody::new(&original),
            },
            "ICMP 198.51.100.7 unreachable - need to frag (mtu 1400)",
        ),
        (
            Repr::DstUnreachable {
                code: 13.into(),
                mtu: 0,
                body: ErrorBody::new(&[]),
            },
            "ICMP destination unreachable (communication administratively prohibited)",
        ),
        (
            Repr::TimeExceeded {
                code: 0.into(),
                body: ErrorBody::new(&original),
            },
            "ICMP time exceeded in-transit",
        ),
        (
            Repr::TimeExceeded {
                code: 1.into(),
                body: ErrorBody::new(&original),
            },
            "ICMP ip reassembly time exceeded",
        ),
        (
            Repr::Redirect {
                code: 1.into(),
                gateway: Ipv4Addr::new(192, 0, 2, 254),
                original: &original,
            },
            "ICMP redirect 198.51.100.7 to host 192.0.2.254",
        ),
        (
            Repr::ParamProblem {
                code: 0.into(),
                pointer: 20,
                body: ErrorBody::new(&[]),
            },
            "ICMP parameter problem - octet 20",
        ),
        (
            Repr::AddressMask {
                reply: true,
                id: 0,
                sequence: 0,
                mask: Ipv4Addr::new(255, 255, 255, 0),
            },
            "ICMP address mask is 255.255.255.0",
        ),
        (
            Repr::ExtendedEchoReply {
                code: 0.into(),
                id: 1,
                sequence: 1,
                state: 2,
                active: true,
                ipv4: true,
                ipv6: false,
            },
            "ICMP extended echo reply, id 1, seq 1, state reachable, active, ipv4",
        ),
        (
            Repr::Unknown {
                msg_type: 99,
                code: 0,
                rest_of_header: 0,
                data: &[1, 2],
            },
            "ICMP type-#99, code 0, length 10",
        ),
    ];
    for (repr, want) in cases {
        assert_eq!(repr.to_string(), want);
    }
}

#[test]
fn unknown_codes_and_types_are_kept_raw() {
    // Echo request with code 1 is not a modelled echo: kept whole.
    let bytes = [8, 1, 0, 0, 0, 1, 0, 2, 0xaa];
    assert_eq!(
        Repr::parse_bytes(&bytes).unwrap(),
        Repr::Unknown {
            msg_type: 8,
            code: 1,
            rest_of_header: 0x0001_0002,
            data: &[0xaa]
        }
    );
    let bytes = [3, 99, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        Repr::parse_bytes(&bytes).unwrap(),
        Repr::DstUnreachable {
            code: icmpv4::DstUnreachableCode::Unknown(99),
            ..
        }
    ));
    assert_eq!(icmpv4::code_name(3, 99), None);
}

#[test]
fn short_modelled_types_are_errors_not_panics() {
    assert!(Repr::parse_bytes(&[13, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]).is_err());
    assert!(Repr::parse_bytes(&[17, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(Repr::parse_bytes(&[9, 0, 0, 0, 2, 2, 0, 30, 192, 0, 2, 1]).is_err());
    assert!(Repr::parse_bytes(&[9, 0, 0, 0, 1, 1, 0, 30, 192, 0, 2, 1, 0, 0, 0, 0]).is_err());
    assert!(Repr::parse_bytes(&[42, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]).is_err());
    assert!(Repr::parse_bytes(&[8, 0, 0]).is_err());
}

#[test]
fn extended_echo_request_carries_interface_identification() {
    let addr = [192u8, 0, 2, 77];
    let objects = [Object::InterfaceId(InterfaceId::Address {
        afi: 1,
        address: &addr,
    })];
    let repr = Repr::ExtendedEchoRequest {
        id: 7,
        sequence: 1,
        local: false,
        extensions: Some(Extensions::from_objects(&objects)),
    };
    let bytes = round_trip(&repr);
    let parsed = Repr::parse_bytes(&bytes).unwrap();
    let id = parsed.interface_id().unwrap();
    assert_eq!(id.ip(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77))));
    assert_eq!(
        parsed.to_string(),
        "ICMP extended echo request, id 7, seq 1, interface 192.0.2.77"
    );
}

#[test]
fn json_is_a_flat_map_of_own_fields() {
    let original = quoted_udp();
    let json = |r: &Repr<'_>| serde_json::to_value(r).unwrap();
    assert_eq!(
        json(&Repr::EchoRequest {
            id: 1,
            sequence: 2,
            data: &[0xde, 0xad]
        }),
        serde_json::json!({"id": 1, "sequence": 2, "data": "dead"})
    );
    assert_eq!(
        json(&Repr::Timestamp {
            reply: true,
            id: 1,
            sequence: 2,
            originate: 3,
            receive: 4,
            transmit: 5
        }),
        serde_json::json!({"id": 1, "sequence": 2, "originate": 3, "receive": 4, "transmit": 5})
    );
    assert_eq!(
        json(&Repr::AddressMask {
            reply: true,
            id: 1,
            sequence: 2,
            mask: Ipv4Addr::new(255, 255, 0, 0)
        }),
        serde_json::json!({"id": 1, "sequence": 2, "address_mask": "255.255.0.0"})
    );
    let mpls = [Object::Mpls(MplsStack::from_entries(&STACK))];
    let v = json(&Repr::DstUnreachable {
        code: 4.into(),
        mtu: 1400,
        body: ErrorBody::with_extensions(&original, Extensions::from_objects(&mpls)),
    });
    assert_eq!(v["mtu"], 1400);
    assert_eq!(v["quoted"]["dst"], "198.51.100.7");
    assert_eq!(
        v["quoted"]["transport"],
        serde_json::json!({"kind": "udp", "src_port": 40000, "dst_port": 33434, "length": 40, "checksum": 0x1234})
    );
    assert_eq!(v["extensions"]["checksum"], "valid");
    assert_eq!(
        v["extensions"]["objects"][0],
        serde_json::json!({"object": "mpls-label-stack", "entries": [
            {"label": 24001, "tc": 0, "s": false, "ttl": 1},
            {"label": 16, "tc": 7, "s": true, "ttl": 254}
        ]})
    );
    let v = json(&Repr::Redirect {
        code: 0.into(),
        gateway: Ipv4Addr::new(192, 0, 2, 1),
        original: &original,
    });
    assert_eq!(v["gateway"], "192.0.2.1");
    let v = json(&Repr::ParamProblem {
        code: 0.into(),
        pointer: 12,
        body: ErrorBody::new(&original),
    });
    assert_eq!(v["pointer"], 12);
    let v = json(&Repr::Unknown {
        msg_type: 77,
        code: 0,
        rest_of_header: 5,
        data: b"\x01",
    });
    assert_eq!(v, serde_json::json!({"rest_of_header": 5, "data": "01"}));
}
