//! Listening: every ICMP (or ICMPv6) message the host hears, with what the
//! kernel says about it: from a packet socket ([`Listener::open_packet`]:
//! received, sent and forwarded, both families, inside tunnels too, as
//! `tcpdump -i any icmp` sees them) or from a raw socket of one family
//! ([`Listener::open`]: what reaches the host). The socket is read in
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
//! let families = [Family::V4, Family::V6];
//! let mut listener = Listener::open_packet(&families, &ListenOptions::default())?;
//! while let Some(packet) = listener.next_packet().await {
//!     let heard = packet.heard();
//!     let way = heard.direction.map_or("?", |d| d.name());
//!     println!("{way}: {} sent {} bytes of ICMP", heard.src, heard.icmp.len());
//!     for tunnel in heard.encapsulation {
//!         println!("  via {tunnel}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use icmpkit_wire::Family;
use icmpkit_wire::encap::{self, Carrier, Carriers};
use icmpkit_wire::ip::ipv6;
use icmpkit_wire::link;

use crate::Error;
use crate::driver::{
    BoxFuture, Driver, IcmpTransport, Protocol, SendOutcome, StopHandle, Transmit, Transport,
    TransportCounters,
};
use crate::engine::clock::{Deadline, Timestamp};
use crate::socket::{
    AsyncPacketSocket, Direction, IcmpSocket, PacketSocket, Privilege, QueuedError, Readiness,
    Received, ReceivedFrame, SocketOptions, TypeFilter,
};

mod options;

pub use options::{ListenOptions, ListenOptionsBuilder};

/// Largest IP packet (and so the receive buffer of each batch slot).
const MAX_PACKET: usize = 65_535;

/// One received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Heard<'a> {
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// The IP packet around the message: IPv4 as a raw socket delivers
    /// it, either family from a packet socket (the innermost, when a
    /// tunnel carried it); `None` for ICMPv6 from a raw socket, whose
    /// header the kernel keeps (see [`Heard::ip_packet`]).
    pub ip: Option<&'a [u8]>,
    /// From a packet socket: the frame as captured, from its network
    /// header (an IP packet, or an MPLS label stack) on, tunnels and all.
    pub frame: Option<&'a [u8]>,
    /// From a packet socket: the frame's Ethernet type (0x0800, 0x86dd,
    /// 0x8847).
    pub link_protocol: Option<u16>,
    /// From a packet socket: the frame's length before any cut.
    pub wire_len: Option<usize>,
    /// From a packet socket: which way it went.
    pub direction: Option<Direction>,
    /// The tunnels that carried it, outermost first (packet sockets).
    pub encapsulation: &'a [Carrier],
    /// The destination the ICMPv6 checksum covers: a routing header's
    /// final destination when the packet has one, else `dst`.
    pub checksum_dst: Option<IpAddr>,
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
    /// The IP packet is the first fragment of a larger one (a packet
    /// socket sees fragments; the kernel reassembles before a raw socket
    /// gets them): its checksum cannot be verified here.
    pub first_fragment: bool,
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
#[non_exhaustive]
pub struct Packet {
    family: Family,
    /// The bytes as received: the IPv4 packet or the ICMPv6 message (raw
    /// sockets), the frame from its network header (packet sockets).
    data: Vec<u8>,
    /// Where the ICMP message is in `data`.
    icmp: Range<usize>,
    /// Where the (innermost) IP packet is in `data`, when it is there.
    ip: Option<Range<usize>>,
    /// What only a packet socket tells.
    link: Option<LinkInfo>,
    checksum_dst: Option<IpAddr>,
    src: IpAddr,
    dst: Option<IpAddr>,
    ttl: Option<u8>,
    tos: Option<u8>,
    time: Duration,
    ifindex: Option<u32>,
    truncated: bool,
    first_fragment: bool,
}

/// What a packet socket tells about a frame besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LinkInfo {
    protocol: u16,
    wire_len: usize,
    direction: Option<Direction>,
    carriers: Carriers,
}

impl Packet {
    /// The message and what the kernel said about it.
    pub fn heard(&self) -> Heard<'_> {
        let link = self.link.as_ref();
        Heard {
            family: self.family,
            ip: self.ip.clone().and_then(|r| self.data.get(r)),
            frame: link.map(|_| &self.data[..]),
            link_protocol: link.map(|l| l.protocol),
            wire_len: link.map(|l| l.wire_len),
            direction: link.and_then(|l| l.direction),
            encapsulation: link.map_or(&[], |l| l.carriers.as_slice()),
            checksum_dst: self.checksum_dst,
            icmp: self.data.get(self.icmp.clone()).unwrap_or_default(),
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            tos: self.tos,
            time: self.time,
            ifindex: self.ifindex,
            truncated: self.truncated,
            first_fragment: self.first_fragment,
        }
    }
}

