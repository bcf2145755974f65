//! Builders refuse field values the wire cannot hold (instead of masking
//! them, which would break `parse(emit(repr)) == repr`).

use std::net::{Ipv4Addr, Ipv6Addr};

use icmpkit_wire::Error;
use icmpkit_wire::extension::{MplsEntry, MplsStack, Object};
use icmpkit_wire::icmpv4;
use icmpkit_wire::icmpv6::{self, Ipv6Addrs, NdpOption};
use icmpkit_wire::ip::{ipv4, ipv6};

fn malformed<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    assert!(
        matches!(result, Err(Error::Malformed(_))),
        "{what}: {result:?}"
    );
}

fn ipv4_header(dscp: u8, ecn: u8, frag_offset: u16) -> ipv4::Repr<'static> {
    ipv4::Repr {
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(198, 51, 100, 7),
        protocol: ipv4::PROTOCOL_ICMP,
        ttl: 64,
        ident: 1,
        dont_frag: false,
        more_frags: false,
        frag_offset,
        dscp,
        ecn,
        options: &[],
        payload_len: 8,
    }
}

#[test]
fn ip_header_fields_beyond_their_bits_are_refused() {
    let mut buf = [0u8; 60];
    assert!(ipv4_header(63, 3, 1480).emit(&mut buf).is_ok());
    malformed(ipv4_header(64, 0, 0).emit(&mut buf), "DSCP 64");
    malformed(ipv4_header(0, 4, 0).emit(&mut buf), "ECN 4");
    malformed(ipv4_header(0, 0, 1481).emit(&mut buf), "offset 1481");
    let v6 = |flow_label| ipv6::Repr {
        src: Ipv6Addr::LOCALHOST,
        dst: Ipv6Addr::LOCALHOST,
        next_header: ipv6::NEXT_ICMPV6,
        hop_limit: 64,
        traffic_class: 0,
        flow_label,
        payload_len: 8,
    };
    assert!(v6(0xf_ffff).emit(&mut buf).is_ok());
    malformed(v6(0x10_0000).emit(&mut buf), "flow label 2^20");
}

#[test]
fn mpls_extended_echo_mld_and_rdnss_out_of_range_are_refused() {
    let mut buf = [0u8; 256];
    for (label, tc) in [(0x10_0000, 0), (16, 8)] {
        let entries = [MplsEntry {
            label,
            tc,
            s: true,
            ttl: 1,
        }];
        let object = Object::Mpls(MplsStack::from_entries(&entries));
        malformed(object.emit(&mut buf), "MPLS entry");
    }
    let reply = icmpv4::Repr::ExtendedEchoReply {
        code: 0.into(),
        id: 1,
        sequence: 1,
        state: 8,
        active: true,
        ipv4: false,
        ipv6: false,
    };
    malformed(reply.emit(&mut buf), "ICMPv4 extended echo state 8");
    let reply = icmpv6::Repr::ExtendedEchoReply {
        code: icmpv6::ExtendedEchoCode::NoError,
        id: 1,
        sequence: 1,
        state: 8,
        active: true,
        ipv4: false,
        ipv6: false,
    };
    let (src, dst) = (Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST);
    malformed(
        reply.emit(&src, &dst, &mut buf),
        "ICMPv6 extended echo state 8",
    );
    let query = icmpv6::Repr::Mldv2Query {
        max_response_code: 100,
        multicast_address: Ipv6Addr::UNSPECIFIED,
        suppress_router_processing: false,
        qrv: 8,
        qqic: 125,
        sources: Ipv6Addrs::EMPTY,
    };
    malformed(query.emit(&src, &dst, &mut buf), "QRV 8");
    let rdnss = NdpOption::Rdnss {
        lifetime: 60,
        servers: Ipv6Addrs::EMPTY,
    };
    malformed(rdnss.emit(&mut buf), "RDNSS without servers");
}
