//! The trace library against real kernels: ECMP paths (a multipath route
//! with L4 hashing) seen with several flows while one Paris flow keeps one
//! path, and RFC 4884 MPLS extensions in time-exceeded errors crafted with
//! the wire crate's builder by a responder in a namespace.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use icmpkit::socket::Privilege;
use icmpkit::trace::{Extension, Hop, Plan, ProbeProtocol, TraceOptions, traceroute_blocking};
use icmpkit::wire::Family;
use icmpkit::wire::checksum::checksum;
use icmpkit::wire::extension::{ErrorBody, Extensions, MplsEntry, MplsStack, Object};
use icmpkit_lab::{Lab, Ns, lab_or_skip};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

fn options(
    protocol: ProbeProtocol,
    flows: u16,
    queries: u16,
    privilege: Privilege,
) -> TraceOptions {
    TraceOptions {
        plan: Plan {
            max_ttl: 8,
            queries,
            flows,
            wait: Duration::from_secs(1),
            ..Plan::default()
        },
        protocol,
        privilege,
        ..TraceOptions::default()
    }
}

/// client — r1 =(a | b)= r3 — server: r1 splits 10.6.0.0/24 over a and b
/// with an L4 hash (`fib_multipath_hash_policy=1`).
struct Diamond {
    client: Ns,
}

fn diamond(lab: &Lab) -> Diamond {
    let ns = |n| lab.namespace(n).expect("namespace");
    let (client, r1, a, b, r3, server) = (ns("c"), ns("r1"), ns("a"), ns("b"), ns("r3"), ns("s"));
    let link = |x: &Ns, xa: &str, y: &Ns, ya: &str| {
        lab.connect(x, xa, y, ya).expect("link");
    };
    link(&client, "10.1.0.1/24", &r1, "10.1.0.2/24");
    link(&r1, "10.2.0.1/24", &a, "10.2.0.2/24");
    link(&r1, "10.3.0.1/24", &b, "10.3.0.2/24");
    link(&a, "10.4.0.1/24", &r3, "10.4.0.2/24");
    link(&b, "10.5.0.1/24", &r3, "10.5.0.2/24");
    link(&r3, "10.6.0.1/24", &server, "10.6.0.2/24");
    for r in [&r1, &a, &b, &r3] {
        r.forwarding(true).unwrap();
    }
    client.route("default via 10.1.0.2").unwrap();
    server.route("default via 10.6.0.1").unwrap();
    r1.sysctl("net.ipv4.fib_multipath_hash_policy", "1")
        .unwrap();
    r1.route("10.6.0.0/24 nexthop via 10.2.0.2 nexthop via 10.3.0.2")
        .unwrap();
    r1.route("10.4.0.0/24 via 10.2.0.2").unwrap();
    r1.route("10.5.0.0/24 via 10.3.0.2").unwrap();
    a.route("default via 10.4.0.2").unwrap();
    a.route("10.1.0.0/24 via 10.2.0.1").unwrap();
    b.route("default via 10.5.0.2").unwrap();
    b.route("10.1.0.0/24 via 10.3.0.1").unwrap();
    // r3 answers from the interface the probe came in on, so hop 3 tells
    // the two paths apart too.
    r3.sysctl("net.ipv4.icmp_errors_use_inbound_ifaddr", "1")
        .unwrap();
    r3.route("10.1.0.0/24 via 10.4.0.1").unwrap();
    r3.route("10.2.0.0/24 via 10.4.0.1").unwrap();
    r3.route("10.3.0.0/24 via 10.5.0.1").unwrap();
    Diamond { client }
}

fn responders(hop: &Hop) -> Vec<IpAddr> {
    let mut all: Vec<IpAddr> = hop.responders.iter().map(|r| r.address).collect();
    all.sort();
    all
}

#[test]
fn flows_reveal_both_equal_cost_paths_and_paris_keeps_one() {
    let lab = lab_or_skip!("flows_reveal_both_equal_cost_paths_and_paris_keeps_one");
    let d = diamond(&lab);
    let _inside = d.client.enter().unwrap();
    let both: Vec<IpAddr> = vec![
        Ipv4Addr::new(10, 2, 0, 2).into(),
        Ipv4Addr::new(10, 3, 0, 2).into(),
    ];
    // Linux hashes UDP/TCP ports only (proto_ports_offset): ICMP flows of
    // one source and destination always share a path there, so only the
    // transport protocols can show the split in this lab.
    for protocol in [ProbeProtocol::Udp, ProbeProtocol::Tcp] {
        let hops = traceroute_blocking("10.6.0.2", &options(protocol, 8, 1, Privilege::Auto))
            .expect("trace");
        assert_eq!(hops.len(), 4, "{protocol:?}: {hops:#?}");
        assert_eq!(
            responders(&hops[1]),
            both,
            "{protocol:?}: 8 flows see both paths"
        );
        assert_eq!(hops[1].packets_received, 8);
        // Each UDP flow stays on its path: hop 3's responder follows hop
        // 2's. (TCP probes in flight together cannot share a source port,
        // so TCP flows are not Paris-stable; see the module docs.)
        if protocol == ProbeProtocol::Tcp {
            continue;
        }
        for probe in &hops[1].probes {
            let via_a = probe.reply.as_ref().unwrap().from == both[0];
            let next = hops[2]
                .probes
                .iter()
                .find(|p| p.flow == probe.flow)
                .and_then(|p| p.reply.as_ref())
                .unwrap();
            let want: IpAddr = if via_a {
                Ipv4Addr::new(10, 4, 0, 2).into()
            } else {
                Ipv4Addr::new(10, 5, 0, 2).into()
            };
            assert_eq!(next.from, want, "{protocol:?} flow {}", probe.flow);
        }
    }
    // One Paris flow, many probes in flight at once: always the same path.
    for protocol in [ProbeProtocol::Icmp, ProbeProtocol::Udp] {
        let hops = traceroute_blocking("10.6.0.2", &options(protocol, 1, 10, Privilege::Auto))
            .expect("trace");
        assert_eq!(hops[1].responders.len(), 1, "{protocol:?}: {:#?}", hops[1]);
        assert_eq!(hops[1].packets_received, 10);
        assert_eq!(hops[2].responders.len(), 1);
    }
}

