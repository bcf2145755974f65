//! A small rtnetlink client: what the packet sender must learn that the
//! kernel's IP output would have looked up for each probe (the route and
//! source address, the egress link and its MAC address, the next hop's
//! MAC address). Four message kinds over one blocking `NETLINK_ROUTE`
//! socket (socket2, no `unsafe`, no async runtime): a route query, and
//! dumps of routes, policy rules, links and neighbours.
//!
//! Hand-written rather than rtnetlink/netlink-packet-route: those bring a
//! dozen crates (and rtnetlink a tokio connection task) for five fixed
//! C structures and a type-length-value walk.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use socket2::{Domain, Protocol, Socket, Type};

use super::Family;

const NLMSG_HEADER: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const RTM_NEWRULE: u16 = 32;
const RTM_GETRULE: u16 = 34;
/// `rtmsg`, `ndmsg`, `fib_rule_hdr`: 12 bytes; `ifinfomsg`: 16.
const RTMSG_LEN: usize = 12;
const IFINFOMSG_LEN: usize = 16;
const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_MARK: u16 = 16;
const RTA_VIA: u16 = 18;
const RTM_F_CLONED: u32 = 0x200;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
/// Route type `RTN_UNICAST`: a route to a host or network (others are
/// local, broadcast, blackhole...).
pub(crate) const RTN_UNICAST: u8 = 1;
/// Neighbour states whose link address may be used (`NUD_VALID`):
/// reachable, stale, delay, probe, permanent, noarp.
const NUD_VALID: u16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x80 | 0x40;

/// What the kernel's route lookup for one destination gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteAnswer {
    /// `RTN_*` type (unicast, local, broadcast...).
    pub kind: u8,
    /// Egress interface.
    pub oif: Option<u32>,
    /// Next hop, when not on-link.
    pub gateway: Option<IpAddr>,
    /// Source address the kernel would use.
    pub source: Option<IpAddr>,
    /// The next hop is of the other family (`RTA_VIA`) or one of several
    /// (`RTA_MULTIPATH`): not followed here.
    pub unusual_next_hop: bool,
}

/// What a route lookup is asked with beyond the destination (what the
/// sweep's socket options give the kernel's own lookup).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RouteQuery {
    pub oif: Option<u32>,
    pub source: Option<IpAddr>,
    pub mark: Option<u32>,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `ARPHRD_*` (1: Ethernet).
    pub hardware: u16,
    pub address: Vec<u8>,
    pub mtu: u32,
    /// `IFLA_INFO_KIND` ("vlan", "veth", "dummy"...), if any.
    pub kind: Option<String>,
}

/// One usable neighbour-table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Neighbour {
    pub ifindex: u32,
    pub address: IpAddr,
    pub link_address: Vec<u8>,
}

/// A `NETLINK_ROUTE` socket.
#[derive(Debug)]
pub(crate) struct Netlink {
    socket: Socket,
    sequence: u32,
    buf: Vec<u8>,
}

fn family_byte(family: Family) -> u8 {
    match family {
        Family::V4 => libc::AF_INET as u8,
        Family::V6 => libc::AF_INET6 as u8,
    }
}

