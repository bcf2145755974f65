//! iputils ping's human output, line for line, so that scripts and eyes
//! used to `ping` read `icmpkit ping` the same way.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit::IcmpError;
use icmpkit::ping::PingReport;

/// The first line: `PING host (addr) 56(84) bytes of data.` for IPv4,
/// `PING host(addr) 56 data bytes` for IPv6, as iputils prints them; with
/// `-I`, `from SOURCE IFACE: ` before the sizes (`source`: the address and
/// the interface name, empty when `-I` gave an address); IPv6 with `-F`,
/// `, flow 0x01234, ` before that (iputils' spacing).
pub fn header(
    target: &str,
    address: IpAddr,
    payload: usize,
    source: Option<(IpAddr, &str)>,
    flow_label: Option<u32>,
) -> String {
    let from = source.map_or(String::new(), |(ip, iface)| format!("from {ip} {iface}: "));
    match address {
        IpAddr::V4(_) => format!(
            "PING {target} ({address}) {from}{payload}({}) bytes of data.",
            payload + 28
        ),
        IpAddr::V6(_) => {
            let flow = flow_label.map_or(String::new(), |l| format!(", flow {l:#07x}, "));
            format!("PING {target}({address}) {flow}{from}{payload} data bytes")
        }
    }
}

/// iputils' `-v` line about the address it resolved:
/// `ai->ai_family: AF_INET, ai->ai_canonname: 'host'`.
pub fn resolved_line(target: &str, address: IpAddr) -> String {
    let family = if address.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    };
    format!("ai->ai_family: {family}, ai->ai_canonname: '{target}'")
}

/// iputils' `PATTERN: 0x...` line for `-p`.
pub fn pattern_line(pattern: &[u8]) -> String {
    let hex: String = pattern.iter().map(|b| format!("{b:02x}")).collect();
    format!("PATTERN: 0x{hex}")
}

/// How a responder is named: `name (addr)` when the target was given by
/// name and answered from its own address, else the bare address.
pub fn responder(from: IpAddr, target: &str, address: IpAddr, numeric: bool) -> String {
    if !numeric && from == address && target.parse::<IpAddr>().is_err() {
        format!("{target} ({from})")
    } else {
        from.to_string()
    }
}

/// A reply line without its timestamp prefix.
pub fn reply_line(
    from: &str,
    bytes: usize,
    seq: u16,
    ttl: Option<u8>,
    rtt: Option<Duration>,
    dup: bool,
    bad_checksum: bool,
) -> String {
    let mut line = format!("{bytes} bytes from {from}: icmp_seq={seq}");
    push_reply_details(&mut line, ttl, rtt, dup, bad_checksum);
    line
}

/// `-v`: the reply line with the echo identifier after the sequence, as
/// iputils prints it (`icmp_seq=1 ident=4660 ttl=64 ...`).
pub fn verbose_reply_line(
    from: &str,
    bytes: usize,
    (seq, ident): (u16, u16),
    ttl: Option<u8>,
    rtt: Option<Duration>,
    dup: bool,
    bad_checksum: bool,
) -> String {
    let mut line = format!("{bytes} bytes from {from}: icmp_seq={seq} ident={ident}");
    push_reply_details(&mut line, ttl, rtt, dup, bad_checksum);
    line
}

fn push_reply_details(
    line: &mut String,
    ttl: Option<u8>,
    rtt: Option<Duration>,
    dup: bool,
    bad_checksum: bool,
) {
    if let Some(ttl) = ttl {
        let _ = write!(line, " ttl={ttl}");
    }
    if let Some(rtt) = rtt {
        let _ = write!(line, " time={} ms", format_reply_time(rtt));
    }
    if dup {
        line.push_str(" (DUP!)");
    }
    if bad_checksum {
        line.push_str(" (BAD CHECKSUM!)");
    }
}

