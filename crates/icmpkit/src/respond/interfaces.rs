//! The system's interface table, for extended echo (RFC 8335) answers.

use std::net::IpAddr;

use icmpkit_wire::extension::InterfaceId;
use nix::net::if_::InterfaceFlags;

use super::decide::{InterfaceLookup, InterfaceStatus, Interfaces};

/// One interface: name, index, state and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its ifIndex.
    pub index: u32,
    /// Up and running.
    pub active: bool,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
}

impl Interface {
    fn status(&self) -> InterfaceStatus {
        InterfaceStatus {
            active: self.active,
            ipv4: self.addresses.iter().any(IpAddr::is_ipv4),
            ipv6: self.addresses.iter().any(IpAddr::is_ipv6),
        }
    }
}

/// The interfaces of the current network namespace, read afresh at each
/// lookup (`getifaddrs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemInterfaces;

impl SystemInterfaces {
    /// The current table (empty if it cannot be read).
    pub fn snapshot(&self) -> Vec<Interface> {
        let mut table: Vec<Interface> = Vec::new();
        let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
            return table;
        };
        for a in addrs {
            let ip = a.address.as_ref().and_then(|s| {
                s.as_sockaddr_in()
                    .map(|v4| IpAddr::V4(v4.ip()))
                    .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
            });
            let entry = match table.iter_mut().position(|i| i.name == a.interface_name) {
                Some(at) => &mut table[at],
                None => {
                    let index =
                        nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0);
                    table.push(Interface {
                        name: a.interface_name.clone(),
                        index,
                        active: a.flags.contains(InterfaceFlags::IFF_UP)
                            && a.flags.contains(InterfaceFlags::IFF_RUNNING),
                        addresses: Vec::new(),
                    });
                    let last = table.len() - 1;
                    &mut table[last]
                }
            };
            if let Some(ip) = ip {
                entry.addresses.push(ip);
            }
        }
        table
    }
}

impl Interfaces for SystemInterfaces {
    fn lookup(&self, query: &InterfaceId<'_>) -> InterfaceLookup {
        lookup_in(&self.snapshot(), query)
    }
}

/// Finds `query` in `table`.
pub fn lookup_in(table: &[Interface], query: &InterfaceId<'_>) -> InterfaceLookup {
    let matching: Vec<&Interface> = table
        .iter()
        .filter(|i| match query {
            InterfaceId::Name(n) => i.name.as_bytes() == *n,
            InterfaceId::Index(x) => i.index == *x,
            InterfaceId::Address { .. } => query.ip().is_some_and(|a| i.addresses.contains(&a)),
        })
        .collect();
    match matching.as_slice() {
        [] => InterfaceLookup::NotFound,
        [one] => InterfaceLookup::Found(one.status()),
        _ => InterfaceLookup::Multiple,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_by_name_index_and_address() {
        let table = SystemInterfaces.snapshot();
        let Some(lo) = table.iter().find(|i| i.name == "lo") else {
            icmpkit_lab::report_skip(
                "loopback_is_found_by_name_index_and_address",
                &"no loopback interface visible",
            );
            return;
        };
        assert!(lo.index > 0);
        let by_name = lookup_in(&table, &InterfaceId::Name(b"lo"));
        assert!(matches!(by_name, InterfaceLookup::Found(s) if s.active));
        assert_eq!(by_name, lookup_in(&table, &InterfaceId::Index(lo.index)));
        if lo.addresses.contains(&"127.0.0.1".parse().unwrap()) {
            let by_addr = lookup_in(
                &table,
                &InterfaceId::Address {
                    afi: 1,
                    address: &[127, 0, 0, 1],
                },
            );
            assert_eq!(by_addr, by_name);
        }
        assert_eq!(
            lookup_in(&table, &InterfaceId::Name(b"no-such-if0")),
            InterfaceLookup::NotFound
        );
    }
}
