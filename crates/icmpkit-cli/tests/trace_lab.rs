//! `icmpkit trace` against real kernels in the lab: real routers' time
//! exceeded and unreachable errors, both families, every probe protocol,
//! raw and unprivileged sockets, a silent router, ECMP, `--fast` counted on
//! the wire, reverse names from the client namespace's own hosts file,
//! Ctrl-C while a name is looked up, and traceroute on the same paths.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Output;

use icmpkit_wire::Family;
use icmpkit_wire::ip::{ipv4, ipv6};

use icmpkit_lab::output_text as text;
use icmpkit_lab::sample::{IF_NAME, interface_address};
use icmpkit_lab::{Chain, CraftedPath, Lab, Ns, Reject, lab_or_skip};

mod common;
use common::{ICMPKIT, Running, chain_with_ping_sockets as chain, nft};

/// `trace --json`'s NDJSON stream as one document: the `start` record's
/// fields, `hops` (the `hop` records in order) and the `summary`'s fields.
/// Checks the stream's shape on the way.
fn trace_json(o: &Output) -> serde_json::Value {
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", text(o))))
        .collect();
    let (Some(start), Some(summary)) = (records.first(), records.last()) else {
        panic!("no records: {}", text(o));
    };
    assert_eq!(start["event"], "start", "{}", text(o));
    assert_eq!(start["schema_version"], 1, "{}", text(o));
    assert_eq!(summary["event"], "summary", "{}", text(o));
    let hops = &records[1..records.len() - 1];
    assert!(hops.iter().all(|h| h["event"] == "hop"), "{}", text(o));
    assert_eq!(summary["hops"], hops.len(), "{}", text(o));
    let mut doc = start.clone();
    doc["hops"] = serde_json::Value::Array(hops.to_vec());
    doc["path_mtu"] = summary["path_mtu"].clone();
    doc["reached"] = summary["reached"].clone();
    doc
}

fn icmpkit(ns: &Ns, args: &[&str]) -> Output {
    common::icmpkit(ns, "trace", args)
}

/// A traceroute hop line: its number, and per probe the address
/// (the last one named) and whether it was answered.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    hop: u8,
    /// (address, annotation) per answered probe; `None` for `*`.
    probes: Vec<Option<(IpAddr, Option<String>)>>,
}

/// Parses `-n` traceroute-style output (ours and traceroute's).
fn parse(out: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for l in out.lines() {
        let mut words = l.split_whitespace().peekable();
        let Some(hop) = words.next().and_then(|w| w.parse().ok()) else {
            continue;
        };
        let mut probes = Vec::new();
        let mut addr: Option<IpAddr> = None;
        while let Some(w) = words.next() {
            if w == "*" {
                probes.push(None);
            } else if let Ok(a) = w.parse::<IpAddr>() {
                addr = Some(a);
            } else if w == "ms" {
                let annotation = words
                    .peek()
                    .filter(|n| n.starts_with('!'))
                    .map(|s| s.to_string());
                if annotation.is_some() {
                    words.next();
                }
                probes.push(addr.map(|a| (a, annotation)));
            }
        }
        lines.push(Line { hop, probes });
    }
    lines
}

/// The responder of each hop line (first answered probe's).
fn addresses(lines: &[Line]) -> Vec<Option<IpAddr>> {
    lines
        .iter()
        .map(|l| l.probes.iter().flatten().map(|p| p.0).next())
        .collect()
}

fn v4_path(c: &Chain) -> Vec<Option<IpAddr>> {
    c.hops_v4().into_iter().map(|a| Some(a.into())).collect()
}

fn v6_path(c: &Chain) -> Vec<Option<IpAddr>> {
    c.hops_v6().into_iter().map(|a| Some(a.into())).collect()
}

