//! How a trace is printed: traceroute's lines, mtr's report, JSON, CSV.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit::RttSummary;
use icmpkit::resolve::Target;
use icmpkit::trace::{Hop, ProbeProtocol, Responder, TraceOptions};
use icmpkit::wire::Family;

use crate::schema::{Command, Record, StartDetail};

fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// traceroute's first line.
pub fn header(target: &Target, options: &TraceOptions) -> String {
    let ip_header = match target.family() {
        Family::V4 => 20,
        Family::V6 => 40,
    };
    // TCP SYNs carry no data (raw ones no options either).
    let (transport, data) = match options.protocol {
        ProbeProtocol::Icmp | ProbeProtocol::Udp => (8, options.data_size),
        ProbeProtocol::Tcp => (20, 0),
    };
    if options.plan.path_mtu.is_some() {
        return format!(
            "traceroute to {} ({}), {} hops max, path MTU discovery",
            target.name, target.address, options.plan.max_ttl
        );
    }
    format!(
        "traceroute to {} ({}), {} hops max, {} byte packets",
        target.name,
        target.address,
        options.plan.max_ttl,
        ip_header + transport + data
    )
}

fn responder_label(r: &Responder, numeric: bool) -> String {
    let mut label = match (&r.name, numeric) {
        (Some(name), false) => format!("{name} ({})", r.address),
        (None, false) => format!("{} ({})", r.address, r.address),
        _ => r.address.to_string(),
    };
    for e in &r.extensions {
        let _ = write!(label, " {e}");
    }
    label
}

/// One hop as traceroute prints it: ` 1  192.0.2.1  0.123 ms  0.110 ms`,
/// `*` per unanswered probe, a new address whenever the responder changes,
/// annotations (`!H`) after the time. With several flows (`--flows`), one
/// line per responder instead ([`flows_lines`]).
pub fn hop_line(hop: &Hop, numeric: bool) -> String {
    if hop.probes.iter().any(|p| p.flow != 0) {
        return flows_lines(hop, numeric);
    }
    let mut line = format!("{:2} ", hop.distance);
    let mut last: Option<IpAddr> = None;
    for probe in &hop.probes {
        let Some(reply) = &probe.reply else {
            line.push_str(" *");
            continue;
        };
        if last != Some(reply.from) {
            if let Some(r) = hop.responders.iter().find(|r| r.address == reply.from) {
                let _ = write!(line, " {}", responder_label(r, numeric));
            }
            last = Some(reply.from);
        }
        let _ = write!(line, "  {:.3} ms", ms(reply.rtt));
        if let Some(a) = reply.annotation {
            let _ = write!(line, " {a}");
        }
    }
    line
}

/// A hop probed with several flows, one line per responder with the flows
/// that reached it (as paris-traceroute and dublin-traceroute group them),
/// then the flows nobody answered:
///
/// ```text
///  2  192.0.2.1 [flows 0,2,3]  0.012 ms  0.004 ms  0.006 ms
///     192.0.2.2 [flows 1]  0.035 ms
///     * [flows 4]
/// ```
fn flows_lines(hop: &Hop, numeric: bool) -> String {
    let mut out = format!("{:2} ", hop.distance);
    let mut first = true;
    let mut start_line = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push_str("\n   ");
        }
    };
    for r in &hop.responders {
        start_line(&mut out);
        let _ = write!(
            out,
            " {} [flows {}]",
            responder_label(r, numeric),
            list(&r.flows)
        );
        for reply in hop.probes.iter().filter_map(|p| p.reply.as_ref()) {
            if reply.from != r.address {
                continue;
            }
            let _ = write!(out, "  {:.3} ms", ms(reply.rtt));
            if let Some(a) = reply.annotation {
                let _ = write!(out, " {a}");
            }
        }
    }
    let mut silent: Vec<u16> = hop
        .probes
        .iter()
        .filter(|p| p.reply.is_none())
        .map(|p| p.flow)
        .collect();
    silent.sort_unstable();
    silent.dedup();
    if !silent.is_empty() {
        start_line(&mut out);
        let _ = write!(out, " * [flows {}]", list(&silent));
    }
    out
}

