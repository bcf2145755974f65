//! Malformed ICMPv6 input ends in an error (or an `Err` option item), never
//! a panic or a hang.

use core::net::Ipv6Addr;

use icmpkit_wire::Error;
use icmpkit_wire::icmpv6::{NdpOption, NdpOptionIter, NdpOptions, Packet, Repr};

fn parse(bytes: &[u8]) -> Result<Repr<'_>, Error> {
    Repr::parse(&Packet::new_unchecked(bytes))
}

#[test]
fn every_truncation_of_fixed_parts_is_an_error() {
    // Type byte → the fixed length its Repr needs.
    for (kind, fixed) in [
        (1u8, 8),
        (2, 8),
        (128, 8),
        (133, 8),
        (134, 16),
        (135, 24),
        (136, 24),
        (137, 40),
        (130, 24),
        (143, 8),
        (160, 8),
        (161, 8),
    ] {
        let mut full = vec![0u8; fixed];
        full[0] = kind;
        assert!(parse(&full).is_ok(), "type {kind} of {fixed} bytes");
        for len in 0..fixed {
            let err = parse(&full[..len]).expect_err("truncated");
            assert!(
                matches!(err, Error::Truncated { .. }),
                "type {kind} len {len}: {err:?}"
            );
            assert!(Packet::new_checked(&full[..len]).is_err());
        }
    }
}

#[test]
fn zero_length_option_is_an_error_not_a_hang() {
    // Neighbor solicitation + an option of length 0.
    let mut ns = vec![135u8, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    ns.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        parse(&ns),
        Err(Error::Malformed("NDP option with length zero"))
    );

    // The iterator on its own yields one error and stops, although more
    // bytes follow.
    let area = [
        1u8, 1, 2, 0, 0x5e, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0x5e, 0, 0, 2,
    ];
    let items: Vec<_> = NdpOptionIter::new(&area).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], Ok(NdpOption::SourceLinkLayerAddr(&area[2..8])));
    assert_eq!(
        items[1],
        Err(Error::Malformed("NDP option with length zero"))
    );
    assert!(NdpOptions::parse(&area).is_err());
    assert!(NdpOptions::parse(&area[..8]).is_ok());
}

#[test]
fn option_running_past_the_end_is_truncated() {
    let mut rs = vec![133u8, 0, 0, 0, 0, 0, 0, 0];
    rs.extend_from_slice(&[1, 2, 0, 0, 0, 0, 0, 0]); // claims 16 bytes, has 8
    assert!(matches!(parse(&rs), Err(Error::Truncated { .. })));
    // A lone option type byte without its length.
    rs.truncate(9);
    assert!(matches!(parse(&rs), Err(Error::Truncated { .. })));
}

#[test]
fn bad_option_content_is_an_item_error_and_iteration_goes_on() {
    let mut rs = vec![133u8, 0, 0, 0, 0, 0, 0, 0];
    // MTU option of length 2 (must be 1), then an RDNSS of length 2 (must
    // be odd), then a good source link-layer address.
    rs.extend_from_slice(&[5, 2, 0, 0, 0, 0, 5, 220, 0, 0, 0, 0, 0, 0, 0, 0]);
    rs.extend_from_slice(&[25, 2, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0]);
    rs.extend_from_slice(&[1, 1, 2, 0, 0x5e, 0, 0, 1]);
    rs.extend_from_slice(&[
        3, 3, 64, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let repr = parse(&rs).expect("framing is fine");
    let Repr::RouterSolicit { options } = repr else {
        panic!("{repr:?}")
    };
    let items: Vec<_> = options.iter().collect();
    assert_eq!(items.len(), 4);
    assert!(matches!(items[0], Err(Error::Malformed(_))));
    assert!(matches!(items[1], Err(Error::Malformed(_))));
    assert_eq!(
        items[2],
        Ok(NdpOption::SourceLinkLayerAddr(&[2, 0, 0x5e, 0, 0, 1]))
    );
    assert!(
        matches!(items[3], Err(Error::Malformed(_))),
        "prefix information of length 3"
    );
    // Re-emitting keeps the bytes as they were.
    let mut out = vec![0; repr.buffer_len()];
    repr.emit(&Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST, &mut out)
        .unwrap();
    assert_eq!(&out[4..], &rs[4..]);
}

#[test]
fn absurd_mldv2_counts_are_truncated() {
    // Report claiming 65535 records with one record's worth of bytes.
    let mut report = vec![143u8, 0, 0, 0, 0, 0, 0xff, 0xff];
    report.extend_from_slice(&[1, 0, 0, 0]);
    report.extend_from_slice(&[0xff; 16]);
    assert!(matches!(parse(&report), Err(Error::Truncated { .. })));
    // One record claiming 65535 sources.
    report[6] = 0;
    report[7] = 1;
    report[10] = 0xff;
    report[11] = 0xff;
    assert!(matches!(parse(&report), Err(Error::Truncated { .. })));
    // One record claiming 255 words of aux data.
    report[9] = 0xff;
    report[10] = 0;
    report[11] = 0;
    assert!(matches!(parse(&report), Err(Error::Truncated { .. })));
    report[9] = 0;
    assert!(parse(&report).is_ok());

    // Query claiming 65535 sources.
    let mut query = vec![130u8, 0, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(&[0; 16]);
    query.extend_from_slice(&[0, 0, 0xff, 0xff]);
    query.extend_from_slice(&[0; 16]);
    assert!(matches!(parse(&query), Err(Error::Truncated { .. })));
    query[27] = 1;
    query[26] = 0;
    assert!(matches!(parse(&query), Ok(Repr::Mldv2Query { .. })));
}

#[test]
fn mld_query_of_25_to_27_bytes_is_malformed() {
    for len in 25..28 {
        let mut query = vec![0u8; len];
        query[0] = 130;
        assert!(matches!(parse(&query), Err(Error::Malformed(_))), "{len}");
    }
}

#[test]
fn emit_into_short_buffer_is_buffer_too_small() {
    let repr = Repr::EchoRequest {
        id: 1,
        sequence: 2,
        data: &[0; 32],
    };
    let mut buf = [0u8; 39];
    let err = repr
        .emit(&Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST, &mut buf)
        .unwrap_err();
    assert_eq!(err, Error::BufferTooSmall { need: 40, have: 39 });
}

#[test]
fn oversized_builders_are_refused() {
    let huge = [0u8; 2100];
    let options = [NdpOption::Unknown {
        kind: 200,
        data: &huge,
    }];
    let rs = Repr::RouterSolicit {
        options: NdpOptions::new(&options),
    };
    let mut buf = vec![0; rs.buffer_len()];
    assert!(matches!(
        rs.emit(&Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST, &mut buf),
        Err(Error::Malformed(_))
    ));
}