#[test]
fn every_hop_in_order_every_protocol_family_and_socket_kind() {
    let lab = lab_or_skip!("every_hop_in_order_every_protocol_family_and_socket_kind");
    let c = chain(&lab, 3);
    for proto in ["-I", "-U", "-T"] {
        for kind in ["--privileged", "--unprivileged"] {
            for (dst, path) in [
                (c.server_v4().to_string(), v4_path(&c)),
                (c.server_v6().to_string(), v6_path(&c)),
            ] {
                let o = icmpkit(c.client(), &[proto, kind, "-n", "-q", "2", "-w", "2", &dst]);
                let out = text(&o);
                assert_eq!(o.status.code(), Some(0), "{proto} {kind} {dst}: {out}");
                let lines = parse(&out);
                assert_eq!(addresses(&lines), path, "{proto} {kind} {dst}:\n{out}");
                for (i, line) in lines.iter().enumerate() {
                    assert_eq!(line.hop as usize, i + 1, "{out}");
                    assert_eq!(line.probes.len(), 2, "{proto} {kind} {dst}: {out}");
                    assert!(
                        line.probes.iter().all(Option::is_some),
                        "{proto} {kind}: {out}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_silent_router_is_stars_and_the_trace_goes_on() {
    let lab = lab_or_skip!("a_silent_router_is_stars_and_the_trace_goes_on");
    icmpkit_lab::require_or_skip!(
        "a_silent_router_is_stars_and_the_trace_goes_on",
        icmpkit_lab::require_tool("nft")
    );
    let c = chain(&lab, 3);
    nft(
        c.router(2).unwrap(),
        "add table inet iklab ; add chain inet iklab ikout { type filter hook output priority 0 ; } ; \
         add rule inet iklab ikout icmp type time-exceeded drop ; \
         add rule inet iklab ikout icmpv6 type time-exceeded drop",
    );
    for (dst, mut path) in [
        (c.server_v4().to_string(), v4_path(&c)),
        (c.server_v6().to_string(), v6_path(&c)),
    ] {
        let o = icmpkit(c.client(), &["-n", "-q", "2", "-w", "0.5", &dst]);
        let out = text(&o);
        let lines = parse(&out);
        path[1] = None;
        assert_eq!(addresses(&lines), path, "{out}");
        assert_eq!(lines[1].probes, vec![None, None], "{out}");
        assert!(out.contains(" 2  * *"), "{out}");
    }
}

/// A router's unreachable/prohibit errors are rate-limited per peer by the
/// kernel (burst 5, then 1/s): one lab per case, one probe per hop.
#[test]
fn unreachable_and_prohibited_routes_are_annotated() {
    for (dst, annotation) in [
        ("10.200.0.9", "!H"),
        ("10.201.0.9", "!X"),
        ("fd00:200::9", "!N"),
        ("fd00:201::9", "!X"),
    ] {
        for kind in ["--privileged", "--unprivileged"] {
            let lab = lab_or_skip!("unreachable_and_prohibited_routes_are_annotated");
            let c = chain(&lab, 2);
            c.reject(Reject::Unreachable, "10.200.0.0/24").unwrap();
            c.reject(Reject::Prohibit, "10.201.0.0/24").unwrap();
            c.reject(Reject::Unreachable, "fd00:200::/64").unwrap();
            c.reject(Reject::Prohibit, "fd00:201::/64").unwrap();
            let r2: IpAddr = if dst.contains(':') {
                c.router_v6(2).unwrap().into()
            } else {
                c.router_v4(2).unwrap().into()
            };
            let o = icmpkit(c.client(), &["-n", "-q", "1", "-w", "1", kind, dst]);
            let out = text(&o);
            let lines = parse(&out);
            assert_eq!(
                lines.len(),
                2,
                "the trace stops at the rejecting router: {out}"
            );
            assert_eq!(
                lines[1].probes,
                vec![Some((r2, Some(annotation.to_string())))],
                "{kind} {dst}: {out}"
            );
        }
    }
}

#[test]
fn unprivileged_user_traces_with_icmp_udp_and_tcp() {
    let lab = lab_or_skip!("unprivileged_user_traces_with_icmp_udp_and_tcp");
    let c = chain(&lab, 2);
    for proto in ["-I", "-U", "-T"] {
        for (dst, path) in [
            (c.server_v4().to_string(), v4_path(&c)),
            (c.server_v6().to_string(), v6_path(&c)),
        ] {
            let o = c
                .client()
                .run_as(65534, 65534, ICMPKIT)
                .args(["trace", proto, "-n", "-q", "1", "-w", "1", &dst])
                .output()
                .unwrap();
            let out = text(&o);
            assert_eq!(o.status.code(), Some(0), "{proto} as nobody: {out}");
            assert_eq!(addresses(&parse(&out)), path, "{proto} as nobody: {out}");
        }
    }
}

#[test]
fn differential_against_traceroute() {
    let lab = lab_or_skip!("differential_against_traceroute");
    icmpkit_lab::require_or_skip!(
        "differential_against_traceroute",
        icmpkit_lab::require_tool("traceroute")
    );
    let c = chain(&lab, 3);
    for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
        let theirs = c
            .client()
            .command("traceroute")
            .args(["-I", "-n", "-q", "2", "-w", "1", &dst])
            .output()
            .unwrap();
        let theirs = text(&theirs);
        let ours = text(&icmpkit(
            c.client(),
            &["-I", "-n", "-q", "2", "-w", "1", &dst],
        ));
        let strip = |lines: Vec<Line>| -> Vec<(u8, Vec<Option<IpAddr>>)> {
            lines
                .into_iter()
                .map(|l| {
                    (
                        l.hop,
                        l.probes.into_iter().map(|p| p.map(|p| p.0)).collect(),
                    )
                })
                .collect()
        };
        assert_eq!(
            strip(parse(&ours)),
            strip(parse(&theirs)),
            "ours:\n{ours}\ntraceroute:\n{theirs}"
        );
        // Same header shape.
        assert!(
            ours.starts_with(&format!("traceroute to {dst} ({dst}), 30 hops max")),
            "{ours}"
        );
    }
}

#[test]
fn json_csv_and_report_outputs() {
    let lab = lab_or_skip!("json_csv_and_report_outputs");
    let c = chain(&lab, 1);
    let dst = c.server_v4().to_string();
    let o = icmpkit(c.client(), &["-n", "--json", "-q", "2", &dst]);
    let doc = trace_json(&o);
    let hops = doc["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[0]["address"], "10.1.0.2");
    assert_eq!(hops[1]["address"], dst.as_str());
    assert_eq!(hops[1]["reached"], true);
    assert_eq!(hops[0]["sent"], 2);
    assert_eq!(doc["reached"], true);
    assert_eq!(hops[0]["responders"][0]["reply_ttl"], 64);
    assert!(hops[0]["avg_ms"].as_f64().unwrap() > 0.0);
    assert!(hops[0]["avg_rtt"].is_null(), "the old name");
    let o = icmpkit(c.client(), &["-n", "--csv", "-q", "2", &dst]);
    let csv = String::from_utf8_lossy(&o.stdout).to_string();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    // ping's and sweep's names and units (not loss_pct, best_ms, stddev_ms).
    assert_eq!(
        rows[0][3..12],
        [
            "loss_percent",
            "sent",
            "received",
            "last_ms",
            "min_ms",
            "avg_ms",
            "max_ms",
            "mdev_ms",
            "jitter_ms"
        ],
        "{csv}"
    );
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows.iter().all(|r| r.len() == 16), "{csv}");
    assert_eq!(rows[2][1], dst.as_str());
    assert_eq!(rows[2][4], "2");
    let o = icmpkit(
        c.client(),
        &["-n", "--report", "-c", "3", "--interval", "0.05", &dst],
    );
    let report = text(&o);
    let hop2 = report
        .lines()
        .find(|l| l.starts_with("  2.|-- "))
        .expect(&report);
    assert!(
        hop2.contains(&dst) && hop2.contains("0.0%") && hop2.contains("    3 "),
        "{report}"
    );
}

/// client —1500— r1 —1400— r2 —1280— r3 —1500— server.
fn narrowing_chain(lab: &Lab) -> Chain {
    let c = chain(lab, 3);
    c.links()[1].mtu(1400).expect("link 2 MTU");
    c.links()[2].mtu(1280).expect("link 3 MTU");
    c
}

/// Each hop's `pmtu N` from our human output (on the hops where it changes).
fn pmtu_marks(out: &str) -> Vec<(u8, u32)> {
    out.lines()
        .filter_map(|l| {
            let hop = l.split_whitespace().next()?.parse().ok()?;
            let (_, after) = l.split_once("pmtu ")?;
            Some((hop, after.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// traceroute -F: DF set without path-MTU discovery, so a probe too big
/// for a link is refused by the router before it (`!F-1400`, shown at the
/// probe's TTL as traceroute shows it) and the trace ends there; without
/// -F the kernel fragments it and the trace gets through.
#[test]
fn dont_fragment_stops_at_the_narrow_link() {
    let lab = lab_or_skip!("dont_fragment_stops_at_the_narrow_link");
    let c = narrowing_chain(&lab);
    let dst = c.server_v4().to_string();
    for proto in ["-I", "-U"] {
        let args = ["-n", "-q", "1", "-w", "2", "--data-size", "1450", proto];
        let mut with_df = args.to_vec();
        with_df.extend(["-F", &dst]);
        let out = text(&icmpkit(c.client(), &with_df));
        let lines = parse(&out);
        assert_eq!(
            lines.len(),
            2,
            "{proto} -F: ends at the 1400-byte link: {out}"
        );
        assert_eq!(
            lines[1].probes,
            vec![Some((IpAddr::from(c.hops_v4()[0]), Some("!F-1400".into())))],
            "{proto}: {out}"
        );
        let mut fragmented = args.to_vec();
        fragmented.push(&dst);
        let out = text(&icmpkit(c.client(), &fragmented));
        assert_eq!(parse(&out).len(), 4, "{proto} without -F: {out}");
    }
    // -c belongs to --report: alone it would be silently ignored.
    let o = icmpkit(c.client(), &["-c", "5", &dst]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn path_mtu_discovery_finds_each_narrowing() {
    let lab = lab_or_skip!("path_mtu_discovery_finds_each_narrowing");
    let c = narrowing_chain(&lab);
    let targets = [c.server_v4().to_string(), c.server_v6().to_string()];
    for dst in &targets {
        for mode in [
            &["-I"][..],
            &["-I", "--unprivileged"],
            &["-U"],
            &["-U", "--unprivileged"],
            &["-T", "--privileged"],
        ] {
            let mut args = vec!["--mtu", "-n", "-q", "2", "-w", "2"];
            args.extend_from_slice(mode);
            args.push(dst);
            let o = icmpkit(
                c.client(),
                &["--json"].iter().chain(&args).copied().collect::<Vec<_>>(),
            );
            let doc: serde_json::Value = trace_json(&o);
            let hops = doc["hops"].as_array().unwrap();
            let pmtus: Vec<_> = hops.iter().map(|h| h["pmtu"].as_u64()).collect();
            assert_eq!(
                pmtus,
                vec![Some(1500), Some(1400), Some(1280), Some(1280)],
                "{args:?}: {doc}"
            );
            assert_eq!(hops[3]["reached"], true, "{args:?}: {doc}");
            assert_eq!(doc["path_mtu"], 1280, "{args:?}");
            // Every hop answered both of its probes: the ones refused on
            // the way were sent again, smaller, and not counted lost.
            assert!(hops.iter().all(|h| h["received"] == 2), "{args:?}: {doc}");
            let human = text(&icmpkit(c.client(), &args));
            assert_eq!(
                pmtu_marks(&human),
                vec![(1, 1500), (2, 1400), (3, 1280)],
                "{args:?}:\n{human}"
            );
            assert!(
                human.contains("Resume: pmtu 1280 hops 4"),
                "{args:?}:\n{human}"
            );
        }
    }
    // Unprivileged TCP probes are connect() calls: no SYN to size.
    let o = icmpkit(
        c.client(),
        &["--mtu", "-T", "--unprivileged", "-n", &targets[0]],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--mtu needs a raw socket"),
        "{}",
        text(&o)
    );
}

/// `--report --mtu`: mtr's table with each hop's path MTU as a last column;
/// CSV has it too.
#[test]
fn report_and_csv_show_each_hops_path_mtu() {
    let lab = lab_or_skip!("report_and_csv_show_each_hops_path_mtu");
    let c = narrowing_chain(&lab);
    for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
        for proto in ["-I", "-T"] {
            let args = [
                "--report",
                "--mtu",
                proto,
                "-n",
                "-c",
                "2",
                "--interval",
                "0.05",
                "-w",
                "2",
                &dst,
            ];
            let o = icmpkit(c.client(), &args);
            let report = text(&o);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {report}");
            // mtr's `Start:` line, then its `HOST:` line.
            let mut lines = report.lines().skip(1);
            let header = lines.next().unwrap_or_default();
            assert!(header.trim_end().ends_with("StDev   PMTU"), "{report}");
            // The last word of each hop row: its path MTU.
            let pmtus: Vec<&str> = lines
                .filter(|l| l.contains(".|-- "))
                .filter_map(|l| l.split_whitespace().last())
                .collect();
            assert_eq!(
                pmtus,
                ["1500", "1400", "1280", "1280"],
                "{args:?}:\n{report}"
            );
            assert!(report.contains(&dst), "{report}");
        }
        let o = icmpkit(
            c.client(),
            &["--csv", "--mtu", "-T", "-n", "-q", "1", "-w", "2", &dst],
        );
        let csv = text(&o);
        let pmtus: Vec<&str> = csv
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next())
            .collect();
        assert_eq!(pmtus, ["1500", "1400", "1280", "1280"], "{csv}");
    }
}

#[test]
fn path_mtu_matches_tracepath() {
    let lab = lab_or_skip!("path_mtu_matches_tracepath");
    icmpkit_lab::require_or_skip!(
        "path_mtu_matches_tracepath",
        icmpkit_lab::require_tool("tracepath")
    );
    let c = narrowing_chain(&lab);
    for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
        let theirs = c
            .client()
            .command("tracepath")
            .args(["-n", "-m", "8", &dst])
            .output()
            .unwrap();
        let theirs = text(&theirs);
        // tracepath: `Resume: pmtu 1280 hops 4 back 4`.
        let resume = |out: &str| {
            out.lines()
                .find_map(|l| l.trim().strip_prefix("Resume: pmtu "))
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        };
        let ours = text(&icmpkit(c.client(), &["--mtu", "-n", "-w", "2", &dst]));
        assert_eq!(resume(&theirs), Some("1280".into()), "tracepath:\n{theirs}");
        assert_eq!(
            resume(&ours),
            resume(&theirs),
            "ours:\n{ours}\ntracepath:\n{theirs}"
        );
        // tracepath marks `pmtu N` on the hop whose probe learnt it
        // (`1?:` for the interface, `2:` ...): the hops where ours changes.
        let marks = |out: &str| -> Vec<(u8, u32)> {
            out.lines()
                .filter_map(|l| {
                    let hop = l.split_whitespace().next()?.trim_end_matches([':', '?']);
                    let (_, after) = l.split_once("pmtu ")?;
                    Some((
                        hop.parse().ok()?,
                        after.split_whitespace().next()?.parse().ok()?,
                    ))
                })
                .collect()
        };
        assert_eq!(
            pmtu_marks(&ours),
            marks(&theirs),
            "ours:\n{ours}\ntracepath:\n{theirs}"
        );
        assert_eq!(pmtu_marks(&ours), vec![(1, 1500), (2, 1400), (3, 1280)]);
    }
}

/// Many routers rate-limit "fragmentation needed" (Linux does not, so nft
/// plays such a router): once one arrives, the probes in flight behind the
/// same bottleneck are sent again at once instead of waiting for refusals
/// that never come.
#[test]
fn path_mtu_survives_rate_limited_refusals() {
    let lab = lab_or_skip!("path_mtu_survives_rate_limited_refusals");
    icmpkit_lab::require_or_skip!(
        "path_mtu_survives_rate_limited_refusals",
        icmpkit_lab::require_tool("nft")
    );
    let c = narrowing_chain(&lab);
    for r in &c.routers()[..2] {
        nft(
            r,
            "add table inet iklab ; add chain inet iklab ikout { type filter hook output priority 0 ; } ; \
             add rule inet iklab ikout icmp type destination-unreachable limit rate over 1/second burst 3 packets drop ; \
             add rule inet iklab ikout icmpv6 type packet-too-big limit rate over 1/second burst 3 packets drop",
        );
    }
    for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
        // Three rounds of 30 TTLs in flight together: 29 refusals per round
        // at r1, of which the first few pass.
        let args = [
            "--json", "--mtu", "-n", "-q", "3", "-N", "90", "-w", "2", &dst,
        ];
        let o = icmpkit(c.client(), &args);
        let doc: serde_json::Value = trace_json(&o);
        let hops = doc["hops"].as_array().unwrap();
        let pmtus: Vec<_> = hops.iter().map(|h| h["pmtu"].as_u64()).collect();
        assert_eq!(
            pmtus,
            vec![Some(1500), Some(1400), Some(1280), Some(1280)],
            "{doc}"
        );
        for hop in hops {
            assert_eq!(hop["received"], 3, "{dst}: {hop}");
        }
    }
}

/// Probes the kernel refuses to send (no route) are not silent `*`s: the
/// reason goes to stderr and, when not one probe left, the exit is 2 (as
/// traceroute fails). The namespace has only `lo`: nothing leaves it.
#[test]
fn probes_that_cannot_be_sent_are_reported() {
    let lab = lab_or_skip!("probes_that_cannot_be_sent_are_reported");
    let ns = lab.namespace("noroute").unwrap();
    let o = icmpkit(&ns, &["-n", "-q", "1", "-w", "0.2", "-m", "3", "192.0.2.1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("3 of 3 probes could not be sent") && err.contains("unreachable"),
        "{err}"
    );
}

/// `-f` starts at a later hop; `-z` spaces the probes out (so a trace of
/// four probes with `-z 0.2` takes at least 0.6 s, where all-parallel
/// probing takes a few ms on this lab).
#[test]
fn first_hop_and_send_wait() {
    let lab = lab_or_skip!("first_hop_and_send_wait");
    let c = chain(&lab, 2);
    let server = c.server_v4().to_string();
    let o = icmpkit(
        c.client(),
        &["-n", "-q", "1", "-w", "1", "-f", "2", &server],
    );
    let lines = parse(&text(&o));
    assert_eq!(lines.first().map(|l| l.hop), Some(2), "{}", text(&o));
    assert_eq!(addresses(&lines), v4_path(&c)[1..].to_vec(), "{}", text(&o));
    let start = std::time::Instant::now();
    let o = icmpkit(
        c.client(),
        &["-n", "-q", "2", "-w", "1", "-m", "2", "-z", "0.2", &server],
    );
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(took >= std::time::Duration::from_millis(600), "{took:?}");
    assert_eq!(parse(&text(&o)).len(), 2, "{}", text(&o));
}

/// The probes (ICMP echo requests, UDP datagrams) sent to `dst` among
/// captured IP packets, counted per TTL.
fn probes_per_ttl(packets: &[Vec<u8>], dst: IpAddr) -> BTreeMap<u8, usize> {
    let mut per_ttl = BTreeMap::new();
    for packet in packets {
        let (to, ttl, protocol, payload): (IpAddr, u8, u8, &[u8]) = match packet[0] >> 4 {
            4 => {
                let Ok(ip) = ipv4::Packet::new_checked(&packet[..]) else {
                    continue;
                };
                (
                    ip.dst_addr().into(),
                    ip.ttl(),
                    ip.protocol(),
                    ip.into_payload(),
                )
            }
            _ => {
                let Ok(ip) = ipv6::Packet::new_checked(&packet[..]) else {
                    continue;
                };
                let to = ip.dst_addr().into();
                (to, ip.hop_limit(), ip.next_header(), ip.into_payload())
            }
        };
        let probe = matches!(
            (protocol, payload.first()),
            (1, Some(8)) | (58, Some(128)) | (17, _)
        );
        if probe && to == dst {
            *per_ttl.entry(ttl).or_default() += 1;
        }
    }
    per_ttl
}

/// `--fast`: once a hop answered (per flow), it gets no more probes. With
/// `-z` the answer to a hop's first probe (well under a millisecond here)
/// is in before its second probe is due, so each hop gets exactly one per
/// flow; without `--fast`, exactly `-q` per flow. Counted on the client's
/// wire, both families, ICMP and UDP, one and two flows.
#[test]
fn fast_sends_one_probe_to_each_hop_that_answers() {
    let lab = lab_or_skip!("fast_sends_one_probe_to_each_hop_that_answers");
    let c = chain(&lab, 2);
    for (dst, path) in [
        (IpAddr::from(c.server_v4()), v4_path(&c)),
        (c.server_v6().into(), v6_path(&c)),
    ] {
        let target = dst.to_string();
        for (proto, flows) in [("-I", "1"), ("-U", "1"), ("-U", "2")] {
            for (fast, queries) in [(false, 3), (true, 1)] {
                let per_hop = queries * flows.parse::<usize>().unwrap();
                let what = format!("{proto} --flows {flows} fast={fast} {dst}");
                let mut args = vec![
                    proto, "--flows", flows, "-n", "-q", "3", "-z", "0.05", "-w", "1", &target,
                ];
                if fast {
                    args.insert(0, "--fast");
                }
                let capture = c.client().capture().expect("capture");
                let o = icmpkit(c.client(), &args);
                let sent = probes_per_ttl(&capture.finish(), dst);
                let out = text(&o);
                assert_eq!(o.status.code(), Some(0), "{what}: {out}");
                let lines = parse(&out);
                assert_eq!(addresses(&lines), path, "{what}:\n{out}");
                for line in &lines {
                    assert_eq!(line.probes.len(), per_hop, "{what}:\n{out}");
                    assert!(line.probes.iter().all(Option::is_some), "{what}:\n{out}");
                }
                // Nothing beyond the destination either: it answered
                // (in well under the 50 ms of -z) before the next TTL was due.
                let want: BTreeMap<u8, usize> = (1..=3).map(|ttl| (ttl, per_hop)).collect();
                assert_eq!(sent, want, "{what}: probes per TTL on the wire\n{out}");
            }
        }
    }
}

/// `name (address)` of each hop line's first responder, as traceroute
/// prints it without `-n` (`None` for a silent hop).
fn names(out: &str) -> Vec<Option<(String, IpAddr)>> {
    out.lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u8>().is_ok())
        })
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(2).find_map(|pair| {
                let address = pair[1].strip_prefix('(')?.strip_suffix(')')?;
                Some((pair[0].to_string(), address.parse().ok()?))
            })
        })
        .collect()
}

/// Reverse names come from the client's own `/etc/hosts` (the canonical,
/// first name of a line, as glibc gives traceroute), also when
/// `/etc/resolv.conf` names no server; an address without a name shows as
/// `address (address)`; `-n` shows bare addresses. The only name server is
/// 127.0.0.1 inside the client namespace: no query leaves it.
#[test]
fn reverse_names_from_the_hosts_file_as_traceroute_shows_them() {
    let lab = lab_or_skip!("reverse_names_from_the_hosts_file_as_traceroute_shows_them");
    let c = chain(&lab, 2);
    let (r1, r2) = (c.router_v4(1).unwrap(), c.router_v4(2).unwrap());
    let (r1_v6, r2_v6) = (c.router_v6(1).unwrap(), c.router_v6(2).unwrap());
    // Aliases after each canonical name; the server has no name.
    let hosts = format!(
        "127.0.0.1 localhost\n\
         {r1} r1.iklab.test r1 first-router\n\
         {r2} r2.iklab.test r2\n\
         {r1_v6} r1-v6.iklab.test r1-v6\n\
         {r2_v6} r2-v6.iklab.test r2-v6 # the last router\n\
         {r1} not-the-first-line.iklab.test\n"
    );
    lab.etc_file(c.client(), "hosts", &hosts).expect("hosts");
    let expected = |dst: IpAddr| -> Vec<Option<(String, IpAddr)>> {
        let (first, second): (IpAddr, IpAddr) = if dst.is_ipv4() {
            (r1.into(), r2.into())
        } else {
            (r1_v6.into(), r2_v6.into())
        };
        let suffix = if dst.is_ipv4() { "" } else { "-v6" };
        vec![
            Some((format!("r1{suffix}.iklab.test"), first)),
            Some((format!("r2{suffix}.iklab.test"), second)),
            Some((dst.to_string(), dst)),
        ]
    };
    for resolv in ["nameserver 127.0.0.1\n", "# no name server at all\n"] {
        lab.etc_file(c.client(), "resolv.conf", resolv)
            .expect("resolv.conf");
        for dst in [IpAddr::from(c.server_v4()), c.server_v6().into()] {
            let what = format!("{dst} with resolv.conf {resolv:?}");
            let target = dst.to_string();
            let capture = c.client().capture().expect("capture");
            let o = icmpkit(c.client(), &["-q", "1", "-w", "1", &target]);
            let dns_destinations = udp_53_destinations(&capture.finish());
            let out = text(&o);
            assert_eq!(o.status.code(), Some(0), "{what}: {out}");
            assert_eq!(names(&out), expected(dst), "{what}:\n{out}");
            assert!(
                dns_destinations.iter().all(IpAddr::is_loopback),
                "{what}: DNS queries left the namespace: {dns_destinations:?}"
            );
            // The same names through the JSON report.
            let o = icmpkit(c.client(), &["--json", "-q", "1", "-w", "1", &target]);
            let doc: serde_json::Value = trace_json(&o);
            let json_names: Vec<_> = doc["hops"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["responders"][0]["name"].clone())
                .collect();
            let want: Vec<serde_json::Value> = expected(dst)
                .into_iter()
                .map(|e| match e {
                    Some((name, address)) if name != address.to_string() => name.into(),
                    _ => serde_json::Value::Null,
                })
                .collect();
            assert_eq!(json_names, want, "{what}: {doc}");
        }
    }
    for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
        let o = icmpkit(c.client(), &["-n", "-q", "1", "-w", "1", &dst]);
        let out = text(&o);
        let path = if dst.contains(':') {
            v6_path(&c)
        } else {
            v4_path(&c)
        };
        assert_eq!(addresses(&parse(&out)), path, "-n {dst}:\n{out}");
        assert!(
            !out.contains("iklab") && names(&out).iter().all(Option::is_none),
            "-n shows bare addresses:\n{out}"
        );
    }
}

/// traceroute (glibc's resolver) reads the same hosts file and prints the
/// same `name (address)` per hop.
#[test]
fn reverse_names_match_traceroute() {
    let lab = lab_or_skip!("reverse_names_match_traceroute");
    icmpkit_lab::require_or_skip!(
        "reverse_names_match_traceroute",
        icmpkit_lab::require_tool("traceroute")
    );
    let c = chain(&lab, 2);
    let mut hosts = String::from("127.0.0.1 localhost\n");
    for k in 1..=2 {
        let (v4, v6) = (c.router_v4(k).unwrap(), c.router_v6(k).unwrap());
        hosts.push_str(&format!(
            "{v4} gw{k}.iklab.test gw{k}\n{v6} gw{k}-v6.iklab.test\n"
        ));
    }
    lab.etc_file(c.client(), "hosts", &hosts).expect("hosts");
    lab.etc_file(c.client(), "resolv.conf", "nameserver 127.0.0.1\n")
        .expect("resolv.conf");
    for dst in [c.server_v4().to_string(), c.server_v6().to_string()] {
        let theirs = c
            .client()
            .command("traceroute")
            .args(["-I", "-q", "1", "-w", "1", &dst])
            .output()
            .unwrap();
        let theirs = text(&theirs);
        let ours = text(&icmpkit(c.client(), &["-I", "-q", "1", "-w", "1", &dst]));
        assert_eq!(names(&theirs).len(), 3, "traceroute:\n{theirs}");
        assert!(theirs.contains("gw1"), "traceroute:\n{theirs}");
        assert_eq!(
            names(&ours),
            names(&theirs),
            "ours:\n{ours}\ntraceroute:\n{theirs}"
        );
    }
}

/// Destinations of the DNS queries (UDP to port 53) among captured packets.
fn udp_53_destinations(packets: &[Vec<u8>]) -> Vec<IpAddr> {
    packets
        .iter()
        .filter_map(|packet| {
            let (to, protocol, payload): (IpAddr, u8, &[u8]) = match packet[0] >> 4 {
                4 => {
                    let ip = ipv4::Packet::new_checked(&packet[..]).ok()?;
                    (ip.dst_addr().into(), ip.protocol(), ip.into_payload())
                }
                _ => {
                    let ip = ipv6::Packet::new_checked(&packet[..]).ok()?;
                    (ip.dst_addr().into(), ip.next_header(), ip.into_payload())
                }
            };
            let port = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
            (protocol == 17 && port == 53).then_some(to)
        })
        .collect()
}

/// `-t` in hex sets the TOS byte / traffic class of every probe on the
/// wire, IPv4 and IPv6.
#[test]
fn tos_in_hex_is_on_every_probe() {
    let lab = lab_or_skip!("tos_in_hex_is_on_every_probe");
    let c = chain(&lab, 1);
    for (server, tos) in [
        (c.server_v4().to_string(), "0x10"),
        (c.server_v6().to_string(), "0xb8"),
    ] {
        let capture = c.client().capture().expect("capture");
        let o = icmpkit(
            c.client(),
            &["-n", "-q", "1", "-w", "1", "-t", tos, &server],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let probes = common::echo_request_tos(&capture.finish());
        let expected = u8::from_str_radix(&tos[2..], 16).unwrap();
        assert!(!probes.is_empty(), "no probe captured: {}", text(&o));
        assert!(probes.iter().all(|&t| t == expected), "{tos}: {probes:?}");
    }
}

/// `name` as a DNS query spells it (length-prefixed labels, then 0).
fn dns_name(name: &str) -> Vec<u8> {
    let mut encoded = Vec::new();
    for label in name.split('.') {
        encoded.push(label.len() as u8);
        encoded.extend_from_slice(label.as_bytes());
    }
    encoded.push(0);
    encoded
}

/// What [`interrupted_while_naming_hop_2`] saw.
struct Interrupted {
    stdout: String,
    stderr: String,
    /// From the last SIGINT to the end of the trace.
    ended_after: std::time::Duration,
}

/// Runs `icmpkit trace` from the client of a 2-router chain to its server
/// (IPv4, one probe per hop), with r1 named by the client's hosts file
/// and, as the only name server, 127.0.0.1 inside the client's namespace:
/// a socket held here that reads the queries and never answers. Once the
/// query about r2 comes (hop 2 is being named), sends `sigints` SIGINTs.
fn interrupted_while_naming_hop_2(lab: &Lab, c: &Chain, sigints: usize) -> Interrupted {
    use nix::sys::signal::Signal;
    use std::time::{Duration, Instant};
    let (r1, r2) = (c.router_v4(1).unwrap(), c.router_v4(2).unwrap());
    lab.etc_file(
        c.client(),
        "hosts",
        &format!("127.0.0.1 localhost\n{r1} r1.iklab.test\n"),
    )
    .expect("hosts");
    lab.etc_file(c.client(), "resolv.conf", "nameserver 127.0.0.1\n")
        .expect("resolv.conf");
    let silent = {
        let _inside = c.client().enter().expect("enter");
        std::net::UdpSocket::bind("127.0.0.1:53").expect("silent name server")
    };
    let server = c.server_v4().to_string();
    let mut trace = Running::start(c.client(), "trace", &["-q", "1", "-w", "1", &server]);
    let [a, b, c3, d] = r2.octets();
    let r2_query = dns_name(&format!("{d}.{c3}.{b}.{a}.in-addr.arpa"));
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        if let Ok(n) = silent.recv(&mut buf)
            && buf[..n].windows(r2_query.len()).any(|w| w == r2_query)
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(10) || !trace.is_running() {
            panic!("no query about r2 came:\n{}", trace.kill());
        }
    }
    for _ in 0..sigints {
        trace.signal(Signal::SIGINT);
        // Each signal seen on its own (two pending ones would be one).
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended_after = trace.wait_within(Duration::from_secs(5), Duration::from_millis(5), "SIGINT");
    let (_, stdout, stderr) = trace.finish();
    Interrupted {
        ended_after,
        stdout,
        stderr,
    }
}

/// The numbers of the hop lines of `out`.
fn hop_numbers(out: &str) -> Vec<u8> {
    out.lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Ctrl-C while a hop waits for its reverse name (a name server that never
/// answers) stops the trace, yet loses no hop line nor prints one twice:
/// the hop being named is printed once its lookup times out.
#[test]
fn ctrl_c_during_a_reverse_lookup_loses_no_hop_line() {
    let lab = lab_or_skip!("ctrl_c_during_a_reverse_lookup_loses_no_hop_line");
    let c = chain(&lab, 2);
    let (r1, r2) = (c.router_v4(1).unwrap(), c.router_v4(2).unwrap());
    let run = interrupted_while_naming_hop_2(&lab, &c, 1);
    let out = &run.stdout;
    assert!(run.stderr.is_empty(), "stderr: {}\n{out}", run.stderr);
    let numbers = hop_numbers(out);
    assert!(numbers.len() >= 2, "{out}");
    let consecutive: Vec<u8> = (1..=numbers.len() as u8).collect();
    assert_eq!(numbers, consecutive, "each hop once, in order:\n{out}");
    assert_eq!(
        names(out)[..2],
        [
            Some(("r1.iklab.test".to_string(), r1.into())),
            Some((r2.to_string(), r2.into())),
        ],
        "hop 2, interrupted while named, still printed:\n{out}"
    );
}

/// A second Ctrl-C leaves at once, without waiting for the name being
/// looked up (the name server's timeout is 500 ms).
#[test]
fn a_second_ctrl_c_leaves_without_waiting_for_names() {
    let lab = lab_or_skip!("a_second_ctrl_c_leaves_without_waiting_for_names");
    let c = chain(&lab, 2);
    let run = interrupted_while_naming_hop_2(&lab, &c, 2);
    let out = &run.stdout;
    assert!(run.stderr.is_empty(), "stderr: {}\n{out}", run.stderr);
    // Waiting for hop 2's name would print hop 2 (named or not, after up
    // to 0.5 s): its absence is the proof. The time bound only catches a
    // hang, loose enough for a loaded CI machine.
    assert_eq!(hop_numbers(out), [1], "hop 2 was still being named:\n{out}");
    assert!(
        run.ended_after < std::time::Duration::from_secs(2),
        "ended {:?} after the second SIGINT:\n{out}",
        run.ended_after
    );
}

/// The captured ICMP/ICMPv6 time exceeded errors from `router`.
fn time_exceeded_from(packets: &[Vec<u8>], router: IpAddr) -> Vec<Vec<u8>> {
    packets
        .iter()
        .filter(|p| match p.first().map(|b| b >> 4) {
            Some(4) => ipv4::Packet::new_checked(&p[..]).is_ok_and(|ip| {
                IpAddr::from(ip.src_addr()) == router && ip.protocol() == 1 && {
                    let icmp = ip.into_payload();
                    icmp.first() == Some(&11)
                }
            }),
            Some(6) => ipv6::Packet::new_checked(&p[..]).is_ok_and(|ip| {
                IpAddr::from(ip.src_addr()) == router && ip.next_header() == 58 && {
                    let icmp = ip.into_payload();
                    icmp.first() == Some(&3)
                }
            }),
            _ => false,
        })
        .cloned()
        .collect()
}

const TSHARK_FIELDS: &[&str] = &[
    "icmp.ext.checksum.status",
    "icmp.ext.class",
    "icmp.ext.ctype",
    "icmp.mpls.label",
    "icmp.mpls.exp",
    "icmp.mpls.s",
    "icmp.mpls.ttl",
    "icmp.int_info.role",
    "icmp.int_info.index",
    "icmp.int_info.afi",
    "icmp.int_info.ipv4",
    "icmp.int_info.ipv6",
    "icmp.int_info.name_length",
    "icmp.int_info.name",
    "icmp.int_info.mtu",
];

/// The first array of extension objects (elements with an `object` key)
/// anywhere in `doc`.
fn extension_objects(doc: &serde_json::Value) -> Option<&serde_json::Value> {
    match doc {
        serde_json::Value::Array(items)
            if items.first().is_some_and(|i| i.get("object").is_some()) =>
        {
            Some(doc)
        }
        serde_json::Value::Array(items) => items.iter().find_map(extension_objects),
        serde_json::Value::Object(map) => map.values().find_map(extension_objects),
        _ => None,
    }
}

/// tshark's dissection of `packets` (raw IP): per packet, field name →
/// values (`,`-joined when repeated).
fn tshark_extension_fields(name: &str, packets: &[Vec<u8>]) -> Vec<BTreeMap<String, String>> {
    let records: Vec<(&[u8], u32)> = packets.iter().map(|p| (&p[..], p.len() as u32)).collect();
    let file = common::TempFile::new(name, &common::pcap_file(65535, &records));
    let mut command = std::process::Command::new("tshark");
    command.args(["-n", "-r", file.path(), "-T", "fields", "-E", "separator=|"]);
    for field in TSHARK_FIELDS {
        command.args(["-e", field]);
    }
    let out = command.output().expect("run tshark");
    assert!(out.status.success(), "tshark: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            TSHARK_FIELDS
                .iter()
                .map(|f| f.to_string())
                .zip(line.split('|').map(str::to_owned))
                .collect()
        })
        .collect()
}

/// RFC 5837 interface information next to an MPLS label stack in the first
/// router's time exceeded, IPv4 and IPv6: `--json` carries both objects
/// with every field sent, in order, for the responder and for each probe;
/// the hop line shows them with `-e` (only) as traceroute `-e` does, and traceroute `-e`
/// on the same path shows the same; tshark dissects the same fields out of
/// the captured bytes.
#[test]
fn interface_information_and_mpls_labels_in_json_and_hop_lines() {
    let lab = lab_or_skip!("interface_information_and_mpls_labels_in_json_and_hop_lines");
    let path = lab.sample_extensions_path().expect("crafted path");
    let client = path.client();
    for family in [Family::V4, Family::V6] {
        let target = CraftedPath::target(family).to_string();
        let router = CraftedPath::router(family, 1);
        let address = interface_address(family);
        let capture = client.capture().expect("capture");
        let o = icmpkit(client, &["--json", "-n", "-q", "2", "-w", "1", &target]);
        let packets = capture.finish();
        let doc = trace_json(&o);
        let hops = doc["hops"].as_array().expect("hops");
        let addrs: Vec<&str> = hops.iter().filter_map(|h| h["address"].as_str()).collect();
        let path_addrs: Vec<String> = path.path(family).iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, path_addrs, "{doc}");
        let want = serde_json::json!([
            {
                "object": "mpls-label-stack",
                "entries": [
                    {"label": 16004, "tc": 0, "s": false, "ttl": 1},
                    {"label": 3, "tc": 5, "s": true, "ttl": 1},
                ],
            },
            {
                "object": "interface-information",
                "role": "incoming-interface",
                "ifindex": 7,
                "address": address.to_string(),
                "name": IF_NAME,
                "mtu": 1500,
            },
        ]);
        assert_eq!(hops[0]["responders"][0]["extensions"], want, "{doc}");
        for probe in hops[0]["probes"].as_array().unwrap() {
            assert_eq!(probe["reply"]["extensions"], want, "{probe}");
        }
        for hop in &hops[1..] {
            assert_eq!(hop["responders"][0]["extensions"], serde_json::json!([]));
        }

        // The hop line, and traceroute's (which puts every object in one
        // pair of brackets, `;` between them).
        let shown = [
            "MPLS:L=16004,E=0,S=0,T=1/L=3,E=5,S=1,T=1".to_string(),
            format!("INC:7,{address},\"{IF_NAME}\",mtu=1500"),
        ];
        // Only with -e, as traceroute (they were always shown).
        let o = icmpkit(client, &["-n", "-q", "1", "-w", "1", &target]);
        let plain = text(&o);
        let line = plain.lines().find(|l| l.starts_with(" 1 ")).expect(&plain);
        assert!(
            line.starts_with(&format!(" 1  {router}  ")) && !line.contains('<'),
            "without -e: {line:?}"
        );
        let o = icmpkit(client, &["-e", "-n", "-q", "1", "-w", "1", &target]);
        let ours = text(&o);
        let line = ours.lines().find(|l| l.starts_with(" 1 ")).expect(&ours);
        let want_line = format!(" 1  {router} <{}> <{}> ", shown[0], shown[1]);
        assert!(line.starts_with(&want_line), "{line:?}\nwant {want_line:?}");
        if icmpkit_lab::require_tool("traceroute").is_ok() {
            let theirs = client
                .command("traceroute")
                .args(["-I", "-e", "-n", "-q", "1", "-w", "1", &target])
                .output()
                .unwrap();
            let theirs = text(&theirs);
            let line = theirs
                .lines()
                .find(|l| l.starts_with(" 1 "))
                .expect(&theirs);
            let objects = line
                .strip_prefix(&format!(" 1  {router} <"))
                .and_then(|rest| rest.split_once('>'))
                .map(|(inside, _)| inside.split(';').collect::<Vec<_>>());
            // traceroute before 2.1.3 shows interface information raw:
            // class/c-type, then the payload in 32-bit words.
            let raw = match family {
                Family::V4 => {
                    "2/15:00000007,00010000,c0000221,1067652d,302f302f,312e3130,30000000,000005dc"
                }
                Family::V6 => {
                    "2/15:00000007,00020000,20010db8,00000000,00000000,00000033,1067652d,302f302f,312e3130,30000000,000005dc"
                }
            };
            assert!(
                objects.as_ref().is_some_and(|o| o.len() == 2
                    && o[0] == shown[0]
                    && (o[1] == shown[1] || o[1] == raw)),
                "traceroute: {line:?}\nours: {shown:?}"
            );
        } else {
            icmpkit_lab::report_skip(
                "interface_information_and_mpls_labels_in_json_and_hop_lines (traceroute -e part)",
                &"traceroute not on PATH",
            );
        }

        // tshark on the captured errors.
        let errors = time_exceeded_from(&packets, router);
        assert_eq!(errors.len(), 2, "{family:?}: two probes, two errors");
        // `decode --json` writes the same objects as the trace.
        let hex: String = errors[0].iter().map(|b| format!("{b:02x}")).collect();
        let o = std::process::Command::new(ICMPKIT)
            .args(["decode", "--json", "-q", &hex])
            .output()
            .unwrap();
        let decoded: serde_json::Value = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("decode: {e}: {l}")))
            .find(|r: &serde_json::Value| r["event"] == "packet")
            .unwrap_or_else(|| panic!("decode: no packet record: {}", text(&o)));
        assert_eq!(
            extension_objects(&decoded),
            Some(&want),
            "decode --json: {decoded}"
        );
        if icmpkit_lab::require_tool("tshark").is_err() {
            icmpkit_lab::report_skip(
                "interface_information_and_mpls_labels_in_json_and_hop_lines (tshark part)",
                &"tshark not on PATH",
            );
            continue;
        }
        let (afi, v4, v6) = match address {
            IpAddr::V4(a) => ("1", a.to_string(), String::new()),
            IpAddr::V6(a) => ("2", String::new(), a.to_string()),
        };
        let expected: BTreeMap<String, String> = [
            ("icmp.ext.checksum.status", "1"), // good
            ("icmp.ext.class", "1,2"),
            ("icmp.ext.ctype", "1,15"),
            ("icmp.mpls.label", "16004,3"),
            ("icmp.mpls.exp", "0,5"),
            ("icmp.mpls.s", "0,1"),
            ("icmp.mpls.ttl", "1,1"),
            ("icmp.int_info.role", "0"), // incoming
            ("icmp.int_info.index", "7"),
            ("icmp.int_info.afi", afi),
            ("icmp.int_info.ipv4", &v4),
            ("icmp.int_info.ipv6", &v6),
            ("icmp.int_info.name_length", "16"),
            ("icmp.int_info.name", IF_NAME),
            ("icmp.int_info.mtu", "1500"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let dissected = tshark_extension_fields(&format!("ifinfo-{family:?}.pcap"), &errors);
        assert_eq!(dissected, vec![expected; 2], "{family:?}");
    }
}

/// T7 of the new-user trial: Ctrl-C while hop 2's probes (a silent
/// router) still wait for their answer (`-w 5`). They were printed as
/// lost (`*`) and JSON counted them as timeouts; now hop 2 shows bare, as
/// traceroute interrupted leaves it (` 2 `), its JSON record has no probe,
/// and the hops that answered print as usual.
#[test]
fn ctrl_c_prints_no_unfinished_probe_as_lost() {
    use nix::sys::signal::Signal;
    use std::time::Duration;
    let lab = lab_or_skip!("ctrl_c_prints_no_unfinished_probe_as_lost");
    icmpkit_lab::require_or_skip!(
        "ctrl_c_prints_no_unfinished_probe_as_lost",
        icmpkit_lab::require_tool("nft")
    );
    let c = chain(&lab, 3);
    nft(
        c.router(2).unwrap(),
        "add table inet iklab ; add chain inet iklab ikout { type filter hook output priority 0 ; } ; \
         add rule inet iklab ikout icmp type time-exceeded drop",
    );
    let dst = c.server_v4().to_string();
    let interrupted = |extra: &[&str]| {
        let mut args = vec!["-n", "-q", "2", "-w", "5"];
        args.extend(extra);
        args.push(&dst);
        let mut trace = Running::start(c.client(), "trace", &args);
        std::thread::sleep(Duration::from_millis(1000));
        assert!(trace.is_running(), "ended before Ctrl-C");
        trace.signal(Signal::SIGINT);
        trace.wait_within(Duration::from_secs(3), Duration::from_millis(5), "SIGINT");
        let (status, stdout, stderr) = trace.finish();
        assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
        stdout
    };
    let distance = v4_path(&c).len();
    let out = interrupted(&[]);
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(lines.len(), distance, "{out}");
    assert_eq!(lines[1].trim_end(), " 2", "{out}");
    assert!(!out.contains('*'), "no probe printed as lost:\n{out}");
    let server: IpAddr = c.server_v4().into();
    let reached = parse(&out);
    let last = reached.last().expect(&out);
    assert_eq!(usize::from(last.hop), distance, "{out}");
    assert_eq!(last.probes.len(), 2, "{out}");
    assert!(
        last.probes
            .iter()
            .all(|p| p.as_ref().is_some_and(|(a, _)| *a == server)),
        "{out}"
    );

    let out = interrupted(&["--json"]);
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let hops: Vec<&serde_json::Value> = records.iter().filter(|r| r["event"] == "hop").collect();
    assert_eq!(hops.len(), distance, "{out}");
    assert_eq!(hops[1]["sent"], 0, "{out}");
    assert_eq!(hops[1]["probes"], serde_json::json!([]), "{out}");
    let timeouts = out.matches("\"reply\":null").count();
    assert_eq!(timeouts, 0, "no probe reported as timed out:\n{out}");
    assert_eq!(records.last().unwrap()["event"], "summary", "{out}");
}

/// The "N byte packets" of a traceroute-style header.
fn header_bytes(out: &str) -> Option<usize> {
    let first = out.lines().next()?;
    let (before, _) = first.rsplit_once(" byte packets")?;
    before.rsplit(' ').next()?.parse().ok()
}

/// The lengths of the TCP SYNs (no ACK) captured going to `dst`.
fn syn_lengths(packets: &[Vec<u8>], dst: IpAddr) -> Vec<usize> {
    let is_syn = |tcp: &[u8]| tcp.get(13).is_some_and(|f| f & 0x12 == 0x02);
    packets
        .iter()
        .filter(|p| match p.first().map(|b| b >> 4) {
            Some(4) => ipv4::Packet::new_checked(&p[..]).is_ok_and(|ip| {
                IpAddr::from(ip.dst_addr()) == dst
                    && ip.protocol() == 6
                    && is_syn(ip.into_payload())
            }),
            Some(6) => ipv6::Packet::new_checked(&p[..]).is_ok_and(|ip| {
                IpAddr::from(ip.dst_addr()) == dst
                    && ip.next_header() == 6
                    && is_syn(ip.into_payload())
            }),
            _ => false,
        })
        .map(Vec::len)
        .collect()
}

/// T5 of the new-user trial: `-T` says 60 byte packets (IPv4) and 80
/// (IPv6) as traceroute -T does (it said 40 and 60), and that is what
/// goes on the wire: raw SYNs carry Linux's 20 bytes of options, as
/// traceroute's and connect()'s do; unprivileged, the kernel's SYNs are
/// the same size.
#[test]
fn tcp_probes_are_60_and_80_byte_packets_as_traceroutes() {
    let lab = lab_or_skip!("tcp_probes_are_60_and_80_byte_packets_as_traceroutes");
    let c = chain(&lab, 1);
    for (dst, want) in [
        (IpAddr::from(c.server_v4()), 60),
        (IpAddr::from(c.server_v6()), 80),
    ] {
        let target = dst.to_string();
        for privilege in ["--privileged", "--unprivileged"] {
            let capture = c.client().capture().expect("capture");
            let args = ["-T", "-n", "-q", "1", "-w", "1", privilege, &target];
            let o = icmpkit(c.client(), &args);
            let packets = capture.finish();
            let out = text(&o);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {out}");
            assert_eq!(header_bytes(&out), Some(want), "{args:?}: {out}");
            let lengths = syn_lengths(&packets, dst);
            assert!(!lengths.is_empty(), "{args:?}: no SYN captured");
            assert!(lengths.iter().all(|&l| l == want), "{args:?}: {lengths:?}");
            assert!(
                out.lines().last().unwrap_or_default().contains(&target),
                "{out}"
            );
        }
        if icmpkit_lab::require_tool("traceroute").is_ok() {
            let theirs = c
                .client()
                .command("traceroute")
                .args(["-T", "-n", "-q", "1", "-w", "1", &target])
                .output()
                .unwrap();
            assert_eq!(
                header_bytes(&text(&theirs)),
                Some(want),
                "{}",
                text(&theirs)
            );
        } else {
            icmpkit_lab::report_skip(
                "tcp_probes_are_60_and_80_byte_packets_as_traceroutes (traceroute part)",
                &"traceroute not on PATH",
            );
        }
    }
}
