//! What a sweep probes: CIDR prefixes, ranges `a-b`, hosts and names, minus
//! exclusions, as one index space `0..len` in input order. The set stores
//! contiguous blocks, not addresses, so a /8 costs a few dozen bytes; index
//! → address is a binary search over the blocks, and so is address → index.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use icmpkit_wire::Family;
use ipnet::IpNet;

use crate::resolve::{Target, family_of, parse_literal, resolve};
use crate::{Error, InvalidReason, Result};

/// One target as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A prefix, `192.0.2.0/24` or `2001:db8::/120`. IPv4 prefixes shorter
    /// than /31 skip their network and broadcast addresses (as `fping -g`).
    Net(IpNet),
    /// An inclusive range of one family, `192.0.2.10-192.0.2.20`.
    Range(IpAddr, IpAddr),
    /// One host: an address literal (with an optional IPv6 `%zone`) or a
    /// name to resolve.
    Host(String),
}

impl FromStr for TargetSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<TargetSpec> {
        let s = s.trim();
        let bad = |reason: &str| Error::Address {
            input: s.into(),
            reason: reason.into(),
        };
        if s.is_empty() {
            return Err(bad("empty target"));
        }
        if s.contains('/') {
            let net: IpNet = s.parse().map_err(|_| bad("not a CIDR prefix"))?;
            if let IpNet::V6(v6) = net
                && v6.network().to_ipv4_mapped().is_some()
            {
                // Swept as IPv6 these would leave by the default route.
                return Err(bad("an IPv4-mapped prefix: write it as an IPv4 prefix"));
            }
            return Ok(TargetSpec::Net(net));
        }
        // Host names may contain '-': a range needs an address on both sides.
        if let Some((a, b)) = s.split_once('-')
            && let (Ok(a), Ok(b)) = (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>())
        {
            // `::ffff:a.b.c.d` names an IPv4 host, as for single targets.
            let (a, b) = (a.to_canonical(), b.to_canonical());
            if family_of(a) != family_of(b) {
                return Err(bad("a range needs two addresses of one family"));
            }
            if to_bits(a) > to_bits(b) {
                return Err(bad("range start is after its end"));
            }
            return Ok(TargetSpec::Range(a, b));
        }
        Ok(TargetSpec::Host(s.into()))
    }
}

/// A contiguous run of addresses (or one named host) in the index space.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    family: Family,
    /// First address, as a number (IPv4 in the low 32 bits).
    start: u128,
    /// Addresses in the block (≥ 1).
    len: u64,
    /// Index of the first address in the whole set.
    first_index: u64,
    /// The name the user typed, for a single host given by name.
    name: Option<String>,
    /// IPv6 zone of a link-local host.
    scope_id: u32,
}

/// The targets of a sweep: indices `0..len()` in input order.
#[derive(Debug, Clone, Default)]
pub struct TargetSet {
    blocks: Vec<Block>,
    /// Block numbers ordered by (family, start), for [`TargetSet::index_of`].
    by_address: Vec<usize>,
    len: u64,
}

