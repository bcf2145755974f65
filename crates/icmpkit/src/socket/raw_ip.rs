//! A raw IP socket for messages whose IP header the caller writes
//! (`IPPROTO_RAW`, which implies `IP_HDRINCL` / `IPV6_HDRINCL`): crafted
//! identification, flags, TTL, and source addresses the host does not own.
//! Send-only: what comes back arrives on an [`IcmpSocket`](super::IcmpSocket).

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{Family, SendTime};
use crate::Error;

/// A send-only raw IP socket: each datagram starts with its IP header.
#[derive(Debug)]
pub struct RawIpSocket {
    socket: Socket,
    family: Family,
}

impl RawIpSocket {
    /// Opens it. Needs `CAP_NET_RAW`; without it the error says so (and
    /// that a spoofed source or crafted IP header is why it was needed).
    pub fn open(family: Family) -> Result<Self, Error> {
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))
            .map_err(|source| {
                let context = if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                    "a spoofed source address or crafted IP header needs a raw IP socket \
                     (IP_HDRINCL), which needs CAP_NET_RAW: run as root or give the program \
                     that capability"
                } else {
                    "opening a raw IP socket (IP_HDRINCL)"
                };
                Error::SocketUnavailable {
                    context: context.into(),
                    source,
                }
            })?;
        // IPPROTO_RAW implies header inclusion on Linux; saying so makes it
        // explicit and fails loudly where it would not.
        let included = match family {
            Family::V4 => socket.set_header_included_v4(true),
            Family::V6 => socket.set_header_included_v6(true),
        };
        included.map_err(|source| Error::SocketUnavailable {
            context: "enabling IP_HDRINCL".into(),
            source,
        })?;
        Ok(RawIpSocket { socket, family })
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Sends `packet` (IP header included) towards `dst`. The kernel fills
    /// in the IPv4 header checksum and total length; everything else goes
    /// out as written.
    pub fn send_to(&self, packet: &[u8], dst: IpAddr) -> io::Result<SendTime> {
        if matches!(
            (self.family, dst),
            (Family::V4, IpAddr::V6(_)) | (Family::V6, IpAddr::V4(_))
        ) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send to {dst} on a raw IP socket of the other family"),
            ));
        }
        super::refuse_ipv4_mapped(dst)?;
        let addr = SockAddr::from(SocketAddr::new(dst, 0));
        let time = SendTime::now();
        self.socket.send_to(packet, &addr)?;
        Ok(time)
    }
}
