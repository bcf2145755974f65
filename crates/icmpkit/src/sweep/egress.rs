//! Where the packet sender sends each probe: what the kernel's IP output
//! looks up per packet (route, source address, egress link, next hop's MAC
//! address), looked up here once per route and kept.
//!
//! Routes: every prefix of every table is read once (netlink dump); two
//! targets whose most specific covering prefix is the same get the same
//! answer from the kernel's lookup (with the default policy rules, which
//! is checked: a rule selecting by destination sends that family through
//! the raw socket), so the kernel is asked (`RTM_GETROUTE`, as `ip route
//! get`) once per such prefix, for its first target. Next hops' MAC
//! addresses come from the neighbour table, read again at most every
//! [`NEIGHBOUR_REREAD`] while one is missing: a probe whose next hop is not
//! resolved goes through the raw socket, whose send makes the kernel
//! resolve it (as `ping` does), and the probes after it go as frames once
//! the entry is there. What cannot go as a frame (not an Ethernet link, a
//! VLAN, a route with several next hops, a probe above the link's MTU,
//! local and broadcast routes, link-local targets) goes through the raw
//! socket; the reasons are kept as notes for the summary.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use icmpkit_wire::Family;

use crate::resolve::family_of;
use crate::socket::netlink::{LinkInfo, Netlink, RTN_UNICAST, RouteQuery};

use super::frames::FrameSettings;

/// Least time between two reads of the neighbour table while a next hop
/// is missing (an on-link sweep of silent hosts misses all the time).
const NEIGHBOUR_REREAD: Duration = Duration::from_millis(10);
/// `ARPHRD_ETHER`.
const ETHERNET: u16 = 1;

/// A link and source address frames leave with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Egress {
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub source: IpAddr,
}

/// How one probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// As a frame from egress number `egress` to `next_hop_mac`.
    Frame {
        egress: usize,
        next_hop_mac: [u8; 6],
    },
    /// Through the raw socket.
    Raw,
}

/// What a route prefix's lookup gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    /// Through a router (its MAC once known).
    Gateway {
        egress: usize,
        router: IpAddr,
        mac: Option<[u8; 6]>,
    },
    /// The target is on the link.
    OnLink {
        egress: usize,
    },
    Raw,
}

/// A prefix as a lookup key: its address bits (masked) and length.
type Prefix = (u128, u8);

