//! Packets given as hex text: on the command line (one argument, one
//! packet) or on stdin (one packet per line, or `tcpdump -x`/`-xx` dumps),
//! and what the bytes start with (Ethernet, IP or the ICMP message).

use icmpkit::wire::{Family, ip};

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
    /// The start of an IP header, cut before its end.
    CutIp(ip::CutHeader),
}

impl Start<'_> {
    /// What is wrong with a [`Start::CutIp`]; `None` for the others.
    pub fn error(&self) -> Option<String> {
        match self {
            Start::CutIp(cut) => Some(format!(
                "{cut} (use -4 or -6 to read the bytes as an ICMP message)"
            )),
            _ => None,
        }
    }
}

/// Tells an Ethernet frame, an IP packet and a bare ICMP message apart.
///
/// Ethernet wins when bytes 12-13 are an IP (or VLAN) ethertype and what
/// follows is IP of the matching version; then IP by the version nibble
/// (no ICMP type starts with 0x4_ or 0x6_: types 64-79 and 96-111 are
/// unassigned), and an IP header cut short is said to be one instead of
/// being read as ICMP type 69; else ICMP, of `family` when given,
/// otherwise ICMPv6 for types 128 and up (ICMPv6 informational) and
/// ICMPv4 below.
pub fn classify(bytes: &[u8], family: Option<Family>) -> Start<'_> {
    if let Some(ip) = link::ethernet_payload(bytes)
        && is_ip(ip)
    {
        return Start::Ip(ip);
    }
    if family.is_none() && is_ip(bytes) {
        return Start::Ip(bytes);
    }
    if family.is_none()
        && let Some(cut) = ip::header_cut_short(bytes)
    {
        return Start::CutIp(cut);
    }
    let family = family.unwrap_or(match bytes.first() {
        Some(t) if *t >= 128 => Family::V6,
        _ => Family::V4,
    });
    Start::Icmp(family, bytes)
}

fn is_ip(bytes: &[u8]) -> bool {
    ip_header_len(bytes)
        .is_some_and(|(version, need)| bytes.len() >= if version == 4 { 20 } else { need })
}

/// The version and header length an IP header's first byte announces
/// (IPv4's IHL of 5 or more; IPv6's fixed 40 bytes); `None` when the
/// first byte is no IP header's.
fn ip_header_len(bytes: &[u8]) -> Option<(u8, usize)> {
    let first = *bytes.first()?;
    match first >> 4 {
        4 if first & 0x0f >= 5 => Some((4, usize::from(first & 0x0f) * 4)),
        6 => Some((6, 40)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cut IPv4 header is not ICMP type 69; with -4 it is read as ICMP.
    #[test]
    fn a_cut_ip_header_is_named_not_read_as_icmp() {
        let cut = parse_hex("4500003c1c4640004001").unwrap();
        let start = classify(&cut, None);
        assert_eq!(
            start,
            Start::CutIp(ip::CutHeader {
                version: 4,
                have: 10,
                need: 20
            })
        );
        assert!(
            start
                .error()
                .unwrap()
                .contains("truncated IPv4 header: 10 of its 20")
        );
        let v6 = [0x60, 0, 0, 0, 0, 8, 58, 64];
        assert!(matches!(
            classify(&v6, None),
            Start::CutIp(c) if c.version == 6
        ));
        assert!(matches!(
            classify(&cut, Some(Family::V4)),
            Start::Icmp(Family::V4, _)
        ));
        // A whole IPv4 header whose payload was cut is IP (decoded as far
        // as it goes, marked truncated).
        let header_only = parse_hex("4500003c1c46400040010000c0000201c0000202").unwrap();
        assert_eq!(classify(&header_only, None), Start::Ip(&header_only));
        // IHL below 5 is no IPv4 header: an (unassigned) ICMP type.
        assert!(matches!(
            classify(&[0x41, 0, 0, 0], None),
            Start::Icmp(Family::V4, _)
        ));
    }

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
