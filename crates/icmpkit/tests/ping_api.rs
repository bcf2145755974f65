//! The ping library API against real kernels in the lab: the streaming
//! form, the blocking wrapper, timeouts, broadcast refusal, RTT under delay.

use std::time::Duration;

use icmpkit::ping::{PingEvent, PingOptions, Pinger, ping_blocking};
use icmpkit::resolve::parse_literal;
use icmpkit::socket::Privilege;
use icmpkit_lab::{Reject, lab_or_skip};

fn opts(count: u64, privilege: Privilege) -> PingOptions {
    PingOptions::builder()
        .count(count)
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_millis(500))
        .privilege(privilege)
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn streaming_yields_each_event_in_order_both_socket_kinds() {
    let lab = lab_or_skip!("streaming_yields_each_event_in_order_both_socket_kinds");
    let c = lab.chain(1).unwrap();
    c.client()
        .sysctl("net.ipv4.ping_group_range", "0 2147483647")
        .unwrap();
    let _inside = c.client().enter().unwrap();
    for privilege in [Privilege::Privileged, Privilege::Unprivileged] {
        for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
            let target = parse_literal(&dst).unwrap().unwrap();
            let events = runtime().block_on(async {
                let mut p = Pinger::with_target(target, &opts(3, privilege)).unwrap();
                let mut events = Vec::new();
                while let Some(e) = p.next_event().await {
                    events.push(e);
                }
                (events, p.report())
            });
            let (events, report) = events;
            let sent: Vec<u16> = events
                .iter()
                .filter_map(|e| match e {
                    PingEvent::Sent { sequence } => Some(*sequence),
                    _ => None,
                })
                .collect();
            let replies: Vec<u16> = events
                .iter()
                .filter_map(|e| match e {
                    PingEvent::Reply { sequence, .. } => Some(*sequence),
                    _ => None,
                })
                .collect();
            assert_eq!(sent, vec![1, 2, 3], "{privilege:?} {dst}");
            assert_eq!(replies, vec![1, 2, 3], "{privilege:?} {dst}");
            // Each reply comes after its request.
            for seq in 1..=3u16 {
                let s = events
                    .iter()
                    .position(|e| *e == PingEvent::Sent { sequence: seq })
                    .unwrap();
                let r = events
                    .iter()
                    .position(
                        |e| matches!(e, PingEvent::Reply { sequence, .. } if *sequence == seq),
                    )
                    .unwrap();
                assert!(s < r);
            }
            assert_eq!((report.packets_sent, report.packets_received), (3, 3));
            assert_eq!(report.reply_ttl, Some(63), "one router on the way");
            assert!(
                report
                    .rtts
                    .iter()
                    .all(|r| *r > Duration::ZERO && *r < Duration::from_millis(100)),
                "{:?}",
                report.rtts
            );
            assert!(report.rtt.min <= report.rtt.avg && report.rtt.avg <= report.rtt.max);
        }
    }
}

#[test]
fn blocking_wrapper_and_timeouts() {
    let lab = lab_or_skip!("blocking_wrapper_and_timeouts");
    let c = lab.chain(1).unwrap();
    c.reject(Reject::Blackhole, "10.99.0.0/24").unwrap();
    let _inside = c.client().enter().unwrap();
    let ok = ping_blocking(c.server_v4().to_string(), &opts(2, Privilege::Privileged)).unwrap();
    assert!(ok.is_alive);
    assert_eq!(ok.packet_loss, 0.0);
    // A blackholed destination: every probe times out, reported as such.
    let target = parse_literal("10.99.0.1").unwrap().unwrap();
    let (events, report) = runtime().block_on(async {
        let mut p = Pinger::with_target(target, &opts(2, Privilege::Privileged)).unwrap();
        let mut events = Vec::new();
        while let Some(e) = p.next_event().await {
            events.push(e);
        }
        (events, p.report())
    });
    let timeouts = events
        .iter()
        .filter(|e| matches!(e, PingEvent::Timeout { .. }))
        .count();
    assert_eq!(timeouts, 2, "{events:?}");
    assert!(!report.is_alive);
    assert_eq!(report.packet_loss, 1.0);
}