fn address_bytes(address: IpAddr) -> Vec<u8> {
    match address {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn parse_address(data: &[u8]) -> Option<IpAddr> {
    match data.len() {
        4 => <[u8; 4]>::try_from(data)
            .ok()
            .map(|o| Ipv4Addr::from(o).into()),
        16 => <[u8; 16]>::try_from(data)
            .ok()
            .map(|o| Ipv6Addr::from(o).into()),
        _ => None,
    }
}

fn u32_of(data: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(data.get(..4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The (type, value) attributes in `data`.
fn attributes(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes(rest.get(..2)?.try_into().ok()?));
        let kind = u16::from_ne_bytes(rest.get(2..4)?.try_into().ok()?) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        let value = &rest[4..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

fn push_attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

impl Netlink {
    /// Opens the socket (no privilege needed).
    pub(crate) fn open() -> io::Result<Netlink> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )?;
        socket.set_cloexec(true)?;
        Ok(Netlink {
            socket,
            sequence: 0,
            // Dumps come in messages of up to 32 KiB.
            buf: vec![0; 64 << 10],
        })
    }

    /// Sends one request (`body` after the netlink header); returns its
    /// sequence number.
    fn request(&mut self, kind: u16, flags: u16, body: &[u8]) -> io::Result<u32> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut message = Vec::with_capacity(NLMSG_HEADER + body.len());
        message.extend_from_slice(&((NLMSG_HEADER + body.len()) as u32).to_ne_bytes());
        message.extend_from_slice(&kind.to_ne_bytes());
        message.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        message.extend_from_slice(&self.sequence.to_ne_bytes());
        message.extend_from_slice(&0u32.to_ne_bytes());
        message.extend_from_slice(body);
        self.socket.send(&message)?;
        Ok(self.sequence)
    }

    /// Reads the answers to request `sequence`, giving each message of
    /// type `want` (its body) to `each`, until the dump is done (or the
    /// single answer of a plain request came).
    fn answers(
        &mut self,
        sequence: u32,
        want: u16,
        dump: bool,
        mut each: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        loop {
            let n = (&self.socket).read(&mut self.buf)?;
            let mut rest = &self.buf[..n];
            while rest.len() >= NLMSG_HEADER {
                let len = u32_of(rest).unwrap_or(0) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let seq = u32_of(&rest[8..]).unwrap_or(0);
                if len < NLMSG_HEADER || len > rest.len() {
                    break;
                }
                let body = &rest[NLMSG_HEADER..len];
                rest = rest.get(align4(len)..).unwrap_or(&[]);
                if seq != sequence {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let code = body
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])));
                        if code == 0 && !dump {
                            return Ok(());
                        }
                        if code != 0 {
                            return Err(io::Error::from_raw_os_error(-code));
                        }
                    }
                    k if k == want => {
                        each(body);
                        if !dump {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The kernel's route for `destination` (as `ip route get`); the
    /// kernel's refusal (unreachable, prohibited...) as an error.
    pub(crate) fn route(
        &mut self,
        destination: IpAddr,
        query: RouteQuery,
    ) -> io::Result<RouteAnswer> {
        let family = crate::resolve::family_of(destination);
        let bits = match family {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        let mut body = vec![family_byte(family), bits, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        push_attribute(&mut body, RTA_DST, &address_bytes(destination));
        if let Some(oif) = query.oif {
            push_attribute(&mut body, RTA_OIF, &oif.to_ne_bytes());
        }
        if let Some(source) = query.source {
            push_attribute(&mut body, RTA_SRC, &address_bytes(source));
        }
        if let Some(mark) = query.mark {
            push_attribute(&mut body, RTA_MARK, &mark.to_ne_bytes());
        }
        let sequence = self.request(RTM_GETROUTE, 0, &body)?;
        let mut answer = None;
        self.answers(sequence, RTM_NEWROUTE, false, |body| {
            answer = parse_route(body);
        })?;
        answer.ok_or_else(|| io::Error::other("no route in the kernel's answer"))
    }

    /// Every route prefix of `family` in every table (destination and
    /// prefix length; cached clones left out).
    pub(crate) fn route_prefixes(&mut self, family: Family) -> io::Result<Vec<(IpAddr, u8)>> {
        let body = [family_byte(family), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let sequence = self.request(RTM_GETROUTE, NLM_F_DUMP, &body)?;
        let mut prefixes = Vec::new();
        self.answers(sequence, RTM_NEWROUTE, true, |body| {
            if body.len() < RTMSG_LEN || u32_of(&body[8..]).unwrap_or(0) & RTM_F_CLONED != 0 {
                return;
            }
            let length = body[1];
            let unspecified = match family {
                Family::V4 => IpAddr::from(Ipv4Addr::UNSPECIFIED),
                Family::V6 => IpAddr::from(Ipv6Addr::UNSPECIFIED),
            };
            let destination = attributes(&body[RTMSG_LEN..])
                .find(|(kind, _)| *kind == RTA_DST)
                .and_then(|(_, value)| parse_address(value))
                .unwrap_or(unspecified);
            prefixes.push((destination, length));
        })?;
        Ok(prefixes)
    }

    /// True if a policy rule of `family` selects by destination (`ip rule
    /// add to ...`): then routes cannot be told apart by prefix alone.
    pub(crate) fn rules_select_destinations(&mut self, family: Family) -> io::Result<bool> {
        let body = [family_byte(family), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let sequence = self.request(RTM_GETRULE, NLM_F_DUMP, &body)?;
        let mut selective = false;
        self.answers(sequence, RTM_NEWRULE, true, |body| {
            selective |= body.get(1).is_some_and(|&dst_len| dst_len > 0);
        })?;
        Ok(selective)
    }

    /// Every network interface.
    pub(crate) fn links(&mut self) -> io::Result<Vec<LinkInfo>> {
        let body = [0u8; IFINFOMSG_LEN];
        let sequence = self.request(RTM_GETLINK, NLM_F_DUMP, &body)?;
        let mut links = Vec::new();
        self.answers(sequence, RTM_NEWLINK, true, |body| {
            if let Some(link) = parse_link(body) {
                links.push(link);
            }
        })?;
        Ok(links)
    }

    /// Every neighbour entry of `family` whose link address is usable.
    pub(crate) fn neighbours(&mut self, family: Family) -> io::Result<Vec<Neighbour>> {
        let body = [family_byte(family), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let sequence = self.request(RTM_GETNEIGH, NLM_F_DUMP, &body)?;
        let mut neighbours = Vec::new();
        self.answers(sequence, RTM_NEWNEIGH, true, |body| {
            if let Some(n) = parse_neighbour(body) {
                neighbours.push(n);
            }
        })?;
        Ok(neighbours)
    }
}

fn parse_route(body: &[u8]) -> Option<RouteAnswer> {
    let header = body.get(..RTMSG_LEN)?;
    let mut answer = RouteAnswer {
        kind: header[7],
        oif: None,
        gateway: None,
        source: None,
        unusual_next_hop: false,
    };
    for (kind, value) in attributes(&body[RTMSG_LEN..]) {
        match kind {
            RTA_OIF => answer.oif = u32_of(value),
            RTA_GATEWAY => answer.gateway = parse_address(value),
            RTA_PREFSRC => answer.source = parse_address(value),
            RTA_VIA | RTA_MULTIPATH => answer.unusual_next_hop = true,
            _ => {}
        }
    }
    Some(answer)
}

fn parse_link(body: &[u8]) -> Option<LinkInfo> {
    let header = body.get(..IFINFOMSG_LEN)?;
    let mut link = LinkInfo {
        index: u32_of(&header[4..])?,
        name: String::new(),
        hardware: u16::from_ne_bytes([header[2], header[3]]),
        address: Vec::new(),
        mtu: 0,
        kind: None,
    };
    for (kind, value) in attributes(&body[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_ADDRESS => link.address = value.to_vec(),
            IFLA_IFNAME => {
                let name = value.split(|&b| b == 0).next().unwrap_or(&[]);
                link.name = String::from_utf8_lossy(name).into_owned();
            }
            IFLA_MTU => link.mtu = u32_of(value).unwrap_or(0),
            IFLA_LINKINFO => {
                link.kind = attributes(value)
                    .find(|(k, _)| *k == IFLA_INFO_KIND)
                    .map(|(_, v)| {
                        let text = v.split(|&b| b == 0).next().unwrap_or(&[]);
                        String::from_utf8_lossy(text).into_owned()
                    });
            }
            _ => {}
        }
    }
    Some(link)
}

fn parse_neighbour(body: &[u8]) -> Option<Neighbour> {
    let header = body.get(..RTMSG_LEN)?;
    let ifindex = u32_of(&header[4..])?;
    let state = u16::from_ne_bytes([header[8], header[9]]);
    if state & NUD_VALID == 0 {
        return None;
    }
    let mut address = None;
    let mut link_address = None;
    for (kind, value) in attributes(&body[RTMSG_LEN..]) {
        match kind {
            NDA_DST => address = parse_address(value),
            NDA_LLADDR => link_address = Some(value.to_vec()),
            _ => {}
        }
    }
    Some(Neighbour {
        ifindex,
        address: address?,
        link_address: link_address?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_walked_with_padding_and_stop_at_a_bad_length() {
        let mut data = Vec::new();
        push_attribute(&mut data, RTA_DST, &[10, 0, 0, 1]);
        push_attribute(&mut data, IFLA_IFNAME, b"eth0\0");
        push_attribute(&mut data, RTA_OIF, &7u32.to_ne_bytes());
        let all: Vec<_> = attributes(&data).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1], (IFLA_IFNAME, &b"eth0\0"[..]));
        assert_eq!(u32_of(all[2].1), Some(7));
        // A length past the end ends the walk instead of reading beyond.
        let mut bad = data.clone();
        bad[0] = 200;
        assert_eq!(attributes(&bad).count(), 0);
    }

    /// An `ndmsg` of `state` for 10.0.0.9 on interface 3, with `mac`.
    fn neighbour_message(state: u16, mac: &[u8]) -> Vec<u8> {
        let mut body = vec![libc::AF_INET as u8, 0, 0, 0];
        body.extend_from_slice(&3u32.to_ne_bytes());
        body.extend_from_slice(&state.to_ne_bytes());
        body.extend_from_slice(&[0, 0]);
        push_attribute(&mut body, NDA_DST, &[10, 0, 0, 9]);
        push_attribute(&mut body, NDA_LLADDR, mac);
        body
    }

    #[test]
    fn only_neighbours_in_a_usable_state_are_kept() {
        let mac = [2, 0, 0, 0, 0, 9];
        // Reachable (0x02), stale (0x04), permanent (0x80): kept.
        for state in [0x02, 0x04, 0x80] {
            let n = parse_neighbour(&neighbour_message(state, &mac)).expect("usable");
            assert_eq!((n.ifindex, n.link_address.as_slice()), (3, &mac[..]));
            assert_eq!(n.address, IpAddr::from([10, 0, 0, 9]));
        }
        // Incomplete (0x01), failed (0x20): resolving or dead, no address.
        for state in [0x01, 0x20] {
            assert_eq!(parse_neighbour(&neighbour_message(state, &mac)), None);
        }
        assert_eq!(parse_neighbour(&[0; 4]), None, "too short");
    }

    #[test]
    fn a_route_answer_gives_interface_gateway_and_source() {
        let mut body = vec![
            libc::AF_INET as u8,
            32,
            0,
            0,
            254,
            0,
            0,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        push_attribute(&mut body, RTA_OIF, &5u32.to_ne_bytes());
        push_attribute(&mut body, RTA_GATEWAY, &[10, 1, 0, 2]);
        push_attribute(&mut body, RTA_PREFSRC, &[10, 1, 0, 1]);
        let answer = parse_route(&body).expect("a route");
        assert_eq!(answer.kind, RTN_UNICAST);
        assert_eq!(answer.oif, Some(5));
        assert_eq!(answer.gateway, Some(IpAddr::from([10, 1, 0, 2])));
        assert_eq!(answer.source, Some(IpAddr::from([10, 1, 0, 1])));
        assert!(!answer.unusual_next_hop);
        push_attribute(&mut body, RTA_MULTIPATH, &[0; 8]);
        assert!(parse_route(&body).unwrap().unusual_next_hop);
    }

    #[test]
    fn the_loopback_link_and_a_route_to_it_are_read_from_the_kernel() {
        let mut netlink = Netlink::open().expect("netlink");
        let links = netlink.links().expect("links");
        let lo = links.iter().find(|l| l.name == "lo").expect("lo");
        assert_eq!(lo.hardware, libc::ARPHRD_LOOPBACK);
        let answer = netlink
            .route(Ipv4Addr::LOCALHOST.into(), RouteQuery::default())
            .expect("route to 127.0.0.1");
        // Local (RTN_LOCAL = 2), out of lo.
        assert_eq!(answer.kind, 2);
        assert_eq!(answer.oif, Some(lo.index));
        let prefixes = netlink.route_prefixes(Family::V4).expect("dump");
        assert!(prefixes.contains(&(Ipv4Addr::new(127, 0, 0, 0).into(), 8)));
    }
}
