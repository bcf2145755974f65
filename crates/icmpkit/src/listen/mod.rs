//! Listening: every ICMP (or ICMPv6) message reaching the host, from a raw
//! socket, with what the kernel says about it. The socket is read in
//! batches (`recvmmsg`) into buffers allocated once, by the library's one
//! driver (one drain policy, receive errors counted); a [`Listener`] is an
//! async stream of the [`Packet`]s heard. While more than a batch of them
//! waits to be taken, the rest stays in the kernel's buffer (whose drops
//! [`Listener::kernel_drops`] reports), so memory stays bounded whatever
//! the rate.
//!
//! ```no_run
//! # async fn example() -> Result<(), icmpkit::Error> {
//! use icmpkit::listen::{ListenOptions, Listener};
//! use icmpkit::wire::Family;
//!
//! let mut listener = Listener::open(Family::V4, &ListenOptions::default())?;
//! while let Some(packet) = listener.next_packet().await {
//!     let heard = packet.heard();
//!     println!("{} sent {} bytes of ICMP", heard.src, heard.icmp.len());
//! }
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use icmpkit_wire::Family;
use icmpkit_wire::ip::ipv6;

use crate::Error;
use crate::driver::{
    BoxFuture, Driver, IcmpTransport, Protocol, SendOutcome, StopHandle, Transmit, Transport,
    TransportCounters,
};
use crate::engine::clock::{Deadline, Timestamp};
use crate::socket::{
    AsyncIcmpSocket, IcmpSocket, Privilege, QueuedError, Readiness, Received, SendTime,
    SocketOptions,
};

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

/// One message heard, owned: what the [`Listener`] stream hands out. Its
/// [`Packet::heard`] view is the borrowed [`Heard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    family: Family,
    /// The bytes as received: the IPv4 packet, or the ICMPv6 message.
    data: Vec<u8>,
    /// Where the ICMP message starts in `data`.
    icmp_start: usize,
    src: IpAddr,
    dst: Option<IpAddr>,
    ttl: Option<u8>,
    tos: Option<u8>,
    time: Duration,
    ifindex: Option<u32>,
    truncated: bool,
}

impl Packet {
    /// The message and what the kernel said about it.
    pub fn heard(&self) -> Heard<'_> {
        Heard {
            family: self.family,
            ip: (self.family == Family::V4).then_some(&self.data[..]),
            icmp: self.data.get(self.icmp_start..).unwrap_or_default(),
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            tos: self.tos,
            time: self.time,
            ifindex: self.ifindex,
            truncated: self.truncated,
        }
    }
}

/// A raw socket of one family receiving every ICMP message for the host:
/// pull [`Packet`]s with [`Listener::next_packet`] or as a
/// `futures_core::Stream`; end it from elsewhere with
/// [`Listener::stop_handle`].
#[derive(Debug)]
pub struct Listener {
    driver: Driver<ListenProtocol, BatchTransport>,
}

impl Listener {
    /// Opens the raw socket (needs `CAP_NET_RAW`). Needs a tokio runtime.
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
        let socket = AsyncIcmpSocket::register(socket)?;
        let snap_len = options.snap_len.clamp(64, MAX_PACKET);
        let transport = BatchTransport::new(IcmpTransport::new(socket), options.batch, snap_len);
        let protocol = ListenProtocol::new(family, options.batch);
        Ok(Self {
            driver: Driver::new(protocol, transport, snap_len),
        })
    }

    /// ICMPv4 or ICMPv6.
    pub fn family(&self) -> Family {
        self.driver.protocol().family
    }

    /// The socket.
    pub fn socket(&self) -> &IcmpSocket {
        self.driver.transport().icmp.socket().get_ref()
    }

    /// The next message heard; `None` once stopped. Cancel-safe.
    pub async fn next_packet(&mut self) -> Option<Packet> {
        self.driver.next_event().await
    }

    /// A handle that ends the stream from another task or thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.driver.stop_handle()
    }

    /// Receive errors the driver met (counted, logged, and skipped).
    pub fn transport_counters(&self) -> TransportCounters {
        self.driver.counters()
    }

    /// Messages the kernel dropped because this socket's receive buffer
    /// was full, from the `raw` or `raw6` table of the calling thread's
    /// `/proc/thread-self/net` (the `drops` column of this socket's line,
    /// found by its inode). `None` when that cannot be read.
    pub fn kernel_drops(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let link =
            std::fs::read_link(format!("/proc/self/fd/{}", self.socket().as_raw_fd())).ok()?;
        let inode = link
            .to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .to_owned();
        let table = match self.family() {
            Family::V4 => "raw",
            Family::V6 => "raw6",
        };
        // The calling thread's network namespace (the socket's, when it was
        // opened here), which /proc/net (the main thread's) need not be.
        let text = std::fs::read_to_string(format!("/proc/thread-self/net/{table}"))
            .or_else(|_| std::fs::read_to_string(format!("/proc/net/{table}")))
            .ok()?;
        drops_for_inode(&text, &inode)
    }
}

