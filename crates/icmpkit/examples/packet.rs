//! Build an ICMPv4 echo request, parse it back, and decode an echo reply
//! from raw bytes: the wire crate alone, no socket.
//! `cargo run -p icmpkit --example packet`

use icmpkit::wire::icmpv4::Repr;

fn main() -> icmpkit::Result<()> {
    let request = Repr::EchoRequest {
        id: 0x1234,
        sequence: 1,
        data: b"hello",
    };
    let mut bytes = vec![0u8; request.buffer_len()];
    request.emit(&mut bytes)?; // fills in the checksum
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    println!("built {} bytes: {}", bytes.len(), hex.join(" "));

    let parsed = Repr::parse_bytes(&bytes)?;
    assert_eq!(parsed, request);
    println!("parsed: {parsed}");

    // An echo reply as it comes off the wire: type 0, code 0, checksum,
    // id 0x1234, sequence 1.
    let reply = Repr::parse_bytes(&[0, 0, 0xed, 0xca, 0x12, 0x34, 0, 1])?;
    println!("decoded: {reply}");
    Ok(())
}
