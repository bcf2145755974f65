//! The craft and respond APIs in lab namespaces: a crafted request and its
//! kernel reply, and the responder answering a sender in one runtime.

use std::net::IpAddr;
use std::time::Duration;

use icmpkit::craft::{
    AnswerKind, MessageSpec, SendEvent, SendOptions, Sender, send_and_receive_blocking,
};
use icmpkit::respond::{Outcome, RespondConfig, RespondOptions, Server};
use icmpkit::wire::Family;
use icmpkit_lab::lab_or_skip;

#[test]
fn requests_nobody_answers_time_out_and_echo_counts_up() {
    let lab = lab_or_skip!("requests_nobody_answers_time_out_and_echo_counts_up");
    let p = lab.pair().expect("pair");
    let _inside = p.client().enter().expect("enter the client namespace");
    let mut spec = MessageSpec::new(Family::V4, 17);
    spec.id = Some(3);
    let opts = SendOptions::builder()
        .count(2)
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // Linux does not answer address mask requests: both time out.
    let (answers, report) = send_and_receive_blocking(spec, p.server_v4(), &opts).expect("send");
    assert!(answers.is_empty(), "{answers:?}");
    assert_eq!((report.sent, report.answered), (2, 0));
    let spec = MessageSpec::echo_request(Family::V6, 5, 1, b"lib");
    let (answers, report) = send_and_receive_blocking(spec, p.server_v6(), &opts).expect("send");
    assert_eq!((report.sent, report.replies), (2, 2), "{answers:?}");
    let seqs: Vec<u16> = answers
        .iter()
        .map(|a| u16::from_be_bytes([a.message[6], a.message[7]]))
        .collect();
    assert_eq!(seqs, [1, 2], "the sequence counts up from 1");
    assert!(
        answers
            .iter()
            .all(|a| a.kind == AnswerKind::Reply && a.from == IpAddr::from(p.server_v6()))
    );
}

#[test]
fn the_responder_answers_a_sender_late_as_configured() {
    let lab = lab_or_skip!("the_responder_answers_a_sender_late_as_configured");
    let p = lab.pair().expect("pair");
    let server = p.server();
    server
        .sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        .expect("sysctl");
    server
        .sysctl("net.ipv6.icmp.echo_ignore_all", "1")
        .expect("sysctl");
    // Both ends in the server's namespace, over loopback.
    let _inside = server.enter().expect("enter");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = RespondOptions {
            config: RespondConfig {
                delay: Duration::from_millis(30),
                ..RespondConfig::default()
            },
            ..RespondOptions::default()
        };
        let mut responder = Server::open(&opts).expect("responder");
        let dst: IpAddr = "127.0.0.1".parse().unwrap();
        let spec = MessageSpec::echo_request(Family::V4, 77, 1, b"late");
        let send_opts = SendOptions::builder()
            .count(3)
            .interval(Duration::from_millis(10))
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let mut sender = Sender::open(spec, dst, &send_opts).expect("sender");
        let mut rtts = Vec::new();
        let mut answered = 0;
        loop {
            tokio::select! {
                e = sender.next_event() => match e {
                    Some(SendEvent::Answer(a)) => rtts.push(a.rtt),
                    Some(_) => {}
                    None => break,
                },
                e = responder.next_event() => {
                    assert!(matches!(e.outcome, Outcome::Answered { delay, .. } if delay == Duration::from_millis(30)));
                    answered += 1;
                }
            }
        }
        assert_eq!(rtts.len(), 3, "{rtts:?}");
        assert!(rtts.iter().all(|r| *r >= Duration::from_millis(30) && *r < Duration::from_millis(500)), "{rtts:?}");
        assert!(answered >= 2, "the responder logged {answered} answers");
    });
}

/// Thousands of echo requests at interval 0 on loopback, where each reply
/// is queued before sendto returns: the run ends (the loop yields, the
/// socket is read between sends, answered sends are let go) and every send
/// is answered once.
#[test]
fn a_large_count_at_interval_zero_answers_every_send() {
    let lab = lab_or_skip!("a_large_count_at_interval_zero_answers_every_send");
    let ns = lab.namespace("lo").expect("namespace");
    const COUNT: u64 = 30_000;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _inside = ns.enter().expect("enter");
        let spec = MessageSpec::echo_request(Family::V4, 0x4242, 1, b"many");
        let opts = SendOptions::builder()
            .count(COUNT)
            .interval(Duration::ZERO)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let result = send_and_receive_blocking(spec, "127.0.0.1", &opts);
        let _ = tx.send((result, started.elapsed()));
    });
    // A loop that never yields would hang: fail instead.
    let (result, elapsed) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the run ended within 60 s");
    let (answers, report) = result.expect("send");
    assert_eq!(
        (report.sent, report.answered, report.replies),
        (COUNT, COUNT, COUNT),
        "in {elapsed:?}"
    );
    assert!(answers.iter().all(|a| !a.duplicate));
    let mut indices: Vec<u64> = answers.iter().map(|a| a.index).collect();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len() as u64, COUNT, "each send answered once");
}
