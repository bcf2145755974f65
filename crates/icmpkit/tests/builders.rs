//! Every options builder: setters reach the field they name, `build()`
//! refuses what no run could take with the typed error naming the option
//! (the same check the entry points make), before any socket opens.

use std::time::Duration;

use icmpkit::craft::SendOptions;
use icmpkit::listen::ListenOptions;
use icmpkit::ping::PingOptions;
use icmpkit::socket::{PmtuDisc, Privilege};
use icmpkit::sweep::SweepOptions;
use icmpkit::trace::{ProbeProtocol, TraceOptions};
use icmpkit::wire::Family;
use icmpkit::{Error, InvalidReason};

/// The option a refused `build()` names, and why.
fn refused<T: std::fmt::Debug>(built: icmpkit::Result<T>) -> (&'static str, InvalidReason) {
    match built {
        Err(Error::InvalidOption(invalid)) => (invalid.option, invalid.reason),
        other => panic!("expected an invalid option, got {other:?}"),
    }
}

#[test]
fn ping_builder_sets_nested_fields_and_validates() {
    let opts = PingOptions::builder()
        .count(3)
        .ttl(1)
        .interval(Duration::from_millis(200))
        .timeout(Duration::from_millis(700))
        .payload_size(100)
        .pattern(*b"ab")
        .pmtu(PmtuDisc::Do)
        .interface("lo")
        .privilege(Privilege::Unprivileged)
        .family(Family::V6)
        .build()
        .unwrap();
    assert_eq!(opts.timing.count, Some(3));
    assert_eq!(opts.socket.ttl, Some(1));
    assert_eq!(opts.timing.interval, Duration::from_millis(200));
    assert_eq!(opts.timing.timeout, Duration::from_millis(700));
    assert_eq!(
        (opts.payload_size, opts.pattern.as_slice()),
        (100, &b"ab"[..])
    );
    assert_eq!(opts.socket.pmtu, Some(PmtuDisc::Do));
    assert_eq!(opts.socket.interface.as_deref(), Some("lo"));
    assert_eq!(
        (opts.privilege, opts.family),
        (Privilege::Unprivileged, Some(Family::V6))
    );
    assert_eq!(
        PingOptions::builder()
            .until_stopped()
            .build()
            .unwrap()
            .timing
            .count,
        None
    );

    let (option, reason) = refused(PingOptions::builder().count(0).build());
    assert_eq!(
        (option, reason),
        ("count", InvalidReason::AtLeast { min: 1 })
    );
    assert_eq!(refused(PingOptions::builder().ttl(0).build()).0, "ttl");
    assert_eq!(
        refused(PingOptions::builder().timeout(Duration::ZERO).build()).0,
        "timeout"
    );
    assert_eq!(
        refused(PingOptions::builder().payload_size(70_000).build()).0,
        "payload_size"
    );
    assert_eq!(
        refused(PingOptions::builder().interface("x".repeat(16)).build()).0,
        "interface"
    );
    // Family checks when the family is known: forced, or the source's.
    let v6_broadcast = PingOptions::builder().family(Family::V6).broadcast(true);
    assert_eq!(refused(v6_broadcast.build()).0, "broadcast");
    let mixed = PingOptions::builder()
        .family(Family::V4)
        .source("::1".parse().unwrap());
    assert!(matches!(
        refused(mixed.build()),
        (
            "source",
            InvalidReason::WrongFamily {
                expected: Family::V4,
                ..
            }
        )
    ));
}

#[test]
fn sweep_builder_sets_the_schedule_and_validates() {
    let opts = SweepOptions::builder()
        .count(2)
        .retries(0)
        .timeout(Duration::from_millis(250))
        .rate(0)
        .seed(7)
        .senders(2)
        .exclude(["192.0.2.0/30".parse().unwrap()])
        .ttl(9)
        .build()
        .unwrap();
    assert_eq!((opts.schedule.count, opts.schedule.retries), (2, 0));
    assert_eq!(opts.schedule.timeout, Duration::from_millis(250));
    assert_eq!(
        (opts.schedule.rate, opts.seed, opts.senders),
        (0, Some(7), Some(2))
    );
    assert_eq!(opts.exclude.len(), 1);
    assert_eq!(opts.socket.ttl, Some(9));

    assert_eq!(refused(SweepOptions::builder().count(0).build()).0, "count");
    assert_eq!(
        refused(SweepOptions::builder().payload_size(8).build()).0,
        "payload_size"
    );
    assert_eq!(
        refused(SweepOptions::builder().senders(0).build()).0,
        "senders"
    );
    assert_eq!(
        refused(SweepOptions::builder().backoff(0.5).build()).0,
        "backoff"
    );
}

#[test]
fn trace_builder_sets_the_plan_and_validates() {
    let opts = TraceOptions::builder()
        .first_ttl(2)
        .max_ttl(8)
        .queries(1)
        .flows(4)
        .wait(Duration::from_millis(300))
        .protocol(ProbeProtocol::Udp)
        .port(4000)
        .data_size(0)
        .build()
        .unwrap();
    assert_eq!((opts.plan.first_ttl, opts.plan.max_ttl), (2, 8));
    assert_eq!((opts.plan.queries, opts.plan.flows), (1, 4));
    assert_eq!(opts.plan.wait, Duration::from_millis(300));
    assert_eq!(
        (opts.protocol, opts.port, opts.data_size),
        (ProbeProtocol::Udp, Some(4000), 0)
    );

    assert_eq!(
        refused(TraceOptions::builder().first_ttl(0).build()).0,
        "first_ttl"
    );
    assert_eq!(
        refused(TraceOptions::builder().first_ttl(5).max_ttl(3).build()).0,
        "max_ttl"
    );
    // ICMP probes need 2 bytes of data for the Paris checksum word.
    assert_eq!(
        refused(TraceOptions::builder().data_size(1).build()).0,
        "data_size"
    );
    let tcp_mtu_unprivileged = TraceOptions::builder()
        .protocol(ProbeProtocol::Tcp)
        .path_mtu(1500)
        .privilege(Privilege::Unprivileged);
    assert!(matches!(
        refused(tcp_mtu_unprivileged.build()),
        ("path_mtu", InvalidReason::NeedsRawSocket { .. })
    ));
}

#[test]
fn send_and_listen_builders_set_fields_and_validate() {
    let opts = SendOptions::builder()
        .count(3)
        .interval(Duration::from_millis(10))
        .timeout(Duration::from_millis(100))
        .ttl(1)
        .dont_fragment(true)
        .build()
        .unwrap();
    assert_eq!(
        (opts.count, opts.ip.ttl, opts.ip.dont_fragment),
        (3, Some(1), Some(true))
    );
    assert_eq!(opts.timeout, Duration::from_millis(100));
    assert_eq!(refused(SendOptions::builder().count(0).build()).0, "count");

    let opts = ListenOptions::builder()
        .batch(16)
        .snap_len(128)
        .build()
        .unwrap();
    assert_eq!((opts.batch, opts.snap_len), (16, 128));
    assert!(matches!(
        refused(ListenOptions::builder().batch(0).build()),
        ("batch", InvalidReason::Between { min: 1, .. })
    ));
}