fn to_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_bits(family: Family, bits: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

/// An inclusive address range as numbers.
type Span = (Family, u128, u128);

fn net_span(net: &IpNet) -> Span {
    let (first, last) = (to_bits(net.network()), to_bits(net.broadcast()));
    match net {
        IpNet::V4(v4) if v4.prefix_len() < 31 => (Family::V4, first + 1, last - 1),
        IpNet::V4(_) => (Family::V4, first, last),
        IpNet::V6(_) => (Family::V6, first, last),
    }
}

/// Builds a [`TargetSet`]: add targets and exclusions, then [`build`](Self::build).
#[derive(Debug, Default)]
pub struct TargetSetBuilder {
    spans: Vec<(Span, Option<String>, u32)>,
    excluded: Vec<Span>,
}

impl TargetSetBuilder {
    /// Adds a prefix (IPv4 shorter than /31: without network and broadcast).
    pub fn net(&mut self, net: IpNet) -> &mut Self {
        self.spans.push((net_span(&net), None, 0));
        self
    }

    /// Adds the inclusive range `first..=last` (same family, `first <= last`).
    pub fn range(&mut self, first: IpAddr, last: IpAddr) -> Result<&mut Self> {
        if family_of(first) != family_of(last) || to_bits(first) > to_bits(last) {
            return Err(Error::Address {
                input: format!("{first}-{last}"),
                reason: "not a range of one family in ascending order".into(),
            });
        }
        let span = (family_of(first), to_bits(first), to_bits(last));
        self.spans.push((span, None, 0));
        Ok(self)
    }

    /// Adds one resolved host; its reports carry `target.name`.
    pub fn host(&mut self, target: &Target) -> &mut Self {
        let bits = to_bits(target.address);
        let name = (parse_literal(&target.name).is_none()).then(|| target.name.clone());
        self.spans
            .push(((target.family(), bits, bits), name, target.scope_id));
        self
    }

    /// Leaves out every address of `net` (network and broadcast included).
    pub fn exclude(&mut self, net: IpNet) -> &mut Self {
        let span = (
            family_of(net.network()),
            to_bits(net.network()),
            to_bits(net.broadcast()),
        );
        self.excluded.push(span);
        self
    }

    /// The set; fails if it holds more than 2⁶⁴ − 1 addresses.
    pub fn build(&self) -> Result<TargetSet> {
        let excluded = merge(&self.excluded);
        let mut set = TargetSet::default();
        for (span, name, scope_id) in &self.spans {
            for (first, last) in subtract(*span, &excluded) {
                let too_many = || {
                    Error::invalid(
                        "targets",
                        InvalidReason::TooMany {
                            limit: "more than 2^64 - 1",
                        },
                    )
                };
                // `::/0` holds 2^128 addresses: one more than a u128 counts.
                let len = (last - first)
                    .checked_add(1)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(too_many)?;
                set.blocks.push(Block {
                    family: span.0,
                    start: first,
                    len,
                    first_index: set.len,
                    name: name.clone(),
                    scope_id: *scope_id,
                });
                set.len = set.len.checked_add(len).ok_or_else(too_many)?;
            }
        }
        let mut order: Vec<usize> = (0..set.blocks.len()).collect();
        order.sort_by_key(|&b| (set.blocks[b].family == Family::V6, set.blocks[b].start));
        set.by_address = order;
        Ok(set)
    }
}

/// Sorted, merged, non-overlapping copies of `spans`.
fn merge(spans: &[Span]) -> Vec<Span> {
    let mut sorted = spans.to_vec();
    sorted.sort_by_key(|s| (s.0 == Family::V6, s.1));
    let mut out: Vec<Span> = Vec::with_capacity(sorted.len());
    for s in sorted {
        match out.last_mut() {
            Some(last) if last.0 == s.0 && s.1 <= last.2.saturating_add(1) => {
                last.2 = last.2.max(s.2)
            }
            _ => out.push(s),
        }
    }
    out
}

/// What is left of `span` outside the merged `excluded` spans.
fn subtract(span: Span, excluded: &[Span]) -> Vec<(u128, u128)> {
    let (family, mut first, last) = span;
    let mut out = Vec::new();
    for &(f, ex_first, ex_last) in excluded {
        if f != family || ex_last < first || ex_first > last {
            continue;
        }
        if ex_first > first {
            out.push((first, ex_first - 1));
        }
        if ex_last >= last {
            return out;
        }
        first = ex_last + 1;
    }
    if first <= last {
        out.push((first, last));
    }
    out
}

impl TargetSet {
    /// Starts a set.
    pub fn builder() -> TargetSetBuilder {
        TargetSetBuilder::default()
    }

    /// How many targets (index space `0..len`).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if there is nothing to probe.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if some target is of `family`.
    pub fn has(&self, family: Family) -> bool {
        self.blocks.iter().any(|b| b.family == family)
    }

    fn block(&self, index: u64) -> Option<&Block> {
        if index >= self.len {
            return None;
        }
        let at = self.blocks.partition_point(|b| b.first_index <= index);
        self.blocks.get(at.checked_sub(1)?)
    }

    /// The address of target `index`.
    pub fn address(&self, index: u64) -> Option<IpAddr> {
        let b = self.block(index)?;
        Some(from_bits(
            b.family,
            b.start + u128::from(index - b.first_index),
        ))
    }

    /// The address and IPv6 zone of target `index`.
    pub fn destination(&self, index: u64) -> Option<(IpAddr, u32)> {
        let b = self.block(index)?;
        let address = from_bits(b.family, b.start + u128::from(index - b.first_index));
        Some((address, b.scope_id))
    }

    /// How target `index` is named in reports: the name typed for a host,
    /// else its address.
    pub fn name(&self, index: u64) -> Option<String> {
        let b = self.block(index)?;
        match &b.name {
            Some(name) => Some(name.clone()),
            None => self.address(index).map(address_text),
        }
    }

    /// The index of `address` (the first, if it was given twice).
    pub fn index_of(&self, address: IpAddr) -> Option<u64> {
        let (family, bits) = (family_of(address), to_bits(address));
        let key = (family == Family::V6, bits);
        let at = self.by_address.partition_point(|&b| {
            let block = &self.blocks[b];
            (block.family == Family::V6, block.start) <= key
        });
        // Blocks may overlap (a host listed twice): look back over those
        // starting at or before the address.
        self.by_address[..at].iter().rev().find_map(|&b| {
            let block = &self.blocks[b];
            let inside = block.family == family
                && bits >= block.start
                && bits - block.start < u128::from(block.len);
            inside.then(|| block.first_index + (bits - block.start) as u64)
        })
    }
}

/// A name that could not be resolved (the sweep goes on without it; fping
/// exits 2).
#[derive(Debug)]
pub struct NameError {
    /// The target as typed.
    pub target: String,
    /// Why.
    pub error: Error,
}

/// Parses and resolves `specs` (names through the system resolver, of
/// `family` if given) and removes `excluded`. Unresolvable names are
/// returned beside the set; malformed specs and family mismatches fail.
pub async fn resolve_targets(
    specs: &[TargetSpec],
    excluded: &[IpNet],
    family: Option<Family>,
) -> Result<(TargetSet, Vec<NameError>)> {
    let mut builder = TargetSet::builder();
    let mut name_errors = Vec::new();
    let wrong_family = |input: String| Error::Address {
        input,
        reason: "not of the requested address family".into(),
    };
    for spec in specs {
        match spec {
            TargetSpec::Net(net) => {
                if family.is_some_and(|f| f != family_of(net.network())) {
                    return Err(wrong_family(net.to_string()));
                }
                builder.net(*net);
            }
            TargetSpec::Range(a, b) => {
                if family.is_some_and(|f| f != family_of(*a)) {
                    return Err(wrong_family(format!("{a}-{b}")));
                }
                builder.range(*a, *b)?;
            }
            TargetSpec::Host(name) => match resolve(name, family).await {
                Ok(target) => {
                    builder.host(&target);
                }
                Err(error @ Error::NameLookup { .. }) => name_errors.push(NameError {
                    target: name.clone(),
                    error,
                }),
                Err(e) => return Err(e),
            },
        }
    }
    for net in excluded {
        builder.exclude(*net);
    }
    Ok((builder.build()?, name_errors))
}

/// Reads targets from text, one per line (blank lines and `#` comments
/// skipped), as `fping -f` does.
/// A bad line's error says its number.
pub fn parse_lines(text: &str) -> Result<Vec<TargetSpec>> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(number, l)| {
            l.split_whitespace()
                .next()
                .unwrap_or(l)
                .parse()
                .map_err(|e| match e {
                    Error::Address { input, reason } => Error::Address {
                        input,
                        reason: format!("line {number}: {reason}"),
                    },
                    other => other,
                })
        })
        .collect()
}

