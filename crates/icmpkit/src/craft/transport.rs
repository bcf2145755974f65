//! Craft's socket set: a raw ICMP socket that sends and hears the answers,
//! plus, when the IP header is crafted (an IP identification, a source the
//! host does not have), a send-only raw IP socket that sends instead. The
//! protocol never knows which: it gives out ICMP messages.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use icmpkit_wire::ip::{ipv4, ipv6};

use crate::driver::{BoxFuture, IcmpTransport, Transmit, Transport, has_send_room};
use crate::socket::{AsyncRawIpSocket, QueuedError, Readiness, Received};

use super::options::IpOptions;

/// The ICMP socket, and the raw IP socket of a crafted header.
#[derive(Debug)]
pub(crate) struct CraftTransport {
    icmp: IcmpTransport,
    /// Non-blocking: a full buffer is `WouldBlock`, waited out in
    /// [`Transport::wait_writable`] like the ICMP socket's.
    crafted: Option<(Arc<AsyncRawIpSocket>, IpOptions)>,
}

impl CraftTransport {
    pub fn new(icmp: IcmpTransport, crafted: Option<(AsyncRawIpSocket, IpOptions)>) -> Self {
        CraftTransport {
            icmp,
            crafted: crafted.map(|(raw, ip)| (Arc::new(raw), ip)),
        }
    }

    /// Whether messages leave with a crafted IP header.
    pub fn crafts_ip_header(&self) -> bool {
        self.crafted.is_some()
    }
}

impl Transport for CraftTransport {
    type Meta = Received;

    fn send(&self, transmit: &Transmit) -> io::Result<()> {
        let Some((raw, ip)) = &self.crafted else {
            return self.icmp.send(transmit);
        };
        let Some(dst) = transmit.destination else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no destination for the message",
            ));
        };
        // The IP identification, when not given, is drawn here: it is part
        // of the header the transport writes, not of the protocol.
        let ident = ip.ip_id.unwrap_or_else(crate::engine::random::random);
        let packet = ip_packet(&transmit.message, dst, ip, ident)?;
        raw.get_ref().send_to(&packet, dst).map(drop)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.icmp.recv(buf)
    }

    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        self.icmp.recv_error(buf)
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        self.icmp.wait_ready()
    }

    fn clear_ready(&self) {
        self.icmp.clear_ready();
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        // Only the socket that sends can have been full.
        let Some((raw, _)) = &self.crafted else {
            return self.icmp.wait_writable();
        };
        let raw = Arc::clone(raw);
        Box::pin(async move {
            loop {
                let mut guard = raw.writable().await?;
                if has_send_room(raw.get_ref())? {
                    return Ok(());
                }
                // The send that failed proved the readiness stale.
                guard.clear_ready();
            }
        })
    }
}

/// The IP datagram around `message` for a raw IP socket. An IPv4 source
/// left unspecified is filled in by the kernel; IPv6 needs one for the
/// checksum, which [`MessageSpec::build`](super::MessageSpec::build)
/// computed with it.
pub(crate) fn ip_packet(
    message: &[u8],
    dst: IpAddr,
    ip: &IpOptions,
    ident: u16,
) -> io::Result<Vec<u8>> {
    let invalid = |e: icmpkit_wire::Error| io::Error::new(io::ErrorKind::InvalidInput, e);
    let mut packet = match (dst, ip.source) {
        (IpAddr::V4(dst), src) => {
            let src = match src {
                Some(IpAddr::V4(s)) => s,
                _ => Ipv4Addr::UNSPECIFIED,
            };
            let tos = ip.tos.unwrap_or(0);
            let header = ipv4::Repr {
                src,
                dst,
                protocol: ipv4::PROTOCOL_ICMP,
                ttl: ip.ttl.unwrap_or(64),
                ident,
                dont_frag: ip.dont_fragment.unwrap_or(false),
                more_frags: false,
                frag_offset: 0,
                dscp: tos >> 2,
                ecn: tos & 3,
                options: &[],
                payload_len: message.len(),
            };
            let mut buf = vec![0; header.buffer_len()];
            header.emit(&mut buf).map_err(invalid)?;
            buf
        }
        (IpAddr::V6(dst), src) => {
            let src = match src {
                Some(IpAddr::V6(s)) => s,
                _ => Ipv6Addr::UNSPECIFIED,
            };
            let header = ipv6::Repr {
                src,
                dst,
                next_header: ipv6::NEXT_ICMPV6,
                hop_limit: ip.ttl.unwrap_or(64),
                traffic_class: ip.tos.unwrap_or(0),
                flow_label: 0,
                payload_len: message.len(),
            };
            let mut buf = vec![0; ipv6::HEADER_LEN];
            header.emit(&mut buf).map_err(invalid)?;
            buf
        }
    };
    packet.extend_from_slice(message);
    Ok(packet)
}