/// Answers echo requests to 10.99.0.1 like a path of two MPLS routers
/// then the host: TTL 1 and 2 get a time exceeded from 10.99.1.<ttl> with
/// an MPLS label stack (label 100 + ttl), others an echo reply.
fn mpls_responder(ns: &Ns, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let _inside = ns.enter().unwrap();
    let listen = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).unwrap();
    listen
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let send = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255))).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            let Ok(n) = (&listen).read(&mut buf) else {
                continue;
            };
            let packet = buf[..n].to_vec();
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let (ttl, src, dst) = (packet[8], &packet[12..16], &packet[16..20]);
            if packet.get(ihl) != Some(&8) || dst != [10, 99, 0, 1] {
                continue;
            }
            let (from, icmp) = if ttl <= 2 {
                let labels = [MplsEntry {
                    label: 100 + u32::from(ttl),
                    tc: 0,
                    s: true,
                    ttl: 1,
                }];
                let objects = [Object::Mpls(MplsStack::from_entries(&labels))];
                let body = ErrorBody::with_extensions(&packet, Extensions::from_objects(&objects));
                let mut icmp = vec![0u8; 8 + body.buffer_len(Family::V4)];
                let len = body.emit(Family::V4, &mut icmp[8..]).unwrap();
                icmp.truncate(8 + len);
                icmp[0] = 11;
                icmp[5] = body.length_field(Family::V4);
                ([10, 99, 1, ttl], icmp)
            } else {
                let mut icmp = packet[ihl..].to_vec();
                icmp[0] = 0;
                ([10, 99, 0, 1], icmp)
            };
            let mut icmp = icmp;
            icmp[2..4].fill(0);
            let sum = checksum(&icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            let total = (20 + icmp.len()) as u16;
            let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0];
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&from);
            ip.extend_from_slice(src);
            ip.extend_from_slice(&icmp);
            let to = SockAddr::from(std::net::SocketAddr::from((
                Ipv4Addr::new(src[0], src[1], src[2], src[3]),
                0,
            )));
            let _ = send.send_to(&ip, &to);
        }
    })
}

#[test]
fn mpls_labels_from_crafted_time_exceeded() {
    let lab = lab_or_skip!("mpls_labels_from_crafted_time_exceeded");
    let client = lab.namespace("c").unwrap();
    let resp = lab.namespace("mpls").unwrap();
    lab.connect(&client, "10.9.0.1/24", &resp, "10.9.0.2/24")
        .unwrap();
    client.route("10.99.0.0/16 via 10.9.0.2").unwrap();
    resp.answer_prefix("10.99.0.1/32").unwrap();
    resp.sysctl("net.ipv4.icmp_echo_ignore_all", "1").unwrap();
    client
        .sysctl("net.ipv4.ping_group_range", "0 2147483647")
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let responder = mpls_responder(&resp, Arc::clone(&stop));
    let _inside = client.enter().unwrap();
    for privilege in [Privilege::Privileged, Privilege::Unprivileged] {
        let hops = traceroute_blocking("10.99.0.1", &options(ProbeProtocol::Icmp, 1, 2, privilege))
            .expect("trace");
        let addrs: Vec<Option<IpAddr>> = hops.iter().map(|h| h.address).collect();
        assert_eq!(
            addrs,
            vec![
                Some(Ipv4Addr::new(10, 99, 1, 1).into()),
                Some(Ipv4Addr::new(10, 99, 1, 2).into()),
                Some(Ipv4Addr::new(10, 99, 0, 1).into()),
            ],
            "{privilege:?}"
        );
        assert!(hops[2].reached);
        for (hop, label) in hops.iter().zip([101, 102]) {
            let ext = &hop.responders[0].extensions;
            if privilege == Privilege::Privileged {
                assert_eq!(
                    ext,
                    &vec![Extension::Mpls {
                        labels: vec![MplsEntry {
                            label,
                            tc: 0,
                            s: true,
                            ttl: 1
                        }]
                    }],
                    "hop {}",
                    hop.distance
                );
            } else {
                assert!(ext.is_empty(), "the error queue carries no extensions");
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    responder.join().unwrap();
}
