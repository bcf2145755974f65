//! No input makes the ICMPv6 parser panic, and whatever parses re-emits
//! and re-parses to the same thing.

use core::net::Ipv6Addr;

use icmpkit_wire::checksum;
use icmpkit_wire::extension::{ErrorBody, Extensions, InterfaceId, MplsEntry, MplsStack, Object};
use icmpkit_wire::icmpv6::{
    Ipv6Addrs, MldRecord, MldRecords, NdpOption, NdpOptions, Packet, PrefixInfo, Repr, RouterFlags,
    TimeExceededCode,
};
use proptest::prelude::*;

const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Parses `bytes`; when that works, checks emit → parse stability and
/// that every lazy part (options, records, sources) can be walked.
fn check(bytes: &[u8]) {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return;
    };
    let _ = (
        packet.payload(),
        packet.mtu(),
        packet.target_addr(),
        packet.destination_addr(),
    );
    let Ok(repr) = Repr::parse(&packet) else {
        return;
    };
    let _ = repr.to_string();
    walk(&repr);
    if let Some(body) = repr.error_body() {
        let _ = body.quoted();
        if let Some(ext) = body.extensions() {
            ext.objects().for_each(drop);
        }
    }
    let _ = repr.interface_id();
    let mut out = vec![0; repr.buffer_len()];
    let len = repr
        .emit(&SRC, &DST, &mut out)
        .expect("a parsed message re-emits");
    assert_eq!(len, out.len());
    assert!(checksum::verify_icmpv6(&SRC, &DST, &out));
    let again = Repr::parse(&Packet::new_checked(&out[..]).expect("re-emitted is long enough"))
        .expect("re-parses");
    assert_eq!(again, repr);
}

fn walk(repr: &Repr<'_>) {
    match repr {
        Repr::RouterSolicit { options }
        | Repr::RouterAdvert { options, .. }
        | Repr::NeighborSolicit { options, .. }
        | Repr::NeighborAdvert { options, .. }
        | Repr::Redirect { options, .. } => {
            for option in options.iter().flatten() {
                if let NdpOption::Rdnss { servers, .. } = option {
                    assert_eq!(servers.iter().count(), servers.len());
                }
            }
        }
        Repr::Mldv2Report { records } => {
            assert_eq!(records.iter().count(), records.len());
            for record in records.iter() {
                assert_eq!(record.sources.iter().count(), record.sources.len());
            }
        }
        Repr::Mldv2Query { sources, .. } => assert_eq!(sources.iter().count(), sources.len()),
        _ => {}
    }
}

/// Valid messages of the kinds with variable parts, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let mac = [2u8, 0, 0x5e, 0, 0, 1];
    let servers = [Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 53)];
    let prefix = PrefixInfo {
        prefix_len: 64,
        on_link: true,
        autonomous: true,
        router_address: false,
        valid_lifetime: 86400,
        preferred_lifetime: 14400,
        prefix: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
    };
    let options = [
        NdpOption::SourceLinkLayerAddr(&mac),
        NdpOption::Mtu(1500),
        NdpOption::PrefixInformation(prefix),
        NdpOption::Rdnss {
            lifetime: 60,
            servers: Ipv6Addrs::new(&servers),
        },
    ];
    let records = [MldRecord {
        record_type: 2,
        multicast_address: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 3),
        sources: Ipv6Addrs::new(&servers),
        aux_data: &[0; 4],
    }];
    let quoted = [0x60u8; 48];
    let mut original = [0u8; 128];
    original[0] = 0x60;
    original[6] = 17;
    let ifid = [Object::InterfaceId(InterfaceId::Index(2))];
    let entries = [MplsEntry {
        label: 100,
        tc: 1,
        s: true,
        ttl: 1,
    }];
    let mpls = [Object::Mpls(MplsStack::from_entries(&entries))];
    let reprs = [
        Repr::EchoRequest {
            id: 1,
            sequence: 2,
            data: b"abcdefgh",
        },
        Repr::PacketTooBig {
            mtu: 1280,
            original: &quoted,
        },
        Repr::RouterAdvert {
            hop_limit: 64,
            flags: RouterFlags::MANAGED,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_time: 0,
            options: NdpOptions::new(&options),
        },
        Repr::Redirect {
            target: SRC,
            destination: DST,
            options: NdpOptions::new(&options[..1]),
        },
        Repr::Mldv2Report {
            records: MldRecords::new(&records),
        },
        Repr::Mldv2Query {
            max_response_code: 10000,
            multicast_address: DST,
            suppress_router_processing: false,
            qrv: 2,
            qqic: 125,
            sources: Ipv6Addrs::new(&servers),
        },
        Repr::ExtendedEchoRequest {
            id: 3,
            sequence: 4,
            local: false,
            extensions: Some(Extensions::from_objects(&ifid)),
        },
        Repr::TimeExceeded {
            code: TimeExceededCode::HopLimitExceeded,
            body: ErrorBody::with_extensions(&original, Extensions::from_objects(&mpls)),
        },
    ];
    let mut seeds: Vec<Vec<u8>> = reprs
        .iter()
        .map(|r| {
            let mut buf = vec![0; r.buffer_len()];
            r.emit(&SRC, &DST, &mut buf).unwrap();
            buf
        })
        .collect();
    // And what real kernels sent.
    for text in KERNEL_FIXTURES {
        let hex: String = text.lines().filter(|l| !l.starts_with('#')).collect();
        let packet = hex::decode(hex.trim()).unwrap();
        seeds.push(
            icmpkit_wire::ip::locate_icmp(&packet)
                .unwrap()
                .icmp
                .to_vec(),
        );
    }
    seeds
}

const KERNEL_FIXTURES: [&str; 6] = [
    include_str!("fixtures/icmpv6-packet-too-big.hex"),
    include_str!("fixtures/icmpv6-router-solicitation.hex"),
    include_str!("fixtures/icmpv6-dad-solicitation.hex"),
    include_str!("fixtures/icmpv6-neighbor-solicitation.hex"),
    include_str!("fixtures/icmpv6-neighbor-advertisement.hex"),
    include_str!("fixtures/icmpv6-mldv2-report.hex"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes);
    }

    #[test]
    fn random_bodies_of_every_known_type_never_panic(
        kind in prop::sample::select(vec![1u8, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143, 160, 161]),
        code in prop_oneof![Just(0u8), any::<u8>()],
        rest in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = vec![kind, code, 0, 0];
        bytes.extend_from_slice(&rest);
        check(&bytes);
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        seed in 0usize..14,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = seeds().swap_remove(seed);
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check(&bytes);
    }
}

#[test]
fn seeds_parse_as_built() {
    for bytes in seeds() {
        let repr = Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        assert!(!matches!(repr, Repr::Unknown { .. }), "{repr:?}");
        check(&bytes);
    }
}
