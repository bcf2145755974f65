//! The packet sender (whole Ethernet frames on an `AF_PACKET` socket)
//! against real kernels, in lab namespaces only: every live host found
//! once and nothing dead alive, IPv4 and IPv6, through a router (the frame
//! must carry the router's MAC, or the router drops it), two egress
//! interfaces in one sweep, a next hop not yet resolved, a link that is
//! not Ethernet (falls back to the raw socket, with a note), and the
//! frames as the target's namespace receives them (checksums, TTL, TOS,
//! DF).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use icmpkit::socket::{PmtuDisc, Privilege};
use icmpkit::sweep::TargetSpec;
use icmpkit::sweep::{HostResult, SenderKind, SweepEvent, SweepOptions, SweepSummary, Sweeper};
use icmpkit::wire::checksum::{verify, verify_icmpv6};
use icmpkit_lab::{Ns, Reject, lab_or_skip};

struct Outcome {
    hosts: Vec<HostResult>,
    summary: SweepSummary,
    sender: SenderKind,
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
        let sender = sweeper.sender_kind();
        let mut hosts = Vec::new();
        while let Some(e) = sweeper.next_event().await {
            if let SweepEvent::Host(h) = e {
                hosts.push(*h);
            }
        }
        Outcome {
            hosts,
            summary: sweeper.summary(),
            sender,
        }
    })
}

fn packet_options() -> SweepOptions {
    SweepOptions::builder()
        .retries(2)
        .timeout(Duration::from_millis(300))
        .rate(0)
        .privilege(Privilege::Privileged)
        .sender(SenderKind::Packet)
        .build()
        .unwrap()
}

fn addresses(net: &str) -> BTreeSet<IpAddr> {
    match net.parse::<ipnet::IpNet>().unwrap() {
        ipnet::IpNet::V4(v4) => v4.hosts().map(IpAddr::V4).collect(),
        ipnet::IpNet::V6(v6) => (u128::from(v6.network())..=u128::from(v6.broadcast()))
            .map(|a| IpAddr::V6(a.into()))
            .collect(),
    }
}

/// Every target reported exactly once; the alive ones are `live`.
fn assert_found(out: &Outcome, targets: &BTreeSet<IpAddr>, live: &BTreeSet<IpAddr>) {
    let mut seen = HashMap::new();
    for h in &out.hosts {
        *seen.entry(h.report.address).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), targets.len(), "every target reported");
    assert!(seen.values().all(|&n| n == 1), "each exactly once");
    let alive: BTreeSet<IpAddr> = out
        .hosts
        .iter()
        .filter(|h| h.report.is_alive)
        .map(|h| h.report.address)
        .collect();
    let missing: Vec<_> = live.difference(&alive).collect();
    let wrongly: Vec<_> = alive.difference(live).collect();
    assert!(missing.is_empty(), "live hosts not found: {missing:?}");
    assert!(wrongly.is_empty(), "dead hosts alive: {wrongly:?}");
}

/// Resolves `neighbour` from `ns` first (one ping inside the lab).
fn resolve_neighbour(ns: &Ns, neighbour: &str) {
    let out = ns
        .command("ping")
        .args(["-c1", "-W1", neighbour])
        .output()
        .expect("ping");
    assert!(out.status.success(), "ping {neighbour} in the lab");
}

/// An echo request as captured (IP header first): its destination, TTL,
/// TOS, DF and whether both checksums verify.
#[derive(Debug)]
struct Request {
    destination: IpAddr,
    ttl: u8,
    tos: u8,
    dont_fragment: bool,
    checksums_ok: bool,
}

