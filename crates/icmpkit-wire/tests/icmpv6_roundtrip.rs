//! Every ICMPv6 type and NDP option kind: emit → parse gives the same
//! `Repr`, lengths are right and the pseudo-header checksum verifies.

use core::net::Ipv6Addr;

use icmpkit_wire::checksum;
use icmpkit_wire::extension::{ErrorBody, Extensions, InterfaceId, MplsEntry, MplsStack, Object};
use icmpkit_wire::icmpv6::{
    DstUnreachableCode, ExtendedEchoCode, Ipv6Addrs, MldRecord, MldRecords, NdpOption, NdpOptions,
    NeighborFlags, Packet, ParamProblemCode, PrefixInfo, Repr, RouterFlags, TimeExceededCode,
};

const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const MAC: &[u8] = &[0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];

/// Emits `repr`, checks length and checksum, parses it back and compares;
/// returns the bytes.
fn round_trip(repr: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0xaa; repr.buffer_len() + 7];
    let len = repr.emit(&SRC, &DST, &mut buf).expect("emit");
    assert_eq!(len, repr.buffer_len());
    buf.truncate(len);
    // Nothing of the buffer's old content may leak into the message.
    let mut clean = vec![0; len];
    repr.emit(&SRC, &DST, &mut clean).unwrap();
    assert_eq!(buf, clean, "emit depends on the buffer's old content");
    assert!(
        checksum::verify_icmpv6(&SRC, &DST, &buf),
        "checksum of {repr:?}"
    );
    let packet = Packet::new_checked(&buf[..]).expect("new_checked");
    assert!(packet.verify_checksum(&SRC, &DST));
    assert!(!packet.verify_checksum(&DST, &Ipv6Addr::LOCALHOST));
    assert_eq!(packet.msg_type(), repr.msg_type());
    assert_eq!(packet.msg_code(), repr.code());
    assert_eq!(Repr::parse(&packet).expect("parse"), *repr);
    buf
}

/// A quoted IPv6 header + 8 bytes of UDP, as errors carry.
fn quoted() -> Vec<u8> {
    let mut q = vec![0x60, 0, 0, 0, 0, 8, 17, 1];
    q.extend_from_slice(&DST.octets());
    q.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 99).octets());
    q.extend_from_slice(&[0x82, 0x9a, 0x82, 0x9b, 0, 8, 0, 0]);
    q
}

#[test]
fn echo_request_and_reply() {
    let data: Vec<u8> = (0..56).collect();
    let bytes = round_trip(&Repr::EchoRequest {
        id: 0x1234,
        sequence: 1,
        data: &data,
    });
    assert_eq!(&bytes[..2], &[128, 0]);
    assert_eq!(&bytes[4..8], &[0x12, 0x34, 0, 1]);
    assert_eq!(&bytes[8..], &data[..]);
    round_trip(&Repr::EchoReply {
        id: 0xffff,
        sequence: 0xfffe,
        data: &[],
    });
}

#[test]
fn destination_unreachable_every_code() {
    let q = quoted();
    for code in 0..=8u8 {
        let code = DstUnreachableCode::from(code);
        assert!(!matches!(code, DstUnreachableCode::Unknown(_)), "{code:?}");
        let bytes = round_trip(&Repr::DstUnreachable {
            code,
            body: ErrorBody::new(&q),
        });
        assert_eq!(bytes[1], u8::from(code));
    }
    round_trip(&Repr::DstUnreachable {
        code: DstUnreachableCode::Unknown(200),
        body: ErrorBody::new(&q),
    });
}

#[test]
fn packet_too_big_time_exceeded_param_problem() {
    let q = quoted();
    let bytes = round_trip(&Repr::PacketTooBig {
        mtu: 1280,
        original: &q,
    });
    assert_eq!(&bytes[4..8], &1280u32.to_be_bytes());
    for code in [
        TimeExceededCode::HopLimitExceeded,
        TimeExceededCode::FragReassemblyExceeded,
    ] {
        round_trip(&Repr::TimeExceeded {
            code,
            body: ErrorBody::new(&q),
        });
    }
    for code in 0..=10u8 {
        let code = ParamProblemCode::from(code);
        assert!(!matches!(code, ParamProblemCode::Unknown(_)));
        let bytes = round_trip(&Repr::ParamProblem {
            code,
            pointer: 40,
            original: &q,
        });
        assert_eq!(&bytes[4..8], &[0, 0, 0, 40]);
    }
}

