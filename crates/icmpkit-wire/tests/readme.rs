//! The README's example, kept true.

use icmpkit_wire::icmpv4;

#[test]
fn readme_example() {
    let repr = icmpv4::Repr::EchoRequest {
        id: 4660,
        sequence: 1,
        data: &[0u8; 56],
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut buf).unwrap();
    let parsed = icmpv4::Repr::parse_bytes(&buf).unwrap();
    assert_eq!(parsed, repr);
    assert_eq!(
        parsed.to_string(),
        "ICMP echo request, id 4660, seq 1, length 64"
    );
}
