//! The bodies of the fuzz targets, kept free of libFuzzer so that the
//! normal test suite runs them too (`crates/icmpkit-wire/tests/fuzz_bodies.rs`
//! includes this file): every function must return normally for any
//! input; a panic is the bug being looked for.

use core::fmt::Write;

use icmpkit_wire::extension::ErrorBody;
use icmpkit_wire::ip::{self, ipv4, ipv6};
use icmpkit_wire::quoted::Quoted;
use icmpkit_wire::{Family, checksum, icmpv4, icmpv6, tcp};

/// A `fmt::Write` that discards, to exercise `Display` without allocating.
struct Sink;

impl Write for Sink {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// Largest message the round-trip checks emit into.
const MAX: usize = 70_000;

/// Reads `data` as an ICMPv4 message; whatever parses must emit to
/// `buffer_len()` bytes with a valid checksum and parse back equal.
pub fn icmpv4(data: &[u8]) {
    let Ok(packet) = icmpv4::Packet::new_checked(data) else {
        return;
    };
    let _ = packet.verify_checksum();
    let Ok(repr) = icmpv4::Repr::parse(&packet) else {
        return;
    };
    let _ = write!(Sink, "{repr}");
    let _ = icmpv4::type_name(repr.msg_type());
    let _ = icmpv4::code_name(repr.msg_type(), repr.code());
    if let Some(body) = repr.error_body() {
        error_body_objects(&body);
    }
    let mut buf = vec![0u8; repr.buffer_len().min(MAX)];
    let Ok(len) = repr.emit(&mut buf) else { return };
    assert_eq!(len, repr.buffer_len(), "emit wrote other than buffer_len");
    let again = icmpv4::Packet::new_checked(&buf[..len]).expect("emitted header");
    assert!(again.verify_checksum(), "emitted checksum does not verify");
    assert_eq!(
        icmpv4::Repr::parse(&again).expect("emitted message parses"),
        repr,
        "emit+parse unstable"
    );
}

/// Reads `data` both as raw ICMPv6 bytes and as an IPv6 packet carrying
/// ICMPv6; whatever parses must emit to `buffer_len()` bytes with a valid
/// pseudo-header checksum and parse back equal.
pub fn icmpv6(data: &[u8]) {
    let loopback = core::net::Ipv6Addr::LOCALHOST;
    icmpv6_message(data, &loopback, &loopback);
    let Ok(found) = ip::locate_icmp(data) else {
        return;
    };
    // The pseudo-header's destination: a routing header's final one.
    if let (core::net::IpAddr::V6(src), core::net::IpAddr::V6(dst)) =
        (found.src, found.checksum_dst)
    {
        let _ = checksum::verify_icmpv6(&src, &dst, found.icmp);
        icmpv6_message(found.icmp, &src, &dst);
    }
    for family in [Family::V4, Family::V6] {
        if let Some(&length) = found.icmp.get(4) {
            error_body(found.icmp.get(8..).unwrap_or(&[]), length, family);
        }
    }
}

/// One ICMPv6 message between `src` and `dst`: parse, walk every lazy
/// list, print, re-emit and re-parse.
fn icmpv6_message(bytes: &[u8], src: &core::net::Ipv6Addr, dst: &core::net::Ipv6Addr) {
    let Ok(packet) = icmpv6::Packet::new_checked(bytes) else {
        return;
    };
    let _ = packet.verify_checksum(src, dst);
    let Ok(repr) = icmpv6::Repr::parse(&packet) else {
        return;
    };
    let _ = write!(Sink, "{repr}");
    let _ = icmpv6::type_name(repr.msg_type());
    let _ = icmpv6::code_name(repr.msg_type(), repr.code());
    if let Some(body) = repr.error_body() {
        error_body_objects(&body);
    }
    let _ = repr.interface_id();
    match repr {
        icmpv6::Repr::RouterSolicit { options }
        | icmpv6::Repr::RouterAdvert { options, .. }
        | icmpv6::Repr::NeighborSolicit { options, .. }
        | icmpv6::Repr::NeighborAdvert { options, .. }
        | icmpv6::Repr::Redirect { options, .. } => {
            for option in options.iter() {
                let _ = write!(Sink, "{option:?}");
            }
        }
        icmpv6::Repr::Mldv2Report { records } => {
            for record in records.iter() {
                assert_eq!(record.sources.iter().count(), record.sources.len());
            }
        }
        _ => {}
    }
    let mut buf = vec![0u8; repr.buffer_len().min(MAX)];
    let Ok(len) = repr.emit(src, dst, &mut buf) else {
        return;
    };
    assert_eq!(len, repr.buffer_len(), "emit wrote other than buffer_len");
    assert!(
        checksum::verify_icmpv6(src, dst, &buf[..len]),
        "emitted checksum does not verify"
    );
    let again = icmpv6::Packet::new_checked(&buf[..len]).expect("emitted header");
    assert_eq!(
        icmpv6::Repr::parse(&again).expect("emitted message parses"),
        repr,
        "emit+parse unstable"
    );
}

/// Reads `data` as an IP packet, a quoted datagram, an error body of
/// both families and a TCP segment, and as a frame of every link type
/// and a packet that may carry ICMP in tunnels.
pub fn ip(data: &[u8]) {
    tcp_segment(data);
    link_and_tunnels(data);
    if let Ok(found) = ip::locate_icmp(data) {
        assert!(found.ip_header_len + found.icmp.len() <= data.len());
        if found.family == Family::V4 {
            icmpv4(found.icmp);
        }
    }
    if let Ok(packet) = ipv4::Packet::new_checked(data) {
        let _ = packet.verify_checksum();
        let repr = ipv4::Repr::parse(&packet).expect("checked packet parses");
        let mut buf = [0u8; 60];
        if let Ok(len) = repr.emit(&mut buf) {
            let again = ipv4::Packet::new_checked(&buf[..len]).expect("emitted IPv4 header");
            assert!(again.verify_checksum());
            assert_eq!(ipv4::Repr::parse(&again).expect("re-parse"), repr);
        }
    }
    if let Ok(packet) = ipv6::Packet::new_checked(data) {
        let repr = ipv6::Repr::parse(&packet).expect("checked packet parses");
        let mut buf = [0u8; 40];
        repr.emit(&mut buf).expect("40 bytes suffice");
        assert_eq!(
            ipv6::Repr::parse(&ipv6::Packet::new_unchecked(&buf[..])).expect("re-parse"),
            repr
        );
        let _ = ipv6::walk_extensions(packet.next_header(), packet.payload());
        // A jumbogram's length comes from its hop-by-hop option.
        assert!(packet.payload().len() <= packet.full_payload_len());
        let _ = (packet.is_truncated(), ipv6::jumbo_payload_len(&data[40..]));
    }
    if let Ok(quoted) = Quoted::parse(data) {
        let _ = write!(Sink, "{quoted}");
        assert!(quoted.payload.len() <= data.len());
    }
    if let Some((&length, body)) = data.split_first() {
        error_body(body, length, Family::V4);
        error_body(body, length, Family::V6);
    }
}

/// Reads `data` as a frame of every link type decode reads and as an IP
/// packet whose ICMP may be inside tunnels: what is found lies inside it.
fn link_and_tunnels(data: &[u8]) {
    use icmpkit_wire::{encap, link};
    for linktype in [0, 1, 9, 50, 101, 104, 113, 129, 226, 242, 276] {
        if let Some((ip, _)) = link::ip_packet_carried(linktype, data) {
            assert!(ip.len() <= data.len());
        }
    }
    if let Some(within) = encap::locate_icmp_within(data, 0) {
        assert!(within.ip.len() <= data.len());
        assert!(within.located.icmp.len() <= within.ip.len());
        assert!(within.carriers.as_slice().len() <= encap::MAX_DEPTH);
    }
}

/// Reads `data` as a TCP segment; what parses re-emits (without options,
/// with a checksum that verifies) and parses back equal.
fn tcp_segment(data: &[u8]) {
    let Ok((repr, header_len)) = tcp::Repr::parse(data) else {
        return;
    };
    assert!((tcp::HEADER_LEN..=data.len()).contains(&header_len));
    let _ = write!(Sink, "{repr}");
    let (src, dst) = (
        core::net::IpAddr::from([192, 0, 2, 1]),
        core::net::IpAddr::from([198, 51, 100, 7]),
    );
    let _ = tcp::verify(src, dst, data);
    let mut segment = data
        .get(header_len - tcp::HEADER_LEN..)
        .unwrap_or(data)
        .to_vec();
    repr.emit(src, dst, &mut segment)
        .expect("room for the header");
    assert!(
        tcp::verify(src, dst, &segment),
        "emitted checksum does not verify"
    );
    assert_eq!(
        tcp::Repr::parse(&segment).expect("re-parse"),
        (repr, tcp::HEADER_LEN)
    );
}

/// Splits `body` with `length`; re-emitting must reproduce the split.
fn error_body(body: &[u8], length: u8, family: Family) {
    let parsed = ErrorBody::parse(body, length, family);
    error_body_objects(&parsed);
    let mut buf = vec![0u8; parsed.buffer_len(family)];
    let len = parsed.emit(family, &mut buf).expect("buffer_len suffices");
    let again = ErrorBody::parse(&buf[..len], parsed.length_field(family), family);
    assert_eq!(again, parsed, "error body emit+parse unstable");
}

fn error_body_objects(body: &ErrorBody<'_>) {
    let _ = body.quoted().map(|q| write!(Sink, "{q}"));
    if let Some(ext) = body.extensions() {
        let _ = ext.checksum_status();
        for object in ext.objects() {
            let _ = write!(Sink, "{object:?}");
        }
    }
}