#[test]
fn broadcast_is_refused_unless_asked() {
    let lab = lab_or_skip!("broadcast_is_refused_unless_asked");
    let c = lab.pair().unwrap();
    let _inside = c.client().enter().unwrap();
    for dst in ["255.255.255.255", "10.1.0.255"] {
        let err = ping_blocking(dst, &opts(1, Privilege::Privileged)).unwrap_err();
        assert!(matches!(err, icmpkit::Error::Broadcast(_)), "{dst}: {err}");
        // The library names its option, not the CLI's -b.
        assert!(
            err.to_string().contains("SocketOptions::broadcast"),
            "{err}"
        );
    }
    // Asked for: the server answers a subnet broadcast if it accepts them.
    let mut o = opts(1, Privilege::Privileged);
    o.socket.broadcast = true;
    let report = ping_blocking("10.1.0.255", &o).unwrap();
    assert_eq!(report.packets_sent, 1);
}

#[test]
fn rtt_follows_netem_delay() {
    let lab = lab_or_skip!("rtt_follows_netem_delay");
    icmpkit_lab::require_or_skip!("rtt_follows_netem_delay", lab.require_netem());
    let c = lab.pair().unwrap();
    c.client()
        .netem(c.links()[0].dev_a(), "delay 20ms")
        .unwrap();
    let _inside = c.client().enter().unwrap();
    let r = ping_blocking(c.server_v4().to_string(), &opts(3, Privilege::Privileged)).unwrap();
    let min = r.rtt.min.unwrap();
    assert!(
        min >= Duration::from_millis(20) && min < Duration::from_millis(40),
        "{min:?}"
    );
}

#[test]
fn zero_count_is_refused_not_a_hang() {
    let target = parse_literal("127.0.0.1").unwrap().unwrap();
    // Refused by the builder, and by the entry point when the field is set
    // directly.
    let mut zero = opts(1, Privilege::Auto);
    zero.timing.count = Some(0);
    for err in [
        PingOptions::builder().count(0).build().unwrap_err(),
        Pinger::with_target(target, &zero).unwrap_err(),
    ] {
        let invalid = err.invalid_option().expect("an invalid option");
        assert_eq!(invalid.option, "count", "{err}");
        assert_eq!(invalid.reason, icmpkit::InvalidReason::AtLeast { min: 1 });
    }
}

#[test]
fn huge_times_are_refused_not_wrapped() {
    let target = parse_literal("127.0.0.1").unwrap().unwrap();
    for option in ["interval", "timeout", "deadline"] {
        let mut o = opts(1, Privilege::Auto);
        match option {
            "interval" => o.timing.interval = Duration::MAX,
            "timeout" => o.timing.timeout = Duration::MAX,
            _ => o.timing.deadline = Some(Duration::MAX),
        }
        let err = Pinger::with_target(target.clone(), &o).unwrap_err();
        assert!(
            matches!(&err, icmpkit::Error::InvalidOption(m) if m.option == option),
            "{option}: {err}"
        );
    }
}

#[test]
fn zero_timeout_is_refused_not_every_probe_lost() {
    let target = parse_literal("127.0.0.1").unwrap().unwrap();
    let mut o = opts(1, Privilege::Auto);
    o.timing.timeout = Duration::ZERO;
    let err = Pinger::with_target(target, &o).unwrap_err();
    assert!(
        matches!(
            err,
            icmpkit::Error::InvalidOption(icmpkit::InvalidOption {
                option: "timeout",
                reason: icmpkit::InvalidReason::Zero,
            })
        ),
        "{err}"
    );
}

/// Runs `work` on a thread of its own and waits at most `limit` for it: a
/// loop that never yields fails the test instead of hanging it (the thread
/// is left spinning until the test process exits).
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

/// Flood and interval 0 on loopback, where the reply is queued before
/// sendto returns: every reply is read (the socket is emptied between
/// sends) and the whole run is quick.
#[test]
fn flood_and_zero_interval_on_loopback_receive_every_reply() {
    let lab = lab_or_skip!("flood_and_zero_interval_on_loopback_receive_every_reply");
    let ns = lab.namespace("lo").unwrap();
    for flood in [true, false] {
        let ns = ns.clone();
        let report = within(Duration::from_secs(20), move || {
            let _inside = ns.enter().unwrap();
            let opts = PingOptions::builder()
                .count(2000)
                .interval(Duration::ZERO)
                .flood(flood)
                .timeout(Duration::from_secs(1))
                .privilege(Privilege::Privileged)
                .build()
                .unwrap();
            let started = std::time::Instant::now();
            let report = ping_blocking("127.0.0.1", &opts).unwrap();
            (report, started.elapsed())
        });
        let (report, elapsed) = report;
        assert_eq!(
            (report.packets_sent, report.packets_received),
            (2000, 2000),
            "flood {flood}"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "flood {flood}: {elapsed:?}"
        );
    }
}

