//! Packets given as hex text: on the command line (one argument, one
//! packet) or on stdin (one packet per line, or `tcpdump -x`/`-xx` dumps),
//! and what the bytes start with (Ethernet, IP or the ICMP message).

use icmpkit::wire::Family;

use icmpkit::wire::link;

/// Reads hex digits, ignoring whitespace, `:`/`-`/`.` separators and a
/// leading `0x`. Errors name the first offending character.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let mut digits = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_ascii_hexdigit() => digits.push(c as u8),
            c if c.is_whitespace() || matches!(c, ':' | '-' | '.') => {}
            c => return Err(format!("not a hex digit: {c:?}")),
        }
    }
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    Ok(digits
        .chunks_exact(2)
        .map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1]))
        .collect())
}

/// One packet in hex: [`parse_hex`], refusing text without a single hex
/// digit (`''`, blanks, separators), which would be an empty "message".
pub fn parse_packet(text: &str) -> Result<Vec<u8>, String> {
    let bytes = parse_hex(text)?;
    if bytes.is_empty() {
        return Err("nothing to decode (no hex digits)".into());
    }
    Ok(bytes)
}

fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// Splits stdin text into packets. A `tcpdump -x` line (`\t0x0010:  4500
/// 0054 ...`) continues the packet its offset belongs to, offset 0 starts
/// one; any other non-empty line not starting with `#` is one packet.
/// Lines of tcpdump's own headers (`12:00:00.1 IP a > b: ...`) are skipped.
pub fn split_packets(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut packets: Vec<Vec<u8>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", n + 1);
        match dump_line(line) {
            Some((offset, rest)) => {
                let bytes = parse_hex(rest).map_err(at)?;
                match packets.last_mut() {
                    Some(packet) if offset != 0 && offset == packet.len() => {
                        packet.extend_from_slice(&bytes)
                    }
                    _ if offset == 0 => packets.push(bytes),
                    _ => return Err(at(format!("dump offset {offset:#x} out of sequence"))),
                }
            }
            None if looks_like_tcpdump_header(line) => {}
            None => packets.push(parse_packet(line).map_err(at)?),
        }
    }
    Ok(packets)
}

/// `0x0010:  4500 0054` → (16, "4500 0054").
fn dump_line(line: &str) -> Option<(usize, &str)> {
    let (offset, rest) = line.split_once(':')?;
    let offset = offset.strip_prefix("0x")?;
    Some((usize::from_str_radix(offset, 16).ok()?, rest))
}

/// tcpdump prints `HH:MM:SS.frac PROTO ...` before each dump.
fn looks_like_tcpdump_header(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    first.len() >= 8 && first.as_bytes()[2] == b':' && first.contains('.')
}

/// What a hex packet starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// An IP packet (possibly found inside an Ethernet frame).
    Ip(&'a [u8]),
    /// A bare ICMP message of this family.
    Icmp(Family, &'a [u8]),
}

/// Tells an Ethernet frame, an IP packet and a bare ICMP message apart.
///
/// Ethernet wins when bytes 12-13 are an IP (or VLAN) ethertype and what
/// follows is IP of the matching version; then IP by the version nibble
/// (no ICMP type starts with 0x4_ or 0x6_: types 64-79 and 96-111 are
/// unassigned); else ICMP, of `family` when given, otherwise ICMPv6 for
/// types 128 and up (ICMPv6 informational) and ICMPv4 below.
pub fn classify(bytes: &[u8], family: Option<Family>) -> Start<'_> {
    if let Some(ip) = link::ethernet_payload(bytes)
        && is_ip(ip)
    {
        return Start::Ip(ip);
    }
    if family.is_none() && is_ip(bytes) {
        return Start::Ip(bytes);
    }
    let family = family.unwrap_or(match bytes.first() {
        Some(t) if *t >= 128 => Family::V6,
        _ => Family::V4,
    });
    Start::Icmp(family, bytes)
}

fn is_ip(bytes: &[u8]) -> bool {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => bytes.len() >= 20 && bytes[0] & 0x0f >= 5,
        Some(6) => bytes.len() >= 40,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_separators_and_errors() {
        assert_eq!(parse_hex("0x08 00:f7-ff").unwrap(), vec![8, 0, 0xf7, 0xff]);
        assert!(parse_hex("080").unwrap_err().contains("odd"));
        assert!(parse_hex("08zz").unwrap_err().contains("'z'"));
        for nothing in ["", "  ", "\t\n", "0x", ": - ."] {
            assert_eq!(parse_hex(nothing).unwrap(), Vec::<u8>::new(), "{nothing:?}");
            let e = parse_packet(nothing).unwrap_err();
            assert!(e.contains("nothing to decode"), "{nothing:?}: {e}");
        }
        assert_eq!(parse_packet(" 08 00 ").unwrap(), vec![8, 0]);
    }

    #[test]
    fn tcpdump_dumps_and_plain_lines() {
        let text = "12:00:00.000001 IP 192.0.2.1 > 192.0.2.2: ICMP echo request\n\
                    \t0x0000:  4500 001c\n\
                    \t0x0004:  0000 4000\n\
                    # comment\n\
                    0800f7ff00000000\n";
        let packets = split_packets(text).unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0], vec![0x45, 0, 0, 0x1c, 0, 0, 0x40, 0]);
        assert_eq!(packets[1].len(), 8);
        assert!(
            split_packets("0800f7ff\n0x\n")
                .unwrap_err()
                .starts_with("line 2: nothing to decode")
        );
        assert!(
            split_packets("0x0010: 4500")
                .unwrap_err()
                .contains("sequence")
        );
    }

    #[test]
    fn classification() {
        let icmp = [8u8, 0, 0xf7, 0xff, 0, 0, 0, 0];
        assert_eq!(classify(&icmp, None), Start::Icmp(Family::V4, &icmp[..]));
        let v6 = [128u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(classify(&v6, None), Start::Icmp(Family::V6, &v6[..]));
        assert_eq!(
            classify(&icmp, Some(Family::V6)),
            Start::Icmp(Family::V6, &icmp[..])
        );
        let mut ip = [0u8; 28];
        ip[0] = 0x45;
        assert_eq!(classify(&ip, None), Start::Ip(&ip[..]));
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        assert_eq!(classify(&frame, None), Start::Ip(&ip[..]));
    }
}