impl futures_core::Stream for Listener {
    type Item = Packet;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Packet>> {
        self.get_mut().driver.poll_event(cx)
    }
}

/// Listening as the driver runs it: every packet read becomes a
/// [`Packet`]; nothing is sent. Pure: the read time comes from the driver.
#[derive(Debug)]
struct ListenProtocol {
    family: Family,
    packets: std::collections::VecDeque<Packet>,
    /// Packets held before the drain stops (one batch).
    max_pending: usize,
    stopped: bool,
}

impl ListenProtocol {
    fn new(family: Family, max_pending: usize) -> Self {
        ListenProtocol {
            family,
            packets: std::collections::VecDeque::with_capacity(max_pending),
            max_pending: max_pending.max(1),
            stopped: false,
        }
    }
}

impl Protocol for ListenProtocol {
    type Event = Packet;
    type Meta = Received;

    fn poll_timeout(&self) -> Option<Deadline> {
        None
    }

    fn handle_timeout(&mut self, _now: Timestamp) {}

    fn poll_transmit(&mut self, _now: Timestamp, _out: &mut Transmit) -> bool {
        false
    }

    fn on_sent(&mut self, _sent: &Transmit, _outcome: SendOutcome) {}

    fn handle_incoming(&mut self, buf: &[u8], r: &Received, now: Timestamp) {
        if self.stopped {
            return;
        }
        let len = r.len.min(buf.len());
        self.packets.push_back(Packet {
            family: self.family,
            data: buf[..len].to_vec(),
            icmp_start: r.icmp.start.min(len),
            src: r.source,
            dst: r.destination,
            ttl: r.ttl,
            tos: r.tos,
            // The kernel's stamp, else the time of the read.
            time: r
                .kernel_time
                .unwrap_or(Duration::from_nanos(now.realtime_ns)),
            ifindex: r.ifindex,
            truncated: r.truncated,
        });
    }

    fn handle_queued_error(&mut self, _error: &QueuedError, _quote: &[u8], _now: Timestamp) {}

    fn poll_event(&mut self) -> Option<Packet> {
        self.packets.pop_front()
    }

    fn is_done(&self) -> bool {
        self.stopped && self.packets.is_empty()
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.packets.clear();
    }

    fn accepts_packets(&self) -> bool {
        self.packets.len() < self.max_pending
    }

    fn read_errors_after_send(&self) -> bool {
        false
    }

    fn uses_error_queue(&self) -> bool {
        // A listener sends nothing: no entry is ever queued about it.
        false
    }
}

/// The ICMP socket read a batch at a time: one `recvmmsg` fills the batch's
/// buffers (allocated once), and the driver takes its packets one by one.
#[derive(Debug)]
struct BatchTransport {
    icmp: IcmpTransport,
    batch: Mutex<Batch>,
}

#[derive(Debug)]
struct Batch {
    bufs: Vec<Vec<u8>>,
    received: Vec<Received>,
    /// The next packet of the batch to hand out.
    next: usize,
    /// The last `recvmmsg` found fewer packets than it had room for: the
    /// socket was empty then.
    short: bool,
}

impl BatchTransport {
    fn new(icmp: IcmpTransport, batch: usize, snap_len: usize) -> Self {
        BatchTransport {
            icmp,
            batch: Mutex::new(Batch {
                bufs: vec![vec![0; snap_len]; batch],
                received: Vec::with_capacity(batch),
                next: 0,
                short: false,
            }),
        }
    }
}

impl Transport for BatchTransport {
    type Meta = Received;

    fn send(&self, _transmit: &Transmit) -> io::Result<SendTime> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a listener sends nothing",
        ))
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
        let Batch {
            bufs,
            received,
            next,
            short,
        } = &mut *batch;
        if *next >= received.len() {
            if std::mem::take(short) {
                // A short batch emptied the socket: say so without another
                // system call. The driver then clears readiness and reads
                // once more (for real), so nothing that came since is lost.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            *next = 0;
            // `WouldBlock` (nothing queued) and errors go to the driver.
            let taken = self.icmp.socket().get_ref().recv_batch(bufs, received)?;
            *short = taken < bufs.len();
        }
        let Some(r) = received.get(*next) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let data = &bufs[*next];
        *next += 1;
        let len = r.len.min(data.len()).min(buf.len());
        buf[..len].copy_from_slice(&data[..len]);
        let mut r = r.clone();
        r.truncated |= len < r.len;
        r.len = len;
        Ok(r)
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
        self.icmp.wait_writable()
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
