//! The sockets a trace probes through, as one driver [`Transport`]: one
//! variant per probe transport ([`ProbeSockets`]), one readiness wait over
//! every member, and receives that drain the members in a fixed order (the
//! ICMP socket, the raw TCP sender, the UDP flows, then the TCP connects).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use icmpkit_wire::Family;
use tokio::sync::Notify;

use crate::driver::{BoxFuture, Transmit, Transport, has_send_room};
use crate::socket::{
    AsyncIcmpSocket, AsyncRawTcpSocket, AsyncTransportSocket, ErrorOrigin, QueuedError, Readiness,
    Received, ReceivedSegment, SendTime, TransportKind, TransportSocket,
};

/// The sockets of one probe transport.
#[derive(Debug)]
pub(crate) enum ProbeSockets {
    /// ICMP echo probes on one ICMP socket (raw or datagram), which also
    /// receives the answers.
    Icmp(Arc<AsyncIcmpSocket>),
    /// UDP probes, one socket per flow (its port is the flow); the errors
    /// come from the raw ICMP listener when there is one, from the
    /// sockets' error queues otherwise.
    Udp {
        flows: Vec<Arc<AsyncTransportSocket>>,
        listener: Option<Arc<AsyncIcmpSocket>>,
        port: u16,
    },
    /// TCP SYNs built here and sent raw, the destination's SYN-ACKs and
    /// resets read on the same socket, the errors on the ICMP listener.
    RawTcp {
        sender: Arc<AsyncRawTcpSocket>,
        listener: Arc<AsyncIcmpSocket>,
        /// Bound (not listening) TCP sockets holding each flow's source
        /// port, so no other socket of the host takes it while the trace
        /// runs. The kernel still answers the destination's SYN-ACKs with
        /// resets, as for `traceroute -T`: nothing here accepts them.
        #[allow(dead_code, reason = "held for the ports they reserve")]
        reserved: Vec<TransportSocket>,
    },
    /// Unprivileged TCP probes: one `connect()` per probe, each socket
    /// watched until its attempt has an outcome.
    TcpConnect(Connects),
}

/// The TCP connects in flight.
#[derive(Debug)]
pub(crate) struct Connects {
    family: Family,
    port: u16,
    /// Each flow's source port, kept while none of its probes is in flight
    /// (Paris); the kernel picks another otherwise.
    flow_ports: Vec<u16>,
    pending: Mutex<Vec<Connecting>>,
    /// Raised when a connect joins the set: a readiness wait built before
    /// it ends, so the next one watches it too.
    joined: Arc<Notify>,
}

#[derive(Debug)]
struct Connecting {
    socket: Arc<AsyncTransportSocket>,
    token: u64,
    local_port: u16,
}

