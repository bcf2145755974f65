//! The trace library against real kernels: ECMP paths (a multipath route
//! with L4 hashing, IPv4 and IPv6) seen with several flows while one Paris
//! flow keeps one path, for UDP and raw TCP alike; what raw TCP probes put
//! on the wire (one source port per flow, captured in the client's
//! namespace); SYN-ACKs and resets both ending a TCP trace; RFC 4884
//! extensions in ICMPv4 and ICMPv6 time-exceeded errors crafted with the
//! wire crate's builders by a responder in a namespace (the lab's
//! `CraftedPath`): MPLS label stacks, and RFC 5837 interface information
//! next to a label stack; and
//! `next_event` cancelled again and again while hops wait for reverse
//! names from a name server that never answers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::Path;
use std::time::Duration;

use icmpkit::socket::Privilege;
use icmpkit::trace::{Extension, Hop, ProbeProtocol, TraceOptions, traceroute_blocking};
use icmpkit::wire::extension::{InterfaceRole, MplsEntry, MplsStack, Object};
use icmpkit::wire::ip::{ipv4, ipv6};
use icmpkit::wire::{Family, tcp};
use icmpkit_lab::sample::{IF_NAME, LABELS, interface_address};
use icmpkit_lab::{CraftedPath, Lab, Ns, extension_structure, lab_or_skip};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

fn options(
    protocol: ProbeProtocol,
    flows: u16,
    queries: u16,
    privilege: Privilege,
) -> TraceOptions {
    TraceOptions::builder()
        .max_ttl(8)
        .queries(queries)
        .flows(flows)
        .wait(Duration::from_secs(1))
        .protocol(protocol)
        .privilege(privilege)
        .build()
        .unwrap()
}

/// client — r1 =(a | b)= r3 — server, dual-stack: r1 splits the server's
/// link (10.6.0.0/24, fd00:6::/64) over a and b with an L4 hash
/// (`fib_multipath_hash_policy=1`).
struct Diamond {
    client: Ns,
}

/// The server's addresses.
const SERVER_V4: &str = "10.6.0.2";
const SERVER_V6: &str = "fd00:6::2";

fn diamond(lab: &Lab) -> Diamond {
    let ns = |n| lab.namespace(n).expect("namespace");
    let (client, r1, a, b, r3, server) = (ns("c"), ns("r1"), ns("a"), ns("b"), ns("r3"), ns("s"));
    // Link i: 10.i.0.0/24 and fd00:i::/64, .1 / ::1 on the left end.
    let link = |x: &Ns, y: &Ns, i: u8| {
        lab.connect_dual(
            x,
            [&format!("10.{i}.0.1/24"), &format!("fd00:{i}::1/64")],
            y,
            [&format!("10.{i}.0.2/24"), &format!("fd00:{i}::2/64")],
        )
        .expect("link");
    };
    link(&client, &r1, 1);
    link(&r1, &a, 2);
    link(&r1, &b, 3);
    link(&a, &r3, 4);
    link(&b, &r3, 5);
    link(&r3, &server, 6);
    for r in [&r1, &a, &b, &r3] {
        r.forwarding(true).unwrap();
    }
    let routes = |ns: &Ns, specs: &[&str]| {
        for spec in specs {
            ns.route(spec).unwrap();
            ns.route(&v6_route(spec)).unwrap();
        }
    };
    routes(&client, &["default via 10.1.0.2"]);
    routes(&server, &["default via 10.6.0.1"]);
    r1.sysctl("net.ipv4.fib_multipath_hash_policy", "1")
        .unwrap();
    r1.sysctl("net.ipv6.fib_multipath_hash_policy", "1")
        .unwrap();
    routes(
        &r1,
        &[
            "10.6.0.0/24 nexthop via 10.2.0.2 nexthop via 10.3.0.2",
            "10.4.0.0/24 via 10.2.0.2",
            "10.5.0.0/24 via 10.3.0.2",
        ],
    );
    routes(&a, &["default via 10.4.0.2", "10.1.0.0/24 via 10.2.0.1"]);
    routes(&b, &["default via 10.5.0.2", "10.1.0.0/24 via 10.3.0.1"]);
    // IPv4: r3 answers from the interface the probe came in on, so hop 3
    // tells the two paths apart too (IPv6 has no such switch).
    r3.sysctl("net.ipv4.icmp_errors_use_inbound_ifaddr", "1")
        .unwrap();
    routes(
        &r3,
        &[
            "10.1.0.0/24 via 10.4.0.1",
            "10.2.0.0/24 via 10.4.0.1",
            "10.3.0.0/24 via 10.5.0.1",
        ],
    );
    Diamond { client }
}

