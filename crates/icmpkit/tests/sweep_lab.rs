//! The sweep engine against real kernels: a prefix answered by a server,
//! beside blackholed, unreachable and prohibited prefixes on two routers,
//! IPv4 and IPv6; shards, seeds, forged replies from a hand-made
//! responder, and next_event cancelled while sends wait for buffer room.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use icmpkit::socket::{Family, IcmpSocket, Privilege, SocketOptions, TypeFilter};
use icmpkit::sweep::{
    HostResult, Permutation, Shard, SweepEvent, SweepOptions, SweepSummary, Sweeper, TargetSpec,
};
use icmpkit::wire::checksum::checksum;
use icmpkit_lab::{Chain, Lab, Ns, Reject, lab_or_skip};

/// What a sweep reported: every host result (in arrival order), the other
/// events, and the totals.
struct Outcome {
    hosts: Vec<HostResult>,
    replies: Vec<SweepEvent>,
    summary: SweepSummary,
    senders: usize,
}

fn sweep_in(ns: &Ns, targets: &[&str], opts: &SweepOptions) -> Outcome {
    let _inside = ns.enter().expect("enter the client namespace");
    let specs: Vec<TargetSpec> = targets.iter().map(|t| t.parse().unwrap()).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut sweeper, name_errors) = Sweeper::start(&specs, opts).await.expect("start");
        assert!(name_errors.is_empty());
        let (mut hosts, mut replies) = (Vec::new(), Vec::new());
        while let Some(e) = sweeper.next_event().await {
            match e {
                SweepEvent::Host(h) => hosts.push(*h),
                other => replies.push(other),
            }
        }
        Outcome {
            hosts,
            replies,
            summary: sweeper.summary(),
            senders: sweeper.sender_count(),
        }
    })
}

fn options(timeout_ms: u64, retries: u32) -> SweepOptions {
    SweepOptions::builder()
        .retries(retries)
        .timeout(Duration::from_millis(timeout_ms))
        .rate(0)
        .privilege(Privilege::Privileged)
        .build()
        .unwrap()
}

/// client — r1 — r2 — server. The server answers `live`; r2 blackholes
/// `dead` and answers `unreachable` with Destination Unreachable; r1
/// answers `prohibited` with Administratively Prohibited. Routers limit
/// ICMPv4 errors to a burst of 5 per peer, so each has four error targets.
fn lab_chain(lab: &Lab, dead: &str, live: &str, unreachable: &str, prohibited: &str) -> Chain {
    let c = lab.chain(2).expect("chain");
    c.serve_prefix(live).expect("serve");
    c.reject(Reject::Blackhole, dead).expect("blackhole");
    c.reject(Reject::Unreachable, unreachable)
        .expect("unreachable");
    c.router(1)
        .unwrap()
        .reject(Reject::Prohibit, prohibited)
        .expect("prohibit");
    c
}

/// The targets a sweep of `net` has: IPv4 without network and broadcast
/// (fping -g), IPv6 every address.
fn targets_of(net: &str) -> BTreeSet<IpAddr> {
    match net.parse::<ipnet::IpNet>().unwrap() {
        ipnet::IpNet::V4(v4) => v4.hosts().map(IpAddr::V4).collect(),
        ipnet::IpNet::V6(v6) => (u128::from(v6.network())..=u128::from(v6.broadcast()))
            .map(|a| IpAddr::V6(a.into()))
            .collect(),
    }
}

fn within(net: &str, a: IpAddr) -> bool {
    net.parse::<ipnet::IpNet>().unwrap().contains(&a)
}