fn echo_request(packet: &[u8]) -> Option<Request> {
    match packet.first()? >> 4 {
        4 => {
            let header_len = usize::from(packet[0] & 0x0f) * 4;
            let icmp = packet.get(header_len..)?;
            (packet[9] == 1 && icmp.first() == Some(&8)).then(|| Request {
                destination: IpAddr::from(<[u8; 4]>::try_from(&packet[16..20]).unwrap()),
                ttl: packet[8],
                tos: packet[1],
                dont_fragment: packet[6] & 0x40 != 0,
                checksums_ok: verify(&packet[..header_len]) && verify(icmp),
            })
        }
        6 => {
            let icmp = packet.get(40..)?;
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).unwrap());
            let first = u32::from_be_bytes(packet[..4].try_into().unwrap());
            (packet[6] == 58 && icmp.first() == Some(&128)).then(|| Request {
                destination: dst.into(),
                ttl: packet[7],
                tos: (first >> 20) as u8,
                dont_fragment: false,
                checksums_ok: verify_icmpv6(&src, &dst, icmp),
            })
        }
        _ => None,
    }
}

/// client — r1 — server: the server answers the lower half of `whole`,
/// r1 blackholes the upper half. The frames must go to r1's MAC address.
fn through_a_router(test: &str, whole: &str, live: &str, dead: &str, router: &str) {
    let lab = lab_or_skip!(test);
    let c = lab.chain(1).expect("chain");
    c.serve_prefix(live).expect("serve");
    c.reject(Reject::Blackhole, dead).expect("blackhole");
    resolve_neighbour(c.client(), router);
    let mut opts = packet_options();
    opts.socket.ttl = Some(20);
    opts.socket.tos = Some(0x28);
    opts.socket.pmtu = Some(PmtuDisc::Do);
    let capture = c.server().capture().expect("capture");
    let out = sweep_in(c.client(), &[whole], &opts);
    let packets = capture.finish();
    assert_eq!(out.sender, SenderKind::Packet);
    // The swept addresses in the served prefix (its own network and
    // broadcast addresses too: a local route answers every address).
    let live_net: ipnet::IpNet = live.parse().unwrap();
    let live_set: BTreeSet<IpAddr> = addresses(whole)
        .into_iter()
        .filter(|a| live_net.contains(a))
        .collect();
    assert_found(&out, &addresses(whole), &live_set);
    // Every probe went as a frame: the next hop was resolved. (Through
    // the transmit ring once it is ready: the CLI's lab tests make it
    // carry every frame, ICMPKIT_TX_RING=wait.)
    assert!(out.summary.probes_sent > 0);
    assert_eq!(out.summary.frames_sent, out.summary.probes_sent);
    assert!(out.summary.ring_frames_sent <= out.summary.frames_sent);
    assert!(
        out.summary.fallbacks.is_empty(),
        "{:?}",
        out.summary.fallbacks
    );
    // What reached the server: one router on the way took one off the TTL.
    let requests: Vec<Request> = packets.iter().filter_map(|p| echo_request(p)).collect();
    let reached: BTreeSet<IpAddr> = requests.iter().map(|r| r.destination).collect();
    assert_eq!(
        reached, live_set,
        "the server saw a request for each live host"
    );
    for r in &requests {
        assert!(r.checksums_ok, "{r:?}");
        assert_eq!((r.ttl, r.tos), (19, 0x28), "{r:?}");
        if r.destination.is_ipv4() {
            assert!(r.dont_fragment, "{r:?}");
        }
    }
}

#[test]
fn packet_sender_through_a_router_v4() {
    through_a_router(
        "packet_sender_through_a_router_v4",
        "10.77.0.0/24",
        "10.77.0.0/25",
        "10.77.0.128/25",
        "10.1.0.2",
    );
}

#[test]
fn packet_sender_through_a_router_v6() {
    through_a_router(
        "packet_sender_through_a_router_v6",
        "fd00:77::/120",
        "fd00:77::/121",
        "fd00:77::80/121",
        "fd00:1::2",
    );
}