impl Connects {
    pub fn new(family: Family, port: u16, flow_ports: Vec<u16>) -> Self {
        Connects {
            family,
            port,
            flow_ports,
            pending: Mutex::default(),
            joined: Arc::default(),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Vec<Connecting>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts one probe's connect: from its flow's port when no probe of
    /// the flow is still connecting from it, from any port otherwise.
    fn start(&self, transmit: &Transmit, destination: IpAddr) -> io::Result<SendTime> {
        let ttl = transmit.ttl.unwrap_or(64);
        let flow_port = self.flow_ports.get(transmit.via).copied();
        let busy = |port: u16| self.pending().iter().any(|c| c.local_port == port);
        let wanted = flow_port.filter(|&p| !busy(p));
        let destination = SocketAddr::new(destination, self.port);
        let (socket, local_port, at) = match wanted.map(|p| self.connect(ttl, p, destination)) {
            Some(Ok(done)) => done,
            _ => self.connect(ttl, 0, destination)?,
        };
        self.pending().push(Connecting {
            socket: Arc::new(AsyncTransportSocket::new(socket)?),
            token: transmit.token,
            local_port,
        });
        self.joined.notify_one();
        Ok(at)
    }

    /// Opens a TCP probe socket on `port` (0: any) and sends its SYN.
    fn connect(
        &self,
        ttl: u8,
        port: u16,
        destination: SocketAddr,
    ) -> io::Result<(TransportSocket, u16, SendTime)> {
        let socket = TransportSocket::open(self.family, TransportKind::Tcp, None, port)
            .map_err(io::Error::other)?;
        socket.set_ttl(ttl)?;
        let local = socket.local_addr()?.port();
        let at = socket.connect(destination)?;
        Ok((socket, local, at))
    }

    /// The first connect whose attempt has an outcome, taken out of the
    /// set; `WouldBlock` when none has.
    fn take_outcome(&self, buf: &mut [u8]) -> io::Result<TraceMeta> {
        let mut pending = self.pending();
        for index in 0..pending.len() {
            match outcome(&pending[index], buf) {
                Ok(None) => {}
                Ok(Some(outcome)) => {
                    pending.swap_remove(index);
                    return Ok(TraceMeta::Connect(outcome));
                }
                Err(e) => {
                    // Not watched any more (its probe expires), so a
                    // socket that keeps failing cannot make an error storm.
                    pending.swap_remove(index);
                    return Err(e);
                }
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// How a TCP probe's connect ended, if it did: an ICMP error on its error
/// queue, a pending socket error, or the connection made. A failed read
/// is the driver's to count.
fn outcome(connecting: &Connecting, buf: &mut [u8]) -> io::Result<Option<ConnectOutcome>> {
    let socket = connecting.socket.get_ref();
    let mut queued = None;
    while let Some(q) = socket.recv_error(buf)? {
        if q.origin != ErrorOrigin::Local {
            queued = Some(q);
        }
    }
    let error = socket.take_error()?;
    let connected = error.is_none() && socket.is_connected();
    if queued.is_none() && error.is_none() && !connected {
        return Ok(None);
    }
    let refused = error
        .as_ref()
        .is_some_and(|e| e.raw_os_error() == Some(libc::ECONNREFUSED));
    Ok(Some(ConnectOutcome {
        token: connecting.token,
        queued,
        refused,
        failed: error.is_some(),
        connected,
    }))
}

/// The end of one TCP probe's connect.
#[derive(Debug)]
pub(crate) struct ConnectOutcome {
    /// The probe's token ([`Transmit::token`]).
    pub token: u64,
    /// The ICMP error its error queue got, if any.
    pub queued: Option<QueuedError>,
    /// Reset by the destination.
    pub refused: bool,
    /// Ended by some socket error.
    pub failed: bool,
    /// The destination answered with a SYN-ACK.
    pub connected: bool,
}

/// What a receive on the trace's sockets got.
#[derive(Debug)]
pub(crate) enum TraceMeta {
    /// An ICMP message (answers and errors).
    Icmp(Received),
    /// A TCP segment on the raw TCP socket.
    Segment(ReceivedSegment),
    /// A datagram that came back to a UDP probe socket (nothing of ours).
    Datagram,
    /// A TCP probe's connect ended.
    Connect(ConnectOutcome),
}

/// One member of the set, for the readiness waits.
#[derive(Clone)]
enum Member {
    Icmp(Arc<AsyncIcmpSocket>),
    RawTcp(Arc<AsyncRawTcpSocket>),
    Transport(Arc<AsyncTransportSocket>),
}

impl Member {
    /// Ready for a read, an error-queue entry or (connects) an outcome;
    /// the readiness stays set until [`Member::clear_ready`].
    async fn ready(self) -> io::Result<()> {
        match self {
            Member::Icmp(s) => s.ready().await.map(drop),
            Member::RawTcp(s) => s.ready().await.map(drop),
            Member::Transport(s) => s.ready().await.map(drop),
        }
    }

    fn clear_ready(&self) {
        // Set readiness makes this poll ready at once; none to clear
        // otherwise.
        let mut cx = Context::from_waker(Waker::noop());
        match self {
            Member::Icmp(s) => {
                if let Poll::Ready(Ok(mut guard)) = std::pin::pin!(s.ready()).poll(&mut cx) {
                    guard.clear_ready();
                }
            }
            Member::RawTcp(s) => {
                if let Poll::Ready(Ok(mut guard)) = std::pin::pin!(s.ready()).poll(&mut cx) {
                    guard.clear_ready();
                }
            }
            Member::Transport(s) => {
                if let Poll::Ready(Ok(mut guard)) = std::pin::pin!(s.ready()).poll(&mut cx) {
                    guard.clear_ready();
                }
            }
        }
    }

    async fn writable(self) -> io::Result<()> {
        loop {
            let room = match &self {
                Member::Icmp(s) => {
                    let mut guard = s.writable().await?;
                    let room = has_send_room(s.get_ref())?;
                    if !room {
                        guard.clear_ready();
                    }
                    room
                }
                Member::RawTcp(s) => {
                    let mut guard = s.writable().await?;
                    let room = has_send_room(s.get_ref())?;
                    if !room {
                        guard.clear_ready();
                    }
                    room
                }
                Member::Transport(s) => {
                    let mut guard = s.writable().await?;
                    let room = has_send_room(s.get_ref())?;
                    if !room {
                        guard.clear_ready();
                    }
                    room
                }
            };
            if room {
                return Ok(());
            }
        }
    }
}

/// A trace's socket set as a driver [`Transport`].
#[derive(Debug)]
pub(crate) struct TraceTransport {
    sockets: ProbeSockets,
    /// The socket whose last send found its buffer full.
    blocked: Mutex<Option<usize>>,
}

impl TraceTransport {
    pub fn new(sockets: ProbeSockets) -> Self {
        TraceTransport {
            sockets,
            blocked: Mutex::default(),
        }
    }

    /// The ICMP socket: the probe socket or the raw listener.
    fn icmp(&self) -> Option<&Arc<AsyncIcmpSocket>> {
        match &self.sockets {
            ProbeSockets::Icmp(s) => Some(s),
            ProbeSockets::Udp { listener, .. } => listener.as_ref(),
            ProbeSockets::RawTcp { listener, .. } => Some(listener),
            ProbeSockets::TcpConnect(_) => None,
        }
    }

    /// Every member, in drain order.
    fn members(&self) -> Vec<Member> {
        let mut members: Vec<Member> = self.icmp().cloned().map(Member::Icmp).into_iter().collect();
        match &self.sockets {
            ProbeSockets::Icmp(_) => {}
            ProbeSockets::Udp { flows, .. } => {
                members.extend(flows.iter().cloned().map(Member::Transport));
            }
            ProbeSockets::RawTcp { sender, .. } => members.push(Member::RawTcp(sender.clone())),
            ProbeSockets::TcpConnect(connects) => members.extend(
                connects
                    .pending()
                    .iter()
                    .map(|c| Member::Transport(c.socket.clone())),
            ),
        }
        members
    }

    /// The member that sends `transmit`.
    fn sender(&self, transmit: &Transmit) -> Option<Member> {
        match &self.sockets {
            ProbeSockets::Icmp(s) => Some(Member::Icmp(s.clone())),
            ProbeSockets::Udp { flows, .. } => {
                flows.get(transmit.via).cloned().map(Member::Transport)
            }
            ProbeSockets::RawTcp { sender, .. } => Some(Member::RawTcp(sender.clone())),
            ProbeSockets::TcpConnect(_) => None,
        }
    }
}

fn no_socket(what: &str) -> io::Error {
    io::Error::other(format!("no {what} for this probe"))
}

impl Transport for TraceTransport {
    type Meta = TraceMeta;

    fn send(&self, transmit: &Transmit) -> io::Result<()> {
        let destination = transmit
            .destination
            .ok_or_else(|| no_socket("destination"))?;
        let ttl = transmit.ttl.unwrap_or(64);
        let sent = match &self.sockets {
            ProbeSockets::Icmp(socket) => {
                let socket = socket.get_ref();
                socket.set_ttl(ttl)?;
                socket.send_to_scoped(&transmit.message, destination, transmit.scope_id)
            }
            ProbeSockets::Udp { flows, port, .. } => {
                let socket = flows
                    .get(transmit.via)
                    .ok_or_else(|| no_socket("UDP socket"))?;
                let socket = socket.get_ref();
                socket.set_ttl(ttl)?;
                socket.send_to(&transmit.message, SocketAddr::new(destination, *port))
            }
            ProbeSockets::RawTcp { sender, .. } => {
                let socket = sender.get_ref();
                socket.set_ttl(ttl)?;
                socket.send_to(&transmit.message, destination, transmit.scope_id)
            }
            ProbeSockets::TcpConnect(connects) => connects.start(transmit, destination),
        };
        if sent
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
            && let Ok(mut blocked) = self.blocked.lock()
        {
            *blocked = Some(transmit.via);
        }
        sent.map(drop)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<TraceMeta> {
        if let Some(icmp) = self.icmp() {
            match icmp.get_ref().recv(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other.map(TraceMeta::Icmp),
            }
        }
        match &self.sockets {
            ProbeSockets::Icmp(_) => Err(io::ErrorKind::WouldBlock.into()),
            ProbeSockets::RawTcp { sender, .. } => {
                sender.get_ref().recv(buf).map(TraceMeta::Segment)
            }
            ProbeSockets::Udp { flows, .. } => {
                for socket in flows {
                    if socket.get_ref().recv_datagram(buf)?.is_some() {
                        return Ok(TraceMeta::Datagram);
                    }
                }
                Err(io::ErrorKind::WouldBlock.into())
            }
            ProbeSockets::TcpConnect(connects) => connects.take_outcome(buf),
        }
    }

    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        // Connects' error queues are part of their outcome (`recv`).
        if let Some(icmp) = self.icmp()
            && let Some(entry) = icmp.get_ref().recv_error(buf)?
        {
            return Ok(Some(entry));
        }
        match &self.sockets {
            ProbeSockets::RawTcp { sender, .. } => sender.get_ref().recv_error(buf),
            ProbeSockets::Udp { flows, .. } => {
                for socket in flows {
                    if let Some(entry) = socket.get_ref().recv_error(buf)? {
                        return Ok(Some(entry));
                    }
                }
                Ok(None)
            }
            ProbeSockets::Icmp(_) | ProbeSockets::TcpConnect(_) => Ok(None),
        }
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        let mut waits: Vec<BoxFuture<io::Result<()>>> = self
            .members()
            .into_iter()
            .map(|m| Box::pin(m.ready()) as BoxFuture<io::Result<()>>)
            .collect();
        let joined = match &self.sockets {
            ProbeSockets::TcpConnect(connects) => Some(Arc::clone(&connects.joined)),
            _ => None,
        };
        Box::pin(async move {
            let joined_wait = async {
                match &joined {
                    Some(notify) => notify.notified().await,
                    None => std::future::pending().await,
                }
            };
            let mut joined_wait = std::pin::pin!(joined_wait);
            std::future::poll_fn(|cx| {
                // A new connect: go round, the next wait watches it too.
                let any = joined_wait.as_mut().poll(cx).is_ready();
                for wait in &mut waits {
                    if let Poll::Ready(result) = wait.as_mut().poll(cx) {
                        return Poll::Ready(result);
                    }
                }
                if any {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                }
            })
            .await?;
            // Which member is ready is not told: read every queue.
            Ok(Readiness {
                readable: true,
                error: true,
            })
        })
    }

    fn clear_ready(&self) {
        for member in self.members() {
            member.clear_ready();
        }
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        let via = self
            .blocked
            .lock()
            .ok()
            .and_then(|mut b| b.take())
            .unwrap_or(0);
        let probe = Transmit {
            via,
            ..Transmit::default()
        };
        match self.sender(&probe) {
            Some(member) => Box::pin(member.writable()),
            None => Box::pin(std::future::ready(Ok(()))),
        }
    }
}

#[cfg(test)]
mod tests {
    //! On loopback, without privileges: UDP probe sockets and TCP connects.

    use std::net::{Ipv4Addr, TcpListener, UdpSocket};
    use std::time::Duration;

    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn udp_flow() -> Arc<AsyncTransportSocket> {
        let socket =
            TransportSocket::open(Family::V4, TransportKind::Udp, Some(LOOPBACK), 0).unwrap();
        Arc::new(AsyncTransportSocket::register(socket).unwrap())
    }

    async fn ends_soon(wait: BoxFuture<io::Result<Readiness>>) -> bool {
        tokio::time::timeout(Duration::from_secs(2), wait)
            .await
            .is_ok_and(|r| r.is_ok())
    }

    #[tokio::test]
    async fn one_wait_covers_every_flow_socket_and_recv_drains_them_all() {
        let flows = vec![udp_flow(), udp_flow()];
        let second = flows[1].get_ref().local_addr().unwrap();
        let transport = TraceTransport::new(ProbeSockets::Udp {
            flows,
            listener: None,
            port: 9,
        });
        let mut wait = transport.wait_ready();
        let early = tokio::time::timeout(Duration::from_millis(20), &mut wait).await;
        assert!(early.is_err(), "nothing arrived yet");
        // Only the second member gets something.
        let peer = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        peer.send_to(b"one", second).unwrap();
        peer.send_to(b"two", second).unwrap();
        assert!(ends_soon(wait).await, "the wait sees the second socket");
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            assert!(matches!(transport.recv(&mut buf), Ok(TraceMeta::Datagram)));
        }
        let empty = transport.recv(&mut buf).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        transport.clear_ready();
        let after_clear = tokio::time::timeout(Duration::from_millis(20), transport.wait_ready());
        assert!(after_clear.await.is_err(), "readiness was cleared");
    }

    /// The outcome of the connect with `token` (`None`: none within 2 s).
    async fn connect_outcome(transport: &TraceTransport, token: u64) -> Option<ConnectOutcome> {
        let mut buf = [0u8; 512];
        for _ in 0..200 {
            match transport.recv(&mut buf) {
                Ok(TraceMeta::Connect(outcome)) if outcome.token == token => return Some(outcome),
                Ok(_) => {}
                Err(_) => {
                    transport.clear_ready();
                    let wait = transport.wait_ready();
                    let _ = tokio::time::timeout(Duration::from_millis(10), wait).await;
                }
            }
        }
        None
    }

    #[tokio::test]
    async fn a_connect_joining_the_set_ends_the_wait_and_its_outcome_is_read() {
        let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let open_port = listener.local_addr().unwrap().port();
        let transport = TraceTransport::new(ProbeSockets::TcpConnect(Connects::new(
            Family::V4,
            open_port,
            Vec::new(),
        )));
        let mut wait = transport.wait_ready();
        let early = tokio::time::timeout(Duration::from_millis(20), &mut wait).await;
        assert!(early.is_err(), "no connect yet");
        let probe = Transmit {
            destination: Some(LOOPBACK),
            token: 7,
            ttl: Some(64),
            ..Transmit::default()
        };
        transport.send(&probe).unwrap();
        assert!(ends_soon(wait).await, "the new connect ends the old wait");
        let outcome = connect_outcome(&transport, 7).await.expect("an outcome");
        assert!(outcome.connected && !outcome.failed, "{outcome:?}");
        assert!(
            transport.members().is_empty(),
            "an ended connect leaves the set"
        );
    }

    #[tokio::test]
    async fn a_refused_connect_is_an_outcome_too() {
        // A port nobody listens on: bound, then closed.
        let closed = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let transport = TraceTransport::new(ProbeSockets::TcpConnect(Connects::new(
            Family::V4,
            closed_port,
            Vec::new(),
        )));
        let probe = Transmit {
            destination: Some(LOOPBACK),
            token: 3,
            ttl: Some(64),
            ..Transmit::default()
        };
        transport.send(&probe).unwrap();
        let outcome = connect_outcome(&transport, 3).await.expect("an outcome");
        assert!(outcome.refused && !outcome.connected, "{outcome:?}");
    }
}
