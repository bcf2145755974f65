//! Ready-made topologies: [`Chain`] (client — r1 — … — rn — server), dual-stack, and
//! [`TwinLinks`] (one link-local address on two links) for zone tests.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};
use crate::lab::Lab;
use crate::link::Link;
use crate::ns::{Ns, Reject};

/// Most routers a [`Chain`] can have: link numbers must fit one address octet.
pub const MAX_ROUTERS: usize = 254;

/// A line of namespaces `client — r1 — … — rn — server`, IPv4 and IPv6 addressed.
///
/// Addressing (only inside the lab's namespaces): hops are numbered `0` (client), `1..=n`
/// (routers), `n+1` (server); link `i` (`1..=n+1`) joins hop `i-1` to hop `i` and uses
/// `10.<i>.0.0/24` and `fd00:<i>::/64` (the decimal `i` written as the hex group), with
/// `.1`/`::1` on the client side and `.2`/`::2` on the server side. So:
///
/// | hop | IPv4 | IPv6 | interfaces |
/// |---|---|---|---|
/// | client | `10.1.0.1` | `fd00:1::1` | `eth0` |
/// | router `k` | `10.k.0.2` (toward client), `10.(k+1).0.1` | `fd00:k::2`, `fd00:(k+1)::1` | `eth0` (left), `eth1` (right) |
/// | server | `10.(n+1).0.2` | `fd00:(n+1)::2` | `eth0` |
///
/// Routing: routers forward (v4 and v6). The client's default route points at r1, the
/// server's at rn; router `k` has routes to the links on its left via its left neighbour
/// and (when `k < n`) a default route via its right neighbour. The last router has no
/// default route, so an unknown destination gets "net unreachable" from rn; use
/// [`Chain::reject`] or [`Chain::serve_prefix`] for extra prefixes. A trace from the client
/// to the server sees `10.1.0.2, 10.2.0.2, …, 10.n.0.2`, then the server
/// ([`Chain::hops_v4`], [`Chain::hops_v6`]).
#[derive(Debug, Clone)]
pub struct Chain {
    client: Ns,
    routers: Vec<Ns>,
    server: Ns,
    links: Vec<Link>,
}

/// IPv4 address of side `side` (1 = client side, 2 = server side) of link `link`.
fn v4(link: usize, side: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, link as u8, 0, side)
}

/// IPv6 address of side `side` of link `link` (`fd00:<link as decimal digits>::<side>`).
fn v6(link: usize, side: u8) -> Ipv6Addr {
    let group = u16::from_str_radix(&link.to_string(), 16).unwrap_or(0xffff);
    Ipv6Addr::new(0xfd00, group, 0, 0, 0, 0, 0, u16::from(side))
}

/// A client with two links, each to a peer of its own holding the same link-local
/// address: only the peer on [`TwinLinks::answering`] answers echo (the other ignores it,
/// IPv4 and IPv6), so a probe that reaches `addr%<answering dev>` is answered and one that
/// reaches `addr%<silent dev>` is not. Tests that a zone picks the link.
#[derive(Debug, Clone)]
pub struct TwinLinks {
    /// Where probes start.
    pub client: Ns,
    /// The link to the peer that answers (`dev_a()` is the client's interface).
    pub answering: Link,
    /// The link to the peer that does not.
    pub silent: Link,
}

impl Lab {
    /// A [`TwinLinks`] with `addr` (e.g. `"fe80::99/64"`) on both peers.
    pub fn twin_links(&self, addr: &str) -> Result<TwinLinks> {
        let client = self.namespace("client")?;
        let answering_peer = self.namespace("answer")?;
        let silent_peer = self.namespace("silent")?;
        let answering = self.link(&client, &answering_peer)?;
        let silent = self.link(&client, &silent_peer)?;
        answering.addr_b(addr)?;
        silent.addr_b(addr)?;
        silent_peer.sysctl("net.ipv6.icmp.echo_ignore_all", "1")?;
        silent_peer.sysctl("net.ipv4.icmp_echo_ignore_all", "1")?;
        Ok(TwinLinks {
            client,
            answering,
            silent,
        })
    }

    /// A client and a server on one veth (a [`Chain`] with no routers): client `10.1.0.1`,
    /// `fd00:1::1`; server `10.1.0.2`, `fd00:1::2`.
    pub fn pair(&self) -> Result<Chain> {
        self.chain(0)
    }

    /// A [`Chain`] with `routers` routers (at most [`MAX_ROUTERS`]); see its docs for addresses.
    pub fn chain(&self, routers: usize) -> Result<Chain> {
        if routers > MAX_ROUTERS {
            return Err(Error::new(
                format!("chain({routers})"),
                format!("at most {MAX_ROUTERS} routers"),
            ));
        }
        let client = self.namespace("client")?;
        let routers: Vec<Ns> = (1..=routers)
            .map(|k| self.namespace(&format!("r{k}")))
            .collect::<Result<_>>()?;
        let server = self.namespace("server")?;

        let hops: Vec<&Ns> = std::iter::once(&client)
            .chain(&routers)
            .chain([&server])
            .collect();
        let mut links = Vec::with_capacity(hops.len() - 1);
        for (index, pair) in hops.windows(2).enumerate() {
            let number = index + 1;
            let link = self.link(pair[0], pair[1])?;
            link.addr_a(&format!("{}/24", v4(number, 1)))?;
            link.addr_a(&format!("{}/64", v6(number, 1)))?;
            link.addr_b(&format!("{}/24", v4(number, 2)))?;
            link.addr_b(&format!("{}/64", v6(number, 2)))?;
            links.push(link);
        }
        let chain = Chain {
            client,
            routers,
            server,
            links,
        };
        chain.install_routes()?;
        Ok(chain)
    }
}

