//! The error queue (IP_RECVERR / IPV6_RECVERR): ICMP errors a router sends
//! about our probes, and local path-MTU errors. Topology (icmpkit-lab, all
//! inside namespaces): client 10.1.0.1 / fd00:1::1 — router 10.1.0.2 /
//! fd00:1::2 — server 10.2.0.2 / fd00:2::2.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use icmpkit::socket::{
    AsyncIcmpSocket, ErrorOrigin, Family, IcmpSocket, PmtuDisc, Privilege, QueuedError,
    SocketOptions,
};
use icmpkit_lab::{Chain, Reject, lab_or_skip};

const UNREACHABLE_V4: &str = "203.0.113.0/24";
const UNREACHABLE_V6: &str = "2001:db8:3::/64";

fn chain_with_reject(lab: &icmpkit_lab::Lab) -> Chain {
    let chain = lab.chain(1).expect("chain");
    chain
        .client()
        .sysctl("net.ipv4.ping_group_range", "0 0")
        .expect("sysctl");
    chain
        .reject(Reject::Unreachable, UNREACHABLE_V4)
        .expect("v4 reject route");
    chain
        .reject(Reject::Unreachable, UNREACHABLE_V6)
        .expect("v6 reject route");
    chain
}

fn router(chain: &Chain, family: Family) -> IpAddr {
    match family {
        Family::V4 => chain.router_v4(1).unwrap().into(),
        Family::V6 => chain.router_v6(1).unwrap().into(),
    }
}

fn server(chain: &Chain, family: Family) -> IpAddr {
    match family {
        Family::V4 => chain.server_v4().into(),
        Family::V6 => chain.server_v6().into(),
    }
}

/// Checks the quoted original message: our echo request, id and seq.
fn assert_quotes_probe(error: &QueuedError, buf: &[u8], family: Family, id: u16, seq: u16) {
    let echo = parse_echo(&buf[..error.len]).expect("original ICMP message in the payload");
    let request_type = match family {
        Family::V4 => 8,
        Family::V6 => 128,
    };
    assert_eq!(
        (echo.icmp_type, echo.id, echo.seq),
        (request_type, id, seq),
        "{error:?}"
    );
}

fn origin(family: Family) -> ErrorOrigin {
    match family {
        Family::V4 => ErrorOrigin::Icmp,
        Family::V6 => ErrorOrigin::Icmp6,
    }
}

#[test]
fn destination_unreachable_from_router() {
    let lab = lab_or_skip!("destination_unreachable_from_router");
    let chain = chain_with_reject(&lab);
    let cases = [
        (Family::V4, "203.0.113.9", (3, 1), libc::EHOSTUNREACH), // host unreachable
        (Family::V6, "2001:db8:3::9", (1, 0), libc::ENETUNREACH), // no route
    ];
    for (family, target, (icmp_type, icmp_code), errno) in cases {
        for privilege in [Privilege::Unprivileged, Privilege::Privileged] {
            let socket = open_in(chain.client(), family, privilege, &SocketOptions::default());
            let id = socket.echo_id().unwrap_or(test_id(10));
            let target: IpAddr = target.parse().unwrap();
            let sent = socket
                .send_to(&echo_request(family, id, 5, b"probe"), target)
                .unwrap();
            let mut buf = [0u8; 512];
            let error = wait_error(&socket, &mut buf);
            let what = format!("{family:?} {privilege:?}: {error:?}");
            assert_eq!(error.origin, origin(family), "{what}");
            assert_eq!(
                (error.icmp_type, error.icmp_code),
                (icmp_type, icmp_code),
                "{what}"
            );
            assert_eq!(error.errno, errno, "{what}");
            assert_eq!(error.offender, Some(router(&chain, family)), "{what}");
            assert_eq!(error.destination, Some(target), "{what}");
            assert!(
                error.kernel_time.expect("timestamp") >= sent.realtime,
                "{what}"
            );
            assert_quotes_probe(&error, &buf, family, id, 5);
            assert!(
                socket.recv_error(&mut buf).unwrap().is_none(),
                "one error per probe"
            );
        }
    }
}

#[test]
fn time_exceeded_then_reply_with_more_ttl() {
    let lab = lab_or_skip!("time_exceeded_then_reply_with_more_ttl");
    let chain = chain_with_reject(&lab);
    for family in [Family::V4, Family::V6] {
        let socket = open_in(
            chain.client(),
            family,
            Privilege::Unprivileged,
            &SocketOptions::default(),
        );
        let id = socket.echo_id().unwrap();
        let target = server(&chain, family);
        socket.set_ttl(1).unwrap();
        socket
            .send_to(&echo_request(family, id, 1, b"hop"), target)
            .unwrap();
        let mut buf = [0u8; 512];
        let error = wait_error(&socket, &mut buf);
        let time_exceeded = match family {
            Family::V4 => 11,
            Family::V6 => 3,
        };
        assert_eq!(
            (error.origin, error.icmp_type, error.icmp_code),
            (origin(family), time_exceeded, 0)
        );
        assert_eq!(error.offender, Some(router(&chain, family)));
        assert_quotes_probe(&error, &buf, family, id, 1);

        // Enough TTL: the server answers, one router hop away.
        socket.set_ttl(64).unwrap();
        socket
            .send_to(&echo_request(family, id, 2, b"hop"), target)
            .unwrap();
        let (reply, _) = recv_echo(&socket, echo_reply_type(family), id, 2);
        assert_eq!(reply.source, target);
        assert_eq!(reply.ttl, Some(63), "the server's 64 minus one router");
    }
}