/// Sweeps `whole` (blackholed on r2 but for the more specific routes).
fn check_sweep(
    c: &Chain,
    family: Family,
    privilege: Privilege,
    whole: &str,
    live: &str,
    unreachable: &str,
    prohibited: &str,
) {
    // The router addresses the errors must name.
    let (r1, r2): (IpAddr, IpAddr) = match family {
        Family::V4 => (
            c.router_v4(1).unwrap().into(),
            c.router_v4(2).unwrap().into(),
        ),
        Family::V6 => (
            c.router_v6(1).unwrap().into(),
            c.router_v6(2).unwrap().into(),
        ),
    };
    let mut opts = options(300, 2);
    opts.privilege = privilege;
    let out = sweep_in(c.client(), &[whole], &opts);
    let expected_targets = targets_of(whole).len() as u64;
    // Every target reported exactly once.
    let mut seen = HashMap::new();
    for h in &out.hosts {
        *seen.entry(h.report.address).or_insert(0) += 1;
    }
    assert_eq!(seen.len() as u64, expected_targets);
    assert!(seen.values().all(|&n| n == 1), "a target reported twice");
    let alive: BTreeSet<IpAddr> = out
        .hosts
        .iter()
        .filter(|h| h.is_alive())
        .map(|h| h.report.address)
        .collect();
    let live_set: BTreeSet<IpAddr> = targets_of(whole)
        .into_iter()
        .filter(|&a| within(live, a))
        .collect();
    assert_eq!(alive, live_set, "alive set differs from the served prefix");
    for h in &out.hosts {
        let a = h.report.address;
        let expected_router = if within(unreachable, a) {
            Some(r2)
        } else if within(prohibited, a) {
            Some(r1)
        } else {
            None
        };
        if expected_router.is_none() && !within(live, a) {
            // Blackholed: silence, so two retries, then unreachable.
            assert!(!h.is_alive() && h.error().is_none(), "{a}: {h:?}");
            assert_eq!(h.report.packets_sent, 3, "{a}: retried twice");
        }
        if let Some(router) = expected_router {
            let e = h
                .error()
                .unwrap_or_else(|| panic!("{a}: no ICMP error: {h:?}"));
            assert_eq!(e.from, router, "{a}: error from the wrong router");
            assert!(e.is_unreachable(), "{a}: {e:?}");
            assert!(!h.is_alive());
        }
    }
    // Prohibited is its own code: v4 13 (communication administratively
    // prohibited), v6 1; unreachable routes give v4 1 (host), v6 0 (no route).
    let code_of = |net: &str| {
        out.hosts
            .iter()
            .find(|h| within(net, h.report.address))
            .and_then(|h| h.error().map(|e| e.code))
    };
    let (unreach_code, prohibit_code) = match family {
        Family::V4 => (1, 13),
        Family::V6 => (0, 1),
    };
    assert_eq!(code_of(unreachable), Some(unreach_code));
    assert_eq!(code_of(prohibited), Some(prohibit_code));
    let s = &out.summary;
    assert_eq!(s.targets, expected_targets);
    assert_eq!(s.finished, expected_targets);
    assert_eq!(s.alive, live_set.len() as u64);
    assert_eq!(s.errors, 8);
    assert_eq!(s.rejected, 0);
    assert_eq!(s.duplicates, 0);
}

#[test]
fn live_dead_and_rejected_prefixes_v4() {
    let lab = lab_or_skip!("live_dead_and_rejected_prefixes_v4");
    let nets = [
        "10.9.0.0/24",
        "10.9.0.0/25",
        "10.9.0.192/30",
        "10.9.0.196/30",
    ];
    let c = lab_chain(&lab, nets[0], nets[1], nets[2], nets[3]);
    check_sweep(
        &c,
        Family::V4,
        Privilege::Privileged,
        nets[0],
        nets[1],
        nets[2],
        nets[3],
    );
}

#[test]
fn live_dead_and_rejected_prefixes_v6() {
    let lab = lab_or_skip!("live_dead_and_rejected_prefixes_v6");
    let nets = [
        "fd00:99::/120",
        "fd00:99::/121",
        "fd00:99::c0/126",
        "fd00:99::c4/126",
    ];
    let c = lab_chain(&lab, nets[0], nets[1], nets[2], nets[3]);
    check_sweep(
        &c,
        Family::V6,
        Privilege::Privileged,
        nets[0],
        nets[1],
        nets[2],
        nets[3],
    );
}
/// The same on unprivileged datagram sockets: replies by the kernel's echo
/// id, errors (with the router) from the socket's error queue.
#[test]
fn live_dead_and_rejected_prefixes_unprivileged() {
    let lab = lab_or_skip!("live_dead_and_rejected_prefixes_unprivileged");
    let v4 = [
        "10.9.0.0/24",
        "10.9.0.0/25",
        "10.9.0.192/30",
        "10.9.0.196/30",
    ];
    let v6 = [
        "fd00:99::/120",
        "fd00:99::/121",
        "fd00:99::c0/126",
        "fd00:99::c4/126",
    ];
    for (family, nets) in [(Family::V4, v4), (Family::V6, v6)] {
        // A fresh chain per family: the routers' ICMPv4 error budget is per peer.
        let c = lab_chain(&lab, nets[0], nets[1], nets[2], nets[3]);
        c.client()
            .sysctl("net.ipv4.ping_group_range", "0 2147483647")
            .unwrap();
        check_sweep(
            &c,
            family,
            Privilege::Unprivileged,
            nets[0],
            nets[1],
            nets[2],
            nets[3],
        );
    }
}

