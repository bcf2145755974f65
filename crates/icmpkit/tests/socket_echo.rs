//! Echo over loopback with real kernel sockets, raw and datagram, IPv4 and
//! IPv6, each inside its own lab namespace (so no other traffic on the host
//! interferes and the host's ping_group_range stays untouched).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use icmpkit::socket::{
    AsyncIcmpSocket, Family, IcmpSocket, PmtuDisc, Privilege, SendTime, SocketKind, SocketOptions,
    TypeFilter,
};
use icmpkit_lab::lab_or_skip;

const PAYLOAD: &[u8] = b"icmpkit socket test payload 0123456789";

/// Sends one echo request on `socket` and checks everything the kernel
/// reports about the reply.
fn check_echo(socket: &IcmpSocket, sent_id: u16, seq: u16) {
    let family = socket.family();
    let dst = loopback(family);
    let sent: SendTime = socket
        .send_to(&echo_request(family, sent_id, seq, PAYLOAD), dst)
        .expect("send_to");
    let expected_id = socket.echo_id().unwrap_or(sent_id);
    let (received, echo) = recv_echo(socket, echo_reply_type(family), expected_id, seq);

    assert_eq!(echo.payload, PAYLOAD);
    assert_eq!(received.source, dst);
    assert_eq!(
        received.destination,
        Some(dst),
        "IP_PKTINFO/IPV6_PKTINFO destination"
    );
    assert_eq!(
        received.ifindex,
        Some(1),
        "loopback is interface 1 in a fresh namespace"
    );
    assert_eq!(
        received.ttl,
        Some(64),
        "the kernel answers with the default TTL/hop limit"
    );
    assert!(!received.truncated);
    let header = match (socket.kind(), family) {
        (SocketKind::Raw, Family::V4) => 20,
        _ => 0,
    };
    assert_eq!(received.icmp, header..received.len, "ICMP message range");
    let kernel_time = received.kernel_time.expect("SO_TIMESTAMPNS timestamp");
    assert!(
        kernel_time >= sent.realtime,
        "kernel receive time {kernel_time:?} before send time {:?}",
        sent.realtime
    );
    assert!(
        kernel_time - sent.realtime < PATIENCE,
        "timestamp is on the realtime clock"
    );
    assert!(received.received_at >= sent.monotonic);
}

fn echo_test(test: &str, family: Family, privilege: Privilege, kind: SocketKind) {
    let lab = lab_or_skip!(test);
    let ns = ping_namespace(&lab, "echo");
    let socket = open_in(&ns, family, privilege, &SocketOptions::default());
    assert_eq!(socket.kind(), kind);
    assert_eq!(socket.family(), family);
    let id = test_id(1);
    match kind {
        SocketKind::Raw => assert_eq!(socket.echo_id(), None),
        SocketKind::Datagram => {
            let kernel_id = socket
                .echo_id()
                .expect("datagram sockets have a kernel echo id");
            // Send a different id: the kernel must rewrite it to its own.
            check_echo(&socket, kernel_id.wrapping_add(1), 7);
            return;
        }
    }
    check_echo(&socket, id, 7);
    check_echo(&socket, id, 8);
}

#[test]
fn raw_echo_v4() {
    echo_test(
        "raw_echo_v4",
        Family::V4,
        Privilege::Privileged,
        SocketKind::Raw,
    );
}

#[test]
fn raw_echo_v6() {
    echo_test(
        "raw_echo_v6",
        Family::V6,
        Privilege::Privileged,
        SocketKind::Raw,
    );
}

#[test]
fn datagram_echo_v4() {
    echo_test(
        "datagram_echo_v4",
        Family::V4,
        Privilege::Unprivileged,
        SocketKind::Datagram,
    );
}

#[test]
fn datagram_echo_v6() {
    echo_test(
        "datagram_echo_v6",
        Family::V6,
        Privilege::Unprivileged,
        SocketKind::Datagram,
    );
}

#[test]
fn auto_prefers_datagram_and_falls_back_to_raw() {
    let lab = lab_or_skip!("auto_prefers_datagram_and_falls_back_to_raw");
    let open = ping_namespace(&lab, "open");
    let closed = lab.namespace("closed").expect("namespace");
    closed
        .sysctl("net.ipv4.ping_group_range", "1 0")
        .expect("sysctl");
    for family in [Family::V4, Family::V6] {
        let socket = open_in(&open, family, Privilege::Auto, &SocketOptions::default());
        assert_eq!(socket.kind(), SocketKind::Datagram, "{family:?}");
        check_echo(&socket, 1, 1);
        // Root outside ping_group_range: raw, as iputils does.
        let socket = open_in(&closed, family, Privilege::Auto, &SocketOptions::default());
        assert_eq!(socket.kind(), SocketKind::Raw, "{family:?}");
        check_echo(&socket, test_id(2), 1);
    }
}