/// The IPv6 twin of an IPv4 route spec of the diamond: `10.i.0.0/24` is
/// `fd00:i::/64`, `10.i.0.h` is `fd00:i::h`.
fn v6_route(spec: &str) -> String {
    spec.split_whitespace()
        .map(|word| match word.strip_prefix("10.") {
            Some(rest) => {
                let parts: Vec<&str> = rest.split(['.', '/']).collect();
                if word.ends_with("/24") {
                    format!("fd00:{}::/64", parts[0])
                } else {
                    format!("fd00:{}::{}", parts[0], parts[2])
                }
            }
            None => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Hop 2's two possible responders (a, b) for a family.
fn hop2_paths(family: Family) -> Vec<IpAddr> {
    match family {
        Family::V4 => vec![
            Ipv4Addr::new(10, 2, 0, 2).into(),
            Ipv4Addr::new(10, 3, 0, 2).into(),
        ],
        Family::V6 => vec![
            "fd00:2::2".parse::<Ipv6Addr>().unwrap().into(),
            "fd00:3::2".parse::<Ipv6Addr>().unwrap().into(),
        ],
    }
}

fn server(family: Family) -> &'static str {
    match family {
        Family::V4 => SERVER_V4,
        Family::V6 => SERVER_V6,
    }
}

fn responders(hop: &Hop) -> Vec<IpAddr> {
    let mut all: Vec<IpAddr> = hop.responders.iter().map(|r| r.address).collect();
    all.sort();
    all
}

/// Traces with 8 flows until both paths show at hop 2 (3 tries: 8 flows
/// with random ports all hash one way once in 128 traces); returns the
/// last hops. Flows that never spread (one shared flow identifier) fail.
fn spread_trace(protocol: ProbeProtocol, family: Family) -> Vec<Hop> {
    let mut hops = Vec::new();
    for _ in 0..3 {
        hops = traceroute_blocking(
            server(family),
            &options(protocol, 8, 1, Privilege::Privileged),
        )
        .expect("trace");
        if hops.len() > 1 && responders(&hops[1]) == hop2_paths(family) {
            break;
        }
    }
    hops
}

#[test]
fn flows_reveal_both_equal_cost_paths_and_paris_keeps_one() {
    let lab = lab_or_skip!("flows_reveal_both_equal_cost_paths_and_paris_keeps_one");
    let d = diamond(&lab);
    let _inside = d.client.enter().unwrap();
    // Linux hashes UDP/TCP ports only (proto_ports_offset): ICMP flows of
    // one source and destination always share a path there, so only the
    // transport protocols can show the split in this lab.
    for family in [Family::V4, Family::V6] {
        let both = hop2_paths(family);
        for protocol in [ProbeProtocol::Udp, ProbeProtocol::Tcp] {
            let hops = spread_trace(protocol, family);
            let what = format!("{protocol:?} {family:?}");
            assert_eq!(hops.len(), 4, "{what}: {hops:#?}");
            assert!(hops[3].reached, "{what}: {hops:#?}");
            assert_eq!(responders(&hops[1]), both, "{what}: 8 flows see both paths");
            assert_eq!(hops[1].packets_received, 8, "{what}");
            if family == Family::V6 {
                continue;
            }
            // Each flow stays on its path: hop 3's responder (r3 answers
            // from the interface the probe came in on) follows hop 2's.
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
                assert_eq!(next.from, want, "{what} flow {}", probe.flow);
            }
        }
        // One Paris flow, many probes in flight at once: always one path,
        // run after run (each run a new flow identifier, maybe another path).
        for protocol in [ProbeProtocol::Icmp, ProbeProtocol::Udp, ProbeProtocol::Tcp] {
            for run in 0..3 {
                let hops = traceroute_blocking(
                    server(family),
                    &options(protocol, 1, 10, Privilege::Privileged),
                )
                .expect("trace");
                let what = format!("{protocol:?} {family:?} run {run}");
                assert_eq!(hops.len(), 4, "{what}: {hops:#?}");
                for hop in &hops {
                    assert_eq!(hop.responders.len(), 1, "{what}: {hop:#?}");
                    assert_eq!(hop.packets_received, 10, "{what}: {hop:#?}");
                }
                assert!(hops[3].reached, "{what}");
            }
        }
    }
}

/// A TCP segment seen in a capture, with its IP addresses and TTL.
#[derive(Debug, Clone, Copy)]
struct Segment {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    tcp: tcp::Repr,
}

/// The TCP segments among captured IP packets (no IPv6 extension headers
/// in this lab); with `syns_are_ours`, every SYN's checksum is checked.
fn tcp_segments(packets: &[Vec<u8>], syns_are_ours: bool) -> Vec<Segment> {
    packets
        .iter()
        .filter_map(|p| {
            let (src, dst, ttl, payload): (IpAddr, IpAddr, u8, &[u8]) = match p[0] >> 4 {
                4 => {
                    let ip = ipv4::Packet::new_checked(&p[..]).ok()?;
                    if ip.protocol() != tcp::PROTOCOL {
                        return None;
                    }
                    let src = ip.src_addr().into();
                    let dst = ip.dst_addr().into();
                    (src, dst, ip.ttl(), ip.into_payload())
                }
                _ => {
                    let ip = ipv6::Packet::new_checked(&p[..]).ok()?;
                    if ip.next_header() != tcp::PROTOCOL {
                        return None;
                    }
                    let src = ip.src_addr().into();
                    let dst = ip.dst_addr().into();
                    (src, dst, ip.hop_limit(), ip.into_payload())
                }
            };
            let (tcp, _) = tcp::Repr::parse(payload).ok()?;
            // Raw probes carry the checksum we computed. (The kernel's own
            // segments, connect() SYNs included, leave it to the veth
            // "hardware", after capture.)
            if syns_are_ours && tcp.flags == tcp::Flags::SYN {
                assert!(tcp::verify(src, dst, payload), "bad TCP checksum: {p:02x?}");
            }
            Some(Segment { src, dst, ttl, tcp })
        })
        .collect()
}

/// Our SYN probes among captured segments: port → TTL → sequence numbers.
fn syns_by_port(segments: &[Segment], to: IpAddr) -> BTreeMap<u16, BTreeMap<u8, Vec<u32>>> {
    let mut ports: BTreeMap<u16, BTreeMap<u8, Vec<u32>>> = BTreeMap::new();
    for s in segments {
        if s.dst == to && s.tcp.flags == tcp::Flags::SYN {
            ports
                .entry(s.tcp.src_port)
                .or_default()
                .entry(s.ttl)
                .or_default()
                .push(s.tcp.sequence);
        }
    }
    ports
}

#[test]
fn raw_tcp_probes_of_a_flow_share_one_source_port() {
    let lab = lab_or_skip!("raw_tcp_probes_of_a_flow_share_one_source_port");
    let d = diamond(&lab);
    for family in [Family::V4, Family::V6] {
        let to: IpAddr = server(family).parse().unwrap();
        for flows in [1u16, 8] {
            let what = format!("{family:?} {flows} flow(s)");
            let capture = d.client.capture().expect("capture");
            let hops = {
                let _inside = d.client.enter().unwrap();
                traceroute_blocking(
                    server(family),
                    &options(ProbeProtocol::Tcp, flows, 3, Privilege::Privileged),
                )
                .expect("trace")
            };
            let segments = tcp_segments(&capture.finish(), true);
            assert_eq!(hops.len(), 4, "{what}: {hops:#?}");
            let ports = syns_by_port(&segments, to);
            assert_eq!(
                ports.len(),
                usize::from(flows),
                "{what}: one source port per flow: {ports:?}"
            );
            for (port, ttls) in &ports {
                for ttl in 1..=4u8 {
                    let sent = ttls.get(&ttl).map_or(0, Vec::len);
                    assert_eq!(
                        sent, 3,
                        "{what}: port {port} sent its 3 probes to TTL {ttl}: {ttls:?}"
                    );
                }
                // Every probe has a sequence number of its own.
                let all: Vec<u32> = ttls.values().flatten().copied().collect();
                let distinct: BTreeSet<u32> = all.iter().copied().collect();
                assert_eq!(distinct.len(), all.len(), "{what}: {ttls:?}");
            }
            // Every probe counted in the report went out as one of them.
            let reported: usize = hops.iter().map(|h| h.packets_sent).sum();
            let captured: usize = ports
                .values()
                .flat_map(|t| t.iter().filter(|(ttl, _)| **ttl <= 4))
                .map(|(_, seqs)| seqs.len())
                .sum();
            assert_eq!(reported, captured, "{what}");
        }
    }
}

/// Unprivileged TCP probes are `connect()` calls: with one probe in flight
/// (`-N 1`) each can reuse its flow's port, so the flow keeps one source
/// port (Paris) without raw sockets.
#[test]
fn unprivileged_tcp_keeps_its_port_with_one_probe_in_flight() {
    let lab = lab_or_skip!("unprivileged_tcp_keeps_its_port_with_one_probe_in_flight");
    let d = diamond(&lab);
    for family in [Family::V4, Family::V6] {
        let to: IpAddr = server(family).parse().unwrap();
        let capture = d.client.capture().expect("capture");
        let mut opts = options(ProbeProtocol::Tcp, 1, 3, Privilege::Unprivileged);
        opts.plan.in_flight = 1;
        let hops = {
            let _inside = d.client.enter().unwrap();
            traceroute_blocking(server(family), &opts).expect("trace")
        };
        assert_eq!(hops.len(), 4, "{family:?}: {hops:#?}");
        let ports = syns_by_port(&tcp_segments(&capture.finish(), false), to);
        assert_eq!(ports.len(), 1, "{family:?}: one source port: {ports:?}");
        let sent: usize = ports.values().flat_map(|t| t.values()).map(Vec::len).sum();
        assert!(sent >= 12, "{family:?}: 3 probes x 4 hops: {ports:?}");
    }
}

/// New-user trial T2: unprivileged TCP probes are connections, so a trace
/// to an open port must not send every TTL at once (30 connections to the
/// service, SYNs dropped by a small backlog, RTTs of a second): a few at a
/// time, and hardly any past the destination.
#[test]
fn unprivileged_tcp_opens_few_connections_past_the_destination() {
    let lab = lab_or_skip!("unprivileged_tcp_opens_few_connections_past_the_destination");
    let c = lab.chain(3).expect("chain");
    let open = 8082;
    let _listeners = listen(c.server(), open);
    let server = IpAddr::from(c.server_v4());
    let capture = c.client().capture().expect("capture");
    let hops = {
        let _inside = c.client().enter().unwrap();
        let mut opts = options(ProbeProtocol::Tcp, 1, 3, Privilege::Unprivileged);
        opts.port = Some(open);
        traceroute_blocking(server.to_string(), &opts).expect("trace")
    };
    assert_eq!(hops.len(), 4, "{hops:#?}");
    assert!(hops[3].reached, "{hops:#?}");
    // Every reply at the destination is a connection, answered at once.
    let slow: Vec<_> = hops[3]
        .rtts
        .iter()
        .filter(|r| r.as_millis() >= 500)
        .collect();
    assert!(slow.is_empty(), "RTTs inflated by dropped SYNs: {hops:#?}");
    let syns = syns_by_port(&tcp_segments(&capture.finish(), false), server);
    let past: usize = syns
        .values()
        .flat_map(|by_ttl| by_ttl.iter().filter(|(ttl, _)| **ttl > 4))
        .map(|(_, seqs)| seqs.len())
        .sum();
    // Before the cap: TTLs 5 to 30 all went out (26 or more).
    assert!(
        past <= 6,
        "{past} connections past the destination: {syns:?}"
    );
}

/// A listener in `ns` on `port`, IPv4 and IPv6.
fn listen(ns: &Ns, port: u16) -> (TcpListener, TcpListener) {
    let _inside = ns.enter().unwrap();
    let v4 = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap();
    let v6 = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)).unwrap();
    v6.set_only_v6(true).unwrap();
    v6.bind(&SockAddr::from(std::net::SocketAddr::from((
        Ipv6Addr::UNSPECIFIED,
        port,
    ))))
    .unwrap();
    v6.listen(16).unwrap();
    (v4, v6.into())
}