/// Several sending threads (one per family socket each, sharing the
/// session) at full speed, both families in one sweep: every live address
/// found once, nothing dead reported alive, every probe accounted for.
#[test]
fn parallel_senders_find_every_live_host_once() {
    let lab = lab_or_skip!("parallel_senders_find_every_live_host_once");
    let c = lab.chain(1).expect("chain");
    let (v4_whole, v4_live, v4_dead) = ("10.9.0.0/20", "10.9.0.0/21", "10.9.8.0/21");
    let (v6_whole, v6_live, v6_dead) = ("fd00:99::/116", "fd00:99::/117", "fd00:99::800/117");
    for (live, dead) in [(v4_live, v4_dead), (v6_live, v6_dead)] {
        c.serve_prefix(live).unwrap();
        c.reject(Reject::Blackhole, dead).unwrap();
    }
    let mut opts = options(500, 0);
    opts.senders = Some(3);
    let out = sweep_in(c.client(), &[v4_whole, v6_whole], &opts);
    assert_eq!(out.senders, 3);
    let whole: BTreeSet<IpAddr> = targets_of(v4_whole)
        .into_iter()
        .chain(targets_of(v6_whole))
        .collect();
    let mut seen = HashMap::new();
    for h in &out.hosts {
        *seen.entry(h.report.address).or_insert(0) += 1;
    }
    assert_eq!(seen.keys().copied().collect::<BTreeSet<_>>(), whole);
    assert!(seen.values().all(|&n| n == 1), "a target reported twice");
    for h in &out.hosts {
        let a = h.report.address;
        let live = within(v4_live, a) || within(v6_live, a);
        assert_eq!(h.is_alive(), live, "{a}: {h:?}");
    }
    let s = &out.summary;
    assert_eq!(s.probes_sent, whole.len() as u64, "one probe per target");
    assert_eq!(s.replies, s.alive);
    assert_eq!(s.rejected + s.duplicates + s.late + s.send_errors, 0);

    // Retries and waves from several threads: every dead target retried
    // once; with three probes per target, each live one answers all three.
    let mut retrying = options(200, 1);
    retrying.senders = Some(3);
    let out = sweep_in(c.client(), &[v4_whole], &retrying);
    let (live, dead) = (
        targets_of(v4_live).len() as u64 + 1, // the /21's broadcast is a /20 host
        targets_of(v4_dead).len() as u64 + 1, // and so is the /21's network
    );
    assert_eq!(out.summary.alive, live);
    assert_eq!(out.summary.probes_sent, live + 2 * dead);
    // A second of timeout: on a loaded machine (CI beside other jobs) a
    // reply can take longer than 200 ms to be read, and would count lost.
    let mut waves = options(1000, 0);
    waves.senders = Some(3);
    waves.schedule.count = 3;
    waves.schedule.period = Duration::from_millis(50);
    let out = sweep_in(c.client(), &[v4_whole], &waves);
    assert_eq!(out.hosts.len() as u64, live + dead);
    for h in &out.hosts {
        let answered = h.probe_rtts.iter().filter(|r| r.is_some()).count();
        let expected = if within(v4_live, h.report.address) {
            3
        } else {
            0
        };
        assert_eq!(
            answered, expected,
            "{}: {:?}",
            h.report.address, h.probe_rtts
        );
    }

    // Datagram sockets send from one thread whatever is asked.
    c.client()
        .sysctl("net.ipv4.ping_group_range", "0 2147483647")
        .unwrap();
    opts.privilege = Privilege::Unprivileged;
    let out = sweep_in(c.client(), &[v4_live], &opts);
    assert_eq!(out.senders, 1);
    assert_eq!(out.summary.alive, targets_of(v4_live).len() as u64);
}

