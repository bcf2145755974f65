//! The JSON shape of RFC 4884 extension objects and quoted datagrams.

use std::net::{IpAddr, Ipv4Addr};

use icmpkit_wire::extension::{
    AFI_IPV4, Extensions, InterfaceId, InterfaceInfo, InterfaceRole, Object, RawObject,
};
use icmpkit_wire::quoted::Quoted;
use serde_json::json;

#[test]
fn objects_serialize_with_an_object_tag() {
    let addr = [192u8, 0, 2, 1];
    let objects = [
        Object::InterfaceInfo(InterfaceInfo {
            role: InterfaceRole::IncomingInterface,
            if_index: Some(3),
            address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254))),
            name: Some(b"eth1"),
            mtu: Some(1500),
        }),
        Object::InterfaceId(InterfaceId::Name(b"eth0")),
        Object::InterfaceId(InterfaceId::Index(7)),
        Object::InterfaceId(InterfaceId::Address {
            afi: AFI_IPV4,
            address: &addr,
        }),
        Object::Unknown(RawObject {
            class: 99,
            c_type: 2,
            data: &[0xab, 0xcd],
        }),
    ];
    let mut buf = [0u8; 128];
    let len = Extensions::from_objects(&objects).emit(&mut buf).unwrap();
    // Parse back, then serialize what was parsed.
    let parsed = Extensions::parse(&buf[..len]).unwrap();
    assert_eq!(
        serde_json::to_value(parsed).unwrap(),
        json!({
            "version": 2,
            "checksum": "valid",
            "objects": [
                {"object": "interface-information", "role": "incoming-interface", "ifindex": 3,
                 "address": "192.0.2.254", "name": "eth1", "mtu": 1500},
                {"object": "interface-identification", "name": "eth0"},
                {"object": "interface-identification", "ifindex": 7},
                {"object": "interface-identification", "address": {"afi": 1, "address": "c0000201"}},
                {"object": "unknown", "class": 99, "c_type": 2, "data": "abcd"},
            ]
        })
    );
}

#[test]
fn malformed_object_serializes_as_an_error_item() {
    let bytes = [0x20, 0, 0, 0, 0, 2, 1, 1];
    let ext = Extensions::parse(&bytes).unwrap();
    let v = serde_json::to_value(ext).unwrap();
    assert_eq!(v["checksum"], "absent");
    assert_eq!(v["objects"][0]["object"], "malformed");
    assert!(
        v["objects"][0]["error"]
            .as_str()
            .unwrap()
            .contains("length below 4")
    );
}

#[test]
fn quoted_serializes_addresses_transport_and_truncation() {
    let mut dgram = [0u8; 28];
    dgram[..20].copy_from_slice(&[
        0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 1, 1, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
    ]);
    dgram[20..].copy_from_slice(&[8, 0, 0, 0, 0x10, 0x00, 0x00, 0x02]);
    let q = Quoted::parse(&dgram).unwrap();
    assert_eq!(
        serde_json::to_value(q).unwrap(),
        json!({
            "src": "192.0.2.1", "dst": "198.51.100.7", "protocol": 1, "ttl": 1,
            "total_length": 84, "ip_id": 0x1234, "header_len": 20,
            "transport": {"kind": "echo", "type": 8, "code": 0, "id": 4096, "sequence": 2},
            "truncated": {"ip_header": false, "transport": false, "datagram": true}
        })
    );
}
