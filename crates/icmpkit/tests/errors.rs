//! Errors a library user can handle: `?` from the parse errors they meet,
//! typed refusals to match on, iputils' words for ICMP errors, and no
//! command-line flag or binary name in what the library says.

use std::net::IpAddr;

use icmpkit::wire::{Family, icmpv4};
use icmpkit::{Error, IcmpError, InvalidOption, InvalidReason, PermissionHint, Remedy};

fn parse_address(text: &str) -> icmpkit::Result<IpAddr> {
    Ok(text.parse::<IpAddr>()?)
}

fn parse_prefix(text: &str) -> icmpkit::Result<ipnet::IpNet> {
    Ok(text.parse::<ipnet::IpNet>()?)
}

fn parse_icmp(bytes: &[u8]) -> icmpkit::Result<u8> {
    Ok(icmpv4::Repr::parse_bytes(bytes)?.msg_type())
}

#[test]
fn question_mark_works_on_address_prefix_and_packet_errors() {
    assert_eq!(
        parse_address("192.0.2.1").unwrap(),
        "192.0.2.1".parse::<IpAddr>().unwrap()
    );
    assert!(matches!(
        parse_address("192.0.2"),
        Err(Error::AddressSyntax(_))
    ));
    assert!(matches!(
        parse_prefix("192.0.2.0/33"),
        Err(Error::PrefixSyntax(_))
    ));
    let err = parse_icmp(&[8, 0, 0]).unwrap_err();
    assert!(
        matches!(err, Error::Wire(icmpkit::wire::Error::Truncated { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn a_refused_option_is_matched_by_name_and_reason_not_text() {
    let mut opts = icmpkit::ping::PingOptions::default();
    opts.socket.ttl = Some(0);
    let target = icmpkit::resolve::parse_literal("127.0.0.1")
        .unwrap()
        .unwrap();
    let err = icmpkit::ping::Pinger::with_target(target, &opts).unwrap_err();
    match err {
        Error::InvalidOption(InvalidOption {
            option: "ttl",
            reason: InvalidReason::Between {
                min: 1, max: 255, ..
            },
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn icmp_errors_display_in_iputils_words() {
    let from: IpAddr = "192.0.2.1".parse().unwrap();
    let error = IcmpError::classify(Family::V4, from, 3, 13, 0);
    assert_eq!(error.to_string(), "Packet filtered");
    let error = IcmpError::classify(Family::V6, from, 1, 3, 0);
    assert_eq!(
        error.to_string(),
        "Destination unreachable: Address unreachable"
    );
}

#[test]
fn the_permission_hint_carries_remedies_and_names_no_binary() {
    let hint = PermissionHint {
        ipv6: false,
        tried: icmpkit::socket::Privilege::Auto,
        ping_group_range: Some((1, 0)),
        gid: 1000,
    };
    assert_eq!(
        hint.remedies(),
        [Remedy::CapNetRaw, Remedy::PingGroupRange, Remedy::Root]
    );
    let raw_only = PermissionHint {
        tried: icmpkit::socket::Privilege::Privileged,
        ..hint.clone()
    };
    assert_eq!(raw_only.remedies(), [Remedy::CapNetRaw, Remedy::Root]);
    let worded = hint.worded("/usr/local/bin/mytool").to_string();
    assert!(
        worded.contains("sudo setcap cap_net_raw+ep /usr/local/bin/mytool"),
        "{worded}"
    );
    assert!(worded.contains("ping_group_range = 1 0"), "{worded}");
    // The library's own words name the running executable, not icmpkit's
    // binary.
    let text = hint.to_string();
    let exe = std::env::current_exe().unwrap();
    assert!(text.contains(&exe.display().to_string()), "{text}");
    assert!(!text.contains("command -v icmpkit"), "{text}");
}

/// Every refusal reason reads as library words: no `--flag`, no `-x`
/// flag, no binary name.
#[test]
fn refusals_name_no_flag_and_no_binary() {
    let address: IpAddr = "192.0.2.1".parse().unwrap();
    let reasons = [
        InvalidReason::AtLeast { min: 1 },
        InvalidReason::Between {
            min: 1,
            max: 255,
            got: Some(0),
        },
        InvalidReason::BetweenReal {
            min: 1.0,
            max: 100.0,
            got: 0.5,
        },
        InvalidReason::Zero,
        InvalidReason::TooLong {
            max: std::time::Duration::from_secs(1),
            got: std::time::Duration::from_secs(2),
        },
        InvalidReason::Bits {
            bits: 8,
            message: "ICMPv4 extended-echo-request (type 42)".into(),
        },
        InvalidReason::WrongFamily {
            expected: Family::V6,
            got: address,
        },
        InvalidReason::Ipv4Only {
            what: "is an IPv4 header bit",
        },
        InvalidReason::Conflicts {
            with: "a crafted IP header",
        },
        InvalidReason::NotAField {
            message: "ICMPv4 echo-request (type 8)".into(),
            fields: vec!["id"],
        },
        InvalidReason::UnknownName {
            name: "bogus".into(),
            context: "for ICMPv4".into(),
        },
        InvalidReason::OtherFamily {
            name: "neighbor-solicitation".into(),
            destination: Family::V4,
        },
        InvalidReason::InterfaceName {
            name: "a-very-long-interface-name".into(),
        },
        InvalidReason::TooMany {
            limit: "more than 2^64 - 1",
        },
        InvalidReason::NotExpressible { what: "extensions" },
        InvalidReason::NeedsRawSocket {
            why: "SYNs cannot be sized",
        },
        InvalidReason::NothingChosen,
    ];
    for reason in reasons {
        let text = Error::invalid("option", reason).to_string();
        assert!(text.starts_with("invalid option: option "), "{text}");
        let short_flag = text
            .as_bytes()
            .windows(3)
            .any(|w| w[0] == b' ' && w[1] == b'-' && w[2].is_ascii_alphabetic());
        assert!(!text.contains("--") && !short_flag, "{text}");
        assert!(!text.contains("icmpkit"), "{text}");
    }
    let broadcast = Error::Broadcast(address).to_string();
    assert!(!broadcast.contains("-b"), "{broadcast}");
}