#[test]
fn shards_add_up_and_seed_fixes_the_order() {
    let lab = lab_or_skip!("shards_add_up_and_seed_fixes_the_order");
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.9.0.0/25").unwrap();
    c.reject(Reject::Blackhole, "10.9.0.128/25").unwrap();
    c.serve_prefix("fd00:99::/121").unwrap();
    let targets = ["10.9.0.0/24", "fd00:99::/121"];
    let mut opts = options(200, 0);
    opts.seed = Some(77);
    let whole = sweep_in(c.client(), &targets, &opts);
    assert_eq!(whole.hosts.len(), 254 + 128);
    let alive = |o: &Outcome| -> BTreeSet<IpAddr> {
        o.hosts
            .iter()
            .filter(|h| h.is_alive())
            .map(|h| h.report.address)
            .collect()
    };
    assert_eq!(alive(&whole).len(), 127 + 128);
    // Three shards: disjoint, and together exactly the whole.
    let mut union = Vec::new();
    let mut alive_union = BTreeSet::new();
    for i in 0..3 {
        opts.shard = Shard::new(i, 3).unwrap();
        let part = sweep_in(c.client(), &targets, &opts);
        assert_eq!(part.summary.targets, part.hosts.len() as u64);
        alive_union.extend(alive(&part));
        union.extend(part.hosts.iter().map(|h| h.index));
    }
    union.sort();
    assert_eq!(union, (0..(254 + 128)).collect::<Vec<u64>>());
    assert_eq!(alive_union, alive(&whole));

    // The order: blackholed targets at a steady rate time out in the order
    // they were sent, which is the seed's permutation.
    let mut opts = options(50, 0);
    opts.schedule.rate = 2000;
    let order = |seed| {
        let mut o = opts.clone();
        o.seed = Some(seed);
        let out = sweep_in(c.client(), &["10.9.0.128/25"], &o);
        // The token bucket holds the rate.
        let rate = out.summary.send_rate();
        assert!(
            (1700.0..=2300.0).contains(&rate),
            "{rate} pkt/s for --rate 2000"
        );
        out.hosts.iter().map(|h| h.index).collect::<Vec<u64>>()
    };
    let first = order(5);
    assert_eq!(first, Permutation::new(126, 5).iter().collect::<Vec<_>>());
    assert_eq!(first, order(5));
    assert_ne!(first, order(6));
}

/// Answers echo requests for `prefix` (the server's kernel is told to
/// ignore them) from a raw socket, each address differently: .1 correctly,
/// .2 with a flipped cookie bit, .3 with a forged target index, .4 with
/// Socket options that let every ICMP type through.
fn pass_all() -> SocketOptions {
    let mut opts = SocketOptions::default();
    opts.type_filter = Some(TypeFilter::pass_all());
    opts
}