#[test]
fn raw_tcp_trace_ends_at_a_syn_ack_or_a_reset() {
    let lab = lab_or_skip!("raw_tcp_trace_ends_at_a_syn_ack_or_a_reset");
    let c = lab.chain(3).expect("chain");
    let (open, closed) = (8080, 8081);
    let _listeners = listen(c.server(), open);
    for (server, path) in [
        (
            IpAddr::from(c.server_v4()),
            c.hops_v4()
                .into_iter()
                .map(IpAddr::from)
                .collect::<Vec<_>>(),
        ),
        (
            c.server_v6().into(),
            c.hops_v6().into_iter().map(IpAddr::from).collect(),
        ),
    ] {
        for port in [open, closed] {
            let what = format!("{server} port {port}");
            let capture = c.client().capture().expect("capture");
            let hops = {
                let _inside = c.client().enter().unwrap();
                let mut opts = options(ProbeProtocol::Tcp, 1, 3, Privilege::Privileged);
                opts.port = Some(port);
                traceroute_blocking(server.to_string(), &opts).expect("trace")
            };
            let segments = tcp_segments(&capture.finish(), true);
            let addresses: Vec<IpAddr> = hops.iter().filter_map(|h| h.address).collect();
            assert_eq!(addresses, path, "{what}: {hops:#?}");
            let last = hops.last().unwrap();
            assert!(last.reached, "{what}: {last:#?}");
            assert_eq!(last.packets_received, 3, "{what}: {last:#?}");
            // The flags the server answered with, as tcpdump shows them.
            let answers: BTreeSet<String> = segments
                .iter()
                .filter(|s| s.src == server && s.tcp.src_port == port)
                .map(|s| s.tcp.flags.to_string())
                .collect();
            if port == open {
                assert!(answers.contains("S."), "{what}: {answers:?}");
            } else {
                assert_eq!(answers, BTreeSet::from(["R.".to_string()]), "{what}");
            }
        }
    }
}