/// A raw socket of one family receiving every ICMP message for the host
/// ([`Listener::open`]), or a packet socket hearing ICMP and ICMPv6 in
/// every direction ([`Listener::open_packet`]): pull [`Packet`]s with
/// [`Listener::next_packet`] or as a `futures_core::Stream`; end it from
/// elsewhere with [`Listener::stop_handle`].
#[derive(Debug)]
pub struct Listener {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Raw(Driver<ListenProtocol<Received>, BatchTransport<RawSource>>),
    Packet(Driver<ListenProtocol<ReceivedFrame>, BatchTransport<PacketSource>>),
}

/// Runs `$body` with `$driver` bound to whichever driver the listener has.
macro_rules! with_driver {
    ($self:expr, $driver:ident => $body:expr) => {
        match $self {
            Inner::Raw($driver) => $body,
            Inner::Packet($driver) => $body,
        }
    };
}

impl Listener {
    /// Opens the raw socket (needs `CAP_NET_RAW`): ICMP of `family`
    /// reaching the host (not what it sends or forwards). Needs a tokio
    /// runtime.
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
        let snap_len = options.snap_len.clamp(64, MAX_PACKET);
        let source = RawSource(IcmpTransport::new(socket)?);
        let transport = BatchTransport::new(source, options.batch, snap_len);
        let protocol = ListenProtocol::new(&[family], options);
        Ok(Self {
            inner: Inner::Raw(Driver::new(protocol, transport, snap_len)),
        })
    }

    /// Opens a packet socket (needs `CAP_NET_RAW`) hearing the ICMP of
    /// `families` as `tcpdump -i any icmp` does: what the host receives,
    /// sends and forwards, on `options.interface` or every interface, with
    /// its direction, and inside tunnels (GRE, VXLAN, Geneve, IP-in-IP,
    /// MPLS...), which [`Heard::encapsulation`] names. The kernel filter
    /// passes ICMP and what may carry it; the rest (the IPv6
    /// extension-header chain, tunnel payloads, `options.type_filter`,
    /// applied to both families) is read in user space. Needs a tokio
    /// runtime.
    pub fn open_packet(families: &[Family], options: &ListenOptions) -> Result<Self, Error> {
        options.validate()?;
        if families.is_empty() {
            // A listener that can hear nothing is a mistake, said at once.
            return Err(Error::invalid(
                "families",
                crate::InvalidReason::AtLeast { min: 1 },
            ));
        }
        let snap_len = options.snap_len.clamp(64, MAX_PACKET);
        let socket =
            PacketSocket::open(options.interface.as_deref(), snap_len, options.recv_buffer)?;
        let socket = Arc::new(AsyncPacketSocket::register(socket)?);
        let transport = BatchTransport::new(PacketSource(socket), options.batch, snap_len);
        let protocol = ListenProtocol::new(families, options);
        Ok(Self {
            inner: Inner::Packet(Driver::new(protocol, transport, snap_len)),
        })
    }

    /// ICMPv4 or ICMPv6: the raw socket's family, a packet socket's first.
    pub fn family(&self) -> Family {
        self.families()[0]
    }

    /// The families it hears.
    pub fn families(&self) -> &[Family] {
        with_driver!(&self.inner, d => &d.protocol().families)
    }

    /// Whether it reads a packet socket (outgoing and forwarded ICMP too).
    pub fn is_packet_socket(&self) -> bool {
        matches!(self.inner, Inner::Packet(_))
    }

    /// The raw socket; `None` for a packet socket.
    pub fn socket(&self) -> Option<&IcmpSocket> {
        match &self.inner {
            Inner::Raw(d) => Some(d.transport().source.0.socket()),
            Inner::Packet(_) => None,
        }
    }

    /// The next message heard; `None` once stopped. Cancel-safe.
    pub async fn next_packet(&mut self) -> Option<Packet> {
        with_driver!(&mut self.inner, d => d.next_event().await)
    }

    /// A handle that ends the stream from another task or thread.
    pub fn stop_handle(&self) -> StopHandle {
        with_driver!(&self.inner, d => d.stop_handle())
    }

    /// Receive errors the driver met (counted, logged, and skipped).
    pub fn transport_counters(&self) -> TransportCounters {
        with_driver!(&self.inner, d => d.counters())
    }

    /// Messages the kernel dropped because this socket's receive buffer
    /// was full: a packet socket's `PACKET_STATISTICS`, or for a raw
    /// socket the `raw` or `raw6` table of the calling thread's
    /// `/proc/thread-self/net` (the `drops` column of this socket's line,
    /// found by its inode). `None` when that cannot be read.
    pub fn kernel_drops(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let socket = match &self.inner {
            Inner::Packet(d) => {
                return d
                    .transport()
                    .source
                    .0
                    .get_ref()
                    .statistics()
                    .ok()
                    .map(|s| s.dropped);
            }
            Inner::Raw(d) => d.transport().source.0.socket(),
        };
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
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

/// The descriptor of the socket it reads (raw or packet), for polling.
impl std::os::fd::AsRawFd for Listener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match &self.inner {
            Inner::Raw(d) => d.transport().source.0.socket().as_raw_fd(),
            Inner::Packet(d) => d.transport().source.0.get_ref().as_raw_fd(),
        }
    }
}

