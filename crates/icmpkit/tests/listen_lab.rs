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