/// An error line: `From 192.0.2.1 icmp_seq=3 Destination Host Unreachable`.
pub fn error_line(from: &str, seq: u16, error: &IcmpError) -> String {
    format!("From {from} icmp_seq={seq} {error}")
}

/// C's `%g`: six significant digits, trailing zeros dropped (iputils prints
/// the loss percentage with it).
pub fn format_g(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = 6 - 1 - v.abs().log10().floor() as i32;
    let s = format!("{:.*}", digits.max(0) as usize, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The closing statistics block (three lines, the first empty), as iputils'
/// `finish()`. `pipe`: the most requests outstanding at a reply (shown
/// above 1); `ipg_ewma` adds iputils' `ipg/ewma` figures (flood, adaptive
/// or zero interval).
pub fn statistics(
    r: &PingReport,
    errors: u64,
    pipe: u32,
    ipg_ewma: Option<(Duration, Duration)>,
) -> String {
    let mut s = format!("\n--- {} ping statistics ---\n", r.target);
    let _ = write!(
        s,
        "{} packets transmitted, {} received",
        r.packets_sent, r.packets_received
    );
    if r.duplicates > 0 {
        let _ = write!(s, ", +{} duplicates", r.duplicates);
    }
    if r.corrupted > 0 {
        let _ = write!(s, ", +{} corrupted", r.corrupted);
    }
    if errors > 0 {
        let _ = write!(s, ", +{errors} errors");
    }
    if r.packets_sent > 0 {
        let _ = write!(s, ", {}% packet loss", format_g(r.packet_loss * 100.0));
        let _ = write!(s, ", time {}ms", (r.elapsed.as_micros() + 500) / 1000);
    }
    s.push('\n');
    let mut comma = "";
    // iputils' own figures (truncated microseconds, its integer mdev), not
    // the library's exact ones: this line must read as iputils' does.
    if let Some(rtt) = r.iputils_rtt {
        let _ = write!(
            s,
            "rtt min/avg/max/mdev = {}/{}/{}/{} ms",
            format_ms3(rtt.min),
            format_ms3(rtt.avg),
            format_ms3(rtt.max),
            format_ms3(rtt.mdev)
        );
        comma = ", ";
    }
    if pipe > 1 {
        let _ = write!(s, "{comma}pipe {pipe}");
        comma = ", ";
    }
    if let Some((ipg, ewma)) = ipg_ewma
        && r.packets_received > 0
        && r.packets_sent > 1
    {
        let _ = write!(
            s,
            "{comma}ipg/ewma {}/{} ms",
            format_ms3(ipg),
            format_ms3(ewma)
        );
    }
    s
}

/// The interim line SIGQUIT prints to stderr.
pub fn interim(r: &PingReport, ewma: Option<Duration>) -> String {
    let loss = (r.packets_sent - r.packets_received)
        .saturating_mul(100)
        .checked_div(r.packets_sent)
        .unwrap_or(0);
    let mut s = format!(
        "{}/{} packets, {loss}% loss",
        r.packets_received, r.packets_sent
    );
    if let (Some(rtt), Some(ewma)) = (r.iputils_rtt, ewma) {
        let _ = write!(
            s,
            ", min/avg/ewma/max = {}/{}/{}/{} ms",
            format_ms3(rtt.min),
            format_ms3(rtt.avg),
            format_ms3(ewma),
            format_ms3(rtt.max)
        );
    }
    s
}

/// Formats microseconds as iputils' `%ld.%03ld` milliseconds.
fn format_ms3(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// Formats an RTT as iputils does on a reply line (`time=` value): more
/// digits for short times, fewer for long.
fn format_reply_time(d: Duration) -> String {
    let t = d.as_micros();
    if t >= 100_000 - 50 {
        format!("{}", (t + 500) / 1000)
    } else if t >= 10_000 - 5 {
        format!("{}.{:01}", (t + 50) / 1000, ((t + 50) % 1000) / 100)
    } else if t >= 1000 {
        format!("{}.{:02}", (t + 5) / 1000, ((t + 5) % 1000) / 10)
    } else {
        format!("{}.{:03}", t / 1000, t % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icmpkit::wire::Family;

    #[test]
    fn percent_g_like_c() {
        assert_eq!(format_g(0.0), "0");
        assert_eq!(format_g(100.0), "100");
        assert_eq!(format_g(50.0), "50");
        assert_eq!(format_g(100.0 / 3.0), "33.3333");
        assert_eq!(format_g(200.0 / 3.0), "66.6667");
        assert_eq!(format_g(2.5), "2.5");
        assert_eq!(format_g(0.001), "0.001");
    }

    #[test]
    fn headers_match_iputils() {
        assert_eq!(
            header("127.0.0.1", "127.0.0.1".parse().unwrap(), 56, None, None),
            "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data."
        );
        assert_eq!(
            header("::1", "::1".parse().unwrap(), 56, None, None),
            "PING ::1(::1) 56 data bytes"
        );
    }

    #[test]
    fn source_pattern_and_pipe_as_iputils() {
        let lo = "127.0.0.1".parse().unwrap();
        assert_eq!(
            header("127.0.0.1", lo, 56, Some((lo, "lo")), None),
            "PING 127.0.0.1 (127.0.0.1) from 127.0.0.1 lo: 56(84) bytes of data."
        );
        assert_eq!(
            header("127.0.0.1", lo, 56, Some((lo, "")), None),
            "PING 127.0.0.1 (127.0.0.1) from 127.0.0.1 : 56(84) bytes of data."
        );
        let v6 = "::1".parse().unwrap();
        assert_eq!(
            header("::1", v6, 56, Some((v6, "lo")), None),
            "PING ::1(::1) from ::1 lo: 56 data bytes"
        );
        assert_eq!(
            header("::1", v6, 56, None, Some(12345)),
            "PING ::1(::1) , flow 0x03039, 56 data bytes"
        );
        assert_eq!(pattern_line(&[0xff, 0x00, 0xaa]), "PATTERN: 0xff00aa");
        assert_eq!(
            verbose_reply_line("::1", 64, (1, 1664), Some(64), None, false, false),
            "64 bytes from ::1: icmp_seq=1 ident=1664 ttl=64"
        );
    }

    #[test]
    fn reply_lines_match_iputils() {
        let l = reply_line(
            "127.0.0.1",
            64,
            1,
            Some(64),
            Some(Duration::from_micros(355)),
            false,
            false,
        );
        assert_eq!(
            l,
            "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.355 ms"
        );
        assert_eq!(
            reply_line("127.0.0.1", 16, 2, Some(64), None, true, false),
            "16 bytes from 127.0.0.1: icmp_seq=2 ttl=64 (DUP!)"
        );
        assert_eq!(
            reply_line("127.0.0.1", 64, 3, Some(64), None, false, true),
            "64 bytes from 127.0.0.1: icmp_seq=3 ttl=64 (BAD CHECKSUM!)"
        );
    }

    #[test]
    fn error_lines_use_the_library_s_iputils_wording() {
        let from: IpAddr = "192.0.2.1".parse().unwrap();
        let e = IcmpError::classify(Family::V4, from, 3, 1, 0);
        assert_eq!(
            error_line("192.0.2.1", 3, &e),
            "From 192.0.2.1 icmp_seq=3 Destination Host Unreachable"
        );
    }

    #[test]
    fn reply_time_precision_follows_iputils() {
        assert_eq!(format_reply_time(Duration::from_micros(45)), "0.045");
        assert_eq!(format_reply_time(Duration::from_micros(1234)), "1.23");
        assert_eq!(format_reply_time(Duration::from_micros(12_345)), "12.3");
        assert_eq!(format_reply_time(Duration::from_micros(123_456)), "123");
    }
}