/// `address` as text, as `Display` writes it. Every target of a large
/// sweep gets its name this way once, so IPv4's dotted quad is written
/// here by hand: `Ipv4Addr`'s `Display` goes through the formatting
/// machinery (padding, four `u8` formats), about a quarter of a live
/// sweep's user-space instructions per probe (callgrind).
fn address_text(address: IpAddr) -> String {
    let IpAddr::V4(v4) = address else {
        return address.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(specs: &[&str], excluded: &[&str]) -> TargetSet {
        let mut b = TargetSet::builder();
        for s in specs {
            match s.parse::<TargetSpec>().unwrap() {
                TargetSpec::Net(n) => b.net(n),
                TargetSpec::Range(x, y) => b.range(x, y).unwrap(),
                TargetSpec::Host(h) => b.host(&parse_literal(&h).unwrap().unwrap()),
            };
        }
        for e in excluded {
            b.exclude(e.parse().unwrap());
        }
        b.build().unwrap()
    }

    fn all(s: &TargetSet) -> Vec<String> {
        (0..s.len())
            .map(|i| s.address(i).unwrap().to_string())
            .collect()
    }

    #[test]
    fn parses_each_kind() {
        assert!(matches!(
            "192.0.2.0/24".parse::<TargetSpec>(),
            Ok(TargetSpec::Net(_))
        ));
        assert!(matches!(
            "2001:db8::1-2001:db8::9".parse::<TargetSpec>(),
            Ok(TargetSpec::Range(..))
        ));
        assert_eq!(
            "my-host.example".parse::<TargetSpec>().unwrap(),
            TargetSpec::Host("my-host.example".into())
        );
        assert!("192.0.2.9-192.0.2.1".parse::<TargetSpec>().is_err());
        assert!("192.0.2.1-2001:db8::1".parse::<TargetSpec>().is_err());
        assert!("192.0.2.0/33".parse::<TargetSpec>().is_err());
        assert!("".parse::<TargetSpec>().is_err());
    }

    #[test]
    fn ipv4_mapped_targets_are_ipv4_or_refused() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            "::ffff:192.0.2.1-::ffff:192.0.2.9"
                .parse::<TargetSpec>()
                .unwrap(),
            TargetSpec::Range(v4("192.0.2.1"), v4("192.0.2.9"))
        );
        let e = "::ffff:192.0.2.0/120".parse::<TargetSpec>().unwrap_err();
        assert!(e.to_string().contains("IPv4-mapped"), "{e}");
    }

    #[test]
    fn ipv4_prefixes_skip_network_and_broadcast() {
        assert_eq!(
            all(&set(&["192.0.2.0/30"], &[])),
            ["192.0.2.1", "192.0.2.2"]
        );
        assert_eq!(
            all(&set(&["192.0.2.0/31"], &[])),
            ["192.0.2.0", "192.0.2.1"]
        );
        assert_eq!(all(&set(&["192.0.2.7/32"], &[])), ["192.0.2.7"]);
        assert_eq!(set(&["192.0.2.0/24"], &[]).len(), 254);
        assert_eq!(set(&["2001:db8::/126"], &[]).len(), 4);
    }

    #[test]
    fn input_order_and_lookup_both_ways() {
        let s = set(&["198.51.100.5", "192.0.2.1-192.0.2.3", "2001:db8::1"], &[]);
        assert_eq!(
            all(&s),
            [
                "198.51.100.5",
                "192.0.2.1",
                "192.0.2.2",
                "192.0.2.3",
                "2001:db8::1"
            ]
        );
        for i in 0..s.len() {
            assert_eq!(s.index_of(s.address(i).unwrap()), Some(i));
        }
        assert_eq!(s.index_of("192.0.2.4".parse().unwrap()), None);
        assert_eq!(s.address(5), None);
        assert!(s.has(Family::V4) && s.has(Family::V6));
    }

    #[test]
    fn exclusions_cut_holes() {
        let s = set(
            &["192.0.2.0/28"],
            &["192.0.2.4/31", "192.0.2.8/30", "192.0.2.9/32"],
        );
        assert_eq!(
            all(&s),
            [
                "192.0.2.1",
                "192.0.2.2",
                "192.0.2.3",
                "192.0.2.6",
                "192.0.2.7",
                "192.0.2.12",
                "192.0.2.13",
                "192.0.2.14"
            ]
        );
        assert!(set(&["192.0.2.0/24"], &["192.0.2.0/24"]).is_empty());
        // Another family's exclusion leaves it alone.
        assert_eq!(set(&["192.0.2.0/30"], &["2001:db8::/32"]).len(), 2);
    }

    #[test]
    fn too_many_targets_is_an_error() {
        let mut b = TargetSet::builder();
        b.net("2001:db8::/64".parse().unwrap());
        assert!(b.build().is_err());
        let mut b = TargetSet::builder();
        b.net("2001:db8::/65".parse().unwrap());
        b.net("2001:db8::/65".parse().unwrap());
        assert!(b.build().is_err());
        // The whole IPv6 space: its size overflowed the count itself.
        let mut whole_net = TargetSet::builder();
        whole_net.net("::/0".parse().unwrap());
        let mut whole_range = TargetSet::builder();
        whole_range
            .range(
                "::".parse().unwrap(),
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            )
            .unwrap();
        for b in [whole_net, whole_range] {
            let err = b.build().unwrap_err();
            assert!(
                err.invalid_option().is_some_and(|e| e.option == "targets"),
                "{err}"
            );
        }
    }

    #[test]
    fn lines_skip_blanks_and_comments() {
        let specs = parse_lines("192.0.2.1\n\n# all of it\n192.0.2.0/30  # net\n").unwrap();
        assert_eq!(specs.len(), 2);
        assert!(parse_lines("192.0.2.0/99").is_err());
        let e = parse_lines("192.0.2.1\n# x\n\n192.0.2.0/99\n").unwrap_err();
        assert!(e.to_string().contains("line 4: not a CIDR prefix"), "{e}");
    }

    proptest::proptest! {
        /// The hand-written dotted quad is `Display`'s, for any address.
        #[test]
        fn address_text_is_display(bits in proptest::prelude::any::<u32>(), v6 in proptest::prelude::any::<u128>()) {
            let v4 = IpAddr::from(Ipv4Addr::from(bits));
            proptest::prop_assert_eq!(address_text(v4), v4.to_string());
            let v6 = IpAddr::from(Ipv6Addr::from(v6));
            proptest::prop_assert_eq!(address_text(v6), v6.to_string());
        }
    }

    #[test]
    fn address_text_of_edge_octets() {
        for (a, text) in [
            ([0, 9, 10, 99], "0.9.10.99"),
            ([100, 199, 200, 255], "100.199.200.255"),
        ] {
            assert_eq!(address_text(IpAddr::from(a)), text);
        }
    }
}