#[test]
fn path_mtu_errors_carry_the_mtu() {
    let lab = lab_or_skip!("path_mtu_errors_carry_the_mtu");
    let chain = chain_with_reject(&lab);
    // The router's link to the server is the bottleneck.
    chain.links()[1].mtu(1280).expect("mtu");
    let big = vec![0x5a; 1400];
    for family in [Family::V4, Family::V6] {
        let mut opts = SocketOptions::default();
        opts.pmtu = Some(PmtuDisc::Do);
        let socket = open_in(chain.client(), family, Privilege::Unprivileged, &opts);
        let id = socket.echo_id().unwrap();
        let target = server(&chain, family);
        socket
            .send_to(&echo_request(family, id, 1, &big), target)
            .unwrap();
        let mut buf = [0u8; 2048];
        let error = wait_error(&socket, &mut buf);
        let too_big = match family {
            Family::V4 => (3, 4), // fragmentation needed
            Family::V6 => (2, 0), // packet too big
        };
        assert_eq!(
            (error.origin, error.icmp_type, error.icmp_code),
            (origin(family), too_big.0, too_big.1)
        );
        assert_eq!(error.info, 1280, "next-hop MTU: {error:?}");
        assert_eq!(error.errno, libc::EMSGSIZE);
        assert_eq!(error.offender, Some(router(&chain, family)));
        assert_quotes_probe(&error, &buf, family, id, 1);

        // The kernel now knows the path MTU: the next big send fails locally,
        // and the error queue says why, with the MTU.
        let refused = socket
            .send_to(&echo_request(family, id, 2, &big), target)
            .unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EMSGSIZE));
        let local = wait_error(&socket, &mut buf);
        assert_eq!(local.origin, ErrorOrigin::Local, "{local:?}");
        assert_eq!(local.errno, libc::EMSGSIZE);
        assert_eq!(local.info, 1280, "{local:?}");
    }
}

#[test]
fn async_recv_error_wakes_up() {
    let lab = lab_or_skip!("async_recv_error_wakes_up");
    let chain = chain_with_reject(&lab);
    let socket = open_in(
        chain.client(),
        Family::V4,
        Privilege::Unprivileged,
        &SocketOptions::default(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = AsyncIcmpSocket::new(socket).unwrap();
        let id = socket.echo_id().unwrap();
        let mut reply_buf = [0u8; 512];
        let mut error_buf = [0u8; 512];
        for seq in 0..3 {
            let target: IpAddr = "203.0.113.1".parse().unwrap();
            socket
                .send_to(&echo_request(Family::V4, id, seq, b"x"), target)
                .await
                .unwrap();
            // As a probe engine does: wait for a reply and an error at once.
            let error = tokio::time::timeout(PATIENCE, async {
                tokio::select! {
                    reply = socket.recv(&mut reply_buf) => panic!("unexpected reply {reply:?}"),
                    error = socket.recv_error(&mut error_buf) => error.expect("recv_error"),
                }
            })
            .await
            .expect("error within the timeout");
            assert_eq!((error.icmp_type, error.icmp_code), (3, 1));
            assert_eq!(error.offender, Some(chain.router_v4(1).unwrap().into()));
            assert_quotes_probe(&error, &error_buf, Family::V4, id, seq);
        }
        // The pending socket error the ICMP errors also set must not make
        // recv fail or spin: the reply to a good probe still arrives.
        let target: IpAddr = chain.server_v4().into();
        socket
            .send_to(&echo_request(Family::V4, id, 9, b"ok"), target)
            .await
            .unwrap();
        let received = tokio::time::timeout(PATIENCE, socket.recv(&mut reply_buf))
            .await
            .expect("reply within the timeout")
            .expect("recv");
        let echo = parse_echo(&reply_buf[received.icmp.clone()]).unwrap();
        assert_eq!((echo.icmp_type, echo.seq), (0, 9));
        let idle = tokio::time::timeout(
            Duration::from_millis(100),
            socket.recv_error(&mut error_buf),
        )
        .await;
        assert!(idle.is_err(), "no more errors queued: {idle:?}");
    });
}

/// A blocking recv with an ICMP error pending returns the next reply,
/// not the socket error, and `wait` reports the queued error.
#[test]
fn blocking_recv_skips_pending_socket_error() {
    let lab = lab_or_skip!("blocking_recv_skips_pending_socket_error");
    let chain = chain_with_reject(&lab);
    let socket: IcmpSocket = open_in(
        chain.client(),
        Family::V4,
        Privilege::Unprivileged,
        &SocketOptions::default(),
    );
    let id = socket.echo_id().unwrap();
    socket
        .send_to(
            &echo_request(Family::V4, id, 1, b"x"),
            "203.0.113.1".parse().unwrap(),
        )
        .unwrap();
    let ready = socket.wait(Some(PATIENCE)).unwrap();
    assert!(ready.error && !ready.readable, "{ready:?}");
    socket
        .send_to(
            &echo_request(Family::V4, id, 2, b"x"),
            chain.server_v4().into(),
        )
        .unwrap();
    let (received, _) = recv_echo(&socket, 0, id, 2);
    assert_eq!(received.source, IpAddr::from(chain.server_v4()));
    let mut buf = [0u8; 512];
    let error = socket
        .recv_error(&mut buf)
        .unwrap()
        .expect("the error is still queued");
    assert_quotes_probe(&error, &buf, Family::V4, id, 1);
}