fn bits_of(address: IpAddr) -> (u128, u8) {
    match address {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// `prefix` written as `network/length`.
fn prefix_text(family: Family, (bits, length): Prefix) -> String {
    let network = match family {
        Family::V4 => IpAddr::from(std::net::Ipv4Addr::from(bits as u32)),
        Family::V6 => IpAddr::from(std::net::Ipv6Addr::from(bits)),
    };
    format!("{network}/{length}")
}

fn masked(bits: u128, width: u8, length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        let host_bits = u32::from(width - length.min(width));
        bits & !((1u128 << host_bits).wrapping_sub(1))
    }
}

/// One family's routes as prefixes, and what was learnt per prefix.
#[derive(Debug, Default)]
struct FamilyRoutes {
    /// Prefix lengths present, longest first.
    lengths: Vec<u8>,
    prefixes: HashSet<Prefix>,
    hops: HashMap<Prefix, Hop>,
    /// The prefixes lying inside each prefix met so far.
    inside: HashMap<Prefix, Vec<Prefix>>,
    /// The last prefix found and the prefixes inside it: a target in it
    /// but in none of those has it as its most specific prefix, found
    /// without a search (nor a hash).
    last: Option<(Prefix, Vec<Prefix>)>,
    /// The last prefix's hop once known (saves hashing per probe).
    last_hop: Option<(Prefix, Hop)>,
    /// Why this whole family goes through the raw socket.
    raw_only: bool,
}

impl FamilyRoutes {
    fn new(prefixes: Vec<(IpAddr, u8)>) -> FamilyRoutes {
        let mut routes = FamilyRoutes::default();
        for (address, length) in prefixes {
            let (bits, width) = bits_of(address);
            routes
                .prefixes
                .insert((masked(bits, width, length), length));
        }
        let lengths: BTreeSet<u8> = routes.prefixes.iter().map(|p| p.1).collect();
        routes.lengths = lengths.into_iter().rev().collect();
        routes
    }

    /// The most specific prefix covering `bits` (the zero-length default
    /// when no route covers it, which the kernel then refuses).
    fn covering(&mut self, bits: u128, width: u8) -> Prefix {
        let covers = |&(prefix, length): &Prefix| masked(bits, width, length) == prefix;
        if let Some((last, inside)) = &self.last
            && covers(last)
            && !inside.iter().any(covers)
        {
            return *last;
        }
        let found = self
            .lengths
            .iter()
            .map(|&length| (masked(bits, width, length), length))
            .find(|p| self.prefixes.contains(p))
            .unwrap_or((0, 0));
        let prefixes = &self.prefixes;
        let inside = self.inside.entry(found).or_insert_with(|| {
            prefixes
                .iter()
                .filter(|&&(b, l)| l > found.1 && masked(b, width, found.1) == found.0)
                .copied()
                .collect()
        });
        self.last = Some((found, inside.clone()));
        found
    }
}

/// Everything the plan keeps, behind one lock (probes are built under the
/// session's lock anyway).
#[derive(Debug)]
struct State {
    netlink: Netlink,
    query: RouteQuery,
    families: [Option<FamilyRoutes>; 2],
    links: HashMap<u32, LinkInfo>,
    neighbours: HashMap<(u32, IpAddr), [u8; 6]>,
    neighbours_read: Option<Instant>,
    egresses: Vec<Egress>,
    notes: BTreeSet<String>,
    /// The source address the sweep's sockets are bound to, if any.
    bound_source: Option<IpAddr>,
    settings: FrameSettings,
}

/// The packet sender's routing: shared by the sweep's task and its
/// sending threads.
#[derive(Debug)]
pub(crate) struct PacketPlan {
    state: Mutex<State>,
}

fn slot(family: Family) -> usize {
    usize::from(family == Family::V6)
}

impl PacketPlan {
    /// Reads the routes of `families`, the policy rules and the links.
    pub(super) fn new(
        families: &[Family],
        query: RouteQuery,
        bound_source: Option<IpAddr>,
        settings: FrameSettings,
    ) -> io::Result<PacketPlan> {
        let mut netlink = Netlink::open()?;
        let mut notes = BTreeSet::new();
        let mut tables = [None, None];
        for &family in families {
            let mut routes = FamilyRoutes::new(netlink.route_prefixes(family)?);
            if netlink.rules_select_destinations(family)? {
                routes.raw_only = true;
                notes.insert(format!(
                    "{family:?}: a policy rule selects by destination: raw socket"
                ));
            }
            tables[slot(family)] = Some(routes);
        }
        let links = netlink.links()?.into_iter().map(|l| (l.index, l)).collect();
        let mut state = State {
            netlink,
            query,
            families: tables,
            links,
            neighbours: HashMap::new(),
            neighbours_read: None,
            egresses: Vec::new(),
            notes,
            bound_source,
            settings,
        };
        state.read_neighbours();
        Ok(PacketPlan {
            state: Mutex::new(state),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How a probe to `destination` (IPv6 zone `scope_id`) goes.
    pub(super) fn decide(&self, destination: IpAddr, scope_id: u32) -> Decision {
        self.state().decide(destination, scope_id)
    }

    /// Egress number `egress` (from a [`Decision::Frame`]).
    pub(super) fn egress(&self, egress: usize) -> Option<Egress> {
        self.state().egresses.get(egress).copied()
    }

    /// Why some probes went through the raw socket, one line per reason.
    pub(super) fn notes(&self) -> Vec<String> {
        self.state().notes.iter().cloned().collect()
    }

    /// Frames are built with these settings.
    pub(super) fn settings(&self) -> FrameSettings {
        self.state().settings
    }
}

fn is_link_local(address: IpAddr) -> bool {
    match address {
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80 || a.is_multicast(),
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast(),
    }
}

impl State {
    fn decide(&mut self, destination: IpAddr, scope_id: u32) -> Decision {
        if scope_id != 0 || is_link_local(destination) {
            return Decision::Raw;
        }
        let family = family_of(destination);
        let (bits, width) = bits_of(destination);
        let Some(routes) = self.families[slot(family)].as_mut() else {
            return Decision::Raw;
        };
        if routes.raw_only {
            return Decision::Raw;
        }
        let prefix = routes.covering(bits, width);
        let known = match routes.last_hop {
            Some((last, hop)) if last == prefix => Some(hop),
            _ => routes.hops.get(&prefix).copied(),
        };
        let hop = match known {
            Some(hop) => hop,
            None => {
                let hop = self.look_up(destination, prefix);
                self.remember(family, prefix, hop);
                hop
            }
        };
        if let Some(routes) = self.families[slot(family)].as_mut() {
            routes.last_hop = Some((prefix, hop));
        }
        match hop {
            Hop::Raw => Decision::Raw,
            Hop::Gateway {
                egress,
                mac: Some(mac),
                ..
            } => Decision::Frame {
                egress,
                next_hop_mac: mac,
            },
            Hop::Gateway { egress, router, .. } => match self.neighbour(egress, router) {
                Some(next_hop_mac) => {
                    let resolved = Hop::Gateway {
                        egress,
                        router,
                        mac: Some(next_hop_mac),
                    };
                    self.remember(family, prefix, resolved);
                    Decision::Frame {
                        egress,
                        next_hop_mac,
                    }
                }
                None => Decision::Raw,
            },
            Hop::OnLink { egress } => match self.neighbour(egress, destination) {
                Some(mac) => Decision::Frame {
                    egress,
                    next_hop_mac: mac,
                },
                None => Decision::Raw,
            },
        }
    }

    /// Keeps what `prefix`'s lookup gave.
    fn remember(&mut self, family: Family, prefix: Prefix, hop: Hop) {
        if let Some(routes) = self.families[slot(family)].as_mut() {
            routes.hops.insert(prefix, hop);
            routes.last_hop = Some((prefix, hop));
        }
    }

    /// The next hop's MAC address on egress `egress`, reading the
    /// neighbour table again if it is missing and the last read is old.
    fn neighbour(&mut self, egress: usize, address: IpAddr) -> Option<[u8; 6]> {
        let ifindex = self.egresses.get(egress)?.ifindex;
        if let Some(mac) = self.neighbours.get(&(ifindex, address)) {
            return Some(*mac);
        }
        let stale = self
            .neighbours_read
            .is_none_or(|at| at.elapsed() >= NEIGHBOUR_REREAD);
        if stale {
            self.read_neighbours();
        }
        self.neighbours.get(&(ifindex, address)).copied()
    }

    fn read_neighbours(&mut self) {
        self.neighbours_read = Some(Instant::now());
        for family in [Family::V4, Family::V6] {
            if self.families[slot(family)].is_none() {
                continue;
            }
            match self.netlink.neighbours(family) {
                Ok(entries) => {
                    for n in entries {
                        if let Ok(mac) = <[u8; 6]>::try_from(n.link_address.as_slice()) {
                            self.neighbours.insert((n.ifindex, n.address), mac);
                        }
                    }
                }
                Err(e) => tracing::debug!("reading the neighbour table: {e}"),
            }
        }
    }

    /// Asks the kernel for the route to `destination` (the first target
    /// under `prefix`) and turns the answer into a hop.
    fn look_up(&mut self, destination: IpAddr, prefix: Prefix) -> Hop {
        let answer = match self.netlink.route(destination, self.query) {
            Ok(answer) => answer,
            // Unreachable, prohibited, no route: the raw socket's send
            // reports it per target as before.
            Err(_) => return Hop::Raw,
        };
        let family = family_of(destination);
        let shown = prefix_text(family, prefix);
        if answer.kind != RTN_UNICAST {
            return Hop::Raw;
        }
        if answer.unusual_next_hop {
            self.note(format!(
                "{shown}: the route has several next hops, or one of the other family: raw socket"
            ));
            return Hop::Raw;
        }
        let Some(link) = answer.oif.and_then(|oif| self.links.get(&oif)) else {
            return Hop::Raw;
        };
        let link = link.clone();
        let Some(mac) = self.usable_link(&link, &shown, family) else {
            return Hop::Raw;
        };
        let Some(source) = self.bound_source.or(answer.source) else {
            self.note(format!(
                "{shown}: no source address for {}: raw socket",
                link.name
            ));
            return Hop::Raw;
        };
        let egress = Egress {
            ifindex: link.index,
            mac,
            source,
        };
        let egress = match self.egresses.iter().position(|e| *e == egress) {
            Some(i) => i,
            None => {
                self.egresses.push(egress);
                self.egresses.len() - 1
            }
        };
        match answer.gateway {
            Some(router) => Hop::Gateway {
                egress,
                router,
                mac: None,
            },
            None => Hop::OnLink { egress },
        }
    }

    /// The link's MAC address if frames can go out on it; else a note why
    /// not.
    fn usable_link(&mut self, link: &LinkInfo, shown: &str, family: Family) -> Option<[u8; 6]> {
        let name = &link.name;
        if link.hardware != ETHERNET {
            self.note(format!(
                "{shown} via {name}: not an Ethernet link (ARPHRD {}): raw socket",
                link.hardware
            ));
            return None;
        }
        if link.kind.as_deref() == Some("vlan") {
            self.note(format!("{shown} via {name}: a VLAN link: raw socket"));
            return None;
        }
        let mtu = usize::try_from(link.mtu).unwrap_or(usize::MAX);
        if self.settings.ip_len(family) > mtu {
            self.note(format!(
                "{shown} via {name}: probes larger than its MTU ({mtu}): raw socket"
            ));
            return None;
        }
        match <[u8; 6]>::try_from(link.address.as_slice()) {
            Ok(mac) => Some(mac),
            Err(_) => {
                self.note(format!("{shown} via {name}: no MAC address: raw socket"));
                None
            }
        }
    }

    fn note(&mut self, note: String) {
        if self.notes.insert(note.clone()) {
            tracing::info!("packet sender: {note}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_most_specific_prefix_covers_a_target() {
        let mut routes = FamilyRoutes::new(vec![
            (v4("0.0.0.0"), 0),
            (v4("10.0.0.0"), 8),
            (v4("10.20.0.0"), 16),
            (v4("10.20.5.7"), 32),
        ]);
        let look = |routes: &mut FamilyRoutes, a: &str| {
            let (bits, width) = bits_of(v4(a));
            routes.covering(bits, width)
        };
        let p16 = (u128::from(u32::from_be_bytes([10, 20, 0, 0])), 16);
        assert_eq!(look(&mut routes, "10.20.1.1"), p16);
        // 10.20/16 holds a /32: the next target in it is searched again,
        // not taken from the last answer.
        assert_eq!(look(&mut routes, "10.20.5.7").1, 32);
        assert_eq!(look(&mut routes, "10.20.5.8"), p16);
        assert_eq!(look(&mut routes, "10.9.0.1").1, 8);
        assert_eq!(look(&mut routes, "192.0.2.1"), (0, 0));
        // The last prefix answers for what lies in it and in nothing
        // inside it.
        let mut leafy = FamilyRoutes::new(vec![(v4("10.20.0.0"), 16)]);
        let (bits, width) = bits_of(v4("10.20.0.1"));
        assert_eq!(leafy.covering(bits, width), p16);
        assert_eq!(leafy.last, Some((p16, Vec::new())));
        let (bits, width) = bits_of(v4("10.21.0.1"));
        assert_eq!(leafy.covering(bits, width), (0, 0));
        assert_eq!(look(&mut routes, "10.9.0.1").1, 8);
        let inside_8 = routes.last.as_ref().map(|(_, inside)| inside.len());
        assert_eq!(inside_8, Some(2), "10.20/16 and 10.20.5.7/32 lie in 10/8");
        assert_eq!(look(&mut routes, "10.20.9.9"), p16);
        assert_eq!(look(&mut routes, "10.99.0.1").1, 8);
    }

    #[test]
    fn masks_keep_the_network_bits() {
        assert_eq!(masked(0xffff_ffff, 32, 24), 0xffff_ff00);
        assert_eq!(masked(0xffff_ffff, 32, 0), 0);
        assert_eq!(masked(0xffff_ffff, 32, 32), 0xffff_ffff);
        assert_eq!(masked(u128::MAX, 128, 128), u128::MAX);
        assert_eq!(masked(u128::MAX, 128, 64), u128::MAX << 64);
        let p16 = (u128::from(u32::from_be_bytes([10, 20, 0, 0])), 16);
        assert_eq!(prefix_text(Family::V4, p16), "10.20.0.0/16");
        assert_eq!(prefix_text(Family::V6, (1 << 120, 8)), "100::/8");
    }
}