impl futures_core::Stream for Listener {
    type Item = Packet;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Packet>> {
        with_driver!(&mut self.get_mut().inner, d => d.poll_event(cx))
    }
}

/// Listening as the driver runs it: every packet read becomes a
/// [`Packet`] (`M`: what the socket tells, [`Received`] or
/// [`ReceivedFrame`]); nothing is sent. Pure: the read time comes from
/// the driver.
#[derive(Debug)]
struct ListenProtocol<M> {
    families: Vec<Family>,
    /// Types kept (packet sockets; a raw socket's kernel filter does it).
    type_filter: TypeFilter,
    packets: std::collections::VecDeque<Packet>,
    /// Packets held before the drain stops (one batch).
    max_pending: usize,
    stopped: bool,
    _meta: std::marker::PhantomData<fn(M)>,
}

impl<M> ListenProtocol<M> {
    fn new(families: &[Family], options: &ListenOptions) -> Self {
        let max_pending = options.batch.max(1);
        ListenProtocol {
            families: families.to_vec(),
            type_filter: options.type_filter,
            packets: std::collections::VecDeque::with_capacity(max_pending),
            max_pending,
            stopped: false,
            _meta: std::marker::PhantomData,
        }
    }
}

/// What a socket's description of a packet becomes.
trait ToPacket {
    /// The packet of `buf` (what the socket wrote), `None` when it is not
    /// ICMP of `families` of a type `types` passes.
    fn to_packet(
        &self,
        buf: &[u8],
        families: &[Family],
        types: &TypeFilter,
        now: Timestamp,
    ) -> Option<Packet>;
}

impl ToPacket for Received {
    fn to_packet(
        &self,
        buf: &[u8],
        families: &[Family],
        _: &TypeFilter,
        now: Timestamp,
    ) -> Option<Packet> {
        let len = self.len.min(buf.len());
        let family = families.first().copied()?;
        Some(Packet {
            family,
            data: buf[..len].to_vec(),
            icmp: self.icmp.start.min(len)..len,
            ip: (family == Family::V4).then_some(0..len),
            link: None,
            checksum_dst: self.destination,
            src: self.source,
            dst: self.destination,
            ttl: self.ttl,
            tos: self.tos,
            // The kernel's stamp, else the time of the read.
            time: self
                .kernel_time
                .unwrap_or(Duration::from_nanos(now.realtime_ns)),
            ifindex: self.ifindex,
            truncated: self.truncated,
            first_fragment: false,
        })
    }
}

impl ToPacket for ReceivedFrame {
    fn to_packet(
        &self,
        buf: &[u8],
        families: &[Family],
        types: &TypeFilter,
        now: Timestamp,
    ) -> Option<Packet> {
        let frame = buf.get(..self.len)?;
        let ip = link::ip_by_ethertype(self.protocol, frame)?;
        let cut = self.wire_len.saturating_sub(self.len);
        let within = encap::locate_icmp_within(ip, cut)?;
        let found = within.located;
        if !families.contains(&found.family) || !types.passes(*found.icmp.first()?) {
            return None;
        }
        Some(Packet {
            family: found.family,
            data: frame.to_vec(),
            icmp: range_within(frame, found.icmp),
            ip: Some(range_within(frame, within.ip)),
            link: Some(LinkInfo {
                protocol: self.protocol,
                wire_len: self.wire_len,
                direction: self.direction,
                carriers: within.carriers,
            }),
            checksum_dst: Some(found.checksum_dst),
            src: found.src,
            dst: Some(found.dst),
            ttl: Some(found.ttl),
            tos: traffic_class(within.ip),
            time: self
                .kernel_time
                .unwrap_or(Duration::from_nanos(now.realtime_ns)),
            ifindex: Some(self.ifindex),
            truncated: found.truncated,
            first_fragment: found.first_fragment,
        })
    }
}

