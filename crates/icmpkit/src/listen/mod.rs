//! Listening: every ICMP (or ICMPv6) message reaching the host, from a raw
//! socket, with what the kernel says about it, in batches (`recvmmsg`)
//! into buffers allocated once, so that memory stays bounded whatever the
//! rate.
//!
//! ```no_run
//! use std::time::Duration;
//! use icmpkit::listen::{ListenOptions, Listener};
//! use icmpkit::wire::Family;
//!
//! let mut listener = Listener::open(Family::V4, &ListenOptions::default())?;
//! loop {
//!     listener.recv(Duration::from_millis(100), |heard| {
//!         println!("{} sent {} bytes of ICMP", heard.src, heard.icmp.len());
//!     })?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use icmpkit_wire::Family;
use icmpkit_wire::ip::ipv6;

use crate::Error;
use crate::socket::{IcmpSocket, Privilege, Received, SocketOptions};

mod options;

pub use options::{ListenOptions, ListenOptionsBuilder};

/// Largest IP packet (and so the receive buffer of each batch slot).
const MAX_PACKET: usize = 65_535;

/// One received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard<'a> {
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// The IPv4 packet as received (IPv4 raw sockets deliver the header);
    /// `None` for ICMPv6, whose header the kernel keeps (see
    /// [`Heard::ip_packet`]).
    pub ip: Option<&'a [u8]>,
    /// The ICMP message.
    pub icmp: &'a [u8],
    /// Source address.
    pub src: IpAddr,
    /// Destination address (unicast, broadcast or multicast), when known.
    pub dst: Option<IpAddr>,
    /// TTL / hop limit as received.
    pub ttl: Option<u8>,
    /// TOS byte / traffic class.
    pub tos: Option<u8>,
    /// Kernel receive time since the UNIX epoch (the time of the read when
    /// the kernel gave none).
    pub time: Duration,
    /// Interface it arrived on.
    pub ifindex: Option<u32>,
    /// The snap length or buffer cut it.
    pub truncated: bool,
}

impl Heard<'_> {
    /// The whole IP packet, for a capture file: IPv4 as received, IPv6
    /// rebuilt from the addresses, hop limit and traffic class the kernel
    /// reports (flow label 0, extension headers not shown) into `scratch`.
    pub fn ip_packet<'s>(&'s self, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        if let Some(ip) = self.ip {
            return ip;
        }
        let (IpAddr::V6(src), Some(IpAddr::V6(dst))) = (self.src, self.dst) else {
            return self.icmp;
        };
        let header = ipv6::Repr {
            src,
            dst,
            next_header: ipv6::NEXT_ICMPV6,
            hop_limit: self.ttl.unwrap_or(0),
            traffic_class: self.tos.unwrap_or(0),
            flow_label: 0,
            payload_len: self.icmp.len(),
        };
        scratch.clear();
        scratch.resize(ipv6::HEADER_LEN, 0);
        if header.emit(scratch).is_err() {
            return self.icmp;
        }
        scratch.extend_from_slice(self.icmp);
        scratch
    }
}

/// A raw socket of one family receiving every ICMP message for the host.
#[derive(Debug)]
pub struct Listener {
    socket: IcmpSocket,
    family: Family,
    bufs: Vec<Vec<u8>>,
    received: Vec<Received>,
}

impl Listener {
    /// Opens the raw socket (needs `CAP_NET_RAW`).
    pub fn open(family: Family, options: &ListenOptions) -> Result<Self, Error> {
        options.validate()?;
        let socket_options = SocketOptions {
            interface: options.interface.clone(),
            type_filter: Some(options.type_filter),
            ..SocketOptions::default()
        };
        let socket = IcmpSocket::open(family, Privilege::Privileged, &socket_options)?;
        if socket.set_recv_buffer_force(options.recv_buffer).is_err() {
            // Unprivileged for it: the kernel caps SO_RCVBUF at rmem_max.
            let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(options.recv_buffer);
        }
        let batch = options.batch;
        Ok(Self {
            socket,
            family,
            bufs: vec![vec![0; options.snap_len.clamp(64, MAX_PACKET)]; batch],
            received: Vec::with_capacity(batch),
        })
    }

