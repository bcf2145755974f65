//! The listen API in a lab namespace: a `Listener` is an async stream of
//! what reaches the host, on the driver, read in batches without loss.

use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use icmpkit::craft::{MessageSpec, SendOptions, send_and_receive};
use icmpkit::listen::{ListenOptions, Listener, Packet};
use icmpkit::socket::TypeFilter;
use icmpkit::wire::Family;
use icmpkit_lab::lab_or_skip;

/// Hundreds of echo requests sent at interval 0 while the listener takes
/// batches of 4: the stream hands out every one, in order, with nothing
/// dropped by the kernel (the packets not yet taken wait in the socket, not
/// in memory), then ends once stopped.
#[test]
fn a_listener_streams_every_request_in_order_and_ends_when_stopped() {
    let lab = lab_or_skip!("a_listener_streams_every_request_in_order_and_ends_when_stopped");
    let ns = lab.namespace("lo").expect("namespace");
    let _inside = ns.enter().expect("enter");
    const COUNT: u64 = 500;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut options = ListenOptions::default();
        options.type_filter = TypeFilter::block_all().pass(8);
        options.batch = 4;
        let mut listener = Listener::open(Family::V4, &options).expect("listener");
        let spec = MessageSpec::echo_request(Family::V4, 0x5151, 1, b"heard");
        let opts = SendOptions::builder()
            .count(COUNT)
            .interval(Duration::ZERO)
            .timeout(Duration::from_millis(200))
            .build()
            .expect("options");
        let (_, report) = send_and_receive(spec, "127.0.0.1", &opts)
            .await
            .expect("send");
        assert_eq!(report.sent, COUNT);
        let mut sequences = Vec::new();
        while sequences.len() < COUNT as usize {
            let next = std::future::poll_fn(|cx| Pin::new(&mut listener).poll_next(cx));
            let packet: Packet = tokio::time::timeout(Duration::from_secs(5), next)
                .await
                .expect("a packet within 5 s")
                .expect("the stream goes on");
            let heard = packet.heard();
            assert_eq!((heard.family, heard.icmp[0]), (Family::V4, 8));
            assert_eq!(&heard.icmp[4..6], &0x5151u16.to_be_bytes());
            assert_eq!(heard.ip.map(|ip| ip[0] >> 4), Some(4), "the IPv4 header");
            sequences.push(u16::from_be_bytes([heard.icmp[6], heard.icmp[7]]));
        }
        let expected: Vec<u16> = (1..=COUNT as u16).collect();
        assert_eq!(sequences, expected);
        assert_eq!(listener.kernel_drops(), Some(0));
        assert_eq!(listener.transport_counters().receive_errors, 0);
        let stop = listener.stop_handle();
        std::thread::spawn(move || stop.stop()).join().unwrap();
        let end = tokio::time::timeout(Duration::from_secs(5), listener.next_packet()).await;
        assert_eq!(end.expect("the stream ends at once"), None);
    });
}

/// A packet socket listener hears both families on loopback, each echo
/// request twice (going out, then coming in), the type filter applied in
/// user space, and counts the kernel's drops from `PACKET_STATISTICS`.
#[test]
fn a_packet_listener_hears_both_directions_and_both_families() {
    use icmpkit::socket::Direction;
    let lab = lab_or_skip!("a_packet_listener_hears_both_directions_and_both_families");
    let ns = lab.namespace("lo").expect("namespace");
    let _inside = ns.enter().expect("enter");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut options = ListenOptions::default();
        options.type_filter = TypeFilter::block_all().pass(8).pass(128);
        let mut listener =
            Listener::open_packet(&[Family::V4, Family::V6], &options).expect("packet listener");
        assert!(listener.is_packet_socket());
        assert!(listener.socket().is_none());
        let opts = SendOptions::builder()
            .count(2)
            .interval(Duration::ZERO)
            .timeout(Duration::from_millis(200))
            .build()
            .expect("options");
        for (family, target) in [(Family::V4, "127.0.0.1"), (Family::V6, "::1")] {
            let spec = MessageSpec::echo_request(family, 0x5252, 1, b"both ways");
            send_and_receive(spec, target, &opts).await.expect("send");
        }
        let mut heard = Vec::new();
        while heard.len() < 8 {
            let packet = tokio::time::timeout(Duration::from_secs(5), listener.next_packet())
                .await
                .expect("a packet within 5 s")
                .expect("the stream goes on");
            let h = packet.heard();
            assert!(h.frame.is_some() && h.ip.is_some(), "{h:?}");
            assert!(h.encapsulation.is_empty());
            heard.push((h.family, h.icmp[0], h.direction));
        }
        for (family, request) in [(Family::V4, 8), (Family::V6, 128)] {
            for direction in [Direction::Out, Direction::In] {
                let n = heard
                    .iter()
                    .filter(|h| **h == (family, request, Some(direction)))
                    .count();
                assert_eq!(n, 2, "{family:?} {direction:?}: {heard:?}");
            }
        }
        assert_eq!(listener.kernel_drops(), Some(0));
    });
}