fn list(flows: &[u16]) -> String {
    let items: Vec<String> = flows.iter().map(ToString::to_string).collect();
    items.join(",")
}

/// tracepath's ` pmtu N` after a hop line, on the first hop with a path
/// MTU and wherever it changes (`shown`: the last one printed).
pub fn mark_pmtu_change(line: &mut String, hop: &Hop, shown: &mut Option<u32>) {
    if let Some(pmtu) = hop.pmtu
        && *shown != Some(pmtu)
    {
        let _ = write!(line, "  pmtu {pmtu}");
        *shown = Some(pmtu);
    }
}

/// tracepath's closing line, `     Resume: pmtu 1280 hops 4`, when the path
/// MTU was discovered (hops: up to the destination, if reached).
pub fn resume(path_mtu: Option<u32>, hops: &[Hop]) -> String {
    let Some(pmtu) = path_mtu else {
        return String::new();
    };
    let mut line = format!("     Resume: pmtu {pmtu}");
    if let Some(hop) = hops.iter().find(|h| h.reached) {
        let _ = write!(line, " hops {}", hop.distance);
    }
    line.push('\n');
    line
}

/// mtr's `--report` table; extra responders of a hop (ECMP) on their own
/// lines. With path-MTU discovery (`pmtu`), a last column has each hop's
/// path MTU (`-` where none is known).
pub fn report(target: &Target, hops: &[Hop], numeric: bool, pmtu: bool) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "HOST: {:<28} Loss%   Snt   Last    Avg   Best   Wrst  StDev",
        target.name
    );
    if pmtu {
        out.push_str("   PMTU");
    }
    out.push('\n');
    for hop in hops {
        let name = |r: &Responder| match (&r.name, numeric) {
            (Some(n), false) => n.clone(),
            _ => r.address.to_string(),
        };
        let first = hop
            .responders
            .first()
            .map_or_else(|| "???".to_string(), name);
        let f = |d: Option<Duration>| d.map_or(0.0, ms);
        let _ = write!(
            out,
            "{:3}.|-- {:<28} {:5.1}% {:5} {:6.1} {:6.1} {:6.1} {:6.1} {:6.1}",
            hop.distance,
            first,
            hop.packet_loss * 100.0,
            hop.packets_sent,
            f(hop.last_rtt),
            f(hop.rtt.avg),
            f(hop.rtt.min),
            f(hop.rtt.max),
            f(hop.rtt.mdev),
        );
        if pmtu {
            let value = hop.pmtu.map_or_else(|| "-".to_string(), |m| m.to_string());
            let _ = write!(out, " {value:>6}");
        }
        out.push('\n');
        for r in hop.responders.iter().skip(1) {
            let _ = writeln!(out, "    |  `|-- {}", name(r));
        }
        for r in &hop.responders {
            for e in &r.extensions {
                let _ = writeln!(out, "    |   {e}");
            }
        }
    }
    out
}

/// `--json`'s first record: the destination and the plan.
pub fn json_start(target: &Target, options: &TraceOptions) -> String {
    let start = Record::start(
        Command::Trace,
        StartDetail::Trace {
            target: &target.name,
            address: target.address,
            protocol: options.protocol,
            max_hops: options.plan.max_ttl,
            flows: options.plan.flows,
        },
    );
    serde_json::to_string(&start).unwrap_or_default()
}

/// One hop's `--json` record.
pub fn json_hop(hop: &Hop) -> String {
    serde_json::to_string(&Record::Hop(Box::new(hop.into()))).unwrap_or_default()
}

/// `--json`'s last record (`path_mtu`: with `--mtu`, the path MTU to the
/// destination; each hop has its own `pmtu`).
pub fn json_summary(hops: &[Hop], path_mtu: Option<u32>) -> String {
    let summary = Record::TraceSummary {
        hops: hops.len(),
        reached: hops.iter().any(|h| h.reached),
        path_mtu,
    };
    serde_json::to_string(&summary).unwrap_or_default()
}

