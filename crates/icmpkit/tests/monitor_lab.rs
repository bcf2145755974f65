//! The monitor against real kernels: client — r1 — r2 — server, a live
//! server (IPv4 and IPv6, three hops away), a blackholed and an
//! unreachable prefix behind r2; raw and datagram sockets.

use std::net::IpAddr;
use std::time::Duration;

use icmpkit::monitor::{Monitor, MonitorOptions, MonitorTarget, TargetStats};
use icmpkit::socket::{Privilege, SocketKind};
use icmpkit_lab::{Chain, Reject, lab_or_skip};

const INTERVAL: Duration = Duration::from_millis(100);
const RUN: Duration = Duration::from_secs(2);

fn chain(lab: &icmpkit_lab::Lab) -> Chain {
    let c = lab.chain(2).expect("chain");
    c.reject(Reject::Blackhole, "10.99.0.0/24")
        .expect("blackhole");
    c.reject(Reject::Unreachable, "10.98.0.0/24")
        .expect("unreachable");
    c.client().allow_ping_sockets().expect("ping_group_range");
    c
}

/// Runs a monitor of `addresses` for [`RUN`] inside the client namespace.
fn monitor_in(
    c: &Chain,
    addresses: &[IpAddr],
    privilege: Privilege,
) -> (Vec<TargetStats>, Vec<SocketKind>) {
    let _inside = c.client().enter().expect("enter the client namespace");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let targets: Vec<MonitorTarget> = addresses
            .iter()
            .map(|&a| MonitorTarget::new(a, INTERVAL))
            .collect();
        let opts = MonitorOptions {
            privilege,
            ..MonitorOptions::default()
        };
        let monitor = Monitor::start(&targets, &opts).expect("start");
        tokio::time::sleep(RUN).await;
        let kinds = monitor.socket_kinds();
        let stats = monitor.stats();
        monitor.stop().await;
        (stats, kinds)
    })
}

fn expected_requests() -> std::ops::RangeInclusive<u64> {
    let n = (RUN.as_millis() / INTERVAL.as_millis()) as u64;
    n - 1..=n + 1
}

fn check_live(stats: &TargetStats, what: &str) {
    assert!(
        expected_requests().contains(&stats.requests),
        "{what}: {stats:?}"
    );
    // The last request may still be on its way when the counters are read.
    assert!(
        stats.responses + 1 >= stats.requests && stats.responses <= stats.requests,
        "{what}: {stats:?}"
    );
    assert_eq!(stats.duplicates, 0, "{what}");
    // 64 less two forwarding routers.
    assert_eq!(stats.last_ttl, Some(62), "{what}: {stats:?}");
    assert_eq!(
        stats.bucket_counts.iter().sum::<u64>(),
        stats.responses,
        "{what}"
    );
    assert!(
        stats.rtt_sum > Duration::ZERO
            && stats.rtt_sum < Duration::from_millis(20) * stats.responses as u32,
        "{what}: {stats:?}"
    );
    assert!(stats.icmp_errors.is_empty(), "{what}: {stats:?}");
}

fn run(test: &str, privilege: Privilege, kind: SocketKind) {
    let lab = lab_or_skip!(test);
    let c = chain(&lab);
    let live_v4 = IpAddr::V4(c.server_v4());
    let live_v6 = IpAddr::V6(c.server_v6());
    let dead: IpAddr = "10.99.0.7".parse().unwrap();
    let unreachable: IpAddr = "10.98.0.7".parse().unwrap();
    let (stats, kinds) = monitor_in(&c, &[live_v4, dead, unreachable, live_v6], privilege);
    // One socket per family, whatever the number of targets.
    assert_eq!(kinds, vec![kind, kind]);
    check_live(&stats[0], "IPv4 server");
    check_live(&stats[3], "IPv6 server");
    let dead = &stats[1];
    assert!(expected_requests().contains(&dead.requests), "{dead:?}");
    assert_eq!(dead.responses, 0, "blackholed: {dead:?}");
    let unreachable = &stats[2];
    assert_eq!(unreachable.responses, 0);
    // Host unreachable from r2; routers send a burst of 5, then 1/s.
    let host_unreachable = unreachable
        .icmp_errors
        .iter()
        .find(|(t, code, _)| (*t, *code) == (3, 1))
        .map(|e| e.2);
    assert!(host_unreachable.is_some_and(|n| n >= 5), "{unreachable:?}");
}

#[test]
fn monitor_counts_replies_loss_and_errors_on_raw_sockets() {
    run(
        "monitor_counts_replies_loss_and_errors_on_raw_sockets",
        Privilege::Privileged,
        SocketKind::Raw,
    );
}

#[test]
fn monitor_counts_replies_loss_and_errors_on_datagram_sockets() {
    run(
        "monitor_counts_replies_loss_and_errors_on_datagram_sockets",
        Privilege::Unprivileged,
        SocketKind::Datagram,
    );
}

#[test]
fn monitor_refuses_a_payload_too_short_for_its_stamp() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut target = MonitorTarget::new("127.0.0.1".parse().unwrap(), INTERVAL);
        target.payload_size = 16;
        let err = Monitor::start(&[target], &MonitorOptions::default()).unwrap_err();
        assert!(err.to_string().contains("payload_size"), "{err}");
    });
}