/// One MPLS label stack entry with TTL 1.
fn mpls_entry(label: u32, tc: u8, bottom: bool) -> MplsEntry {
    MplsEntry {
        label,
        tc,
        s: bottom,
        ttl: 1,
    }
}

/// A crafted path of two MPLS routers (see [`CraftedPath`]): each one's
/// time exceeded carries a label stack of one entry, label 100 + its TTL.
fn mpls_path(lab: &Lab) -> CraftedPath {
    lab.crafted_path(2, |_, ttl| {
        let labels = [mpls_entry(100 + u32::from(ttl), 0, true)];
        Some(extension_structure(&[Object::Mpls(MplsStack::from_entries(&labels))]).unwrap())
    })
    .expect("crafted path")
}

/// The extension structure of each crafted router's time exceeded among
/// `packets` (what the client captured), by the router's TTL, read by hand
/// so that a builder and a parser sharing one mistake cannot agree: when
/// the length field (ICMPv4: byte 5, 32-bit words; ICMPv6: byte 4, 64-bit
/// words) is set, it covers the original datagram padded to 128 bytes and
/// a version-2 extension header with a valid checksum follows. An error
/// without extensions (length field 0) maps to an empty structure. Every
/// error of one router must carry the same bytes.
fn extension_structures(packets: &[Vec<u8>], family: Family) -> BTreeMap<u8, Vec<u8>> {
    let mut structures = BTreeMap::new();
    for packet in packets {
        let (from, icmp): (IpAddr, &[u8]) = match family {
            Family::V4 => match ipv4::Packet::new_checked(&packet[..]) {
                Ok(ip) if ip.protocol() == 1 => (ip.src_addr().into(), ip.into_payload()),
                _ => continue,
            },
            Family::V6 => match ipv6::Packet::new_checked(&packet[..]) {
                Ok(ip) if ip.next_header() == 58 => (ip.src_addr().into(), ip.into_payload()),
                _ => continue,
            },
        };
        let (time_exceeded, length, unit) = match family {
            Family::V4 => (11, icmp[5], 4),
            Family::V6 => (3, icmp[4], 8),
        };
        if icmp[0] != time_exceeded {
            continue;
        }
        let ttl = (1..=254u8)
            .find(|&t| CraftedPath::router(family, t) == from)
            .expect("from a crafted router");
        let structure = if length == 0 {
            Vec::new()
        } else {
            assert_eq!(usize::from(length) * unit, 128, "{family:?}: {icmp:02x?}");
            let ext = &icmp[8 + 128..];
            assert_eq!(ext[0] >> 4, 2, "extension version");
            assert!(icmpkit::wire::checksum::verify(ext), "extension checksum");
            ext.to_vec()
        };
        let earlier = structures.insert(ttl, structure.clone());
        assert!(
            earlier.is_none_or(|e| e == structure),
            "{family:?}: router {ttl} changed its extensions"
        );
    }
    structures
}