/// A flood without a count on loopback never waits for the socket, yet the
/// runtime still gets its turns: a timer in the same task stops it.
#[test]
fn endless_flood_on_loopback_lets_a_timer_stop_it() {
    let lab = lab_or_skip!("endless_flood_on_loopback_lets_a_timer_stop_it");
    let ns = lab.namespace("lo").unwrap();
    let report = within(Duration::from_secs(10), move || {
        let _inside = ns.enter().unwrap();
        runtime().block_on(async {
            let opts = PingOptions::builder()
                .until_stopped()
                .interval(Duration::ZERO)
                .flood(true)
                .privilege(Privilege::Privileged)
                .build()
                .unwrap();
            let target = parse_literal("127.0.0.1").unwrap().unwrap();
            let mut pinger = Pinger::with_target(target, &opts).unwrap();
            let stop = tokio::time::sleep(Duration::from_millis(300));
            tokio::pin!(stop);
            let started = std::time::Instant::now();
            loop {
                tokio::select! {
                    event = pinger.next_event() => if event.is_none() { break },
                    _ = &mut stop => pinger.stop(),
                }
            }
            (pinger.report(), started.elapsed())
        })
    });
    let (report, elapsed) = report;
    assert!(
        elapsed < Duration::from_secs(2),
        "stopped after {elapsed:?}"
    );
    assert!(report.packets_sent > 0, "{report:?}");
    assert!(
        report.packets_received + 1 >= report.packets_sent,
        "{} sent, {} received",
        report.packets_sent,
        report.packets_received
    );
}

/// The library's defaults finish (4 requests, 1 s apart, 2 s timeout), as a
/// library call should: before, `PingOptions::default()` pinged forever and
/// `ping_blocking` never returned.
#[test]
fn default_options_finish_on_loopback() {
    let lab = lab_or_skip!("default_options_finish_on_loopback");
    let ns = lab.namespace("lo").unwrap();
    let (report, elapsed) = within(Duration::from_secs(15), move || {
        let _inside = ns.enter().unwrap();
        let started = std::time::Instant::now();
        let report = ping_blocking("127.0.0.1", &PingOptions::default()).unwrap();
        (report, started.elapsed())
    });
    assert_eq!((report.packets_sent, report.packets_received), (4, 4));
    // Three intervals of 1 s between the four requests, replies at once.
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
}

/// Every entry point takes the same target type: text (`&str`, `String`)
/// or an address (`IpAddr`, `Ipv4Addr`, `Ipv6Addr`), with options borrowed.
#[test]
fn entry_points_take_text_and_addresses_alike() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use icmpkit::craft::{MessageSpec, SendOptions, send_and_receive_blocking};
    use icmpkit::sweep::{SweepOptions, multiping_blocking};
    use icmpkit::trace::{TraceOptions, traceroute_blocking};
    use icmpkit::wire::Family;

    let lab = lab_or_skip!("entry_points_take_text_and_addresses_alike");
    let ns = lab.namespace("targets").unwrap();
    let _inside = ns.enter().unwrap();
    let ping = opts(1, Privilege::Privileged);
    let v4 = ping_blocking(Ipv4Addr::LOCALHOST, &ping).unwrap();
    let v6 = ping_blocking(IpAddr::V6(Ipv6Addr::LOCALHOST), &ping).unwrap();
    let text = ping_blocking(String::from("127.0.0.1"), &ping).unwrap();
    assert_eq!(
        (
            v4.packets_received,
            v6.packets_received,
            text.packets_received
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (v4.address.to_string(), v6.address.to_string()),
        ("127.0.0.1".into(), "::1".into())
    );

    let trace = TraceOptions::builder()
        .max_ttl(2)
        .queries(1)
        .build()
        .unwrap();
    let hops = traceroute_blocking(Ipv4Addr::LOCALHOST, &trace).unwrap();
    assert_eq!(
        hops[0].address,
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "{hops:?}"
    );

    let sweep = SweepOptions::builder().retries(0).build().unwrap();
    let addresses = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let reports = multiping_blocking(&addresses, &sweep).unwrap();
    assert!(
        reports.iter().all(|r| r.as_ref().is_ok_and(|r| r.is_alive)),
        "{reports:?}"
    );

    let spec = MessageSpec::echo_request(Family::V6, 0x77, 1, b"zone");
    let (answers, _) = send_and_receive_blocking(spec, "::1", &SendOptions::default()).unwrap();
    assert_eq!(answers.len(), 1, "{answers:?}");
}
