//! How to trace: [`TraceOptions`].

use std::time::Duration;

use icmpkit_wire::Family;

use crate::socket::{Privilege, SocketOptions};

use super::probe::ProbeProtocol;
use super::session::Plan;

/// How to trace.
#[derive(Debug, Clone)]
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
