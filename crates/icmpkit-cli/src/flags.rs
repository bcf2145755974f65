//! Flags several commands share, turned into library options: time values
//! in seconds, `-4`/`-6`, `--privileged`/`--unprivileged`, and `-I` taking
//! an interface or a source address.

use std::net::IpAddr;
use std::time::Duration;

use icmpkit::socket::{Privilege, SocketOptions};
use icmpkit::wire::Family;

/// A time flag given in (fractional) seconds, as ping and traceroute take
/// them; `flag` names it in the error (`-i`, `--interval`...).
pub fn seconds(flag: &str, v: f64) -> Result<Duration, String> {
    if !v.is_finite() || !(0.0..=1e6).contains(&v) {
        return Err(format!(
            "bad value for {flag}: {v:?} (seconds, 0 to 1000000)"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A time flag given in (fractional) milliseconds, as fping takes them.
pub fn millis(flag: &str, v: f64) -> Result<Duration, String> {
    if !v.is_finite() || !(0.0..=1e9).contains(&v) {
        return Err(format!(
            "bad value for {flag}: {v:?} (milliseconds, 0 to 1000000000)"
        ));
    }
    Ok(Duration::from_secs_f64(v / 1000.0))
}

/// The family `-4`/`-6` ask for (clap keeps them exclusive).
pub fn family(ipv4: bool, ipv6: bool) -> Option<Family> {
    match (ipv4, ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    }
}

/// The socket kind `--privileged`/`--unprivileged` ask for.
pub fn privilege(privileged: bool, unprivileged: bool) -> Privilege {
    match (privileged, unprivileged) {
        (true, _) => Privilege::Privileged,
        (_, true) => Privilege::Unprivileged,
        _ => Privilege::Auto,
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
    fn seconds_accepts_fractions_and_refuses_nonsense() {
        assert_eq!(seconds("-i", 0.2), Ok(Duration::from_millis(200)));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert!(seconds("-i", bad).unwrap_err().contains("-i"), "{bad}");
        }
        assert!(seconds("-i", 1e300).unwrap_err().contains("1e300"));
        assert_eq!(millis("-t", 500.0), Ok(Duration::from_millis(500)));
        assert!(millis("-t", -1.0).is_err());
    }

    #[test]
    fn family_privilege_and_interface() {
        assert_eq!(family(true, false), Some(Family::V4));
        assert_eq!(family(false, true), Some(Family::V6));
        assert_eq!(family(false, false), None);
        assert_eq!(privilege(true, false), Privilege::Privileged);
        assert_eq!(privilege(false, true), Privilege::Unprivileged);
        assert_eq!(privilege(false, false), Privilege::Auto);
        let mut socket = SocketOptions::default();
        interface_or_source("192.0.2.1", &mut socket);
        interface_or_source("eth0", &mut socket);
        assert_eq!(socket.source, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(socket.interface.as_deref(), Some("eth0"));
    }
}