#[test]
fn router_solicitation_and_advertisement() {
    let rs_options = [NdpOption::SourceLinkLayerAddr(MAC)];
    let bytes = round_trip(&Repr::RouterSolicit {
        options: NdpOptions::new(&rs_options),
    });
    assert_eq!(bytes.len(), 16);
    assert_eq!(&bytes[8..10], &[1, 1], "type 1, length one 8-byte unit");

    let servers = [
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 53),
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 53),
    ];
    let prefix = PrefixInfo {
        prefix_len: 64,
        on_link: true,
        autonomous: true,
        router_address: false,
        valid_lifetime: 2_592_000,
        preferred_lifetime: 604_800,
        prefix: Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0),
    };
    let options = [
        NdpOption::SourceLinkLayerAddr(MAC),
        NdpOption::Mtu(1500),
        NdpOption::PrefixInformation(prefix),
        NdpOption::Rdnss {
            lifetime: 600,
            servers: Ipv6Addrs::new(&servers),
        },
        NdpOption::Unknown {
            kind: 24,
            data: &[48, 0x08, 0, 0, 0x0e, 0x10],
        },
    ];
    let ra = Repr::RouterAdvert {
        hop_limit: 64,
        flags: RouterFlags::MANAGED | RouterFlags::OTHER | RouterFlags(0x08),
        router_lifetime: 1800,
        reachable_time: 30_000,
        retrans_time: 1000,
        options: NdpOptions::new(&options),
    };
    let bytes = round_trip(&ra);
    assert_eq!(bytes.len(), 16 + 8 + 8 + 32 + 40 + 8);
    assert_eq!(&bytes[4..8], &[64, 0xc8, 0x07, 0x08]);
    // RDNSS with two servers: length 1 + 2*2 = 5 units.
    assert_eq!(&bytes[64..66], &[25, 5]);
    let parsed = Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
    let Repr::RouterAdvert { flags, options, .. } = parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(flags.preference_name(), "high");
    assert_eq!(options.source_link_layer_addr(), Some(MAC));
    assert_eq!(options.iter().count(), 5);
    assert!(options.iter().all(|o| o.is_ok()));
}

#[test]
fn neighbor_solicitation_advertisement_redirect() {
    let target = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42);
    let ns_options = [NdpOption::SourceLinkLayerAddr(MAC)];
    let bytes = round_trip(&Repr::NeighborSolicit {
        target,
        options: NdpOptions::new(&ns_options),
    });
    assert_eq!(bytes.len(), 32);
    assert_eq!(&bytes[8..24], &target.octets());
    round_trip(&Repr::NeighborSolicit {
        target,
        options: NdpOptions::EMPTY,
    });

    let na_options = [NdpOption::TargetLinkLayerAddr(MAC)];
    let flags = NeighborFlags::ROUTER | NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE;
    let bytes = round_trip(&Repr::NeighborAdvert {
        flags,
        target,
        options: NdpOptions::new(&na_options),
    });
    assert_eq!(bytes[4], 0xe0);
    assert_eq!(&bytes[24..26], &[2, 1]);

    // The redirected header carries 40 bytes of IPv6 header + 6 of data:
    // 8 + 46 = 54 bytes, padded to 56 (7 units).
    let mut redirected = quoted();
    redirected.truncate(46);
    let options = [
        NdpOption::TargetLinkLayerAddr(MAC),
        NdpOption::RedirectedHeader(&redirected),
    ];
    let redirect = Repr::Redirect {
        target: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        destination: target,
        options: NdpOptions::new(&options),
    };
    let mut buf = vec![0; redirect.buffer_len()];
    redirect.emit(&SRC, &DST, &mut buf).unwrap();
    assert_eq!(buf.len(), 40 + 8 + 56);
    assert_eq!(&buf[48..50], &[4, 7]);
    assert_eq!(&buf[50..56], &[0; 6], "reserved");
    assert_eq!(&buf[56 + 46..], &[0, 0], "padding");
    let parsed = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
    let Repr::Redirect { options, .. } = parsed else {
        panic!()
    };
    let items: Vec<_> = options.iter().map(Result::unwrap).collect();
    // Padding becomes part of the option's data on the wire.
    let mut padded = redirected.clone();
    padded.extend_from_slice(&[0, 0]);
    assert_eq!(
        items,
        [
            NdpOption::TargetLinkLayerAddr(MAC),
            NdpOption::RedirectedHeader(&padded)
        ]
    );

    // With data already a multiple of 8 the round trip is exact.
    let exact = &quoted()[..48];
    let options = [NdpOption::RedirectedHeader(exact)];
    round_trip(&Repr::Redirect {
        target,
        destination: DST,
        options: NdpOptions::new(&options),
    });
}

