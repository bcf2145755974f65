//! Flags several commands share, turned into library options: time values
//! in seconds, numbers in decimal or hex (TOS, marks, header fields), `-4`/`-6`,
//! `--privileged`/`--unprivileged`, and `-I` taking an interface or a source
//! address.

use std::net::IpAddr;
use std::time::Duration;

use icmpkit::socket::{Privilege, SocketOptions};
use icmpkit::wire::Family;

/// clap value parser: a time in (fractional) seconds, as ping and
/// traceroute take them, 0 to 1,000,000 (clap names the flag in the error).
pub fn secs(text: &str) -> Result<Duration, String> {
    time(text, 1.0, "seconds", 1e6)
}

/// clap value parser: a time in (fractional) milliseconds, as fping takes
/// them, 0 to 1,000,000,000.
pub fn msecs(text: &str) -> Result<Duration, String> {
    time(text, 1e-3, "milliseconds", 1e9)
}

/// clap value parser for traceroute's `-z`: seconds, or milliseconds when
/// above 10 (`-z 0.5` and `-z 500` both mean half a second).
pub fn send_wait(text: &str) -> Result<Duration, String> {
    let d = secs(text)?;
    Ok(if d > Duration::from_secs(10) {
        d / 1000
    } else {
        d
    })
}

fn time(text: &str, scale: f64, unit: &str, max: f64) -> Result<Duration, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number of {unit}"))?;
    if !v.is_finite() || !(0.0..=max).contains(&v) {
        return Err(format!("{v:?} is out of range ({unit}, 0 to {max})"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// An unsigned number in decimal or in hex with `0x` (as ping's `-Q`,
/// traceroute's `-t` and `ip rule`'s fwmark take them), from 0 to `max`;
/// `what` names it in errors ("a TOS / traffic class").
pub fn unsigned(what: &str, text: &str, max: u64) -> Result<u64, String> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let out_of_range = || format!("{text} is out of range for {what}: 0 to {max} ({max:#x})");
    if text.starts_with('-') {
        return Err(out_of_range());
    }
    // from_str_radix also takes a leading '+'; a number here is digits only.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!(
            "{text:?} is not a number: {what} is decimal, or hex with 0x"
        ));
    }
    // Only digits: the one failure left is overflow.
    match u64::from_str_radix(digits, radix) {
        Ok(value) if value <= max => Ok(value),
        _ => Err(out_of_range()),
    }
}

/// A TOS byte / IPv6 traffic class (ping `-Q`, trace `-t`, send `--tos`,
/// sweep `-O`): 0 to 255, decimal or `0x` hex.
pub fn tos(text: &str) -> Result<u8, String> {
    unsigned("a TOS / traffic class", text, u8::MAX.into()).map(|v| v as u8)
}

/// A firewall mark (`SO_MARK`, ping `-m`): 32 bits, decimal or `0x` hex.
pub fn mark(text: &str) -> Result<u32, String> {
    unsigned("a mark", text, u32::MAX.into()).map(|v| v as u32)
}

/// A 16-bit field (send's ids and sequence numbers), decimal or `0x` hex.
pub fn u16_value(text: &str) -> Result<u16, String> {
    unsigned("a 16-bit field", text, u16::MAX.into()).map(|v| v as u16)
}

/// A 32-bit field (send's rest of header), decimal or `0x` hex.
pub fn u32_value(text: &str) -> Result<u32, String> {
    unsigned("a 32-bit field", text, u32::MAX.into()).map(|v| v as u32)
}

/// The family `-4`/`-6` ask for (clap keeps them exclusive).
pub fn family(ipv4: bool, ipv6: bool) -> Option<Family> {
    match (ipv4, ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    }
}

/// `-4`/`-6` of the commands that probe: the family names resolve to and
/// probes use (ping, sweep, trace, send). decode, listen and respond give
/// the two letters meanings of their own.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct FamilyArgs {
    /// IPv4 only (names resolve to IPv4 addresses).
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only (names resolve to IPv6 addresses).
    #[arg(short = '6')]
    pub ipv6: bool,
}

impl FamilyArgs {
    /// The family asked for, if any.
    pub fn family(self) -> Option<Family> {
        family(self.ipv4, self.ipv6)
    }
}

/// `--privileged`/`--unprivileged` of the commands that choose a socket
/// kind (ping, sweep, trace); without either, each command's default.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct PrivilegeArgs {
    /// Raw sockets only (needs CAP_NET_RAW or root).
    #[arg(long, conflicts_with = "unprivileged")]
    pub privileged: bool,

    /// Unprivileged sockets only: datagram ICMP (needs
    /// net.ipv4.ping_group_range); trace's UDP/TCP probes use plain sockets
    /// with IP_RECVERR.
    #[arg(long)]
    pub unprivileged: bool,
}

