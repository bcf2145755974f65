//! A packet socket (`AF_PACKET`, cooked: frames start at the network
//! header) that hears ICMP and ICMPv6 as `tcpdump -i any icmp` does: what
//! the host receives, what it sends, and what it forwards, on one interface
//! or all. A classic BPF filter in the kernel passes ICMP and what may
//! carry it (IPv6 extension-header chains, tunnels: IP-in-IP, GRE, PIM,
//! VXLAN, Geneve and MPLS over UDP, MPLS), which the caller then reads in
//! user space ([`icmpkit_wire::encap::locate_icmp_within`]). Needs
//! `CAP_NET_RAW`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use socket2::{Domain, SockFilter, Socket, Type};

use super::sys;
use crate::Error;

/// `ETH_P_ALL`: every protocol.
const ETH_P_ALL: u16 = 0x0003;

/// Which way a frame went, as the kernel tells a packet socket
/// (`PACKET_HOST`, `PACKET_OUTGOING`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Addressed to this host (received, or to be forwarded by it).
    In,
    /// Sent by this host (its own, or forwarded).
    Out,
    /// A link-layer broadcast received.
    Broadcast,
    /// A link-layer multicast received.
    Multicast,
    /// Addressed to another host (promiscuous or mirror capture).
    OtherHost,
}

impl Direction {
    fn from_pkttype(pkttype: u8) -> Option<Direction> {
        match pkttype {
            libc::PACKET_HOST => Some(Direction::In),
            libc::PACKET_OUTGOING => Some(Direction::Out),
            libc::PACKET_BROADCAST => Some(Direction::Broadcast),
            libc::PACKET_MULTICAST => Some(Direction::Multicast),
            libc::PACKET_OTHERHOST => Some(Direction::OtherHost),
            _ => None,
        }
    }

