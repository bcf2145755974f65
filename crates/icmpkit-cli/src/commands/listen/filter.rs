//! `--type`, `--from`, `--to` and `--host`: which packets listen keeps.

use std::net::IpAddr;

use icmpkit::socket::TypeFilter;
use icmpkit::wire::{Family, icmpv4, icmpv6};

/// The packets to keep.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Per family (V4, V6): which types pass; `None` = all.
    types: [Option<[bool; 256]>; 2],
    from: Vec<ipnet::IpNet>,
    to: Vec<ipnet::IpNet>,
    host: Vec<ipnet::IpNet>,
}

/// Addresses given to `--from`, `--to` and `--host`.
#[derive(Debug, Clone, Default)]
pub struct Networks {
    /// `--from`: the source is in one of them.
    pub from: Vec<ipnet::IpNet>,
    /// `--to`: the destination is.
    pub to: Vec<ipnet::IpNet>,
    /// `--host`: the source or the destination is.
    pub host: Vec<ipnet::IpNet>,
}

/// True when `networks` is empty or one holds `addr`.
fn any_holds(networks: &[ipnet::IpNet], addr: Option<IpAddr>) -> bool {
    networks.is_empty() || addr.is_some_and(|a| networks.iter().any(|net| net.contains(&a)))
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl Filter {
    /// Reads `--type` values: a number applies to both families, a name
    /// (`echo-request`, or with spaces) to each family that has it.
    pub fn new(types: &[String], networks: Networks) -> Result<Self, String> {
        let Networks { from, to, host } = networks;
        if types.is_empty() {
            return Ok(Self {
                types: [None, None],
                from,
                to,
                host,
            });
        }
        let mut sets = [[false; 256]; 2];
        for text in types {
            let name = text.trim().to_ascii_lowercase().replace([' ', '_'], "-");
            if let Ok(number) = name.parse::<u8>() {
                sets[0][usize::from(number)] = true;
                sets[1][usize::from(number)] = true;
                continue;
            }
            let mut found = false;
            for t in 0..=255u8 {
                if icmpv4::type_name(t) == Some(name.as_str()) {
                    sets[0][usize::from(t)] = true;
                    found = true;
                }
                if icmpv6::type_name(t) == Some(name.as_str()) {
                    sets[1][usize::from(t)] = true;
                    found = true;
                }
            }
            if !found {
                return Err(format!("unknown ICMP type: {text}"));
            }
        }
        Ok(Self {
            types: sets.map(Some),
            from,
            to,
            host,
        })
    }

    /// Whether `family` has any type to listen for.
    pub fn wants(&self, family: Family) -> bool {
        self.types[slot(family)].is_none_or(|set| set.contains(&true))
    }

    /// The kernel filter for `family`'s raw socket: the chosen types only.
    pub fn kernel_filter(&self, family: Family) -> TypeFilter {
        match &self.types[slot(family)] {
            None => TypeFilter::pass_all(),
            Some(set) => (0..=255u8)
                .filter(|t| set[usize::from(*t)])
                .fold(TypeFilter::block_all(), TypeFilter::pass),
        }
    }

    /// Whether a message of `family` and `msg_type` from `src` to `dst`
    /// passes.
    pub fn passes(
        &self,
        family: Family,
        msg_type: Option<u8>,
        src: IpAddr,
        dst: Option<IpAddr>,
    ) -> bool {
        let type_ok = match (&self.types[slot(family)], msg_type) {
            (None, _) => true,
            (Some(set), Some(t)) => set[usize::from(t)],
            (Some(_), None) => false,
        };
        type_ok
            && any_holds(&self.from, Some(src))
            && any_holds(&self.to, dst)
            && (any_holds(&self.host, Some(src)) || any_holds(&self.host, dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_networks() {
        let from = vec!["192.0.2.0/24".parse().unwrap()];
        let networks = Networks {
            from,
            ..Networks::default()
        };
        let f = Filter::new(&["echo request".into(), "3".into()], networks).unwrap();
        let inside: IpAddr = "192.0.2.9".parse().unwrap();
        let outside: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(f.passes(Family::V4, Some(8), inside, None));
        assert!(!f.passes(Family::V4, Some(8), outside, None));
        assert!(!f.passes(Family::V4, Some(0), inside, None));
        // ICMPv6 echo requests pass the type filter but not --from.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(!f.passes(Family::V6, Some(128), v6, None));
        assert!(f.kernel_filter(Family::V4).passes(8));
        assert!(!f.kernel_filter(Family::V4).passes(0));
        assert!(f.kernel_filter(Family::V6).passes(128));
        assert!(Filter::new(&["no-such-type".into()], Networks::default()).is_err());
        let v6_only = Filter::new(&["neighbor-solicitation".into()], Networks::default()).unwrap();
        assert!(!v6_only.wants(Family::V4));
        assert!(v6_only.wants(Family::V6));
    }

    #[test]
    fn to_and_host_look_at_the_destination_too() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "198.51.100.3".parse().unwrap();
        let only = |networks| Filter::new(&[], networks).unwrap();
        let to_b = only(Networks {
            to: vec!["192.0.2.2/32".parse().unwrap()],
            ..Networks::default()
        });
        assert!(to_b.passes(Family::V4, Some(8), a, Some(b)));
        assert!(!to_b.passes(Family::V4, Some(0), b, Some(a)));
        assert!(!to_b.passes(Family::V4, Some(0), b, None));
        let host_b = only(Networks {
            host: vec!["192.0.2.2/32".parse().unwrap()],
            ..Networks::default()
        });
        assert!(host_b.passes(Family::V4, Some(8), a, Some(b)));
        assert!(host_b.passes(Family::V4, Some(0), b, Some(a)));
        assert!(!host_b.passes(Family::V4, Some(0), a, Some(c)));
    }
}
