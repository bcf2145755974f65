//! How to trace: [`TraceOptions`].

use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::builder::options_builder;
use crate::socket::{Privilege, SocketOptions};
use crate::{Error, InvalidReason, Result};

use super::probe::ProbeProtocol;
use super::session::Plan;

/// How to trace; [`TraceOptions::builder`] sets what differs from the
/// defaults (ICMP probes, TTL 1 to 30, 3 probes per hop, one flow):
///
/// ```
/// use icmpkit::trace::{ProbeProtocol, TraceOptions};
///
/// let opts = TraceOptions::builder()
///     .protocol(ProbeProtocol::Udp)
///     .max_ttl(8)
///     .queries(1)
///     .build()?;
/// assert_eq!(opts.plan.max_ttl, 8);
/// assert!(TraceOptions::builder().first_ttl(0).build().is_err());
/// # Ok::<(), icmpkit::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TraceOptions {
    /// Hops, probes per hop, flows, pacing, wait time, `--fast`.
    pub plan: Plan,
    /// ICMP echo (default), UDP or TCP SYN probes.
    pub protocol: ProbeProtocol,
    /// Which socket kinds, in which order (see [`Privilege`]). Default
    /// [`Privilege::PreferRaw`]: a raw socket where allowed (it also sees
    /// RFC 4884 extensions and reply TTLs), unprivileged sockets otherwise.
    pub privilege: Privilege,
    /// Force a family when resolving names.
    pub family: Option<Family>,
    /// UDP/TCP destination port (default 33434 for UDP, 80 for TCP); it
    /// stays the same for every probe (Paris traceroute).
    pub port: Option<u16>,
    /// Bytes of probe data after the ICMP/UDP header (default 32, which
    /// makes traceroute's 60-byte IPv4 packets). ICMP probes need 2, and
    /// carry a validating stamp from 26 on. TCP SYNs carry none. With
    /// path-MTU discovery ([`Plan::path_mtu`]) each probe's size sets it
    /// instead (TCP: raw sockets only, the SYN then carries data).
    pub data_size: usize,
    /// Source address, interface, TOS, mark. The TTL is set per probe.
    pub socket: SocketOptions,
    /// Name the responders (off: `-n`): from `/etc/hosts`, then, with the
    /// crate's `dns` feature, by reverse lookups on the system's name
    /// servers. Without the feature only the hosts file names them.
    pub resolve_names: bool,
    /// Give up on a reverse lookup after this long.
    pub dns_timeout: Duration,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            plan: Plan::default(),
            protocol: ProbeProtocol::Icmp,
            privilege: Privilege::PreferRaw,
            family: None,
            port: None,
            data_size: 32,
            socket: SocketOptions::default(),
            resolve_names: false,
            dns_timeout: Duration::from_millis(500),
        }
    }
}

/// The most probe data a trace sends after the ICMP/UDP/TCP header: its
/// packets stay under IP's 65535 bytes whatever the headers.
const MAX_DATA_SIZE: usize = 65_000;

impl TraceOptions {
    /// Rejects options no trace can run (what [`TraceOptionsBuilder::build`]
    /// and the trace entry points check): the error names the option.
    pub fn validate(&self) -> Result<()> {
        self.plan.validate()?;
        if self.plan.path_mtu.is_some()
            && self.protocol == ProbeProtocol::Tcp
            && matches!(self.privilege, Privilege::Unprivileged | Privilege::Auto)
        {
            return Err(unprivileged_tcp_mtu());
        }
        let data_size = |min: usize| {
            let got = Some(self.data_size as u64);
            let (min, max) = (min as u64, MAX_DATA_SIZE as u64);
            Err(Error::invalid(
                "data_size",
                InvalidReason::Between { min, max, got },
            ))
        };
        if self.protocol == ProbeProtocol::Icmp && self.data_size < 2 {
            // Two bytes hold the Paris checksum compensation.
            return data_size(2);
        }
        if self.data_size > MAX_DATA_SIZE {
            return data_size(0);
        }
        self.socket.validate_early(self.family)
    }
}

/// Path-MTU discovery with TCP probes without a raw socket.
pub(super) fn unprivileged_tcp_mtu() -> Error {
    Error::invalid(
        "path_mtu",
        InvalidReason::NeedsRawSocket {
            why: "with TCP probes, unprivileged probes are connect() calls, whose SYN \
                  cannot be sized",
        },
    )
}

options_builder! {
    /// Builds [`TraceOptions`]: `TraceOptions::builder().max_ttl(8).build()?`.
    TraceOptionsBuilder builds TraceOptions {
        /// TTL of the first hop probed (default 1).
        first_ttl(ttl: u8) plan.first_ttl = ttl;
        /// TTL of the last hop probed (default 30).
        max_ttl(ttl: u8) plan.max_ttl = ttl;
        /// Probes per hop (default 3).
        queries(probes: u16) plan.queries = probes;
        /// Flows, each with its own flow identifier, to reveal ECMP paths
        /// (default 1).
        flows(flows: u16) plan.flows = flows;
        /// How long to wait for a probe's answer (default 5 s).
        wait(wait: Duration) plan.wait = wait;
        /// Discover the path MTU, starting from this size.
        path_mtu(start: u32) plan.path_mtu = Some(start);
        /// Every planning field at once.
        plan(plan: Plan) plan = plan;
        /// ICMP echo (default), UDP or TCP SYN probes.
        protocol(protocol: ProbeProtocol) protocol = protocol;
        /// UDP/TCP destination port, the same for every probe.
        port(port: u16) port = Some(port);
        /// Bytes of probe data after the ICMP/UDP header (default 32).
        data_size(size: usize) data_size = size;
        /// Which socket kinds, in which order (default [`Privilege::PreferRaw`]).
        privilege(privilege: Privilege) privilege = privilege;
        /// Resolve names to this family only.
        family(family: Family) family = Some(family);
        /// Source address to bind.
        source(source: IpAddr) socket.source = Some(source);
        /// Interface to send from (`SO_BINDTODEVICE`).
        interface(name: impl Into<String>) socket.interface = Some(name.into());
        /// IPv4 TOS byte / IPv6 traffic class.
        tos(tos: u8) socket.tos = Some(tos);
        /// Every socket option at once (the TTL is set per probe).
        socket(socket: SocketOptions) socket = socket;
        /// Name the responders (default off).
        resolve_names(resolve: bool) resolve_names = resolve;
        /// Give up on a reverse lookup after this long (default 500 ms).
        dns_timeout(timeout: Duration) dns_timeout = timeout;
    }
}