#[test]
fn mldv1_query_report_done() {
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
    let bytes = round_trip(&Repr::MldQuery {
        max_response_delay: 10_000,
        multicast_address: Ipv6Addr::UNSPECIFIED,
    });
    assert_eq!(bytes.len(), 24);
    assert_eq!(&bytes[4..6], &10_000u16.to_be_bytes());
    let bytes = round_trip(&Repr::MldReport {
        multicast_address: group,
    });
    assert_eq!((bytes[0], bytes.len()), (131, 24));
    let bytes = round_trip(&Repr::MldDone {
        multicast_address: group,
    });
    assert_eq!((bytes[0], &bytes[8..24]), (132, &group.octets()[..]));
}

#[test]
fn mldv2_query_and_report() {
    let sources = [
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 8),
    ];
    let group = Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0, 0x1234);
    let query = Repr::Mldv2Query {
        max_response_code: 0x8123,
        multicast_address: group,
        suppress_router_processing: true,
        qrv: 2,
        qqic: 125,
        sources: Ipv6Addrs::new(&sources),
    };
    let bytes = round_trip(&query);
    assert_eq!(bytes.len(), 28 + 32);
    assert_eq!(&bytes[24..28], &[0x0a, 125, 0, 2]);
    round_trip(&Repr::Mldv2Query {
        max_response_code: 1000,
        multicast_address: Ipv6Addr::UNSPECIFIED,
        suppress_router_processing: false,
        qrv: 7,
        qqic: 0xff,
        sources: Ipv6Addrs::EMPTY,
    });

    let records = [
        MldRecord {
            record_type: 1,
            multicast_address: group,
            sources: Ipv6Addrs::new(&sources),
            aux_data: &[],
        },
        MldRecord {
            record_type: 4,
            multicast_address: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb),
            sources: Ipv6Addrs::EMPTY,
            aux_data: &[1, 2, 3, 4],
        },
    ];
    let report = Repr::Mldv2Report {
        records: MldRecords::new(&records),
    };
    let bytes = round_trip(&report);
    assert_eq!(bytes.len(), 8 + (20 + 32) + (20 + 4));
    assert_eq!(&bytes[6..8], &[0, 2], "number of records");
    assert_eq!(&bytes[8..12], &[1, 0, 0, 2]);
    assert_eq!(&bytes[60..64], &[4, 1, 0, 0]);
    let parsed = Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
    let Repr::Mldv2Report { records: parsed } = parsed else {
        panic!()
    };
    let collected: Vec<_> = parsed.iter().collect();
    assert_eq!(collected, records);
    assert_eq!(collected[0].sources.iter().collect::<Vec<_>>(), sources);
}

#[test]
fn extended_echo_request_and_reply() {
    // An interface identification object naming "eth0" (RFC 8335 §2.1).
    let objects = [Object::InterfaceId(InterfaceId::Name(b"eth0"))];
    let request = Repr::ExtendedEchoRequest {
        id: 7,
        sequence: 9,
        local: true,
        extensions: Some(Extensions::from_objects(&objects)),
    };
    let bytes = round_trip(&request);
    assert_eq!(&bytes[..2], &[160, 0]);
    assert_eq!(&bytes[4..8], &[0, 7, 9, 1]);
    assert_eq!(&bytes[8..9], &[0x20], "extension version 2");
    assert_eq!(&bytes[12..20], &[0, 8, 3, 1, b'e', b't', b'h', b'0']);
    let parsed = Repr::parse_bytes(&bytes).unwrap();
    assert_eq!(parsed.interface_id(), Some(InterfaceId::Name(b"eth0")));
    round_trip(&Repr::ExtendedEchoRequest {
        id: 1,
        sequence: 0,
        local: false,
        extensions: None,
    });
    for code in 0..=5u8 {
        let reply = Repr::ExtendedEchoReply {
            code: ExtendedEchoCode::from(code),
            id: 7,
            sequence: 9,
            state: 2,
            active: true,
            ipv4: false,
            ipv6: true,
        };
        let bytes = round_trip(&reply);
        assert_eq!(&bytes[4..8], &[0, 7, 9, 0x45]);
    }
}

#[test]
fn unknown_types_and_codes_kept_raw() {
    round_trip(&Repr::Unknown {
        msg_type: 139,
        code: 0,
        rest_of_header: 0x0003_0000,
        data: b"nonce...",
    });
    let bytes = round_trip(&Repr::Unknown {
        msg_type: 255,
        code: 9,
        rest_of_header: 0x0102_0304,
        data: &[],
    });
    assert_eq!(bytes, [255, 9, bytes[2], bytes[3], 1, 2, 3, 4]);
    // An echo request with a non-zero code is not an echo request.
    let bytes = round_trip(&Repr::Unknown {
        msg_type: 128,
        code: 1,
        rest_of_header: 0x0001_0002,
        data: b"x",
    });
    assert_eq!(&bytes[..2], &[128, 1]);
    // A neighbor solicitation with a bad code keeps all its bytes, even
    // when shorter than a real one.
    round_trip(&Repr::Unknown {
        msg_type: 135,
        code: 3,
        rest_of_header: 0,
        data: &[9; 4],
    });
}