/// Sends `count` echo requests with one sendmmsg and reads the replies
/// with recvmmsg.
fn batch_test(socket: &IcmpSocket, count: u16) {
    let family = socket.family();
    let dst = loopback(family);
    let id = socket.echo_id().unwrap_or(test_id(3));
    let messages: Vec<Vec<u8>> = (0..count)
        .map(|seq| echo_request(family, id, seq, &seq.to_be_bytes()))
        .collect();
    let batch: Vec<(&[u8], SocketAddr)> = messages
        .iter()
        .map(|m| (m.as_slice(), SocketAddr::new(dst, 0)))
        .collect();
    let mut times = Vec::new();
    assert_eq!(
        socket
            .send_batch(batch.iter().copied(), &mut times)
            .expect("sendmmsg"),
        usize::from(count)
    );
    assert_eq!(times.len(), usize::from(count));
    // Loopback replies are queued within the send; leave a margin anyway.
    std::thread::sleep(Duration::from_millis(50));

    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut bufs = vec![[0u8; 256]; 2 * usize::from(count)];
    let mut out = Vec::new();
    let mut seqs = Vec::new();
    let mut calls = 0;
    while seqs.len() < usize::from(count) {
        calls += 1;
        assert!(calls <= usize::from(count), "replies missing: got {seqs:?}");
        let n = socket.recv_batch(&mut bufs, &mut out).expect("recvmmsg");
        assert_eq!(n, out.len());
        if calls == 1 {
            assert!(
                n >= 2,
                "one recvmmsg call should return several queued replies, got {n}"
            );
        }
        for (received, buf) in out.iter().zip(&bufs) {
            let echo = parse_echo(&buf[received.icmp.clone()]).expect("echo reply");
            assert_eq!(echo.icmp_type, echo_reply_type(family));
            assert_eq!(echo.id, id);
            assert_eq!(
                echo.payload,
                echo.seq.to_be_bytes(),
                "each buffer holds its own reply"
            );
            assert!(received.kernel_time.expect("timestamp") >= times[0].realtime);
            seqs.push(echo.seq);
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..count).collect::<Vec<_>>());
}

#[test]
fn batches_datagram_v4() {
    let lab = lab_or_skip!("batches_datagram_v4");
    let ns = ping_namespace(&lab, "batch");
    batch_test(
        &open_in(
            &ns,
            Family::V4,
            Privilege::Unprivileged,
            &SocketOptions::default(),
        ),
        8,
    );
}

#[test]
fn batches_raw_v6() {
    let lab = lab_or_skip!("batches_raw_v6");
    let ns = lab.namespace("batch").expect("namespace");
    batch_test(
        &open_in(
            &ns,
            Family::V6,
            Privilege::Privileged,
            &SocketOptions::default(),
        ),
        8,
    );
}

#[test]
fn async_socket_echo() {
    let lab = lab_or_skip!("async_socket_echo");
    let ns = ping_namespace(&lab, "async");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for family in [Family::V4, Family::V6] {
        let socket = open_in(
            &ns,
            family,
            Privilege::Unprivileged,
            &SocketOptions::default(),
        );
        runtime.block_on(async {
            let socket = AsyncIcmpSocket::new(socket).expect("register");
            let id = socket.echo_id().expect("echo id");
            socket.set_ttl(9).expect("set_ttl");
            let sent = socket
                .send_to(&echo_request(family, id, 42, PAYLOAD), loopback(family))
                .await
                .expect("send");
            let mut buf = [0u8; 512];
            let received = tokio::time::timeout(PATIENCE, socket.recv(&mut buf))
                .await
                .expect("reply within the timeout")
                .expect("recv");
            let echo = parse_echo(&buf[received.icmp.clone()]).unwrap();
            assert_eq!(
                (echo.icmp_type, echo.id, echo.seq),
                (echo_reply_type(family), id, 42)
            );
            assert_eq!(echo.payload, PAYLOAD);
            assert!(received.kernel_time.unwrap() >= sent.realtime);
            // Nothing else is queued: the next recv must wait, not spin on
            // stale readiness.
            let idle =
                tokio::time::timeout(Duration::from_millis(100), socket.recv(&mut buf)).await;
            assert!(idle.is_err(), "unexpected message: {idle:?}");
        });
    }
}

