//! `--type` and `--from`: which packets listen keeps.

use std::net::IpAddr;

use icmpkit::socket::TypeFilter;
use icmpkit::wire::{Family, icmpv4, icmpv6};

/// The packets to keep.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Per family (V4, V6): which types pass; `None` = all.
    types: [Option<[bool; 256]>; 2],
    from: Vec<ipnet::IpNet>,
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
    pub fn new(types: &[String], from: Vec<ipnet::IpNet>) -> Result<Self, String> {
        if types.is_empty() {
            return Ok(Self {
                types: [None, None],
                from,
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

    /// Whether a message of `family` and `msg_type` from `src` passes.
    pub fn passes(&self, family: Family, msg_type: Option<u8>, src: IpAddr) -> bool {
        let type_ok = match (&self.types[slot(family)], msg_type) {
            (None, _) => true,
            (Some(set), Some(t)) => set[usize::from(t)],
            (Some(_), None) => false,
        };
        type_ok && (self.from.is_empty() || self.from.iter().any(|net| net.contains(&src)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_networks() {
        let from = vec!["192.0.2.0/24".parse().unwrap()];
        let f = Filter::new(&["echo request".into(), "3".into()], from).unwrap();
        let inside: IpAddr = "192.0.2.9".parse().unwrap();
        let outside: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(f.passes(Family::V4, Some(8), inside));
        assert!(!f.passes(Family::V4, Some(8), outside));
        assert!(!f.passes(Family::V4, Some(0), inside));
        // ICMPv6 echo requests pass the type filter but not --from.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(!f.passes(Family::V6, Some(128), v6));
        assert!(f.kernel_filter(Family::V4).passes(8));
        assert!(!f.kernel_filter(Family::V4).passes(0));
        assert!(f.kernel_filter(Family::V6).passes(128));
        assert!(Filter::new(&["no-such-type".into()], vec![]).is_err());
        let v6_only = Filter::new(&["neighbor-solicitation".into()], vec![]).unwrap();
        assert!(!v6_only.wants(Family::V4));
        assert!(v6_only.wants(Family::V6));
    }
}