/// another echo id, .5 twice, .6 after 400 ms.
fn forger(server: Ns, family: Family, addrs: Vec<IpAddr>, stop: std::sync::mpsc::Receiver<()>) {
    let _inside = server.enter().expect("enter server");
    let listen = IcmpSocket::open(family, Privilege::Privileged, &pass_all()).unwrap();
    listen
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let senders: Vec<IcmpSocket> = addrs
        .iter()
        .map(|a| {
            let mut opts = SocketOptions::default();
            opts.source = Some(*a);
            IcmpSocket::open(family, Privilege::Privileged, &opts).unwrap()
        })
        .collect();
    let request_type = if family == Family::V4 { 8 } else { 128 };
    let mut buf = [0u8; 2048];
    let mut delayed: Vec<(std::time::Instant, IpAddr, Vec<u8>, usize)> = Vec::new();
    while stop.try_recv().is_err() {
        for (at, dst, msg, k) in std::mem::take(&mut delayed) {
            if std::time::Instant::now() >= at {
                let s: &IcmpSocket = &senders[k];
                s.send_to(&msg, dst).unwrap();
            } else {
                delayed.push((at, dst, msg, k));
            }
        }
        let Ok(r) = listen.recv(&mut buf) else {
            continue;
        };
        let icmp = buf[r.icmp.clone()].to_vec();
        let Some(to) = r.destination else { continue };
        if icmp.first() != Some(&request_type) {
            continue;
        }
        let Some(k) = addrs.iter().position(|a| *a == to) else {
            continue;
        };
        let mut reply = icmp.clone();
        reply[0] = if family == Family::V4 { 0 } else { 129 };
        match k {
            1 => reply[8 + 20] ^= 1,                  // cookie
            2 => reply[8 + 24 + 7] ^= 1,              // target index
            3 => reply[5] = reply[5].wrapping_add(1), // echo id
            _ => {}
        }
        reply[2..4].copy_from_slice(&[0, 0]);
        if family == Family::V4 {
            let sum = checksum(&reply);
            reply[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        let sender = &senders[k];
        match k {
            4 => {
                sender.send_to(&reply, r.source).unwrap();
                sender.send_to(&reply, r.source).unwrap();
            }
            5 => delayed.push((
                std::time::Instant::now() + Duration::from_millis(400),
                r.source,
                reply,
                k,
            )),
            _ => {
                sender.send_to(&reply, r.source).unwrap();
            }
        }
    }
}

fn forged_replies(lab: &Lab, family: Family, prefix: &str, first: &str, last: &str) {
    let c = lab.chain(0).expect("pair");
    c.serve_prefix(prefix).unwrap();
    let ignore = match family {
        Family::V4 => "net.ipv4.icmp_echo_ignore_all",
        Family::V6 => "net.ipv6.icmp.echo_ignore_all",
    };
    c.server().sysctl(ignore, "1").unwrap();
    // IPv6 binds to addresses of a local route only with nonlocal_bind.
    c.server().sysctl("net.ipv6.ip_nonlocal_bind", "1").unwrap();
    let range = format!("{first}-{last}");
    let TargetSpec::Range(a, _) = range.parse().unwrap() else {
        unreachable!()
    };
    let addrs: Vec<IpAddr> = (0..6u8)
        .map(|i| match a {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) + u32::from(i)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) + u128::from(i)).into()),
        })
        .collect();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    let server = c.server().clone();
    let forger_addrs = addrs.clone();
    let handle = std::thread::spawn(move || forger(server, family, forger_addrs, stop_rx));
    std::thread::sleep(Duration::from_millis(100));
    let mut opts = options(150, 0);
    // Linger past the late reply: a second wave of one more target keeps
    // the sweep open (count 2, period 600 ms).
    opts.schedule.count = 2;
    opts.schedule.period = Duration::from_millis(600);
    let out = sweep_in(c.client(), &[&range], &opts);
    stop_tx.send(()).unwrap();
    handle.join().unwrap();
    let alive: Vec<IpAddr> = out
        .hosts
        .iter()
        .filter(|h| h.is_alive())
        .map(|h| h.report.address)
        .collect();
    let mut alive = alive;
    alive.sort();
    assert_eq!(alive, [addrs[0], addrs[4]], "{:?}", out.summary);
    // Cookie and index forgeries: 2 per wave.
    assert_eq!(out.summary.rejected, 4, "{:?}", out.summary);
    assert_eq!(out.summary.duplicates, 2, "{:?}", out.summary);
    let late: Vec<&SweepEvent> = out
        .replies
        .iter()
        .filter(|e| matches!(e, SweepEvent::Reply { late: true, .. }))
        .collect();
    assert!(!late.is_empty(), "{:?}", out.replies);
    assert!(
        late.iter()
            .all(|e| matches!(e, SweepEvent::Reply { address, .. } if *address == addrs[5]))
    );
    let h5 = out
        .hosts
        .iter()
        .find(|h| h.report.address == addrs[4])
        .unwrap();
    assert_eq!(h5.report.duplicates, 2);
    assert_eq!(h5.report.packets_received, 2);
}

#[test]
fn forged_foreign_duplicate_and_late_replies_v4() {
    let lab = lab_or_skip!("forged_foreign_duplicate_and_late_replies_v4");
    forged_replies(&lab, Family::V4, "10.8.0.0/29", "10.8.0.1", "10.8.0.6");
}

#[test]
fn forged_foreign_duplicate_and_late_replies_v6() {
    let lab = lab_or_skip!("forged_foreign_duplicate_and_late_replies_v6");
    forged_replies(&lab, Family::V6, "fd00:8::/125", "fd00:8::1", "fd00:8::6");
}