/// The next hop is not in the neighbour table at first: the first probe
/// goes through the raw socket (the kernel resolves it), the later ones as
/// frames; all answered. Through the router (a gateway route) and to the
/// router itself (on-link), IPv4 and IPv6.
#[test]
fn an_unresolved_next_hop_is_resolved_then_sent_frames() {
    let lab = lab_or_skip!("an_unresolved_next_hop_is_resolved_then_sent_frames");
    let c = lab.chain(1).expect("chain");
    let mut opts = packet_options();
    opts.schedule.count = 4;
    opts.schedule.period = Duration::from_millis(60);
    let targets = ["10.2.0.2", "10.1.0.2", "fd00:2::2", "fd00:1::2"];
    let out = sweep_in(c.client(), &targets, &opts);
    assert_eq!(out.hosts.len(), 4);
    for h in &out.hosts {
        assert_eq!(
            (h.report.packets_sent, h.report.packets_received),
            (4, 4),
            "{}",
            h.report.address
        );
    }
    let s = &out.summary;
    assert_eq!(s.probes_sent, 16);
    // The first wave at least waited for the neighbour (raw), and the
    // waves after it went as frames.
    assert!(s.frames_sent >= 8, "{s:?}");
    assert!(s.frames_sent < s.probes_sent, "{s:?}");
}

/// Two links, each to a server answering its own prefix: one sweep, each
/// prefix's frames out of its own link with that link's source address.
#[test]
fn two_egress_interfaces_in_one_sweep() {
    let lab = lab_or_skip!("two_egress_interfaces_in_one_sweep");
    let client = lab.namespace("client").unwrap();
    let a = lab.namespace("a").unwrap();
    let b = lab.namespace("b").unwrap();
    lab.connect(&client, "10.1.0.1/24", &a, "10.1.0.2/24")
        .unwrap();
    lab.connect(&client, "10.2.0.1/24", &b, "10.2.0.2/24")
        .unwrap();
    a.answer_prefix("10.31.0.0/24").unwrap();
    b.answer_prefix("10.32.0.0/24").unwrap();
    client.route("10.31.0.0/24 via 10.1.0.2").unwrap();
    client.route("10.32.0.0/24 via 10.2.0.2").unwrap();
    resolve_neighbour(&client, "10.1.0.2");
    resolve_neighbour(&client, "10.2.0.2");
    let (capture_a, capture_b) = (a.capture().unwrap(), b.capture().unwrap());
    let out = sweep_in(
        &client,
        &["10.31.0.0/24", "10.32.0.0/24"],
        &packet_options(),
    );
    let (at_a, at_b) = (capture_a.finish(), capture_b.finish());
    let mut all = addresses("10.31.0.0/24");
    all.extend(addresses("10.32.0.0/24"));
    assert_found(&out, &all, &all);
    assert_eq!(out.summary.frames_sent, out.summary.probes_sent);
    // Each server saw its own prefix only, from the client's address on
    // its link.
    for (packets, prefix, source) in [
        (at_a, "10.31.0.0/24", [10, 1, 0, 1]),
        (at_b, "10.32.0.0/24", [10, 2, 0, 1]),
    ] {
        let net: ipnet::IpNet = prefix.parse().unwrap();
        let requests: Vec<&Vec<u8>> = packets
            .iter()
            .filter(|p| echo_request(p).is_some())
            .collect();
        assert_eq!(requests.len(), addresses(prefix).len());
        for p in requests {
            assert!(net.contains(&echo_request(p).unwrap().destination));
            assert_eq!(&p[12..16], &source);
        }
    }
}

/// Transmit drops counted on `dev` in `ns` (`ip netns exec` mounts the
/// namespace's own /sys).
fn tx_dropped(ns: &Ns, dev: &str) -> u64 {
    let out = ns
        .exec(&[
            "cat",
            &format!("/sys/class/net/{dev}/statistics/tx_dropped"),
        ])
        .expect("tx_dropped");
    out.trim().parse().expect("a number")
}

