//! [`CraftedPath`]: a path of routers that exist only as packets. One
//! namespace watches the client's echo requests to a destination and, by
//! their TTL (hop limit), answers with time exceeded errors that
//! icmpkit-wire builds from made-up router addresses, RFC 4884 extension
//! structures included, or with the destination's echo reply. For what
//! Linux routers never send: MPLS label stacks (RFC 4950), interface
//! information (RFC 5837).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use icmpkit_wire::extension::{ErrorBody, Extensions, Object};
use icmpkit_wire::ip::{ipv4, ipv6};
use icmpkit_wire::{Family, icmpv4, icmpv6};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, SockaddrIn6, recv,
    sendto, socket,
};

use crate::capture::packet_socket;
use crate::error::{Error, Result};
use crate::lab::Lab;
use crate::ns::Ns;

/// What a crafted router's time exceeded carries after the quoted probe:
/// called with the family and the router's TTL (1-based), it returns an
/// RFC 4884 extension structure as [`Extensions::emit`] writes it (see
/// [`extension_structure`]), or `None` for a plain error.
pub type ExtensionsOf = dyn Fn(Family, u8) -> Option<Vec<u8>> + Send;

/// The bytes of the extension structure holding `objects` (header and
/// checksum included), for [`Lab::crafted_path`]. `Malformed` for an
/// object the wire cannot hold.
pub fn extension_structure(objects: &[Object<'_>]) -> icmpkit_wire::Result<Vec<u8>> {
    let extensions = Extensions::from_objects(objects);
    let mut bytes = vec![0; extensions.buffer_len()];
    extensions.emit(&mut bytes)?;
    Ok(bytes)
}

/// The extensions of [`Lab::sample_extensions_path`]'s first router: an
/// MPLS label stack (RFC 4950) and its incoming interface (RFC 5837), one
/// set of values for every test that checks them.
pub mod sample {
    use std::net::IpAddr;

    use icmpkit_wire::Family;
    use icmpkit_wire::extension::{InterfaceInfo, InterfaceRole, MplsEntry, MplsStack, Object};

    /// The label stack, top first.
    pub static LABELS: [MplsEntry; 2] = [
        MplsEntry {
            label: 16004,
            tc: 0,
            s: false,
            ttl: 1,
        },
        MplsEntry {
            label: 3,
            tc: 5,
            s: true,
            ttl: 1,
        },
    ];
    /// The incoming interface's ifIndex.
    pub const IF_INDEX: u32 = 7;
    /// Its name: 12 bytes, so its name sub-object is 16 (length byte,
    /// name, 3 NULs of padding).
    pub const IF_NAME: &str = "ge-0/0/1.100";
    /// Its MTU.
    pub const MTU: u32 = 1500;

    /// Its address: documentation addresses, only ever inside the packet.
    pub fn interface_address(family: Family) -> IpAddr {
        match family {
            Family::V4 => IpAddr::from([192, 0, 2, 33]),
            Family::V6 => IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x33]),
        }
    }

    /// The two objects, in the order the router sends them.
    pub fn objects(family: Family) -> [Object<'static>; 2] {
        [
            Object::Mpls(MplsStack::from_entries(&LABELS)),
            Object::InterfaceInfo(InterfaceInfo {
                role: InterfaceRole::IncomingInterface,
                if_index: Some(IF_INDEX),
                address: Some(interface_address(family)),
                name: Some(IF_NAME.as_bytes()),
                mtu: Some(MTU),
            }),
        ]
    }
}

/// `client — player`, dual-stack (`10.9.0.1/24`, `fd00:9::1/64` on the
/// client; `.2`, `::2` on the player). The player answers echo requests to
/// [`CraftedPath::target`] of either family as a path of routers
/// [`CraftedPath::router`] `1..=routers` then the target; the kernel of
/// neither namespace answers echo itself. The client routes `10.99.0.0/16`
/// and `fd00:99::/32` (target and routers) to the player and may open
/// unprivileged ICMP sockets. The responder stops when this drops.
pub struct CraftedPath {
    client: Ns,
    player: Ns,
    routers: u8,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for CraftedPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CraftedPath")
            .field("client", &self.client)
            .field("player", &self.player)
            .field("routers", &self.routers)
            .finish_non_exhaustive()
    }
}