/// Traces the crafted MPLS path of `family` with raw and unprivileged
/// sockets: each router's labels (one MPLS object, class 1, c-type 1, its
/// entry checked on the wire by hand) come out of the raw socket's trace,
/// none out of the error queue's.
fn assert_mpls_labels(test: &str, family: Family) {
    let lab = lab_or_skip!(test);
    let path = mpls_path(&lab);
    let target = CraftedPath::target(family);
    let _inside = path.client().enter().unwrap();
    for privilege in [Privilege::Privileged, Privilege::Unprivileged] {
        let what = format!("{family:?} {privilege:?}");
        let capture = path.client().capture().expect("capture");
        let hops = traceroute_blocking(
            target.to_string(),
            &options(ProbeProtocol::Icmp, 1, 2, privilege),
        )
        .expect("trace");
        let structures = extension_structures(&capture.finish(), family);
        assert_eq!(structures.len(), 2, "{what}: both routers' errors");
        for (ttl, ext) in &structures {
            assert_eq!(ext.len(), 4 + 8, "{what}: header and one object");
            assert_eq!(&ext[4..8], &[0, 8, 1, 1], "MPLS object header");
            let entry = u32::from_be_bytes(ext[8..12].try_into().unwrap());
            assert_eq!(entry >> 12, 100 + u32::from(*ttl), "label");
            assert_eq!(entry & 0x1ff, 0x101, "S=1, TTL 1");
        }
        let addrs: Vec<Option<IpAddr>> = hops.iter().map(|h| h.address).collect();
        let expected: Vec<Option<IpAddr>> = path.path(family).into_iter().map(Some).collect();
        assert_eq!(addrs, expected, "{what}: {hops:#?}");
        assert!(hops[2].reached, "{what}");
        assert!(hops[2].responders[0].extensions.is_empty(), "{what}");
        for (hop, label) in hops.iter().zip([101, 102]) {
            assert_eq!(hop.packets_received, 2, "{what}: {hop:#?}");
            let ext = &hop.responders[0].extensions;
            if privilege == Privilege::Privileged {
                assert_eq!(
                    ext,
                    &vec![Extension::Mpls {
                        labels: vec![mpls_entry(label, 0, true)]
                    }],
                    "{what}: hop {}",
                    hop.distance
                );
                // What the CLI prints after the address.
                assert_eq!(
                    ext[0].to_string(),
                    format!("<MPLS:L={label},E=0,S=1,T=1>"),
                    "{what}"
                );
            } else {
                assert!(
                    ext.is_empty(),
                    "{what}: the error queue carries no extensions"
                );
            }
        }
    }
}

#[test]
fn mpls_labels_from_crafted_time_exceeded() {
    assert_mpls_labels("mpls_labels_from_crafted_time_exceeded", Family::V4);
}

/// ICMPv6 errors (RFC 4884 §4.2): the length field is the byte after the
/// checksum and counts 64-bit words.
#[test]
fn mpls_labels_from_crafted_icmpv6_time_exceeded() {
    assert_mpls_labels("mpls_labels_from_crafted_icmpv6_time_exceeded", Family::V6);
}

/// The extension structure the first router of [`Lab::sample_extensions_path`] must
/// send, written out from RFC 4884, RFC 4950 and RFC 5837 (not from the
/// builder), checksum aside.
fn interface_structure_by_hand(family: Family) -> Vec<u8> {
    let mut ext = vec![0x20, 0, 0, 0]; // version 2, checksum below
    // MPLS: length 12, class 1, c-type 1; 16004 tc 0 s 0 ttl 1, 3 tc 5 s 1 ttl 1.
    ext.extend([0, 12, 1, 1, 0x03, 0xe8, 0x40, 0x01, 0x00, 0x00, 0x3b, 0x01]);
    let (afi, address): (u8, Vec<u8>) = match interface_address(family) {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    // Interface information: class 2, c-type role 0 (incoming, bits 0-1)
    // | ifIndex 0x08 | IP address 0x04 | name 0x02 | MTU 0x01.
    let length = 4 + 4 + (4 + address.len()) + 16 + 4;
    ext.extend([0, length as u8, 2, 0x0f]);
    ext.extend(7u32.to_be_bytes());
    ext.extend([0, afi, 0, 0]); // AFI, reserved
    ext.extend(&address);
    ext.push(16); // name sub-object length, itself included
    ext.extend(IF_NAME.as_bytes());
    ext.extend([0, 0, 0]);
    ext.extend(1500u32.to_be_bytes());
    ext
}

/// Traces [`Lab::sample_extensions_path`] of `family` with a raw socket: the first
/// hop's responder carries both objects with exactly the fields sent, in
/// the order sent, shown as traceroute `-e` shows them; the bytes on the
/// wire are those of [`interface_structure_by_hand`]; the second hop and
/// the target carry none.
fn assert_interface_information(test: &str, family: Family) {
    let lab = lab_or_skip!(test);
    let path = lab.sample_extensions_path().expect("crafted path");
    let target = CraftedPath::target(family);
    let _inside = path.client().enter().unwrap();
    let capture = path.client().capture().expect("capture");
    let hops = traceroute_blocking(
        target.to_string(),
        &options(ProbeProtocol::Icmp, 1, 2, Privilege::Privileged),
    )
    .expect("trace");
    let structures = extension_structures(&capture.finish(), family);
    let mut by_hand = interface_structure_by_hand(family);
    let sent = &structures[&1];
    by_hand[2..4].copy_from_slice(&sent[2..4]); // verified by extension_structures
    assert_eq!(sent, &by_hand, "{family:?}: {sent:02x?}");
    assert_eq!(structures[&2], Vec::<u8>::new(), "router 2: no extensions");

    let addrs: Vec<Option<IpAddr>> = hops.iter().map(|h| h.address).collect();
    let expected: Vec<Option<IpAddr>> = path.path(family).into_iter().map(Some).collect();
    assert_eq!(addrs, expected, "{hops:#?}");
    let first = &hops[0];
    assert_eq!(first.packets_received, 2, "{first:#?}");
    assert_eq!(first.responders.len(), 1, "{first:#?}");
    let address = interface_address(family);
    let want = vec![
        Extension::Mpls {
            labels: LABELS.to_vec(),
        },
        Extension::InterfaceInfo {
            role: InterfaceRole::IncomingInterface,
            if_index: Some(7),
            address: Some(address),
            name: Some(IF_NAME.into()),
            mtu: Some(1500),
        },
    ];
    assert_eq!(first.responders[0].extensions, want, "{family:?}");
    for probe in &first.probes {
        let reply = probe.reply.as_ref().expect("answered");
        assert_eq!(reply.extensions, want, "{family:?}: probe {}", probe.seq);
    }
    let shown: Vec<String> = want.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "<MPLS:L=16004,E=0,S=0,T=1/L=3,E=5,S=1,T=1>".to_string(),
            format!("<INC:7,{address},\"{IF_NAME}\",mtu=1500>"),
        ]
    );
    for hop in &hops[1..] {
        assert!(hop.responders[0].extensions.is_empty(), "{hop:#?}");
    }
}