#[test]
fn multiping_reports_in_input_order() {
    let lab = lab_or_skip!("multiping_reports_in_input_order");
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.9.0.0/25").unwrap();
    c.reject(Reject::Blackhole, "10.9.0.128/25").unwrap();
    c.serve_prefix("fd00:99::/121").unwrap();
    let _inside = c.client().enter().unwrap();
    let targets = ["10.9.0.200", "fd00:99::7", "10.9.0.0/30", "10.9.0.9"];
    let reports: Vec<_> = icmpkit::sweep::multiping_blocking(&targets, &options(200, 1))
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every target resolves"))
        .collect();
    let got: Vec<(String, bool)> = reports
        .iter()
        .map(|r| (r.address.to_string(), r.is_alive))
        .collect();
    let want = [
        ("10.9.0.200", false),
        ("fd00:99::7", true),
        ("10.9.0.1", true),
        ("10.9.0.2", true),
        ("10.9.0.9", true),
    ];
    let want: Vec<(String, bool)> = want.iter().map(|(a, l)| (a.to_string(), *l)).collect();
    assert_eq!(got, want);
    assert_eq!(reports[0].packets_sent, 2, "one retry");
    assert!(reports[1].rtt.min.is_some() && reports[1].packets_received == 1);
    assert_eq!(reports[2].target, "10.9.0.1");
}

/// A name that does not resolve is reported for itself, after the other
/// targets' reports, instead of failing the whole call (icmplib fails it).
#[test]
fn multiping_reports_an_unresolvable_name_per_target() {
    let lab = lab_or_skip!("multiping_reports_an_unresolvable_name_per_target");
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.9.1.0/29").unwrap();
    // The lab's namespaces have no route out: the lookup fails locally.
    let _inside = c.client().enter().unwrap();
    let targets = ["10.9.1.1", "no-such-host.invalid", "10.9.1.2"];
    let results = icmpkit::sweep::multiping_blocking(&targets, &options(200, 0)).unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    for (result, address) in results[..2].iter().zip(["10.9.1.1", "10.9.1.2"]) {
        let report = result.as_ref().expect("a report");
        assert_eq!(report.address.to_string(), address);
        assert!(report.is_alive, "{report:?}");
    }
    let unresolved = results[2].as_ref().expect_err("the name");
    assert_eq!(unresolved.target, "no-such-host.invalid");
}

/// A link-local target's zone picks the link: the same address sits on
/// two links, and only the peer on the first answers echo.
#[test]
fn link_local_zone_picks_the_link() {
    let lab = lab_or_skip!("link_local_zone_picks_the_link");
    let twins = lab.twin_links("fe80::99/64").unwrap();
    let opts = options(300, 0);
    for (dev, alive) in [
        (twins.answering.dev_a(), true),
        (twins.silent.dev_a(), false),
    ] {
        let target = format!("fe80::99%{dev}");
        let out = sweep_in(&twins.client, &[&target], &opts);
        assert_eq!(out.hosts.len(), 1);
        assert_eq!(
            out.hosts[0].is_alive(),
            alive,
            "{target}: {:?}",
            out.hosts[0]
        );
        assert_eq!(out.summary.send_errors, 0, "{target}");
    }
}

/// `next_event` is cancel-safe while a batch waits for room in the
/// socket's send buffer: the client's link lets out about 125 probes a
/// second (a token bucket holding the rest, charged to the socket) and the
/// socket's buffer has room for a few, so sends keep waiting; each call is
/// dropped after 2 ms. No probe taken for a batch is lost (it would never
/// be sent nor expire, and the sweep would never end): every target is
/// reported once, alive.
#[test]
fn probes_waiting_for_buffer_room_survive_cancelled_calls() {
    let test = "probes_waiting_for_buffer_room_survive_cancelled_calls";
    let lab = lab_or_skip!(test);
    let c = lab.pair().expect("pair");
    let live = "10.99.0.0/24";
    c.serve_prefix(live).expect("serve");
    let slow_link = c.client().exec(&[
        "tc",
        "qdisc",
        "replace",
        "dev",
        c.links()[0].dev_a(),
        "root",
        "tbf",
        "rate",
        "100kbit",
        "burst",
        "1600",
        "limit",
        "1000000",
    ]);
    if let Err(e) = slow_link {
        icmpkit_lab::report_skip(test, &format!("no token bucket qdisc (sch_tbf): {e}"));
        return;
    }
    let mut opts = options(3_000, 0);
    opts.senders = Some(1);
    opts.socket.send_buffer = Some(4096);
    let _inside = c.client().enter().expect("enter the client namespace");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (hosts, cut_short) = rt.block_on(async {
        let specs = [live.parse::<TargetSpec>().unwrap()];
        let (mut sweeper, _) = Sweeper::start(&specs, &opts).await.expect("start");
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        let (mut hosts, mut cut_short) = (Vec::new(), 0);
        loop {
            assert!(
                std::time::Instant::now() < give_up,
                "the sweep never ended: {} of 254 reported, {} in flight, {:?}",
                hosts.len(),
                sweeper.in_flight(),
                sweeper.summary()
            );
            match tokio::time::timeout(Duration::from_millis(2), sweeper.next_event()).await {
                Ok(Some(SweepEvent::Host(h))) => hosts.push(*h),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => cut_short += 1,
            }
        }
        (hosts, cut_short)
    });
    let mut seen = HashMap::new();
    for h in &hosts {
        *seen.entry(h.report.address).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), targets_of(live).len(), "every target reported");
    assert!(seen.values().all(|&n| n == 1), "a target reported twice");
    assert!(hosts.iter().all(|h| h.is_alive()), "every target answers");
    assert!(cut_short > 0, "no call was cut short");
}