impl Chain {
    fn install_routes(&self) -> Result<()> {
        let n = self.routers.len();
        if n == 0 {
            return Ok(());
        }
        self.client.route(&format!("default via {}", v4(1, 2)))?;
        self.client.route(&format!("default via {}", v6(1, 2)))?;
        self.server
            .route(&format!("default via {}", v4(n + 1, 1)))?;
        self.server
            .route(&format!("default via {}", v6(n + 1, 1)))?;
        for (index, router) in self.routers.iter().enumerate() {
            let k = index + 1;
            router.forwarding(true)?;
            for left_link in 1..k {
                router.route(&format!("10.{left_link}.0.0/24 via {}", v4(k, 1)))?;
                router.route(&format!("{}/64 via {}", v6(left_link, 0), v6(k, 1)))?;
            }
            if k < n {
                router.route(&format!("default via {}", v4(k + 1, 2)))?;
                router.route(&format!("default via {}", v6(k + 1, 2)))?;
            }
        }
        Ok(())
    }

    /// The client namespace (hop 0).
    pub fn client(&self) -> &Ns {
        &self.client
    }

    /// The server namespace (hop n+1).
    pub fn server(&self) -> &Ns {
        &self.server
    }

    /// The routers, r1 first.
    pub fn routers(&self) -> &[Ns] {
        &self.routers
    }

    /// Router `k`, counting from 1 like the names (`router(1)` is r1).
    pub fn router(&self, k: usize) -> Option<&Ns> {
        self.routers.get(k.checked_sub(1)?)
    }

    /// The router next to the server, if there are routers.
    pub fn last_router(&self) -> Option<&Ns> {
        self.routers.last()
    }

    /// The links, link 1 (client — first hop) first.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The client's IPv4 address, `10.1.0.1`.
    pub fn client_v4(&self) -> Ipv4Addr {
        v4(1, 1)
    }

    /// The client's IPv6 address, `fd00:1::1`.
    pub fn client_v6(&self) -> Ipv6Addr {
        v6(1, 1)
    }

    /// The server's IPv4 address, `10.<n+1>.0.2`.
    pub fn server_v4(&self) -> Ipv4Addr {
        v4(self.links.len(), 2)
    }

    /// The server's IPv6 address, `fd00:<n+1>::2`.
    pub fn server_v6(&self) -> Ipv6Addr {
        v6(self.links.len(), 2)
    }

    /// Router `k`'s IPv4 address toward the client (`10.k.0.2`): the source of its
    /// Time Exceeded and Unreachable messages to the client. `None` if there is no router `k`.
    pub fn router_v4(&self, k: usize) -> Option<Ipv4Addr> {
        self.router(k).map(|_| v4(k, 2))
    }

    /// Router `k`'s IPv6 address toward the client (`fd00:k::2`).
    pub fn router_v6(&self, k: usize) -> Option<Ipv6Addr> {
        self.router(k).map(|_| v6(k, 2))
    }

    /// What a traceroute from the client to the server should list: each router, then the server.
    pub fn hops_v4(&self) -> Vec<Ipv4Addr> {
        (1..=self.links.len()).map(|link| v4(link, 2)).collect()
    }

    /// IPv6 counterpart of [`Chain::hops_v4`].
    pub fn hops_v6(&self) -> Vec<Ipv6Addr> {
        (1..=self.links.len()).map(|link| v6(link, 2)).collect()
    }

    /// Installs a reject route for `prefix` (v4 or v6) on the last router, so probes from
    /// the client to it get [`Reject::Unreachable`]/[`Reject::Prohibit`] from rn (or vanish
    /// for [`Reject::Blackhole`]). Needs at least one router.
    pub fn reject(&self, kind: Reject, prefix: &str) -> Result<()> {
        self.require_router("reject")?.reject(kind, prefix)
    }

    /// Makes the server answer every address of `prefix` (v4 or v6), routed to it from the
    /// client: many reachable targets for multi-target tests.
    pub fn serve_prefix(&self, prefix: &str) -> Result<()> {
        self.server.answer_prefix(prefix)?;
        let toward_server = if prefix.contains(':') {
            self.server_v6().to_string()
        } else {
            self.server_v4().to_string()
        };
        // The last router (or, without routers, the client) has no default route toward the server.
        let before_server = self.last_router().unwrap_or(&self.client);
        before_server.route(&format!("{prefix} via {toward_server}"))
    }

    fn require_router(&self, what: &str) -> Result<&Ns> {
        self.last_router()
            .ok_or_else(|| Error::new(format!("chain {what}"), "needs at least one router"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_addresses_follow_the_documented_plan() {
        assert_eq!(v4(3, 2), Ipv4Addr::new(10, 3, 0, 2));
        assert_eq!(v6(1, 1).to_string(), "fd00:1::1");
        assert_eq!(v6(12, 2).to_string(), "fd00:12::2");
        assert_eq!(v6(255, 0).to_string(), "fd00:255::");
    }
}