impl Lab {
    /// A [`CraftedPath`] of `routers` routers (1 to 254) whose time
    /// exceeded errors carry `extensions(family, ttl)` ([`ExtensionsOf`]).
    pub fn crafted_path<F>(&self, routers: u8, extensions: F) -> Result<CraftedPath>
    where
        F: Fn(Family, u8) -> Option<Vec<u8>> + Send + 'static,
    {
        if !(1..=254).contains(&routers) {
            return Err(Error::new(
                format!("crafted_path({routers})"),
                "1 to 254 routers",
            ));
        }
        let client = self.namespace("c")?;
        let player = self.namespace("path")?;
        self.connect_dual(
            &client,
            ["10.9.0.1/24", "fd00:9::1/64"],
            &player,
            ["10.9.0.2/24", "fd00:9::2/64"],
        )?;
        client.route("10.99.0.0/16 via 10.9.0.2")?;
        client.route("fd00:99::/32 via fd00:9::2")?;
        client.allow_ping_sockets()?;
        for family in [Family::V4, Family::V6] {
            let host = if family == Family::V4 { 32 } else { 128 };
            player.answer_prefix(&format!("{}/{host}", CraftedPath::target(family)))?;
        }
        // Only the responder answers.
        player.sysctl("net.ipv4.icmp_echo_ignore_all", "1")?;
        player.sysctl("net.ipv6.icmp.echo_ignore_all", "1")?;
        let sockets = {
            let _inside = player.enter()?;
            Sockets::open().map_err(|err| {
                Error::new(
                    format!("open the crafted path's sockets in {}", player.name()),
                    err.to_string(),
                )
            })?
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let responder = Responder {
            routers,
            extensions: Box::new(extensions),
        };
        let thread = std::thread::spawn(move || responder.run(&sockets, &flag));
        Ok(CraftedPath {
            client,
            player,
            routers,
            stop,
            thread: Some(thread),
        })
    }
}

impl Lab {
    /// A [`CraftedPath`] of 2 routers whose first sends [`sample::objects`]
    /// with its time exceeded errors; the second sends none.
    pub fn sample_extensions_path(&self) -> Result<CraftedPath> {
        self.crafted_path(2, |family, ttl| {
            (ttl == 1)
                .then(|| extension_structure(&sample::objects(family)).ok())
                .flatten()
        })
    }
}

impl CraftedPath {
    /// The destination: `10.99.0.1` or `fd00:99::1`.
    pub fn target(family: Family) -> IpAddr {
        match family {
            Family::V4 => Ipv4Addr::new(10, 99, 0, 1).into(),
            Family::V6 => Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 1).into(),
        }
    }

    /// The router at `ttl` (1-based): `10.99.1.<ttl>` or `fd00:99:1::<ttl>`.
    pub fn router(family: Family, ttl: u8) -> IpAddr {
        match family {
            Family::V4 => Ipv4Addr::new(10, 99, 1, ttl).into(),
            Family::V6 => Ipv6Addr::new(0xfd00, 0x99, 1, 0, 0, 0, 0, ttl.into()).into(),
        }
    }

    /// What a trace of `family` sees: the routers, then the target.
    pub fn path(&self, family: Family) -> Vec<IpAddr> {
        (1..=self.routers)
            .map(|ttl| Self::router(family, ttl))
            .chain([Self::target(family)])
            .collect()
    }

    /// Where probes start.
    pub fn client(&self) -> &Ns {
        &self.client
    }

    /// The namespace that plays the path.
    pub fn player(&self) -> &Ns {
        &self.player
    }
}

impl Drop for CraftedPath {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A packet socket that reads every IP packet of the player's namespace
/// (a raw ICMPv6 socket would hide the header, hop limit included), and
/// `IPPROTO_RAW` sockets that send answers with our own IP header.
struct Sockets {
    listen: OwnedFd,
    send_v4: OwnedFd,
    send_v6: OwnedFd,
}

impl Sockets {
    fn open() -> nix::Result<Sockets> {
        // The capture's socket: every frame of the namespace, a short
        // receive timeout to notice `stop`.
        let listen = packet_socket()?;
        let raw = |family| {
            socket(
                family,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::Raw,
            )
        };
        Ok(Sockets {
            listen,
            send_v4: raw(AddressFamily::Inet)?,
            send_v6: raw(AddressFamily::Inet6)?,
        })
    }