#[test]
fn stop_and_drop_never_wait_for_a_blocked_sender() {
    let test = "stop_and_drop_never_wait_for_a_blocked_sender";
    let lab = lab_or_skip!(test);
    let c = lab.pair().expect("pair");
    let live = "10.99.0.0/20";
    c.serve_prefix(live).expect("serve");
    // 8 kbit/s: a full 4 KiB send buffer takes seconds to drain, so each
    // sender thread sits in a blocking sendmmsg.
    let slow_link = c.client().exec(&[
        "tc",
        "qdisc",
        "replace",
        "dev",
        c.links()[0].dev_a(),
        "root",
        "tbf",
        "rate",
        "8kbit",
        "burst",
        "1600",
        "limit",
        "10000000",
    ]);
    if let Err(e) = slow_link {
        icmpkit_lab::report_skip(test, &format!("no token bucket qdisc (sch_tbf): {e}"));
        return;
    }
    let mut opts = options(3_000, 0);
    opts.senders = Some(2);
    opts.socket.send_buffer = Some(4096);
    let _inside = c.client().enter().expect("enter the client namespace");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let specs = [live.parse::<TargetSpec>().unwrap()];
        for ending in ["stop", "drop"] {
            let (mut sweeper, _) = Sweeper::start(&specs, &opts).await.expect("start");
            assert_eq!(sweeper.sender_count(), 2);
            // Let the senders fill their buffers and block.
            let until = tokio::time::Instant::now() + Duration::from_millis(400);
            while tokio::time::Instant::now() < until {
                let _ = tokio::time::timeout(Duration::from_millis(20), sweeper.next_event()).await;
            }
            let start = std::time::Instant::now();
            match ending {
                "stop" => sweeper.stop(),
                _ => drop(sweeper),
            }
            let took = start.elapsed();
            assert!(
                took < Duration::from_millis(300),
                "{ending} waited {took:?} for sender threads blocked in sendmmsg"
            );
        }
    });
}

/// The sweeper is a `futures_core::Stream`, and its stop handle, used from
/// another thread, ends a sweep that would otherwise wait out a long
/// timeout: the stream ends at once, without waiting for it.
#[test]
fn the_stream_ends_when_the_stop_handle_is_used_from_another_thread() {
    let lab = lab_or_skip!("the_stream_ends_when_the_stop_handle_is_used_from_another_thread");
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.9.7.0/26").unwrap();
    c.reject(Reject::Blackhole, "10.9.7.64/26").unwrap();
    let _inside = c.client().enter().expect("enter the client namespace");
    let specs: Vec<TargetSpec> = vec!["10.9.7.0/25".parse().unwrap()];
    let opts = options(30_000, 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut sweeper, _) = Sweeper::start(&specs, &opts).await.expect("start");
        // The live half answers: events come through the stream.
        let first = tokio::time::timeout(Duration::from_secs(5), next_item(&mut sweeper)).await;
        assert!(matches!(first, Ok(Some(_))), "{first:?}");
        let started = std::time::Instant::now();
        let handle = sweeper.stop_handle();
        std::thread::spawn(move || handle.stop()).join().unwrap();
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while next_item(&mut sweeper).await.is_some() {}
        })
        .await;
        assert!(drained.is_ok(), "the stream did not end after stop");
        // The blackholed half is still awaited (30 s timeout): the end came
        // from the stop, not from the sweep finishing.
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(sweeper.summary().finished < 126, "{:?}", sweeper.summary());
        assert!(next_item(&mut sweeper).await.is_none());
    });
}

/// The next item of a stream.
async fn next_item<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}