    /// ICMPv4 or ICMPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The socket.
    pub fn socket(&self) -> &IcmpSocket {
        &self.socket
    }

    /// Waits up to `timeout` for a message, then takes every message queued
    /// (up to the batch size), calling `each` for each; returns how many.
    /// `Ok(0)` when the time passed with nothing.
    pub fn recv(
        &mut self,
        timeout: Duration,
        mut each: impl FnMut(&Heard<'_>),
    ) -> io::Result<usize> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match self.socket.recv_batch(&mut self.bufs, &mut self.received) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(0);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        for (r, buf) in self.received.iter().zip(&self.bufs) {
            let len = r.len.min(buf.len());
            let icmp = buf.get(r.icmp.start.min(len)..len).unwrap_or_default();
            let heard = Heard {
                family: self.family,
                ip: (self.family == Family::V4).then(|| &buf[..len]),
                icmp,
                src: r.source,
                dst: r.destination,
                ttl: r.ttl,
                tos: r.tos,
                time: r.kernel_time.unwrap_or(now),
                ifindex: r.ifindex,
                truncated: r.truncated,
            };
            each(&heard);
        }
        Ok(self.received.len())
    }

    /// Messages the kernel dropped because this socket's receive buffer
    /// was full, from `/proc/net/raw` or `/proc/net/raw6` (the `drops`
    /// column of this socket's line, found by its inode). `None` when that
    /// cannot be read.
    pub fn kernel_drops(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", self.socket.as_raw_fd())).ok()?;
        let inode = link
            .to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .to_owned();
        let table = match self.family {
            Family::V4 => "/proc/net/raw",
            Family::V6 => "/proc/net/raw6",
        };
        drops_for_inode(&std::fs::read_to_string(table).ok()?, &inode)
    }
}

/// The `drops` column (the last) of the line whose `inode` column (the
/// tenth) is `inode`.
fn drops_for_inode(table: &str, inode: &str) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(9) == Some(&inode)).then(|| fields.last()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::MAX_BATCH;

    /// A batch of 0 (silently 1 before) or beyond one `recvmmsg` (a huge
    /// allocation before) is refused before any socket opens.
    #[test]
    fn batch_outside_one_recvmmsg_is_refused() {
        for batch in [0, MAX_BATCH + 1, usize::MAX] {
            let options = ListenOptions {
                batch,
                ..ListenOptions::default()
            };
            let err = Listener::open(Family::V4, &options).unwrap_err();
            assert!(
                err.invalid_option().is_some_and(|e| e.option == "batch"),
                "{batch}: {err}"
            );
        }
        let largest = ListenOptions {
            batch: MAX_BATCH,
            ..ListenOptions::default()
        };
        assert!(largest.validate().is_ok());
    }

    #[test]
    fn drops_column_by_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                     1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
                     1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 0\n";
        assert_eq!(drops_for_inode(table, "4242"), Some(17));
        assert_eq!(drops_for_inode(table, "4343"), Some(0));
        assert_eq!(drops_for_inode(table, "1"), None);
    }

    #[test]
    fn ipv6_packet_is_rebuilt_around_the_message() {
        let icmp = [128u8, 0, 0, 0, 0, 1, 0, 2];
        let heard = Heard {
            family: Family::V6,
            ip: None,
            icmp: &icmp,
            src: "2001:db8::1".parse().unwrap(),
            dst: Some("2001:db8::2".parse().unwrap()),
            ttl: Some(64),
            tos: None,
            time: Duration::ZERO,
            ifindex: None,
            truncated: false,
        };
        let mut scratch = Vec::new();
        let packet = heard.ip_packet(&mut scratch).to_vec();
        let found = icmpkit_wire::ip::locate_icmp(&packet).unwrap();
        assert_eq!(found.icmp, &icmp);
        assert_eq!(found.ttl, 64);
        assert_eq!(found.src, heard.src);
    }
}
