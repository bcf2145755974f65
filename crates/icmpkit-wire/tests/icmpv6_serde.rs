//! JSON of ICMPv6 messages (feature `serde`): a flat map of each message's
//! own fields, bytes as hex, names in kebab-case.
#![cfg(feature = "serde")]

use core::net::Ipv6Addr;

use icmpkit_wire::extension::{ErrorBody, Extensions, InterfaceId, Object};
use icmpkit_wire::icmpv6::{
    ExtendedEchoCode, Ipv6Addrs, MldRecord, MldRecords, NdpOption, NdpOptions, NeighborFlags,
    PrefixInfo, Repr, RouterFlags, TimeExceededCode,
};
use serde_json::{Value, json};

fn to_json(repr: &Repr<'_>) -> Value {
    serde_json::to_value(repr).unwrap()
}

#[test]
fn echo() {
    assert_eq!(
        to_json(&Repr::EchoRequest {
            id: 4660,
            sequence: 1,
            data: &[0xde, 0xad]
        }),
        json!({"id": 4660, "sequence": 1, "data": "dead"})
    );
}

#[test]
fn errors_flatten_their_body() {
    let mut q = vec![0x60, 0, 0, 0, 0, 8, 17, 1];
    q.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    q.extend_from_slice(&"2001:db8::99".parse::<Ipv6Addr>().unwrap().octets());
    q.extend_from_slice(&[0x82, 0x9a, 0x82, 0x9b, 0, 8, 0, 0]);
    let v = to_json(&Repr::PacketTooBig {
        mtu: 1280,
        original: &q,
    });
    assert_eq!(v["mtu"], 1280);
    assert_eq!(v["original_length"], 48);
    assert_eq!(v["quoted"]["dst"], "2001:db8::99");
    assert_eq!(v["quoted"]["transport"]["dst_port"], 33435);
    let v = to_json(&Repr::TimeExceeded {
        code: TimeExceededCode::HopLimitExceeded,
        body: ErrorBody::new(&q),
    });
    assert_eq!(v["quoted"]["src"], "2001:db8::1");
    assert!(v.get("extensions").is_none());
}

#[test]
fn ndp_options_list() {
    let mac = [2, 0, 0x5e, 0x10, 0, 1];
    let servers = ["2001:db8::53".parse().unwrap()];
    let prefix = PrefixInfo {
        prefix_len: 64,
        on_link: true,
        autonomous: false,
        router_address: false,
        valid_lifetime: 600,
        preferred_lifetime: 300,
        prefix: "2001:db8:1::".parse().unwrap(),
    };
    let options = [
        NdpOption::SourceLinkLayerAddr(&mac),
        NdpOption::PrefixInformation(prefix),
        NdpOption::Rdnss {
            lifetime: 60,
            servers: Ipv6Addrs::new(&servers),
        },
        NdpOption::Mtu(1500),
        NdpOption::Unknown {
            kind: 14,
            data: &[1, 2, 3, 4, 5, 6],
        },
    ];
    let v = to_json(&Repr::RouterAdvert {
        hop_limit: 64,
        flags: RouterFlags::MANAGED | RouterFlags(0x08),
        router_lifetime: 1800,
        reachable_time: 0,
        retrans_time: 0,
        options: NdpOptions::new(&options),
    });
    assert_eq!(v["hop_limit"], 64);
    assert_eq!(v["managed"], true);
    assert_eq!(v["other"], false);
    assert_eq!(v["preference"], "high");
    assert_eq!(v["router_lifetime"], 1800);
    assert_eq!(
        v["options"],
        json!([
            {"type": 1, "name": "source-link-layer-address", "address": "02:00:5e:10:00:01"},
            {"type": 3, "name": "prefix-information", "prefix": "2001:db8:1::", "prefix_len": 64, "on_link": true,
             "autonomous": false, "router_address": false, "valid_lifetime": 600, "preferred_lifetime": 300},
            {"type": 25, "name": "recursive-dns-server", "lifetime": 60, "servers": ["2001:db8::53"]},
            {"type": 5, "name": "mtu", "mtu": 1500},
            {"type": 14, "name": "nonce", "data": "010203040506"},
        ])
    );
    let v = to_json(&Repr::NeighborAdvert {
        flags: NeighborFlags::ROUTER | NeighborFlags::SOLICITED,
        target: "2001:db8::42".parse().unwrap(),
        options: NdpOptions::EMPTY,
    });
    assert_eq!(
        v,
        json!({"router": true, "solicited": true, "override": false, "target": "2001:db8::42", "options": []})
    );
}

#[test]
fn bad_options_show_as_errors() {
    // A router solicitation whose MTU option has the wrong length.
    let bytes = [
        133u8, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0, 0, 0, 0, 5, 220, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let repr = Repr::parse_bytes(&bytes).unwrap();
    let v = to_json(&repr);
    assert!(
        v["options"][0]["error"].as_str().unwrap().contains("MTU"),
        "{v}"
    );
}

#[test]
fn mld_records_and_queries() {
    let sources: [Ipv6Addr; 1] = ["2001:db8::7".parse().unwrap()];
    let records = [MldRecord {
        record_type: 1,
        multicast_address: "ff3e::1234".parse().unwrap(),
        sources: Ipv6Addrs::new(&sources),
        aux_data: &[],
    }];
    assert_eq!(
        to_json(&Repr::Mldv2Report {
            records: MldRecords::new(&records)
        }),
        json!({"records": [{"record_type": 1, "record_type_name": "mode-is-include",
                            "multicast_address": "ff3e::1234", "sources": ["2001:db8::7"]}]})
    );
    let v = to_json(&Repr::Mldv2Query {
        max_response_code: 0x8000,
        multicast_address: Ipv6Addr::UNSPECIFIED,
        suppress_router_processing: true,
        qrv: 2,
        qqic: 0x80,
        sources: Ipv6Addrs::EMPTY,
    });
    // RFC 3810 §5.1.3/§5.1.9: 0x8000 is (0x1000) << 3 ms; QQIC 0x80 is 16 << 3 s.
    assert_eq!(v["max_response_delay"], 32768);
    assert_eq!(v["query_interval"], 128);
    assert_eq!(v["suppress_router_processing"], true);
}

#[test]
fn extended_echo() {
    let objects = [Object::InterfaceId(InterfaceId::Name(b"eth0"))];
    let v = to_json(&Repr::ExtendedEchoRequest {
        id: 1,
        sequence: 2,
        local: false,
        extensions: Some(Extensions::from_objects(&objects)),
    });
    assert_eq!(
        (v["id"].clone(), v["sequence"].clone(), v["local"].clone()),
        (json!(1), json!(2), json!(false))
    );
    assert!(v["extensions"].to_string().contains("eth0"), "{v}");
    let v = to_json(&Repr::ExtendedEchoReply {
        code: ExtendedEchoCode::NoError,
        id: 1,
        sequence: 2,
        state: 2,
        active: true,
        ipv4: false,
        ipv6: true,
    });
    assert_eq!(
        v,
        json!({"id": 1, "sequence": 2, "state": "reachable", "active": true, "ipv4": false, "ipv6": true})
    );
}

#[test]
fn unknown_is_raw_hex() {
    let v = to_json(&Repr::Unknown {
        msg_type: 200,
        code: 1,
        rest_of_header: 7,
        data: &[0xab],
    });
    assert_eq!(v, json!({"rest_of_header": 7, "data": "ab"}));
}