/// RFC 5837 interface information next to an MPLS label stack in one
/// ICMPv4 time exceeded.
#[test]
fn interface_information_from_crafted_time_exceeded() {
    assert_interface_information(
        "interface_information_from_crafted_time_exceeded",
        Family::V4,
    );
}

/// The same in ICMPv6, with an IPv6 address sub-object (AFI 2).
#[test]
fn interface_information_from_crafted_icmpv6_time_exceeded() {
    assert_interface_information(
        "interface_information_from_crafted_icmpv6_time_exceeded",
        Family::V6,
    );
}

/// Answers IPv4 echo requests in the current namespace `delay` late, from
/// a task of the current runtime (the kernel's own answers must be off).
fn answer_echo_after(delay: Duration) {
    use icmpkit::respond::{RespondConfig, RespondOptions, Server};
    let mut responder = Server::open(&RespondOptions {
        config: RespondConfig {
            delay,
            ..RespondConfig::default()
        },
        ipv6: false,
        ..RespondOptions::default()
    })
    .expect("responder");
    tokio::spawn(async move {
        loop {
            responder.next_event().await;
        }
    });
}

/// In a namespace `name` of `lab` where only a responder answers echo
/// requests, 100 ms late: starts a trace of 127.0.0.1 (one hop, two
/// probes, `wait` each), lets it send and leaves before any answer
/// (cancel-safe), then hands it to `away`.
fn with_answers_on_their_way<T>(
    lab: &Lab,
    name: &str,
    wait: Duration,
    away: impl AsyncFnOnce(icmpkit::trace::Tracer) -> T,
) -> T {
    let ns = lab.namespace(name).expect("namespace");
    ns.sysctl("net.ipv4.icmp_echo_ignore_all", "1").unwrap();
    let _inside = ns.enter().expect("enter");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        answer_echo_after(Duration::from_millis(100));
        let mut opts = options(ProbeProtocol::Icmp, 1, 2, Privilege::Privileged);
        opts.plan.max_ttl = 1;
        opts.plan.wait = wait;
        let mut tracer = icmpkit::trace::Tracer::start("127.0.0.1", &opts)
            .await
            .expect("tracer");
        let first = tokio::time::timeout(Duration::from_millis(20), tracer.next_event()).await;
        assert!(first.is_err(), "nothing answers within 20 ms: {first:?}");
        away(tracer).await
    })
}

/// Answers that reach the tracer while its caller is away (here sleeping
/// past the wait time between two pulls) still count: the responder
/// answers after 100 ms, the caller comes back after 600 ms (wait 300 ms).
#[test]
fn answers_queued_while_the_caller_is_away_are_not_lost() {
    use icmpkit::trace::TraceEvent;
    let lab = lab_or_skip!("answers_queued_while_the_caller_is_away_are_not_lost");
    let wait = Duration::from_millis(300);
    let hops = with_answers_on_their_way(&lab, "away", wait, async |mut tracer| {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut hops = Vec::new();
        while let Some(event) = tracer.next_event().await {
            if let TraceEvent::Hop(hop) = event {
                hops.push(hop);
            }
        }
        hops
    });
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert_eq!(
        (hops[0].packets_sent, hops[0].packets_received),
        (2, 2),
        "{hops:?}"
    );
    assert_eq!(hops[0].address, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

/// A stop drops only the probes still waiting for an answer: answers
/// already queued on the socket when the stop comes (they arrived while
/// the caller was away) are read first and count.
#[test]
fn a_stop_keeps_the_answers_already_queued() {
    use icmpkit::trace::TraceEvent;
    let lab = lab_or_skip!("a_stop_keeps_the_answers_already_queued");
    let wait = Duration::from_secs(10);
    let events = with_answers_on_their_way(&lab, "stopq", wait, async |mut tracer| {
        // The answers come at 100 ms and wait on the socket; then the stop.
        tokio::time::sleep(Duration::from_millis(400)).await;
        tracer.stop_handle().stop();
        let mut events = Vec::new();
        while let Some(event) = tokio::time::timeout(Duration::from_secs(5), tracer.next_event())
            .await
            .expect("the trace ends once stopped")
        {
            events.push(event);
        }
        events
    });
    let answered = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::Probe(p) if p.reply.is_some()))
        .count();
    assert_eq!(answered, 2, "{events:?}");
    let hops: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Hop(hop) => Some(hop),
            _ => None,
        })
        .collect();
    assert_eq!(hops.len(), 1, "{events:?}");
    assert_eq!((hops[0].packets_sent, hops[0].packets_received), (2, 2));
}

/// Gives the current thread its own mount namespace with `dir`'s `files`
/// (e.g. `/etc/netns/<ns>/resolv.conf`, written by [`Lab::etc_file`])
/// bound over `/etc/<file>`, as `ip netns exec` does for a command: the
/// library then reads them in process. Only this thread (and threads it
/// starts) sees them; the host's files stay untouched. Lab commands
/// (`ip netns add/del`) must not run from such a thread: their mounts
/// would stay in it.
fn bind_etc_files(dir: &Path, files: &[&str]) {
    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    // CLONE_NEWNS implies CLONE_FS: the other threads keep the host's view.
    unshare(CloneFlags::CLONE_NEWNS).expect("unshare the mount namespace");
    // Mounts made here must not propagate back to the host's namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .expect("make / a slave mount");
    for file in files {
        let etc = Path::new("/etc").join(file);
        mount(
            Some(&dir.join(file)),
            &etc,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("bind {} over {}: {e}", dir.display(), etc.display()));
    }
}