    /// `in`, `out`, `broadcast`, `multicast`, `other-host`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Broadcast => "broadcast",
            Direction::Multicast => "multicast",
            Direction::OtherHost => "other-host",
        }
    }

    /// The Linux `PACKET_*` number (what SLL and SLL2 captures store).
    pub fn pkttype(self) -> u8 {
        match self {
            Direction::In => libc::PACKET_HOST,
            Direction::Out => libc::PACKET_OUTGOING,
            Direction::Broadcast => libc::PACKET_BROADCAST,
            Direction::Multicast => libc::PACKET_MULTICAST,
            Direction::OtherHost => libc::PACKET_OTHERHOST,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One frame a [`PacketSocket`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedFrame {
    /// Bytes written into the buffer (from the network header on).
    pub len: usize,
    /// The frame's length before the buffer or snap length cut it.
    pub wire_len: usize,
    /// The payload's Ethernet type (0x0800 IPv4, 0x86dd IPv6, 0x8847 MPLS).
    pub protocol: u16,
    /// The interface it was seen on.
    pub ifindex: u32,
    /// Which way it went; `None` for a kind the kernel added later.
    pub direction: Option<Direction>,
    /// The kernel's receive (or, outgoing, send) timestamp since the UNIX
    /// epoch.
    pub kernel_time: Option<Duration>,
    /// Monotonic time right after the receive system call returned.
    pub received_at: Instant,
}

impl ReceivedFrame {
    /// A whole incoming frame of `len` bytes and Ethernet type `protocol`
    /// (tests of what reads frames).
    #[cfg(test)]
    pub(crate) fn for_tests(len: usize, protocol: u16) -> Self {
        ReceivedFrame {
            len,
            wire_len: len,
            protocol,
            ifindex: 1,
            direction: Some(Direction::In),
            kernel_time: None,
            received_at: Instant::now(),
        }
    }

    /// The buffer or the snap length cut it.
    pub fn truncated(&self) -> bool {
        self.len < self.wire_len
    }
}

/// Frame counts the kernel keeps for a packet socket
/// (`PACKET_STATISTICS`), since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacketStatistics {
    /// Frames the filter passed.
    pub received: u64,
    /// Of those, dropped because the receive buffer was full.
    pub dropped: u64,
}

/// A non-blocking cooked packet socket hearing ICMP, ICMPv6 and what may
/// carry them, in every direction.
#[derive(Debug)]
pub struct PacketSocket {
    socket: Socket,
    /// Counts summed over the reads of `PACKET_STATISTICS` (each read
    /// resets the kernel's).
    statistics: Mutex<PacketStatistics>,
    recv_space: Mutex<sys::RecvBatchSpace>,
}

impl PacketSocket {
    /// Opens it on `interface` (all when `None`), keeping `snap_len` bytes
    /// of each frame, with a receive buffer of `recv_buffer` bytes (past
    /// `rmem_max` when privileged). The filter is attached before the
    /// socket is bound to any protocol, so nothing else is ever queued.
    pub fn open(
        interface: Option<&str>,
        snap_len: usize,
        recv_buffer: usize,
    ) -> Result<Self, Error> {
        let unavailable =
            |context: String| move |source| Error::SocketUnavailable { context, source };
        let socket = Socket::new(Domain::PACKET, Type::DGRAM, None).map_err(|source| {
            // The capability raw sockets need, with the same remedies.
            if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                Error::Permission(super::permission_hint(
                    super::Family::V4,
                    super::Privilege::Privileged,
                ))
            } else {
                Error::SocketUnavailable {
                    context: "opening a packet socket".into(),
                    source,
                }
            }
        })?;
        socket
            .set_nonblocking(true)
            .map_err(unavailable("making the packet socket non-blocking".into()))?;
        let snap = u32::try_from(snap_len).unwrap_or(u32::MAX);
        let program: Vec<SockFilter> = icmp_filter(snap)
            .iter()
            .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect();
        socket
            .attach_filter(&program)
            .map_err(unavailable("attaching the ICMP filter".into()))?;
        if sys::set_recv_buffer_force(&socket, recv_buffer).is_err() {
            // Unprivileged for it: the kernel caps SO_RCVBUF at rmem_max.
            let _ = socket.set_recv_buffer_size(recv_buffer);
        }
        sys::enable_packet_receive_info(&socket).map_err(unavailable(
            "enabling timestamps and frame lengths on the packet socket".into(),
        ))?;
        let ifindex = match interface {
            Some(name) => sys::interface_index(name)
                .map_err(unavailable(format!("finding interface {name:?}")))?,
            None => 0,
        };
        sys::bind_packet(socket.as_fd(), ETH_P_ALL, ifindex)
            .map_err(unavailable("binding the packet socket".into()))?;
        Ok(PacketSocket {
            socket,
            statistics: Mutex::new(PacketStatistics::default()),
            recv_space: Mutex::new(sys::RecvBatchSpace::default()),
        })
    }

    /// Receives up to one frame per buffer in one `recvmmsg`
    /// (`WouldBlock` when none is queued); their descriptions go in `out`
    /// (cleared first), in buffer order.
    pub fn recv_batch<B: AsMut<[u8]>>(
        &self,
        bufs: &mut [B],
        out: &mut Vec<ReceivedFrame>,
    ) -> io::Result<usize> {
        out.clear();
        let mut space = self
            .recv_space
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sys::recv_mmsg(self.socket.as_fd(), bufs, &mut space)?;
        let received_at = Instant::now();
        for message in space.messages() {
            let Some(link) = message.link else {
                continue;
            };
            let wire_len = message
                .ancillary
                .frame_len
                .map_or(message.len, |n| n as usize);
            out.push(ReceivedFrame {
                len: message.len,
                wire_len: wire_len.max(message.len),
                protocol: link.protocol,
                ifindex: link.ifindex,
                direction: Direction::from_pkttype(link.pkttype),
                kernel_time: message.ancillary.kernel_time,
                received_at,
            });
        }
        Ok(out.len())
    }

    /// The kernel's counts since the socket opened.
    pub fn statistics(&self) -> io::Result<PacketStatistics> {
        let (received, dropped) = sys::packet_statistics(self.socket.as_fd())?;
        let mut total = self
            .statistics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        total.received += received;
        total.dropped += dropped;
        Ok(*total)
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// A [`PacketSocket`] registered with tokio's reactor.
#[derive(Debug)]
pub struct AsyncPacketSocket {
    inner: tokio::io::unix::AsyncFd<PacketSocket>,
}

impl AsyncPacketSocket {
    /// Registers `socket` with the current runtime (an error outside one).
    pub fn register(socket: PacketSocket) -> crate::Result<Self> {
        Ok(Self {
            inner: sys::register_with_reactor(socket, tokio::io::Interest::READABLE)
                .map_err(super::registration_failed("the packet socket"))?,
        })
    }

    /// The socket.
    pub fn get_ref(&self) -> &PacketSocket {
        self.inner.get_ref()
    }

    /// Waits until a frame is pending. Drain with the synchronous calls,
    /// then `clear_ready()`.
    pub async fn ready(&self) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, PacketSocket>> {
        self.inner.ready(tokio::io::Interest::READABLE).await
    }
}

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const ETHERTYPE_MPLS: u32 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u32 = 0x8848;
/// IP protocols passed as they are: ICMP, ICMPv6, and the tunnels
/// (IP-in-IP, IPv6 in IP, GRE, PIM) whose inner packet user space reads.
const PROTOCOLS_V4: [u32; 5] = [1, 4, 41, 47, 103];
/// IPv6 next headers passed: ICMPv6, the same tunnels, and the extension
/// headers (hop-by-hop, routing, fragment, destination options, AH,
/// mobility, HIP, shim6), whose chain the filter does not follow: user
/// space reads it.
const NEXT_HEADERS_V6: [u32; 13] = [58, 4, 41, 47, 103, 0, 43, 44, 60, 51, 135, 139, 140];
const PROTOCOL_UDP: u32 = 17;
/// UDP ports of tunnels: VXLAN, Geneve, MPLS over UDP.
const TUNNEL_PORTS: [u32; 3] = [4789, 6081, 6635];
/// Where an IPv6 packet's UDP destination port is when no extension
/// header comes first.
const IPV6_UDP_DST_PORT: u32 = 40 + 2;

/// A jump target in [`icmp_filter`]'s program.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    V4,
    V4Udp,
    V6,
    V6Udp,
    Accept,
}

/// One instruction before the jumps are resolved.
enum Op {
    Stmt(u16, u32),
    /// `jeq k`: to the label when equal, on to the next when not.
    JumpIfEqual(u32, Label),
    Ret(u32),
    Here(Label),
}

/// The classic BPF program: accept (keeping `snap` bytes) ICMP, ICMPv6
/// and what may carry them (see the constants above), drop the rest. The
/// socket is cooked, so offset 0 is the network header and the Ethernet
/// type comes from the skb (`SKF_AD_PROTOCOL`).
fn icmp_filter(snap: u32) -> Vec<Insn> {
    use libc::{BPF_ABS, BPF_B, BPF_H, BPF_IND, BPF_LD, BPF_LDX, BPF_MSH};
    let ld_protocol = (libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL) as u32;
    let mut ops = vec![
        Op::Stmt((BPF_LD | BPF_H | BPF_ABS) as u16, ld_protocol),
        Op::JumpIfEqual(ETHERTYPE_IPV4, Label::V4),
        Op::JumpIfEqual(ETHERTYPE_IPV6, Label::V6),
        Op::JumpIfEqual(ETHERTYPE_MPLS, Label::Accept),
        Op::JumpIfEqual(ETHERTYPE_MPLS_MULTICAST, Label::Accept),
        Op::Ret(0),
        Op::Here(Label::V4),
        Op::Stmt((BPF_LD | BPF_B | BPF_ABS) as u16, 9),
    ];
    ops.extend(PROTOCOLS_V4.map(|p| Op::JumpIfEqual(p, Label::Accept)));
    ops.push(Op::JumpIfEqual(PROTOCOL_UDP, Label::V4Udp));
    ops.push(Op::Ret(0));
    ops.push(Op::Here(Label::V4Udp));
    // X = the IPv4 header's length; the destination port is at X + 2.
    ops.push(Op::Stmt((BPF_LDX | BPF_B | BPF_MSH) as u16, 0));
    ops.push(Op::Stmt((BPF_LD | BPF_H | BPF_IND) as u16, 2));
    ops.extend(TUNNEL_PORTS.map(|p| Op::JumpIfEqual(p, Label::Accept)));
    ops.push(Op::Ret(0));
    ops.push(Op::Here(Label::V6));
    ops.push(Op::Stmt((BPF_LD | BPF_B | BPF_ABS) as u16, 6));
    ops.extend(NEXT_HEADERS_V6.map(|p| Op::JumpIfEqual(p, Label::Accept)));
    ops.push(Op::JumpIfEqual(PROTOCOL_UDP, Label::V6Udp));
    ops.push(Op::Ret(0));
    ops.push(Op::Here(Label::V6Udp));
    ops.push(Op::Stmt(
        (BPF_LD | BPF_H | BPF_ABS) as u16,
        IPV6_UDP_DST_PORT,
    ));
    ops.extend(TUNNEL_PORTS.map(|p| Op::JumpIfEqual(p, Label::Accept)));
    ops.push(Op::Ret(0));
    ops.push(Op::Here(Label::Accept));
    ops.push(Op::Ret(snap));
    assemble(&ops)
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// Resolves the labels into relative jumps (each target lies ahead, and
/// within the 255 instructions a conditional jump can skip).
fn assemble(ops: &[Op]) -> Vec<Insn> {
    use libc::{BPF_JEQ, BPF_JMP, BPF_K, BPF_RET};
    let mut positions = Vec::new();
    let mut index = 0usize;
    for op in ops {
        match op {
            Op::Here(label) => positions.push((*label, index)),
            _ => index += 1,
        }
    }
    // Every label is placed once, ahead of its jumps (a missing one would
    // jump to the end, which the tests' interpreter would catch).
    let at = |label: Label| {
        positions
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(index, |(_, i)| *i)
    };
    let mut program = Vec::with_capacity(index);
    for op in ops {
        let here = program.len();
        match *op {
            Op::Stmt(code, k) => program.push(Insn {
                code,
                jt: 0,
                jf: 0,
                k,
            }),
            Op::JumpIfEqual(k, label) => program.push(Insn {
                code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
                jt: u8::try_from(at(label).saturating_sub(here + 1)).unwrap_or(u8::MAX),
                jf: 0,
                k,
            }),
            Op::Ret(k) => program.push(Insn {
                code: (BPF_RET | BPF_K) as u16,
                jt: 0,
                jf: 0,
                k,
            }),
            Op::Here(_) => {}
        }
    }
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program as the kernel would on a cooked frame of
    /// `ethertype` (only the instructions it uses).
    fn run(program: &[Insn], ethertype: u16, frame: &[u8]) -> u32 {
        use libc::{BPF_ABS, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD};
        use libc::{BPF_LDX, BPF_MSH, BPF_RET};
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let byte = |at: usize| frame.get(at).map(|b| u32::from(*b));
        let half = |at: usize| Some(byte(at)? << 8 | byte(at + 1)?);
        loop {
            let i = program[pc];
            pc += 1;
            let code = u32::from(i.code);
            let loaded = if code == BPF_LD | BPF_H | BPF_ABS
                && i.k == (libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL) as u32
            {
                Some(u32::from(ethertype))
            } else if code == BPF_LD | BPF_H | BPF_ABS {
                half(i.k as usize)
            } else if code == BPF_LD | BPF_B | BPF_ABS {
                byte(i.k as usize)
            } else if code == BPF_LD | BPF_H | BPF_IND {
                half((x + i.k) as usize)
            } else if code == BPF_LDX | BPF_B | BPF_MSH {
                x = (byte(i.k as usize).unwrap_or(0) & 0xf) * 4;
                continue;
            } else if code == BPF_JMP | BPF_JEQ | BPF_K {
                pc += usize::from(if a == i.k { i.jt } else { i.jf });
                continue;
            } else if code == BPF_RET | BPF_K {
                return i.k;
            } else {
                panic!("unexpected instruction {i:?}");
            };
            // A load past the end drops the packet, as in the kernel.
            match loaded {
                Some(v) => a = v,
                None => return 0,
            }
        }
    }

    fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, protocol, 0, 0];
        p.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        p.extend_from_slice(payload);
        p
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        p.extend_from_slice(&[0; 32]);
        p.extend_from_slice(payload);
        p
    }

    fn udp_to(port: u16) -> Vec<u8> {
        let mut u = vec![0, 1];
        u.extend_from_slice(&port.to_be_bytes());
        u.extend_from_slice(&[0, 8, 0, 0]);
        u
    }

    #[test]
    fn filter_passes_icmp_and_its_carriers_only() {
        let program = icmp_filter(1500);
        let echo = [8, 0, 0, 0, 0, 1, 0, 1];
        let pass = [
            (0x0800, ipv4(1, &echo)),
            (0x86dd, ipv6(58, &echo)),
            (0x86dd, ipv6(0, &[58, 0, 0, 0, 0, 0, 0, 0])),
            (0x86dd, ipv6(44, &[58, 0, 0, 1, 0, 0, 0, 0])),
            (0x0800, ipv4(47, &[0, 0, 8, 0])),
            (0x0800, ipv4(4, &ipv4(1, &echo))),
            (0x0800, ipv4(17, &udp_to(4789))),
            (0x86dd, ipv6(17, &udp_to(6081))),
            (0x8847, vec![0, 1, 1, 64]),
        ];
        for (ethertype, frame) in &pass {
            assert_eq!(run(&program, *ethertype, frame), 1500, "{frame:02x?}");
        }
        let drop = [
            (0x0800, ipv4(6, &[0; 20])),
            (0x0800, ipv4(17, &udp_to(53))),
            (0x86dd, ipv6(17, &udp_to(53))),
            (0x86dd, ipv6(6, &[0; 20])),
            (0x0806, vec![0; 28]),
            (0x0800, vec![0x45]),
        ];
        for (ethertype, frame) in &drop {
            assert_eq!(run(&program, *ethertype, frame), 0, "{frame:02x?}");
        }
    }

    #[test]
    fn directions_round_trip_through_the_kernel_numbers() {
        for d in [
            Direction::In,
            Direction::Out,
            Direction::Broadcast,
            Direction::Multicast,
            Direction::OtherHost,
        ] {
            assert_eq!(Direction::from_pkttype(d.pkttype()), Some(d));
        }
        assert_eq!(Direction::from_pkttype(99), None);
    }
}
