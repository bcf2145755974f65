//! ICMPv4 codes are typed like ICMPv6's (named variants, unknown values
//! kept raw), and both families name and print codes the same way.

use icmpkit_wire::icmpv4::{
    self, DstUnreachableCode, ExtendedEchoCode, ParamProblemCode, RedirectCode, RouterAdvertCode,
    TimeExceededCode,
};
use icmpkit_wire::icmpv6;

fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Every byte of every ICMPv4 type that has a code enum survives
/// parse → typed code → emit, named or not.
#[test]
fn every_icmpv4_code_byte_round_trips_through_its_enum() {
    let quoted = [
        0x45u8, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ];
    for msg_type in [3u8, 5, 9, 11, 12, 43] {
        for code in 0..=u8::MAX {
            let mut bytes = vec![msg_type, code, 0, 0, 0, 0, 0, 0];
            if msg_type == 9 {
                // One address entry of two words.
                bytes[4] = 1;
                bytes[5] = 2;
                bytes.extend_from_slice(&[192, 0, 2, 1, 0, 0, 0, 0]);
            } else if msg_type != 43 {
                bytes.extend_from_slice(&quoted);
            }
            let sum = icmpkit_wire::checksum::checksum(&bytes);
            bytes[2..4].copy_from_slice(&sum.to_be_bytes());
            let repr = icmpv4::Repr::parse_bytes(&bytes).unwrap();
            assert_eq!(repr.code(), code, "type {msg_type}");
            let mut out = vec![0; repr.buffer_len()];
            repr.emit(&mut out).unwrap();
            assert_eq!(out, bytes, "type {msg_type} code {code}");
            assert_eq!(
                repr.code_name(),
                icmpv4::code_name(msg_type, code),
                "type {msg_type} code {code}"
            );
        }
    }
}

#[test]
fn typed_codes_name_themselves_and_keep_unknown_values() {
    assert_eq!(
        DstUnreachableCode::from(4),
        DstUnreachableCode::FragmentationNeeded
    );
    assert_eq!(
        DstUnreachableCode::FragmentationNeeded.name(),
        Some("fragmentation-needed")
    );
    assert_eq!(
        DstUnreachableCode::from(16),
        DstUnreachableCode::Unknown(16)
    );
    assert_eq!(DstUnreachableCode::Unknown(16).name(), None);
    assert_eq!(u8::from(DstUnreachableCode::PrecedenceCutoff), 15);
    for code in 0..16u8 {
        let typed = DstUnreachableCode::from(code);
        assert!(!matches!(typed, DstUnreachableCode::Unknown(_)), "{code}");
        assert!(is_kebab(typed.name().unwrap()), "{code}");
    }
    assert_eq!(RedirectCode::from(3), RedirectCode::TosHost);
    assert_eq!(
        RouterAdvertCode::from(16).name(),
        Some("does-not-route-common-traffic")
    );
    assert_eq!(
        TimeExceededCode::TtlExceeded.name(),
        Some("ttl-exceeded-in-transit")
    );
    assert_eq!(ParamProblemCode::from(2), ParamProblemCode::BadLength);
    assert_eq!(
        ExtendedEchoCode::NoSuchInterface.name(),
        Some("no-such-interface")
    );
    // One RFC 8335 code type for both families.
    let v6: icmpv6::ExtendedEchoCode = ExtendedEchoCode::MalformedQuery;
    assert_eq!(u8::from(v6), 1);
}

/// The trial found ICMPv4 echo's code named `no-code` and ICMPv6 echo's
/// `echo-request`, and extended echo requests `no-code` (v4) and
/// `no-error` (v6): one rule now holds on both families.
#[test]
fn both_families_name_the_same_codes_alike() {
    let pairs: &[(u8, u8)] = &[(8, 128), (0, 129), (42, 160), (43, 161)];
    for &(v4, v6) in pairs {
        for code in 0..=u8::MAX {
            assert_eq!(
                icmpv4::code_name(v4, code),
                icmpv6::code_name(v6, code),
                "ICMPv4 type {v4} / ICMPv6 type {v6}, code {code}"
            );
        }
    }
    assert_eq!(icmpv4::code_name(8, 0), Some("no-code"));
    assert_eq!(icmpv6::code_name(128, 0), Some("no-code"));
    assert_eq!(icmpv6::code_name(2, 0), Some("no-code"));
    assert_eq!(icmpv4::code_name(42, 0), Some("no-error"));
    assert_eq!(icmpv6::code_name(160, 0), Some("no-error"));
    for msg_type in 0..=u8::MAX {
        for code in 0..=u8::MAX {
            for name in [
                icmpv4::code_name(msg_type, code),
                icmpv6::code_name(msg_type, code),
            ]
            .into_iter()
            .flatten()
            {
                assert!(is_kebab(name), "{name}");
            }
        }
    }
}

/// Text output spells names with spaces on both families (ICMPv4 printed
/// `no-such-interface`, ICMPv6 `no such interface`).
#[test]
fn text_spells_code_names_with_spaces_on_both_families() {
    let v4 = icmpv4::Repr::ExtendedEchoReply {
        code: ExtendedEchoCode::NoSuchInterface,
        id: 1,
        sequence: 2,
        state: 0,
        active: false,
        ipv4: false,
        ipv6: false,
    };
    let v6 = icmpv6::Repr::ExtendedEchoReply {
        code: icmpv6::ExtendedEchoCode::NoSuchInterface,
        id: 1,
        sequence: 2,
        state: 0,
        active: false,
        ipv4: false,
        ipv6: false,
    };
    assert_eq!(v4.code_name(), Some("no-such-interface"));
    assert_eq!(v6.code_name(), v4.code_name());
    assert_eq!(v6.type_name(), v4.type_name());
    assert!(v4.to_string().ends_with(", no such interface"), "{v4}");
    assert!(v6.to_string().contains(", no such interface,"), "{v6}");
    let problem = icmpv4::Repr::ParamProblem {
        code: ParamProblemCode::MissingOption,
        pointer: 0,
        body: icmpkit_wire::extension::ErrorBody::new(&[]),
    };
    assert_eq!(
        problem.to_string(),
        "ICMP parameter problem - missing required option"
    );
}