#[test]
fn ndp_option_kinds_each_round_trip_alone() {
    let servers = [Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 53)];
    let prefix = PrefixInfo {
        prefix_len: 48,
        on_link: false,
        autonomous: true,
        router_address: true,
        valid_lifetime: u32::MAX,
        preferred_lifetime: 0,
        prefix: Ipv6Addr::new(0x2001, 0xdb8, 0xab, 0, 0, 0, 0, 0),
    };
    let redirected = [0x60; 24];
    let kinds = [
        (NdpOption::SourceLinkLayerAddr(MAC), 8),
        (NdpOption::TargetLinkLayerAddr(MAC), 8),
        (NdpOption::PrefixInformation(prefix), 32),
        (NdpOption::RedirectedHeader(&redirected), 32),
        (NdpOption::Mtu(9000), 8),
        (
            NdpOption::Rdnss {
                lifetime: 0,
                servers: Ipv6Addrs::new(&servers),
            },
            24,
        ),
        (
            NdpOption::Unknown {
                kind: 14,
                data: &[1, 2, 3, 4, 5, 6],
            },
            8,
        ),
    ];
    for (option, len) in kinds {
        assert_eq!(option.buffer_len(), len, "{option:?}");
        let list = [option];
        let bytes = round_trip(&Repr::RouterSolicit {
            options: NdpOptions::new(&list),
        });
        assert_eq!(usize::from(bytes[9]) * 8, len);
    }
}

#[test]
fn errors_with_rfc4884_extensions() {
    // RFC 4884: the original datagram is padded to 128 bytes and the length
    // field (byte 4 in ICMPv6, unlike ICMPv4's byte 5) counts 64-bit words.
    let mut original = quoted();
    original.resize(128, 0);
    let entries = [MplsEntry {
        label: 16_001,
        tc: 0,
        s: true,
        ttl: 1,
    }];
    let objects = [Object::Mpls(MplsStack::from_entries(&entries))];
    let body = ErrorBody::with_extensions(&original, Extensions::from_objects(&objects));
    for repr in [
        Repr::TimeExceeded {
            code: TimeExceededCode::HopLimitExceeded,
            body,
        },
        Repr::DstUnreachable {
            code: DstUnreachableCode::AddressUnreachable,
            body,
        },
    ] {
        let bytes = round_trip(&repr);
        assert_eq!(bytes[4], 16, "128 bytes = 16 words of 8");
        assert_eq!(&bytes[5..8], &[0, 0, 0]);
        assert_eq!(
            bytes[8 + 128] >> 4,
            2,
            "extension version after the original datagram"
        );
        let parsed = Repr::parse_bytes(&bytes).unwrap();
        let body = parsed.error_body().unwrap();
        assert_eq!(body.original().len(), 128);
        let objects: Vec<_> = body.extensions().unwrap().objects().collect();
        assert_eq!(objects.len(), 1);
        let Ok(Object::Mpls(stack)) = objects[0] else {
            panic!("{objects:?}")
        };
        assert_eq!(stack.entries().next().unwrap().label, 16_001);
        let quoted = parsed.quoted().unwrap();
        assert_eq!(
            quoted.dst,
            core::net::IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 99))
        );
        assert_eq!(quoted.dst_port(), Some(33435));
    }
    // A short original is padded to 128 bytes on emit.
    let short = quoted();
    let padded = Repr::TimeExceeded {
        code: TimeExceededCode::HopLimitExceeded,
        body: ErrorBody::with_extensions(&short, Extensions::from_objects(&objects)),
    };
    let mut buf = vec![0; padded.buffer_len()];
    padded.emit(&SRC, &DST, &mut buf).unwrap();
    assert_eq!(buf[4], 16);
    assert!(checksum::verify_icmpv6(&SRC, &DST, &buf));
    assert_eq!(&buf[8..8 + short.len()], &short[..]);
    assert!(buf[8 + short.len()..8 + 128].iter().all(|&b| b == 0));
}

#[test]
fn error_accessors() {
    let q = quoted();
    let ptb = Repr::PacketTooBig {
        mtu: 1280,
        original: &q,
    };
    assert!(ptb.is_error());
    assert_eq!(ptb.error_body().unwrap().original(), &q[..]);
    assert_eq!(ptb.quoted().unwrap().protocol, 17);
    assert!(
        Repr::EchoRequest {
            id: 1,
            sequence: 1,
            data: &[]
        }
        .error_body()
        .is_none()
    );
}