/// The name a DNS query asks about (its first question), dotted.
fn question_name(query: &[u8]) -> Option<String> {
    let mut labels = Vec::new();
    let mut at = 12; // after the header
    loop {
        let len = usize::from(*query.get(at)?);
        if len == 0 {
            return Some(labels.join("."));
        }
        let label = query.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += 1 + len;
    }
}

/// The reverse-lookup name of `address` (`4.3.2.1.in-addr.arpa`, or the
/// reversed nibbles under `ip6.arpa`).
fn ptr_name(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut nibbles: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|b| [b >> 4, b & 0xf])
                .map(|n| format!("{n:x}"))
                .collect();
            nibbles.reverse();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    }
}

/// What [`trace_cutting_calls_short`] saw.
#[derive(Debug)]
struct CutShortTrace {
    /// The hops `next_event` yielded, in the order it yielded them.
    yielded: Vec<Hop>,
    /// [`Tracer::hops`] at the end.
    stored: Vec<Hop>,
    /// Calls to `next_event` dropped before they returned.
    cut_short: usize,
    /// The names the silent name server was asked about.
    asked: Vec<String>,
}

/// How long a reverse lookup may take ([`TraceOptions::dns_timeout`]).
const SILENT_DNS_TIMEOUT: Duration = Duration::from_millis(300);
/// How long each `next_event` call is given before it is dropped: well
/// under [`SILENT_DNS_TIMEOUT`], so each unanswered lookup outlives several.
const CALL_BUDGET: Duration = Duration::from_millis(40);

/// Traces `target` from `ns` with reverse names on, `etc`'s hosts and
/// resolv.conf in place of the host's, and a "name server" at 127.0.0.1
/// inside `ns` that reads the queries and never answers. Every call to
/// `next_event` is dropped after [`CALL_BUDGET`] if it has not returned
/// (as a `select!` with a timer or Ctrl-C does).
fn trace_cutting_calls_short(ns: &Ns, etc: &Path, target: IpAddr) -> CutShortTrace {
    use icmpkit::trace::{TraceEvent, Tracer};
    let ns = ns.clone();
    let etc = etc.to_path_buf();
    // A thread of its own: its mount namespace ends with it.
    std::thread::spawn(move || {
        let _inside = ns.enter().expect("enter");
        bind_etc_files(&etc, &["hosts", "resolv.conf"]);
        let silent = std::net::UdpSocket::bind("127.0.0.1:53").expect("silent name server");
        silent.set_nonblocking(true).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (yielded, stored, cut_short) = runtime.block_on(async {
            let mut opts = options(ProbeProtocol::Icmp, 1, 1, Privilege::Privileged);
            opts.resolve_names = true;
            opts.dns_timeout = SILENT_DNS_TIMEOUT;
            let mut tracer = Tracer::start(&target.to_string(), &opts)
                .await
                .expect("tracer");
            let give_up = std::time::Instant::now() + Duration::from_secs(20);
            let (mut yielded, mut cut_short) = (Vec::new(), 0);
            loop {
                assert!(
                    std::time::Instant::now() < give_up,
                    "the trace never ended; yielded so far: {yielded:#?}"
                );
                match tokio::time::timeout(CALL_BUDGET, tracer.next_event()).await {
                    Ok(Some(TraceEvent::Hop(hop))) => yielded.push(hop),
                    Ok(Some(TraceEvent::Probe(_))) => {}
                    Ok(None) => break,
                    Err(_) => cut_short += 1,
                }
            }
            (yielded, tracer.hops(), cut_short)
        });
        let mut buf = [0u8; 512];
        let mut asked = Vec::new();
        while let Ok(n) = silent.recv(&mut buf) {
            asked.extend(question_name(&buf[..n]));
        }
        CutShortTrace {
            yielded,
            stored,
            cut_short,
            asked,
        }
    })
    .join()
    .expect("tracing thread")
}

