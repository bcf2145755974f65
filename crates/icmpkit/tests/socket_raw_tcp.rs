//! The raw TCP socket over loopback, inside a lab namespace of its own:
//! a hand-built SYN reaches the kernel's TCP stack, whose SYN-ACK (open
//! port) or reset (closed port) comes back on the raw socket, IPv4 and
//! IPv6; and the source address a route picks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use icmpkit::socket::{Family, RawTcpSocket, SocketOptions, route_source};
use icmpkit::wire::tcp::{self, Flags, Repr};
use icmpkit_lab::lab_or_skip;

const PATIENCE: Duration = Duration::from_secs(3);

fn loopback(family: Family) -> IpAddr {
    match family {
        Family::V4 => Ipv4Addr::LOCALHOST.into(),
        Family::V6 => Ipv6Addr::LOCALHOST.into(),
    }
}

/// A listening port and a port nothing listens on, on `host`; the
/// listener lives as long as the first value.
fn open_and_closed_ports(host: IpAddr) -> (TcpListener, u16, u16) {
    let listener = TcpListener::bind((host, 0)).unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (listener, open, closed)
}

/// Sends a SYN from `src_port` to `dst_port` on loopback, TTL 3.
fn send_syn(socket: &RawTcpSocket, host: IpAddr, src_port: u16, dst_port: u16, sequence: u32) {
    let syn = Repr {
        src_port,
        dst_port,
        sequence,
        ack: 0,
        flags: Flags::SYN,
        window: 65_535,
    };
    let mut segment = [0u8; tcp::HEADER_LEN];
    syn.emit(host, host, &mut segment).unwrap();
    socket.set_ttl(3).unwrap();
    socket.send_to(&segment, host, 0).expect("send the SYN");
}

/// Sends a SYN from `src_port` to `dst_port` on loopback and returns the
/// first segment answering it (to `src_port`), with the reply's TTL.
fn answer_to_syn(
    socket: &RawTcpSocket,
    family: Family,
    src_port: u16,
    dst_port: u16,
    sequence: u32,
) -> (Repr, Option<u8>) {
    let host = loopback(family);
    send_syn(socket, host, src_port, dst_port, sequence);
    let deadline = Instant::now() + PATIENCE;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        let received = match socket.recv(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => panic!("recv: {e}"),
        };
        assert_eq!(received.source, host);
        let (repr, _) = Repr::parse(&buf[received.segment.clone()]).expect("a TCP header");
        // The raw socket also sees our own SYN go by on loopback.
        if repr.dst_port == src_port && repr.src_port == dst_port {
            assert!(received.kernel_time.is_some(), "SO_TIMESTAMPNS");
            return (repr, received.ttl);
        }
    }
    panic!("no answer to the SYN from {src_port} to {dst_port}");
}

#[test]
fn raw_syns_draw_syn_ack_from_open_ports_and_reset_from_closed_ones() {
    let lab = lab_or_skip!("raw_syns_draw_syn_ack_from_open_ports_and_reset_from_closed_ones");
    let ns = lab.namespace("rawtcp").expect("namespace");
    let _inside = ns.enter().unwrap();
    for family in [Family::V4, Family::V6] {
        let host = loopback(family);
        let socket = RawTcpSocket::open(family, &SocketOptions::default()).expect("raw TCP");
        let (_listener, open, closed) = open_and_closed_ports(host);
        // A port of ours nothing listens on, as a trace reserves it.
        let reserved = TcpListener::bind((host, 0)).unwrap();
        let ours = reserved.local_addr().unwrap().port();
        drop(reserved);

        let (answer, ttl) = answer_to_syn(&socket, family, ours, open, 0xffff_fff0);
        assert_eq!(answer.flags, Flags::SYN | Flags::ACK, "{family:?}");
        assert_eq!(answer.ack, 0xffff_fff1, "acknowledges the SYN");
        assert_eq!(ttl, Some(64), "{family:?}: reply TTL / hop limit");

        let (answer, _) = answer_to_syn(&socket, family, ours, closed, 7);
        assert_eq!(answer.flags, Flags::RST | Flags::ACK, "{family:?}");
        assert_eq!(answer.ack, 8);

        // Wrong family: refused before any system call.
        let other = match family {
            Family::V4 => loopback(Family::V6),
            Family::V6 => loopback(Family::V4),
        };
        assert!(socket.send_to(&[0; tcp::HEADER_LEN], other, 0).is_err());
    }
}

#[test]
fn route_source_is_the_address_the_route_picks() {
    let lab = lab_or_skip!("route_source_is_the_address_the_route_picks");
    let ns = lab.namespace("route").expect("namespace");
    ns.addr("lo", "10.77.0.1/32").unwrap();
    ns.route("10.78.0.0/24 dev lo src 10.77.0.1").unwrap();
    let _inside = ns.enter().unwrap();
    let opts = SocketOptions::default();
    let to = |addr: &str| SocketAddr::new(addr.parse().unwrap(), 80);
    assert_eq!(
        route_source(to("10.78.0.5"), &opts).unwrap(),
        "10.77.0.1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        route_source(to("::1"), &opts).unwrap(),
        loopback(Family::V6)
    );
    // A given source is taken as is; no route is an error, not a guess.
    let mut fixed = SocketOptions::default();
    fixed.source = Some("127.0.0.9".parse().unwrap());
    assert_eq!(
        route_source(to("10.78.0.5"), &fixed).unwrap(),
        "127.0.0.9".parse::<IpAddr>().unwrap()
    );
    assert!(route_source(to("192.0.2.1"), &opts).is_err());
}

/// With the port filter on, only segments from the probed port reach the
/// socket: not the reset of another port, not our own SYNs going by.
#[test]
fn port_filter_keeps_only_segments_from_the_probed_port() {
    let lab = lab_or_skip!("port_filter_keeps_only_segments_from_the_probed_port");
    let ns = lab.namespace("rawtcpf").expect("namespace");
    let _inside = ns.enter().unwrap();
    for family in [Family::V4, Family::V6] {
        let host = loopback(family);
        let socket = RawTcpSocket::open(family, &SocketOptions::default()).expect("raw TCP");
        let (_listener, open, closed) = open_and_closed_ports(host);
        socket
            .accept_only_from_port(open)
            .expect("attach the filter");
        send_syn(&socket, host, 40_000, closed, 100);
        send_syn(&socket, host, 40_000, open, 200);
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = vec![0u8; 65_536];
        let mut sources = Vec::new();
        while let Ok(received) = socket.recv(&mut buf) {
            let (repr, _) = Repr::parse(&buf[received.segment.clone()]).expect("a TCP header");
            sources.push((repr.src_port, repr.flags));
        }
        assert_eq!(
            sources,
            vec![(open, Flags::SYN | Flags::ACK)],
            "{family:?}: only the open port's SYN-ACK"
        );
    }
}