/// A prefix routed into a tun device (not Ethernet: no link header to
/// write) goes through the raw socket, with a note naming the link, while
/// the Ethernet link's target in the same sweep goes as frames.
#[test]
fn a_link_that_is_not_ethernet_falls_back_to_the_raw_socket() {
    let lab = lab_or_skip!("a_link_that_is_not_ethernet_falls_back_to_the_raw_socket");
    let c = lab.pair().expect("pair");
    let client = c.client();
    if let Err(e) = client.ip(&["tuntap", "add", "tunk0", "mode", "tun"]) {
        icmpkit_lab::report_skip(
            "a_link_that_is_not_ethernet_falls_back_to_the_raw_socket",
            &e,
        );
        return;
    }
    client.addr("tunk0", "10.66.0.1/24").unwrap();
    client.up("tunk0").unwrap();
    client.route("10.66.1.0/29 dev tunk0").unwrap();
    resolve_neighbour(client, "10.1.0.2");
    let drops_before = tx_dropped(client, "tunk0");
    let mut opts = packet_options();
    opts.schedule.retries = 0;
    let out = sweep_in(client, &["10.1.0.2", "10.66.1.0/29"], &opts);
    let live: BTreeSet<IpAddr> = ["10.1.0.2".parse().unwrap()].into();
    let mut all = addresses("10.66.1.0/29");
    all.extend(live.iter().copied());
    assert_found(&out, &all, &live);
    let s = &out.summary;
    // The Ethernet target as a frame, the six tun targets through the raw
    // socket, into the tun device (no reader: dropped there).
    assert_eq!((s.probes_sent, s.frames_sent), (7, 1), "{s:?}");
    assert!(
        s.fallbacks
            .iter()
            .any(|n| n.contains("tunk0") && n.contains("not an Ethernet link")),
        "{:?}",
        s.fallbacks
    );
    assert!(tx_dropped(client, "tunk0") >= drops_before + 6);
}

/// A forced packet sender with datagram sockets is refused by name.
#[test]
fn the_packet_sender_refuses_datagram_sockets() {
    let err = SweepOptions::builder()
        .privilege(Privilege::Unprivileged)
        .sender(SenderKind::Packet)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("sender"), "{err}");
}

/// `SenderKind::Auto` picks the packet sender for a large sweep at an
/// unlimited rate, and the raw socket for a small one or a slow one.
#[test]
fn auto_picks_the_packet_sender_for_large_fast_sweeps_only() {
    let lab = lab_or_skip!("auto_picks_the_packet_sender_for_large_fast_sweeps_only");
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.80.0.0/19").expect("serve");
    resolve_neighbour(c.client(), "10.1.0.2");
    let auto = |rate: u64| {
        SweepOptions::builder()
            .retries(2)
            .timeout(Duration::from_millis(300))
            .rate(rate)
            .privilege(Privilege::Privileged)
            .build()
            .unwrap()
    };
    // 8190 targets at --rate 0: packet.
    let large = "10.80.0.0/19";
    assert!(addresses(large).len() as u64 >= icmpkit::sweep::PACKET_MIN_TARGETS);
    let out = sweep_in(c.client(), &[large], &auto(0));
    assert_eq!(out.sender, SenderKind::Packet);
    assert_found(&out, &addresses(large), &addresses(large));
    assert_eq!(out.summary.frames_sent, out.summary.probes_sent);
    // 254 targets: raw.
    let small = "10.80.1.0/24";
    let out = sweep_in(c.client(), &[small], &auto(0));
    assert_eq!(out.sender, SenderKind::Raw);
    assert_found(&out, &addresses(small), &addresses(small));
    assert_eq!(out.summary.frames_sent, 0);
    // 8190 targets at 20,000 packets/s (below PARALLEL_MIN_RATE): raw.
    let out = sweep_in(c.client(), &[large], &auto(20_000));
    assert_eq!(out.sender, SenderKind::Raw);
    assert_eq!(out.summary.frames_sent, 0);
}
