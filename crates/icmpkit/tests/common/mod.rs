//! Helpers shared by the socket tests: echo messages built by hand, and
//! receive loops that pick our reply out of whatever else arrives.
#![allow(dead_code)] // each test binary uses a different subset

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use icmpkit::socket::{Family, IcmpSocket, Privilege, QueuedError, Received, SocketOptions};
use icmpkit::wire::checksum::checksum;

/// How long any reply may take: everything here is loopback or veth.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// An echo request: the 8-byte header then `payload`, with the ICMPv4
/// checksum (the kernel computes ICMPv6's).
pub fn echo_request(family: Family, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let icmp_type = match family {
        Family::V4 => 8,
        Family::V6 => 128,
    };
    let mut message = vec![icmp_type, 0, 0, 0];
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(payload);
    if family == Family::V4 {
        let sum = checksum(&message);
        message[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    message
}

/// An echo message's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub icmp_type: u8,
    pub id: u16,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// Parses an echo request/reply (any ICMP message of at least 8 bytes).
pub fn parse_echo(message: &[u8]) -> Option<Echo> {
    let header = message.get(..8)?;
    Some(Echo {
        icmp_type: header[0],
        id: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
        payload: message[8..].to_vec(),
    })
}

/// The echo-reply type of `family`.
pub fn echo_reply_type(family: Family) -> u8 {
    match family {
        Family::V4 => 0,
        Family::V6 => 129,
    }
}

/// Receives until a message of `icmp_type` with `id`/`seq` arrives (raw
/// sockets also see other hosts' traffic), or panics after [`PATIENCE`].
pub fn recv_echo(socket: &IcmpSocket, icmp_type: u8, id: u16, seq: u16) -> (Received, Echo) {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no ICMP type {icmp_type} id {id} seq {seq} within {PATIENCE:?}"
        );
        socket.set_read_timeout(Some(left)).expect("SO_RCVTIMEO");
        let received = match socket.recv(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => panic!("recv: {e}"),
        };
        if let Some(echo) = parse_echo(&buf[received.icmp.clone()])
            && echo.icmp_type == icmp_type
            && echo.id == id
            && echo.seq == seq
        {
            return (received, echo);
        }
    }
}

/// Waits for one error-queue entry, or panics after [`PATIENCE`]. The
/// buffer then holds our original ICMP message.
pub fn wait_error(socket: &IcmpSocket, buf: &mut [u8]) -> QueuedError {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(error) = socket.recv_error(buf).expect("recv_error") {
            return error;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no error-queue entry within {PATIENCE:?}");
        socket.wait(Some(left)).expect("poll");
    }
}

/// Opens a socket inside `ns`: sockets belong to the namespace they were
/// created in, so it stays there after the thread leaves.
pub fn open_in(
    ns: &icmpkit_lab::Ns,
    family: Family,
    privilege: Privilege,
    opts: &SocketOptions,
) -> IcmpSocket {
    let _inside = ns.enter().expect("enter namespace");
    IcmpSocket::open(family, privilege, opts).expect("open ICMP socket")
}

/// A lab namespace whose ping_group_range admits root's group 0, for
/// datagram ("ping") sockets, without touching the host's setting.
pub fn ping_namespace(lab: &icmpkit_lab::Lab, short: &str) -> icmpkit_lab::Ns {
    let ns = lab.namespace(short).expect("namespace");
    ns.sysctl("net.ipv4.ping_group_range", "0 0")
        .expect("sysctl ping_group_range");
    ns
}

/// The loopback address of `family`.
pub fn loopback(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::from([127, 0, 0, 1]),
        Family::V6 => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    }
}

/// An echo id unlikely to collide with other processes' raw-socket pings
/// on the host loopback.
pub fn test_id(salt: u16) -> u16 {
    (std::process::id() as u16)
        .wrapping_mul(31)
        .wrapping_add(salt)
}
