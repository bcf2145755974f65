//! Turning what the user typed into an address: literals (with IPv6 zone
//! ids such as `fe80::1%eth0`), then names through the system resolver,
//! IPv4 first unless a family is forced.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use icmpkit_wire::Family;
use ipnet::IpNet;

use crate::{Error, Result};

/// What every entry point takes as a target (`ping`, `traceroute`,
/// `multiping`, `send_and_receive`, `Pinger::start`...): a name or an
/// address as text (`"example.org"`, `"192.0.2.1"`, `"fe80::1%eth0"`;
/// `&str` or `String`), or an address (`IpAddr`, `Ipv4Addr`, `Ipv6Addr`);
/// `multiping` also takes prefixes (`IpNet`) and ranges as text
/// (`"192.0.2.1-192.0.2.9"`).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use icmpkit::resolve::ToTarget;
///
/// assert_eq!("127.0.0.1".target_text(), "127.0.0.1");
/// assert_eq!(IpAddr::from(Ipv4Addr::LOCALHOST).target_text(), "127.0.0.1");
/// ```
pub trait ToTarget {
    /// The target as text to resolve (an address written out).
    fn target_text(&self) -> Cow<'_, str>;
}

impl ToTarget for str {
    fn target_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl ToTarget for String {
    fn target_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl<T: ToTarget + ?Sized> ToTarget for &T {
    fn target_text(&self) -> Cow<'_, str> {
        (**self).target_text()
    }
}

/// Addresses and prefixes: written out, then read back as any text is.
macro_rules! to_target_by_display {
    ($($address:ty),*) => {$(
        impl ToTarget for $address {
            fn target_text(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}
to_target_by_display!(IpAddr, Ipv4Addr, Ipv6Addr, IpNet);

/// A resolved target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the user typed.
    pub name: String,
    /// The address to probe.
    pub address: IpAddr,
    /// IPv6 scope (interface index) for link-local addresses; 0 if none.
    pub scope_id: u32,
}

impl Target {
    /// The socket address to send to (port 0; ICMP has none).
    pub fn socket_addr(&self) -> SocketAddr {
        match self.address {
            IpAddr::V4(a) => SocketAddr::new(a.into(), 0),
            IpAddr::V6(a) => std::net::SocketAddrV6::new(a, 0, 0, self.scope_id).into(),
        }
    }

    /// The family of the address.
    pub fn family(&self) -> Family {
        family_of(self.address)
    }
}

/// The ICMP family that goes with an address.
pub fn family_of(address: IpAddr) -> Family {
    match address {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// Parses an address literal, with an optional `%zone` for IPv6; `None` if
/// `input` is not a literal (then it is a name).
pub fn parse_literal(input: &str) -> Option<Result<Target>> {
    let (addr_part, zone) = match input.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (input, None),
    };
    let trimmed = addr_part.trim_start_matches('[').trim_end_matches(']');
    // `::ffff:a.b.c.d` names an IPv4 host: probe it over IPv4 (an IPv6
    // socket would send it as IPv6, out of the default route).
    let address = trimmed.parse::<IpAddr>().ok()?.to_canonical();
    let scope_id = match (address, zone) {
        (_, None) => 0,
        (IpAddr::V4(_), Some(_)) => {
            return Some(Err(Error::Address {
                input: input.into(),
                reason: "a zone id (%) is only for IPv6".into(),
            }));
        }
        (IpAddr::V6(_), Some(zone)) => match zone_index(zone) {
            Ok(i) => i,
            Err(reason) => {
                return Some(Err(Error::Address {
                    input: input.into(),
                    reason,
                }));
            }
        },
    };
    Some(Ok(Target {
        name: input.into(),
        address,
        scope_id,
    }))
}

fn zone_index(zone: &str) -> std::result::Result<u32, String> {
    if let Ok(i) = zone.parse::<u32>() {
        return Ok(i);
    }
    nix::net::if_::if_nametoindex(zone).map_err(|_| format!("no interface named {zone:?}"))
}

/// What both forms of [`resolve`] decide before any lookup: a literal
/// (`Some`, of `family` if one is forced), or `None` for a name fit to
/// look up.
fn literal_or_name(input: &str, family: Option<Family>) -> Result<Option<Target>> {
    if let Some(literal) = parse_literal(input) {
        let target = literal?;
        if let Some(wanted) = family.filter(|&f| f != target.family()) {
            return Err(Error::Address {
                input: input.into(),
                reason: format!(
                    "address is {}, but {} was requested",
                    fam(target.family()),
                    fam(wanted)
                ),
            });
        }
        return Ok(Some(target));
    }
    // RFC 1035: at most 253 characters in text form.
    if input.is_empty() || input.len() > 253 {
        return Err(Error::NameLookup {
            name: input.into(),
            reason: "not a valid host name".into(),
        });
    }
    Ok(None)
}

/// Resolves `input` (literal or name) to one address, of `family` if given,
/// else IPv4 first (as traceroute and fping do).
pub async fn resolve(input: &str, family: Option<Family>) -> Result<Target> {
    resolve_with(input, family, Order::Ipv4First).await
}

/// Resolves `input` (literal or name) to one address, of `family` if given,
/// else the first the system resolver gives: getaddrinfo's order (RFC 3484
/// / 6724 rules, `/etc/gai.conf`), as iputils ping takes it. A name with
/// both families usually gets its IPv6 address.
pub async fn resolve_preferred(input: &str, family: Option<Family>) -> Result<Target> {
    resolve_with(input, family, Order::System).await
}

/// Which address of a dual-stack name is taken when no family is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Ipv4First,
    System,
}

async fn resolve_with(input: &str, family: Option<Family>, order: Order) -> Result<Target> {
    // Pasted targets often carry blanks (`' 192.0.2.1'`): not part of the name.
    let input = input.trim();
    if let Some(target) = literal_or_name(input, family)? {
        return Ok(target);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((input, 0))
        .await
        .map_err(|e| Error::NameLookup {
            name: input.into(),
            reason: e.to_string(),
        })?
        .collect();
    pick_in(input, &addrs, family, order)
}

/// Blocking form of [`resolve`].
pub fn resolve_blocking(input: &str, family: Option<Family>) -> Result<Target> {
    // Pasted targets often carry blanks (`' 192.0.2.1'`): not part of the name.
    let input = input.trim();
    if let Some(target) = literal_or_name(input, family)? {
        return Ok(target);
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = (input, 0)
        .to_socket_addrs()
        .map_err(|e| Error::NameLookup {
            name: input.into(),
            reason: e.to_string(),
        })?
        .collect();
    pick(input, &addrs, family)
}

fn pick(input: &str, addrs: &[SocketAddr], family: Option<Family>) -> Result<Target> {
    pick_in(input, addrs, family, Order::Ipv4First)
}

fn pick_in(
    input: &str,
    addrs: &[SocketAddr],
    family: Option<Family>,
    order: Order,
) -> Result<Target> {
    // A resolver may hand out IPv4-mapped addresses: they are IPv4 hosts.
    let addrs: Vec<(IpAddr, u32)> = addrs
        .iter()
        .map(|a| match a {
            SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_none() => (a.ip(), v6.scope_id()),
            _ => (a.ip().to_canonical(), 0),
        })
        .collect();
    let wanted = |a: &&(IpAddr, u32)| family.is_none_or(|f| family_of(a.0) == f);
    let chosen = match (family, order) {
        (Some(_), _) => addrs.iter().find(wanted),
        (None, Order::System) => addrs.first(),
        (None, Order::Ipv4First) => addrs
            .iter()
            .find(|a| a.0.is_ipv4())
            .or_else(|| addrs.first()),
    };
    let Some(a) = chosen else {
        let reason = match family {
            Some(f) => format!("no {} address", fam(f)),
            None => "no address".into(),
        };
        return Err(Error::NameLookup {
            name: input.into(),
            reason,
        });
    };
    let &(address, scope_id) = a;
    Ok(Target {
        name: input.into(),
        address,
        scope_id,
    })
}

fn fam(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_zones() {
        let t = parse_literal("192.0.2.1").unwrap().unwrap();
        assert_eq!(t.address, "192.0.2.1".parse::<IpAddr>().unwrap());
        let t = parse_literal("fe80::1%lo").unwrap().unwrap();
        assert_eq!(t.scope_id, nix::net::if_::if_nametoindex("lo").unwrap());
        let t = parse_literal("fe80::1%7").unwrap().unwrap();
        assert_eq!(t.scope_id, 7);
        assert!(parse_literal("fe80::1%nosuchif0").unwrap().is_err());
        assert!(parse_literal("192.0.2.1%lo").unwrap().is_err());
        assert!(parse_literal("[2001:db8::1]").unwrap().is_ok());
        assert!(parse_literal("localhost").is_none());
    }

    #[test]
    fn ipv4_mapped_literals_are_ipv4_hosts() {
        let t = parse_literal("::ffff:127.0.0.1").unwrap().unwrap();
        assert_eq!(t.address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(t.family(), Family::V4);
        assert!(literal_or_name("::ffff:127.0.0.1", Some(Family::V6)).is_err());
        assert!(parse_literal("::ffff:127.0.0.1%lo").unwrap().is_err());
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:0".parse().unwrap();
        let t = pick("x", &[mapped], None).unwrap();
        assert_eq!(t.address, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert!(pick("x", &[mapped], Some(Family::V6)).is_err());
    }

    #[test]
    fn the_system_order_takes_the_first_address() {
        let v6: SocketAddr = "[2001:db8::1]:0".parse().unwrap();
        let v4: SocketAddr = "192.0.2.1:0".parse().unwrap();
        let first = pick_in("x", &[v6, v4], None, Order::System).unwrap();
        assert_eq!(first.address, v6.ip());
        let ipv4 = pick_in("x", &[v6, v4], None, Order::Ipv4First).unwrap();
        assert_eq!(ipv4.address, v4.ip());
        let forced = pick_in("x", &[v6, v4], Some(Family::V4), Order::System).unwrap();
        assert_eq!(forced.address, v4.ip());
    }

    #[test]
    fn blanks_around_a_target_are_not_part_of_it() {
        let t = resolve_blocking(" 127.0.0.1\t", None).unwrap();
        assert_eq!(t.address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(t.name, "127.0.0.1");
    }

    #[tokio::test]
    async fn names_resolve_ipv4_first_and_families_are_enforced() {
        let t = resolve("localhost", None).await.unwrap();
        assert!(t.address.is_loopback());
        assert!(t.address.is_ipv4(), "IPv4 first like iputils");
        assert!(resolve("127.0.0.1", Some(Family::V6)).await.is_err());
        let err = resolve("no-such-host.invalid", None).await.unwrap_err();
        assert!(matches!(err, Error::NameLookup { .. }), "{err}");
    }

    /// Both forms refuse the same inputs the same way before any lookup.
    #[tokio::test]
    async fn blocking_and_async_agree_on_literals_and_bad_names() {
        let long = "a".repeat(254);
        for (input, family) in [
            ("127.0.0.1", Some(Family::V6)),
            ("::1", Some(Family::V4)),
            ("", None),
            (long.as_str(), None),
        ] {
            let blocking = resolve_blocking(input, family).unwrap_err();
            let asynchronous = resolve(input, family).await.unwrap_err();
            assert_eq!(blocking.to_string(), asynchronous.to_string(), "{input:?}");
            match family {
                Some(_) => assert!(matches!(blocking, Error::Address { .. }), "{blocking}"),
                None => assert!(
                    blocking.to_string().contains("not a valid host name"),
                    "{blocking}"
                ),
            }
        }
        let t = resolve_blocking("::1", Some(Family::V6)).unwrap();
        assert_eq!(t.address, "::1".parse::<IpAddr>().unwrap());
    }
}