/// `next_event` is cancel-safe while it waits for reverse names: a hop
/// whose lookup outlives the caller's patience (a name server that never
/// answers) is neither lost nor yielded twice, and its lookup goes on
/// across the calls (never started over, or it would never end). Hosts
/// file names come at once; the routers it does not name are asked
/// about, get no answer, and come out unnamed after the DNS timeout.
#[test]
fn hops_awaiting_reverse_names_survive_cancelled_calls() {
    let test = "hops_awaiting_reverse_names_survive_cancelled_calls";
    let lab = lab_or_skip!(test);
    let c = lab.chain(2).expect("chain");
    let r1_v4 = IpAddr::from(c.router_v4(1).unwrap());
    let r1_v6 = IpAddr::from(c.router_v6(1).unwrap());
    let hosts = format!("127.0.0.1 localhost\n{r1_v4} r1.iklab.test\n{r1_v6} r1-v6.iklab.test\n");
    lab.etc_file(c.client(), "hosts", &hosts).expect("hosts");
    lab.etc_file(c.client(), "resolv.conf", "nameserver 127.0.0.1\n")
        .expect("resolv.conf");
    let etc = Path::new("/etc/netns").join(c.client().name());
    let paths: [(Vec<IpAddr>, &str); 2] = [
        (
            c.hops_v4().into_iter().map(IpAddr::from).collect(),
            "r1.iklab.test",
        ),
        (
            c.hops_v6().into_iter().map(IpAddr::from).collect(),
            "r1-v6.iklab.test",
        ),
    ];
    for (path, r1_name) in paths {
        let target = *path.last().unwrap();
        let trace = trace_cutting_calls_short(c.client(), &etc, target);
        let what = format!("to {target}: {trace:#?}");
        let distances: Vec<u8> = trace.yielded.iter().map(|h| h.distance).collect();
        assert_eq!(distances, [1, 2, 3], "each hop once, in order, {what}");
        for (hop, &address) in trace.yielded.iter().zip(&path) {
            assert_eq!(hop.address, Some(address), "{what}");
            assert_eq!(hop.responders.len(), 1, "{what}");
        }
        let names: Vec<Option<&str>> = trace
            .yielded
            .iter()
            .map(|h| h.responders[0].name.as_deref())
            .collect();
        assert_eq!(names, [Some(r1_name), None, None], "{what}");
        // The unnamed routers were really asked about, once each: their
        // lookups ran on across the cancelled calls. Without the `dns`
        // feature only the hosts file names hops: nobody is asked.
        let mut asked = trace.asked.clone();
        asked.sort();
        let mut wanted = match cfg!(feature = "dns") {
            true => vec![ptr_name(path[1]), ptr_name(path[2])],
            false => Vec::new(),
        };
        wanted.sort();
        assert_eq!(asked, wanted, "{what}");
        // Each lookup took the whole DNS timeout, cut into several calls.
        let calls_per_lookup = SILENT_DNS_TIMEOUT.as_millis() / CALL_BUDGET.as_millis();
        assert!(
            !cfg!(feature = "dns") || trace.cut_short as u128 >= calls_per_lookup,
            "calls cut short while names were looked up, {what}"
        );
        // The tracer's own list agrees, names included.
        let stored: Vec<(u8, Option<IpAddr>, Option<&str>)> = trace
            .stored
            .iter()
            .map(|h| {
                let name = h.responders.first().and_then(|r| r.name.as_deref());
                (h.distance, h.address, name)
            })
            .collect();
        let yielded: Vec<(u8, Option<IpAddr>, Option<&str>)> = trace
            .yielded
            .iter()
            .map(|h| (h.distance, h.address, h.responders[0].name.as_deref()))
            .collect();
        assert_eq!(stored, yielded, "{what}");
    }
}

#[test]
fn time_exceeded_with_a_bad_checksum_is_not_a_hop() {
    let test = "time_exceeded_with_a_bad_checksum_is_not_a_hop";
    let lab = lab_or_skip!(test);
    icmpkit_lab::require_or_skip!(test, icmpkit_lab::require_tool("nft"));
    let c = lab.chain(1).expect("chain");
    // The router's kernel builds its time exceeded, then nft changes the
    // quoted IP header's TOS byte (0 in our probes) without fixing the
    // checksum: the quote still names our probe, the checksum says no.
    c.router(1)
        .unwrap()
        .nft(
            "add table ip iklab ; \
             add chain ip iklab ikout { type filter hook output priority 0 ; } ; \
             add rule ip iklab ikout icmp type time-exceeded @th,72,8 set 0xaa",
        )
        .expect("nft rule");
    let target = c.server_v4().to_string();
    let opts = options(ProbeProtocol::Icmp, 1, 3, Privilege::Privileged);
    let _inside = c.client().enter().expect("enter the client namespace");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (hops, corrupted) = rt.block_on(async {
        let mut tracer = icmpkit::trace::Tracer::start(&target, &opts)
            .await
            .expect("trace");
        while tracer.next_event().await.is_some() {}
        (tracer.hops(), tracer.corrupted())
    });
    assert_eq!(hops.len(), 2, "{hops:?}");
    assert!(
        responders(&hops[0]).is_empty(),
        "hop 1 answered: {:?}",
        hops[0]
    );
    assert_eq!(responders(&hops[1]), vec![IpAddr::V4(c.server_v4())]);
    assert_eq!(corrupted, 3, "each of hop 1's three answers counted");
}

/// `Tracer` is a `futures_core::Stream` of the same events as
/// `next_event`, and its `stop_handle()` ends it from another task at
/// once, not after the probes' 10 s wait: the probes nobody answered yet
/// (echo ignored on loopback) are unfinished, not lost (T7 of the new-user
/// trial: they were reported as timeouts), and no hop comes out.
#[test]
fn a_tracer_streams_its_events_until_its_stop_handle_ends_it() {
    use futures_core::Stream;
    use icmpkit::trace::{TraceEvent, Tracer};
    let lab = lab_or_skip!("a_tracer_streams_its_events_until_its_stop_handle_ends_it");
    let ns = lab.namespace("stream").expect("namespace");
    ns.sysctl("net.ipv4.icmp_echo_ignore_all", "1").unwrap();
    let _inside = ns.enter().expect("enter");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (events, elapsed) = runtime.block_on(async {
        let mut opts = options(ProbeProtocol::Icmp, 1, 2, Privilege::Privileged);
        opts.plan.max_ttl = 1;
        opts.plan.wait = Duration::from_secs(10);
        let mut tracer = Tracer::start("127.0.0.1", &opts).await.expect("tracer");
        let stop = tracer.stop_handle();
        let started = std::time::Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop.stop();
        });
        let mut events = Vec::new();
        loop {
            let polled = std::future::poll_fn(|cx| std::pin::Pin::new(&mut tracer).poll_next(cx));
            let event = tokio::time::timeout(Duration::from_secs(5), polled)
                .await
                .expect("the stream ends once stopped");
            let Some(event) = event else { break };
            events.push(event);
        }
        (events, started.elapsed())
    });
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let probes = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::Probe(p) if p.reply.is_none()))
        .count();
    let hops: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Hop(hop) => Some(hop),
            _ => None,
        })
        .collect();
    assert_eq!(probes, 0, "{events:?}");
    assert!(hops.is_empty(), "{events:?}");
}