/// Where `part`, a slice of `frame`, lies in it; an empty part that is
/// not (the parsers' `&[]` for "nothing there") is an empty range at the
/// end.
fn range_within(frame: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).checked_sub(frame.as_ptr() as usize);
    match start {
        Some(start) if start + part.len() <= frame.len() => start..start + part.len(),
        _ => frame.len()..frame.len(),
    }
}

/// The TOS byte (IPv4) or traffic class (IPv6) of an IP packet.
fn traffic_class(ip: &[u8]) -> Option<u8> {
    match ip.first()? >> 4 {
        4 => ip.get(1).copied(),
        6 => Some((ip.first()? << 4) | (ip.get(1)? >> 4)),
        _ => None,
    }
}

impl<M: ToPacket> Protocol for ListenProtocol<M> {
    type Event = Packet;
    type Meta = M;

    fn poll_timeout(&self) -> Option<Deadline> {
        None
    }

    fn handle_timeout(&mut self, _now: Timestamp) {}

    fn poll_transmit(&mut self, _now: Timestamp, _out: &mut Transmit) -> bool {
        false
    }

    fn on_sent(&mut self, _sent: &Transmit, _outcome: SendOutcome) {}

    fn handle_incoming(&mut self, buf: &[u8], meta: &M, now: Timestamp) {
        if self.stopped {
            return;
        }
        if let Some(packet) = meta.to_packet(buf, &self.families, &self.type_filter, now) {
            self.packets.push_back(packet);
        }
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

/// What a [`BatchTransport`] reads: a socket taking a batch per call.
trait BatchSource {
    type Meta: Clone;
    /// One `recvmmsg` into `bufs`, the packets described in `out`.
    fn recv_batch(&self, bufs: &mut [Vec<u8>], out: &mut Vec<Self::Meta>) -> io::Result<usize>;
    /// The bytes `meta` says were written.
    fn len(meta: &Self::Meta) -> usize;
    /// Says only `len` bytes were handed on.
    fn cut(meta: &mut Self::Meta, len: usize);
    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>>;
    fn clear_ready(&self);
}

/// A raw ICMP socket.
#[derive(Debug)]
struct RawSource(IcmpTransport);

impl BatchSource for RawSource {
    type Meta = Received;

    fn recv_batch(&self, bufs: &mut [Vec<u8>], out: &mut Vec<Received>) -> io::Result<usize> {
        self.0.socket().recv_batch(bufs, out)
    }

    fn len(meta: &Received) -> usize {
        meta.len
    }

    fn cut(meta: &mut Received, len: usize) {
        meta.truncated |= len < meta.len;
        meta.len = len;
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        self.0.wait_ready()
    }

    fn clear_ready(&self) {
        self.0.clear_ready();
    }
}

/// A packet socket.
#[derive(Debug)]
struct PacketSource(Arc<AsyncPacketSocket>);

impl BatchSource for PacketSource {
    type Meta = ReceivedFrame;

    fn recv_batch(&self, bufs: &mut [Vec<u8>], out: &mut Vec<ReceivedFrame>) -> io::Result<usize> {
        self.0.get_ref().recv_batch(bufs, out)
    }

    fn len(meta: &ReceivedFrame) -> usize {
        meta.len
    }

    fn cut(meta: &mut ReceivedFrame, len: usize) {
        // `wire_len` stays: `truncated()` then tells the cut.
        meta.len = len;
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        let socket = Arc::clone(&self.0);
        Box::pin(async move {
            // The guard is dropped without clearing: the driver clears
            // only after it read to `WouldBlock`.
            let ready = socket.ready().await?.ready();
            Ok(Readiness {
                readable: ready.is_readable(),
                error: ready.is_error(),
            })
        })
    }

    fn clear_ready(&self) {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        // The readiness is still set (nothing cleared it since the wait
        // that saw it), so this poll is ready at once.
        let mut cx = Context::from_waker(Waker::noop());
        let ready = std::pin::pin!(self.0.ready());
        if let Poll::Ready(Ok(mut guard)) = ready.poll(&mut cx) {
            guard.clear_ready();
        }
    }
}

/// A socket read a batch at a time: one `recvmmsg` fills the batch's
/// buffers (allocated once), and the driver takes its packets one by one.
#[derive(Debug)]
struct BatchTransport<S: BatchSource> {
    source: S,
    batch: Mutex<Batch<S::Meta>>,
}

#[derive(Debug)]
struct Batch<M> {
    bufs: Vec<Vec<u8>>,
    received: Vec<M>,
    /// The next packet of the batch to hand out.
    next: usize,
    /// The last `recvmmsg` found fewer packets than it had room for: the
    /// socket was empty then.
    short: bool,
}

impl<S: BatchSource> BatchTransport<S> {
    fn new(source: S, batch: usize, snap_len: usize) -> Self {
        BatchTransport {
            source,
            batch: Mutex::new(Batch {
                bufs: vec![vec![0; snap_len]; batch],
                received: Vec::with_capacity(batch),
                next: 0,
                short: false,
            }),
        }
    }
}

impl<S: BatchSource> Transport for BatchTransport<S> {
    type Meta = S::Meta;

    fn send(&self, _transmit: &Transmit) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a listener sends nothing",
        ))
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<S::Meta> {
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
            let taken = self.source.recv_batch(bufs, received)?;
            *short = taken < bufs.len();
        }
        let Some(r) = received.get(*next) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let data = &bufs[*next];
        *next += 1;
        let len = S::len(r).min(data.len()).min(buf.len());
        buf[..len].copy_from_slice(&data[..len]);
        let mut r = r.clone();
        S::cut(&mut r, len);
        Ok(r)
    }

    fn recv_error(&self, _buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        // A listener sends nothing: nothing is queued about it.
        Ok(None)
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        self.source.wait_ready()
    }

    fn clear_ready(&self) {
        self.source.clear_ready();
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        Box::pin(std::future::pending())
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

    /// A packet listener for no family is refused before any socket opens.
    #[test]
    fn a_packet_listener_needs_a_family() {
        let err = Listener::open_packet(&[], &ListenOptions::default()).unwrap_err();
        assert!(
            err.invalid_option().is_some_and(|e| e.option == "families"),
            "{err}"
        );
    }

    /// Random frames of every Ethernet type the filter passes never panic
    /// the user-space reading, and what it keeps lies inside the frame.
    #[test]
    fn random_frames_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let types = TypeFilter::pass_all();
        let families = [Family::V4, Family::V6];
        let now = Timestamp::now();
        let mut found = 0;
        for round in 0..20_000 {
            let len = (next() % 160) as usize;
            let mut frame: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Mostly well-formed starts: IPv4 ICMP/GRE/UDP, IPv6.
            if let Some(first) = frame.first_mut() {
                *first = [0x45, 0x60, 0x45, 0x46][round % 4];
            }
            if frame.len() > 9 && round % 4 == 0 {
                frame[9] = [1, 47, 17, 4][(round / 4) % 4];
                // A first fragment, or none.
                frame[6] &= 0x20;
                frame[7] = 0;
            }
            let protocol = [0x0800, 0x86dd, 0x8847][round % 3];
            let meta = ReceivedFrame::for_tests(frame.len(), protocol);
            if let Some(packet) = meta.to_packet(&frame, &families, &types, now) {
                let heard = packet.heard();
                assert!(heard.icmp.len() <= frame.len());
                assert!(heard.ip.is_some_and(|ip| ip.len() <= frame.len()));
                found += 1;
            }
        }
        assert!(found > 200, "the frames reach the ICMP reading: {found}");
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
            frame: None,
            link_protocol: None,
            wire_len: None,
            direction: None,
            encapsulation: &[],
            checksum_dst: None,
            icmp: &icmp,
            src: "2001:db8::1".parse().unwrap(),
            dst: Some("2001:db8::2".parse().unwrap()),
            ttl: Some(64),
            tos: None,
            time: Duration::ZERO,
            ifindex: None,
            truncated: false,
            first_fragment: false,
        };
        let mut scratch = Vec::new();
        let packet = heard.ip_packet(&mut scratch).to_vec();
        let found = icmpkit_wire::ip::locate_icmp(&packet).unwrap();
        assert_eq!(found.icmp, &icmp);
        assert_eq!(found.ttl, 64);
        assert_eq!(found.src, heard.src);
    }
}
