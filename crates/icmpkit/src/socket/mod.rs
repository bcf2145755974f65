//! ICMP sockets: raw (`SOCK_RAW`, needs `CAP_NET_RAW`) and Linux's
//! unprivileged datagram "ping" sockets (`SOCK_DGRAM` + `IPPROTO_ICMP`,
//! allowed by `net.ipv4.ping_group_range`), for IPv4 and IPv6.
//!
//! [`IcmpSocket`] is the synchronous core: it sends ICMP messages (header +
//! payload, never an IP header) and receives them with everything the kernel
//! knows about them (kernel receive timestamp, TTL/hop limit, TOS/traffic
//! class, destination address and interface), plus the socket error queue
//! (`IP_RECVERR`): ICMP errors and local errors about datagrams we sent,
//! with the router that sent them. [`AsyncIcmpSocket`] is the same on
//! tokio. Batches use `recvmmsg`/`sendmmsg`.
//!
//! Traceroute's other probes have sockets of their own: [`TransportSocket`]
//! (unprivileged UDP and TCP-connect probes, errors from the error queue)
//! and [`RawTcpSocket`] (hand-built TCP SYNs, every incoming TCP segment);
//! [`RawIpSocket`] sends packets whose IP header the caller wrote.
//!
//! The only `unsafe` code in icmpkit lives in this module's private `sys`
//! layer.
//!
//! # Which kind of socket
//!
//! | | raw | datagram |
//! |-|-|-|
//! | needs | `CAP_NET_RAW` (root, or `setcap cap_net_raw+ep`) | gid inside `net.ipv4.ping_group_range` |
//! | receives | every ICMP message for the host (filtered by [`TypeFilter`]); IPv4 includes the IP header | only echo replies to its own echo id, no IP header |
//! | echo id | yours | the kernel's ([`IcmpSocket::echo_id`]), rewritten on send |
//! | errors | normal queue (as ICMP messages) and error queue | error queue only |
//!
//! Platform support: Linux. Elsewhere [`IcmpSocket::open`] fails with
//! [`Error::SocketUnavailable`](crate::Error::SocketUnavailable).

use std::net::IpAddr;

mod async_socket;
mod icmp_socket;
pub(crate) mod netlink;
mod options;
mod packet;
mod packet_sender;
mod privileges;
mod raw_ip;
mod raw_tcp;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(not(target_os = "linux"))]
#[path = "sys_unsupported.rs"]
mod sys;
mod transport;
mod tx_ring;

/// Most messages one `recvmmsg`/`sendmmsg` moves (the kernel's
/// `UIO_MAXIOV`): the largest batch a sweep or a listener may ask for.
pub const MAX_BATCH: usize = 1024;

pub use async_socket::AsyncIcmpSocket;
pub(crate) use async_socket::SharedIcmpSocket;
pub use icmp_socket::{ErrorOrigin, IcmpSocket, QueuedError, Readiness, Received, SendTime};
pub use icmpkit_wire::Family;
pub use options::{PmtuDisc, Privilege, SocketKind, SocketOptions, TypeFilter};
pub use packet::{AsyncPacketSocket, Direction, PacketSocket, PacketStatistics, ReceivedFrame};
pub(crate) use packet_sender::{Frame, PacketSender};
pub use privileges::{ThreadPrivileges, drop_privileges, permission_hint, thread_privileges};
pub(crate) use raw_ip::AsyncRawIpSocket;
pub use raw_ip::RawIpSocket;
pub use raw_tcp::{AsyncRawTcpSocket, RawTcpSocket, ReceivedSegment, route_source};
pub use transport::{AsyncTransportSocket, TransportKind, TransportSocket};

/// What registering a socket says outside a tokio runtime (tokio itself
/// would panic).
const NO_RUNTIME: &str = "no tokio runtime is running: the async APIs need one with I/O \
     enabled (the *_blocking forms start their own)";

/// The one error a failed registration with the runtime becomes: `what`
/// names the socket ("the ICMP socket").
fn registration_failed(what: &'static str) -> impl FnOnce(std::io::Error) -> crate::Error {
    move |source| crate::Error::SocketUnavailable {
        context: format!("registering {what} with the tokio runtime"),
        source,
    }
}

/// Refuses an IPv4-mapped IPv6 destination (`::ffff:a.b.c.d`): an IPv6
/// socket would send it as IPv6, out of the default route, never to the IPv4
/// host it names. Address input is mapped to IPv4 before it gets here
/// ([`crate::resolve`], sweep targets); this keeps any other caller from
/// sending such a probe off the machine.
fn refuse_ipv4_mapped(dst: IpAddr) -> std::io::Result<()> {
    match dst {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{dst} is an IPv4-mapped address: send to {} over IPv4 instead",
                dst.to_canonical()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod mapped_tests {
    use super::*;

    #[test]
    fn ipv4_mapped_destinations_are_refused_and_others_pass() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let e = refuse_ipv4_mapped(mapped).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("send to 127.0.0.1 over IPv4"), "{e}");
        for ok in ["::1", "127.0.0.1", "2001:db8::1", "::127.0.0.1"] {
            assert!(refuse_ipv4_mapped(ok.parse().unwrap()).is_ok(), "{ok}");
        }
    }
}