/// A raw socket with [`TypeFilter::pass_all`] sees the echo requests a
/// datagram socket sends, with the TTL and TOS the options set; the default
/// filter hides them.
#[test]
fn options_and_type_filter() {
    let lab = lab_or_skip!("options_and_type_filter");
    let ns = ping_namespace(&lab, "opts");
    let mut sniff_opts = SocketOptions::default();
    sniff_opts.type_filter = Some(TypeFilter::pass_all());
    let sniffer = open_in(&ns, Family::V4, Privilege::Privileged, &sniff_opts);
    let filtered = open_in(
        &ns,
        Family::V4,
        Privilege::Privileged,
        &SocketOptions::default(),
    );
    let mut opts = SocketOptions::default();
    opts.ttl = Some(7);
    opts.tos = Some(0x28);
    opts.pmtu = Some(PmtuDisc::Do);
    opts.source = Some(loopback(Family::V4));
    opts.interface = Some("lo".into());
    opts.broadcast = true;
    opts.mark = Some(0x1234);
    opts.recv_buffer = Some(1 << 18);
    opts.send_buffer = Some(1 << 18);
    let sender = open_in(&ns, Family::V4, Privilege::Unprivileged, &opts);
    let id = sender.echo_id().unwrap();
    assert_eq!(sender.local_addr().unwrap(), loopback(Family::V4));
    sender
        .send_to(
            &echo_request(Family::V4, id, 3, PAYLOAD),
            loopback(Family::V4),
        )
        .unwrap();

    let (request, _) = recv_echo(&sniffer, 8, id, 3);
    assert_eq!(request.ttl, Some(7), "IP_TTL of the request");
    assert_eq!(request.tos, Some(0x28), "IP_TOS of the request");
    let (reply, _) = recv_echo(&sniffer, 0, id, 3);
    assert_eq!(reply.tos, Some(0x28), "Linux reflects the request's TOS");
    let (reply, _) = recv_echo(&sender, 0, id, 3);
    assert_eq!(reply.tos, Some(0x28));

    // The default filter delivered the reply but never the request.
    let (_, echo) = recv_echo(&filtered, 0, id, 3);
    assert_eq!(echo.payload, PAYLOAD);
    filtered
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 512];
    while let Ok(received) = filtered.recv(&mut buf) {
        let echo = parse_echo(&buf[received.icmp.clone()]).unwrap();
        assert_ne!(
            echo.icmp_type, 8,
            "the default filter must drop echo requests"
        );
    }

    // Per-probe TTL and TOS changes apply to the next send.
    sender.set_ttl(3).unwrap();
    sender.set_tos(0x10).unwrap();
    sender
        .send_to(
            &echo_request(Family::V4, id, 4, PAYLOAD),
            loopback(Family::V4),
        )
        .unwrap();
    let (request, _) = recv_echo(&sniffer, 8, id, 4);
    assert_eq!((request.ttl, request.tos), (Some(3), Some(0x10)));
}

#[test]
fn v6_traffic_class_and_hop_limit() {
    let lab = lab_or_skip!("v6_traffic_class_and_hop_limit");
    let ns = ping_namespace(&lab, "tclass");
    let mut sniff_opts = SocketOptions::default();
    sniff_opts.type_filter = Some(TypeFilter::pass_all());
    let sniffer = open_in(&ns, Family::V6, Privilege::Privileged, &sniff_opts);
    let mut opts = SocketOptions::default();
    opts.ttl = Some(5);
    opts.tos = Some(0xb8);
    let sender = open_in(&ns, Family::V6, Privilege::Unprivileged, &opts);
    let id = sender.echo_id().unwrap();
    sender
        .send_to(
            &echo_request(Family::V6, id, 1, PAYLOAD),
            loopback(Family::V6),
        )
        .unwrap();
    let (request, _) = recv_echo(&sniffer, 128, id, 1);
    assert_eq!((request.ttl, request.tos), (Some(5), Some(0xb8)));
    assert_eq!(
        request.icmp.start, 0,
        "raw IPv6 sockets deliver no IP header"
    );
}

#[test]
fn bad_options_and_destinations_are_refused_clearly() {
    let lab = lab_or_skip!("bad_options_and_destinations_are_refused_clearly");
    let ns = ping_namespace(&lab, "bad");
    let _inside = ns.enter().unwrap();
    let mut opts = SocketOptions::default();
    opts.interface = Some("nosuchif0".into());
    let error = IcmpSocket::open(Family::V4, Privilege::Unprivileged, &opts).unwrap_err();
    assert!(
        matches!(error, icmpkit::Error::SocketUnavailable { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("SO_BINDTODEVICE"), "{error}");

    let socket = IcmpSocket::open(
        Family::V4,
        Privilege::Unprivileged,
        &SocketOptions::default(),
    )
    .unwrap();
    let error = socket
        .send_to(&echo_request(Family::V4, 1, 1, b""), loopback(Family::V6))
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("IPv4 ICMP socket"), "{error}");
    let error = socket.set_type_filter(&TypeFilter::pass_all()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
    assert_eq!(
        socket.set_ttl(0).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    // Nothing queued: a non-blocking receive says so instead of blocking.
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        socket.recv(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    assert!(socket.recv_error(&mut buf).unwrap().is_none());
    let ready = socket.wait(Some(Duration::from_millis(10))).unwrap();
    assert!(!ready.readable && !ready.error);
}