impl PrivilegeArgs {
    /// The socket kind asked for, else the command's `default`.
    pub fn privilege(self, default: Privilege) -> Privilege {
        privilege(self.privileged, self.unprivileged, default)
    }
}

/// The socket kind `--privileged`/`--unprivileged` ask for; without
/// either, the command's `default` (ping: datagram first, as iputils;
/// sweep and trace: raw first, as fping and traceroute).
pub fn privilege(privileged: bool, unprivileged: bool, default: Privilege) -> Privilege {
    match (privileged, unprivileged) {
        (true, _) => Privilege::Privileged,
        (_, true) => Privilege::Unprivileged,
        _ => default,
    }
}

/// `-I`: an address to send from, else an interface to bind to (as
/// iputils ping reads it).
pub fn interface_or_source(value: &str, socket: &mut SocketOptions) {
    match value.parse::<IpAddr>() {
        Ok(a) => socket.source = Some(a),
        Err(_) => socket.interface = Some(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_fractions_and_refuse_nonsense() {
        assert_eq!(secs("0.2"), Ok(Duration::from_millis(200)));
        for bad in ["-1", "nan", "inf", "2e6", "x", ""] {
            assert!(secs(bad).is_err(), "{bad}");
        }
        assert!(secs("1e300").unwrap_err().contains("1e300"));
        assert_eq!(msecs("500"), Ok(Duration::from_millis(500)));
        assert_eq!(msecs("0.25"), Ok(Duration::from_micros(250)));
        assert!(msecs("-1").is_err());
        assert_eq!(send_wait("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(send_wait("500"), Ok(Duration::from_millis(500)));
        assert_eq!(send_wait("10"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn numbers_in_decimal_or_hex_with_range_checks() {
        assert_eq!(tos("16"), Ok(16));
        assert_eq!(tos("0x10"), Ok(16));
        assert_eq!(tos("0XB8"), Ok(0xb8));
        assert_eq!(tos("255"), Ok(255));
        assert_eq!(tos("0xff"), Ok(255));
        assert_eq!(tos("0"), Ok(0));
        assert_eq!(mark("0xdeadbeef"), Ok(0xdead_beef));
        assert_eq!(mark("4294967295"), Ok(u32::MAX));
        assert_eq!(u16_value("0x1234"), Ok(0x1234));
        assert_eq!(u32_value("7"), Ok(7));
        let refused = |result: Result<u8, String>, words: &str| {
            let e = result.unwrap_err();
            assert!(e.contains(words), "{e}");
        };
        refused(
            tos("256"),
            "256 is out of range for a TOS / traffic class: 0 to 255 (0xff)",
        );
        refused(tos("0x100"), "0x100 is out of range");
        refused(tos("99999999999999999999999"), "out of range");
        refused(tos("-1"), "-1 is out of range");
        refused(
            tos("ten"),
            "\"ten\" is not a number: a TOS / traffic class is decimal, or hex with 0x",
        );
        for bad in ["0x", "", "+5", "0x+5", "1e3", " 5", "0x1g"] {
            refused(tos(bad), "is not a number");
        }
        assert!(
            mark("0x100000000")
                .unwrap_err()
                .contains("0 to 4294967295 (0xffffffff)")
        );
        assert!(u16_value("65536").is_err());
        assert!(u32_value("x").is_err());
    }

    #[test]
    fn family_privilege_and_interface() {
        assert_eq!(family(true, false), Some(Family::V4));
        assert_eq!(family(false, true), Some(Family::V6));
        assert_eq!(family(false, false), None);
        assert_eq!(
            privilege(true, false, Privilege::Auto),
            Privilege::Privileged
        );
        assert_eq!(
            privilege(false, true, Privilege::PreferRaw),
            Privilege::Unprivileged
        );
        assert_eq!(privilege(false, false, Privilege::Auto), Privilege::Auto);
        assert_eq!(
            privilege(false, false, Privilege::PreferRaw),
            Privilege::PreferRaw
        );
        let mut socket = SocketOptions::default();
        interface_or_source("192.0.2.1", &mut socket);
        interface_or_source("eth0", &mut socket);
        assert_eq!(socket.source, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(socket.interface.as_deref(), Some("eth0"));
    }
}

/// Every ICMPv4 and ICMPv6 type name the command line takes (`echo-request`,
/// `neighbor-solicitation`...), once each, sorted.
pub fn icmp_type_names() -> Vec<&'static str> {
    use icmpkit::wire::{icmpv4, icmpv6};
    let mut names: Vec<&str> = (0..=u8::MAX)
        .flat_map(|t| [icmpv4::type_name(t), icmpv6::type_name(t)])
        .flatten()
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The value of a flag that takes an ICMP type, a number or a name: any
/// text passes here (the command checks it against the family), but the
/// names are its possible values, so shell completions offer them.
#[derive(Debug, Clone, Copy)]
pub struct IcmpTypeArg;

impl clap::builder::TypedValueParser for IcmpTypeArg {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            icmp_type_names()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}