    /// Sends `packet` (a whole IP packet) to `to`.
    fn send(&self, packet: &[u8], to: IpAddr) -> nix::Result<usize> {
        match to {
            IpAddr::V4(a) => sendto(
                self.send_v4.as_raw_fd(),
                packet,
                &SockaddrIn::from(SocketAddrV4::new(a, 0)),
                MsgFlags::empty(),
            ),
            IpAddr::V6(a) => sendto(
                self.send_v6.as_raw_fd(),
                packet,
                &SockaddrIn6::from(SocketAddrV6::new(a, 0, 0, 0)),
                MsgFlags::empty(),
            ),
        }
    }
}

struct Responder {
    routers: u8,
    extensions: Box<ExtensionsOf>,
}

impl Responder {
    fn run(&self, sockets: &Sockets, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Ordering::Relaxed) {
            match recv(sockets.listen.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(len) => {
                    let request = &buf[..len.min(buf.len())];
                    if let Some((client, packet)) = self.answer(request) {
                        // A lost answer is a lost probe: the trace says so.
                        let _ = sockets.send(&packet, client);
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    /// The answer to `request` (a whole IP packet) when it is an echo
    /// request to the target: (where it goes, the IP packet).
    fn answer(&self, request: &[u8]) -> Option<(IpAddr, Vec<u8>)> {
        let probe = EchoProbe::parse(request)?;
        let family = probe.family();
        if probe.dst != CraftedPath::target(family) {
            return None;
        }
        let from = if probe.ttl <= self.routers {
            CraftedPath::router(family, probe.ttl)
        } else {
            probe.dst
        };
        let extensions = (probe.ttl <= self.routers)
            .then(|| (self.extensions)(family, probe.ttl))
            .flatten();
        let message = icmp_answer(request, &probe, extensions.as_deref(), from)?;
        Some((probe.src, ip_packet(from, probe.src, &message)?))
    }
}

/// An echo request among received IP packets.
struct EchoProbe<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    icmp: &'a [u8],
}

impl<'a> EchoProbe<'a> {
    fn parse(packet: &'a [u8]) -> Option<Self> {
        let (src, dst, ttl, protocol, icmp): (IpAddr, IpAddr, u8, u8, &[u8]) =
            match packet.first()? >> 4 {
                4 => {
                    let ip = ipv4::Packet::new_checked(packet).ok()?;
                    let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
                    (src, dst, ip.ttl(), ip.protocol(), ip.into_payload())
                }
                6 => {
                    let ip = ipv6::Packet::new_checked(packet).ok()?;
                    let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
                    let hop_limit = ip.hop_limit();
                    (src, dst, hop_limit, ip.next_header(), ip.into_payload())
                }
                _ => return None,
            };
        let echo_request = matches!((protocol, icmp.first()), (1, Some(8)) | (58, Some(128)));
        echo_request.then_some(EchoProbe {
            src,
            dst,
            ttl,
            icmp,
        })
    }

    fn family(&self) -> Family {
        match self.dst {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// The ICMP message `from` answers with: from a router, a time exceeded
/// quoting `request` (the whole IP packet) with `extensions` after it
/// (RFC 4884: the quote padded to 128 bytes, the length field set); from
/// the target, the echo reply. Checksums (ICMPv6's pseudo-header
/// included) by the wire crate.
fn icmp_answer(
    request: &[u8],
    probe: &EchoProbe<'_>,
    extensions: Option<&[u8]>,
    from: IpAddr,
) -> Option<Vec<u8>> {
    let time_exceeded = from != probe.dst;
    let body = match extensions {
        Some(bytes) => ErrorBody::with_extensions(request, Extensions::parse(bytes).ok()?),
        None => ErrorBody::new(request),
    };
    match (from, probe.src) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let answer = match icmpv4::Repr::parse_bytes(probe.icmp).ok()? {
                _ if time_exceeded => icmpv4::Repr::TimeExceeded {
                    code: icmpv4::TimeExceededCode::TtlExceeded,
                    body,
                },
                icmpv4::Repr::EchoRequest { id, sequence, data } => {
                    icmpv4::Repr::EchoReply { id, sequence, data }
                }
                _ => return None,
            };
            let mut message = vec![0; answer.buffer_len()];
            answer.emit(&mut message).ok()?;
            Some(message)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let answer = match icmpv6::Repr::parse_bytes(probe.icmp).ok()? {
                _ if time_exceeded => icmpv6::Repr::TimeExceeded {
                    code: icmpv6::TimeExceededCode::HopLimitExceeded,
                    body,
                },
                icmpv6::Repr::EchoRequest { id, sequence, data } => {
                    icmpv6::Repr::EchoReply { id, sequence, data }
                }
                _ => return None,
            };
            let mut message = vec![0; answer.buffer_len()];
            answer.emit(&src, &dst, &mut message).ok()?;
            Some(message)
        }
        _ => None,
    }
}

/// `message` (ICMP or ICMPv6) in an IP packet from `from` to `to` (TTL /
/// hop limit 64).
fn ip_packet(from: IpAddr, to: IpAddr, message: &[u8]) -> Option<Vec<u8>> {
    let mut packet = match (from, to) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let header = ipv4::Repr {
                src,
                dst,
                protocol: 1,
                ttl: 64,
                ident: 0,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
                dscp: 0,
                ecn: 0,
                options: &[],
                payload_len: message.len(),
            };
            let mut packet = vec![0; header.buffer_len()];
            header.emit(&mut packet).ok()?;
            packet
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let header = ipv6::Repr {
                src,
                dst,
                next_header: 58,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
                payload_len: message.len(),
            };
            let mut packet = vec![0; header.buffer_len()];
            header.emit(&mut packet).ok()?;
            packet
        }
        _ => return None,
    };
    packet.extend_from_slice(message);
    Some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use icmpkit_wire::extension::{MplsEntry, MplsStack};

    /// An IPv4 echo request from the client to `dst` with `ttl`.
    fn echo_request(dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
        let echo = icmpv4::Repr::EchoRequest {
            id: 7,
            sequence: 1,
            data: b"probe",
        };
        let mut message = vec![0; echo.buffer_len()];
        echo.emit(&mut message).unwrap();
        let mut packet =
            ip_packet(Ipv4Addr::new(10, 9, 0, 1).into(), dst.into(), &message).unwrap();
        packet[8] = ttl; // no one checks the IP header checksum here
        packet
    }

    fn responder() -> Responder {
        Responder {
            routers: 2,
            extensions: Box::new(|_, ttl| {
                let labels = [MplsEntry {
                    label: 100 + u32::from(ttl),
                    tc: 0,
                    s: true,
                    ttl: 1,
                }];
                (ttl == 1).then(|| {
                    extension_structure(&[Object::Mpls(MplsStack::from_entries(&labels))]).unwrap()
                })
            }),
        }
    }

    /// Parses an answer: (source, ICMP message).
    fn icmp_of(packet: &[u8]) -> (IpAddr, icmpv4::Repr<'_>) {
        let ip = ipv4::Packet::new_checked(packet).unwrap();
        let src = ip.src_addr().into();
        (src, icmpv4::Repr::parse_bytes(ip.into_payload()).unwrap())
    }

    #[test]
    fn answers_by_ttl_as_routers_then_the_target() {
        let responder = responder();
        let IpAddr::V4(target) = CraftedPath::target(Family::V4) else {
            unreachable!("the IPv4 target")
        };
        let client: IpAddr = Ipv4Addr::new(10, 9, 0, 1).into();

        let request = echo_request(target, 1);
        let (to, answer) = responder.answer(&request).expect("an answer");
        assert_eq!(to, client);
        let (from, icmp) = icmp_of(&answer);
        assert_eq!(from, CraftedPath::router(Family::V4, 1));
        let icmpv4::Repr::TimeExceeded {
            code: icmpv4::TimeExceededCode::TtlExceeded,
            body,
        } = icmp
        else {
            panic!("{icmp:?}")
        };
        assert_eq!(&body.original()[..request.len()], &request[..]);
        let objects: Vec<_> = body.extensions().expect("extensions").objects().collect();
        assert!(
            matches!(&objects[..], [Ok(Object::Mpls(s))] if s.entries().next().unwrap().label == 101)
        );

        let (_, answer) = responder.answer(&echo_request(target, 2)).unwrap();
        let (from, icmp) = icmp_of(&answer);
        assert_eq!(from, CraftedPath::router(Family::V4, 2));
        assert!(
            matches!(icmp, icmpv4::Repr::TimeExceeded { body, .. } if body.extensions().is_none()),
            "router 2 sends no extensions: {icmp:?}"
        );

        let (_, answer) = responder.answer(&echo_request(target, 3)).unwrap();
        let (from, icmp) = icmp_of(&answer);
        assert_eq!(from, CraftedPath::target(Family::V4));
        assert_eq!(
            icmp,
            icmpv4::Repr::EchoReply {
                id: 7,
                sequence: 1,
                data: b"probe"
            }
        );

        // Not to the target, or not an echo request: no answer.
        assert!(
            responder
                .answer(&echo_request(Ipv4Addr::new(10, 99, 0, 2), 1))
                .is_none()
        );
        assert!(responder.answer(&answer).is_none());
    }
}