/// The hops as CSV (`schema::csv::TRACE_HEADER`), one line per hop and
/// responder (a silent hop has one line with an empty address). Where
/// paths split (ECMP), each responder's line has its own `received`, last
/// RTT and RTT statistics; `sent` and `loss_percent` are the hop's (what
/// no responder answered), so the lines' `received` add up to the hop's.
pub fn csv(hops: &[Hop]) -> String {
    let mut out = String::from(crate::schema::csv::TRACE_HEADER);
    out.push('\n');
    let f = |d: Option<Duration>| d.map_or(String::new(), |d| format!("{:.3}", ms(d)));
    let stats = |hop: &Hop, received: usize, last: Option<Duration>, rtt: &RttSummary| {
        format!(
            "{:.1},{},{},{},{},{},{},{},{}",
            hop.packet_loss * 100.0,
            hop.packets_sent,
            received,
            f(last),
            f(rtt.min),
            f(rtt.avg),
            f(rtt.max),
            f(rtt.mdev),
            f(rtt.jitter),
        )
    };
    for hop in hops {
        let pmtu = hop.pmtu.map_or(String::new(), |m| m.to_string());
        if hop.responders.is_empty() {
            let s = stats(hop, hop.packets_received, hop.last_rtt, &hop.rtt);
            let _ = writeln!(out, "{},,,{s},,,,{pmtu}", hop.distance);
        }
        for r in &hop.responders {
            let s = if hop.responders.len() == 1 {
                stats(hop, hop.packets_received, hop.last_rtt, &hop.rtt)
            } else {
                stats(
                    hop,
                    r.received,
                    r.rtts.last().copied(),
                    &RttSummary::of(&r.rtts),
                )
            };
            let join = |items: Vec<String>| items.join(" ").replace(',', ";");
            let _ = writeln!(
                out,
                "{},{},{},{s},{},{},{},{pmtu}",
                hop.distance,
                r.address,
                r.name.clone().unwrap_or_default().replace(',', ";"),
                r.reply_ttl.map_or(String::new(), |t| t.to_string()),
                join(r.annotations.iter().map(ToString::to_string).collect()),
                join(r.extensions.iter().map(ToString::to_string).collect()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use icmpkit::trace::{ProbeReply, ProbeResult, ReplyKind};

    fn hop(distance: u8, from: &str, sizes: &[u32]) -> Hop {
        let probes = sizes
            .iter()
            .enumerate()
            .map(|(attempt, &size)| ProbeResult {
                seq: u16::from(distance) * 10 + attempt as u16,
                ttl: distance,
                flow: 0,
                attempt: attempt as u16,
                size: Some(size),
                reply: Some(ProbeReply {
                    from: from.parse().unwrap(),
                    rtt: Duration::from_millis(2),
                    kind: ReplyKind::TimeExceeded,
                    annotation: None,
                    reply_ttl: Some(64),
                    extensions: Vec::new(),
                }),
                send_error: None,
            })
            .collect();
        Hop::from_probes(distance, probes)
    }

    fn target() -> Target {
        Target {
            name: "192.0.2.9".into(),
            address: "192.0.2.9".parse().unwrap(),
            scope_id: 0,
        }
    }

    #[test]
    fn report_has_a_pmtu_column_with_path_mtu_discovery() {
        let silent = Hop::from_probes(3, Vec::new());
        let hops = [
            hop(1, "192.0.2.1", &[1500, 1500]),
            hop(2, "192.0.2.2", &[1400, 1400]),
            silent,
        ];
        let table = report(&target(), &hops, true, true);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].ends_with("StDev   PMTU"), "{table}");
        assert!(lines[1].starts_with("  1.|-- 192.0.2.1"), "{table}");
        assert!(lines[1].ends_with("   1500"), "{table}");
        assert!(lines[2].ends_with("   1400"), "{table}");
        assert!(lines[3].starts_with("  3.|-- ???") && lines[3].ends_with("      -"));
        // The column lines up over every row.
        let width = lines[1].len();
        assert!(lines[1..].iter().all(|l| l.len() == width), "{table}");
        // Without discovery: mtr's columns only.
        let plain = report(&target(), &hops, true, false);
        assert!(
            !plain.contains("PMTU") && !plain.contains("1500"),
            "{plain}"
        );
    }

    /// T1 of the new-user trial: on an ECMP hop each responder's CSV line
    /// has its own count and RTTs; their `received` add up to the hop's.
    #[test]
    fn csv_splits_an_ecmp_hop_by_responder() {
        let probe = |flow: u16, from: &str, rtt_ms: u64| ProbeResult {
            seq: flow,
            ttl: 2,
            flow,
            attempt: 0,
            size: None,
            reply: Some(ProbeReply {
                from: from.parse().unwrap(),
                rtt: Duration::from_millis(rtt_ms),
                kind: ReplyKind::TimeExceeded,
                annotation: None,
                reply_ttl: Some(63),
                extensions: Vec::new(),
            }),
            send_error: None,
        };
        let lost = ProbeResult {
            reply: None,
            ..probe(3, "192.0.2.1", 0)
        };
        let hop = Hop::from_probes(
            2,
            vec![
                probe(0, "192.0.2.1", 2),
                probe(1, "192.0.2.2", 8),
                probe(2, "192.0.2.1", 4),
                lost,
            ],
        );
        let table = csv(&[hop]);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 2, "{table}");
        // hop,address,name,loss_percent,sent,received,last_ms,min_ms,avg_ms,max_ms,...
        assert_eq!(
            &rows[0][..10],
            [
                "2",
                "192.0.2.1",
                "",
                "25.0",
                "4",
                "2",
                "4.000",
                "2.000",
                "3.000",
                "4.000"
            ],
            "{table}"
        );
        assert_eq!(
            &rows[1][..10],
            [
                "2",
                "192.0.2.2",
                "",
                "25.0",
                "4",
                "1",
                "8.000",
                "8.000",
                "8.000",
                "8.000"
            ],
            "{table}"
        );
    }

    /// T3 of the new-user trial: with `--flows` each responder gets a line
    /// naming its flows, instead of 24 RTTs interleaved with addresses.
    #[test]
    fn flows_are_grouped_by_responder() {
        let probe = |flow: u16, from: Option<&str>| ProbeResult {
            seq: flow,
            ttl: 2,
            flow,
            attempt: 0,
            size: None,
            reply: from.map(|from| ProbeReply {
                from: from.parse().unwrap(),
                rtt: Duration::from_micros(10 + u64::from(flow)),
                kind: ReplyKind::TimeExceeded,
                annotation: None,
                reply_ttl: Some(63),
                extensions: Vec::new(),
            }),
            send_error: None,
        };
        let hop = Hop::from_probes(
            2,
            vec![
                probe(0, Some("192.0.2.1")),
                probe(1, Some("192.0.2.2")),
                probe(2, Some("192.0.2.1")),
                probe(3, None),
            ],
        );
        assert_eq!(
            hop_line(&hop, true),
            " 2  192.0.2.1 [flows 0,2]  0.010 ms  0.012 ms\n    192.0.2.2 [flows 1]  0.011 ms\n    * [flows 3]"
        );
        // One flow: traceroute's line, unchanged.
        let single = Hop::from_probes(
            3,
            vec![ProbeResult {
                ttl: 3,
                ..probe(0, Some("192.0.2.3"))
            }],
        );
        assert_eq!(hop_line(&single, true), " 3  192.0.2.3  0.010 ms");
    }

    /// mtr's column order: Last, Avg, Best, Wrst, StDev (the average was
    /// printed under Best and the minimum under Avg).
    #[test]
    fn report_columns_are_mtrs() {
        let probe = |attempt: u16, rtt_ms: u64| ProbeResult {
            seq: attempt,
            ttl: 1,
            flow: 0,
            attempt,
            size: None,
            reply: Some(ProbeReply {
                from: "192.0.2.1".parse().unwrap(),
                rtt: Duration::from_millis(rtt_ms),
                kind: ReplyKind::TimeExceeded,
                annotation: None,
                reply_ttl: Some(64),
                extensions: Vec::new(),
            }),
            send_error: None,
        };
        let hop = Hop::from_probes(1, vec![probe(0, 10), probe(1, 40), probe(2, 20)]);
        let table = report(&target(), &[hop], true, false);
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        // 1.|-- 192.0.2.1 0.0% 3 Last Avg Best Wrst StDev
        assert_eq!(&row[4..8], ["20.0", "23.3", "10.0", "40.0"], "{table}");
    }
}
