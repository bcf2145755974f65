//! How a trace is printed: traceroute's lines, mtr's report, JSON, CSV.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use icmpkit::RttSummary;
use icmpkit::resolve::Target;
use icmpkit::trace::{Hop, ProbeProtocol, Responder, TraceOptions};
use icmpkit::wire::Family;

use crate::schema::{Command, Record, StartDetail};

pub use super::fields::Figures;
use super::fields::{self, Field};

fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// traceroute's first line.
pub fn header(target: &Target, options: &TraceOptions) -> String {
    let ip_header = match target.family() {
        Family::V4 => 20,
        Family::V6 => 40,
    };
    // TCP SYNs carry no data, but 20 bytes of options (as traceroute's).
    let data = match options.protocol {
        ProbeProtocol::Icmp | ProbeProtocol::Udp => options.data_size,
        ProbeProtocol::Tcp => 0,
    };
    let transport = options.protocol.header_len();
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

/// A responder as traceroute names it; with `-e` (`extensions`) its RFC
/// 4884 objects after it, as traceroute `-e` prints them.
fn responder_label(r: &Responder, numeric: bool, extensions: bool) -> String {
    let mut label = match (&r.name, numeric) {
        (Some(name), false) => format!("{name} ({})", r.address),
        (None, false) => format!("{} ({})", r.address, r.address),
        _ => r.address.to_string(),
    };
    if !extensions {
        return label;
    }
    for e in &r.extensions {
        let _ = write!(label, " {e}");
    }
    label
}

/// One hop as traceroute prints it: ` 1  192.0.2.1  0.123 ms  0.110 ms`,
/// `*` per unanswered probe, a new address whenever the responder changes,
/// annotations (`!H`) after the time, RFC 4884 objects after the address
/// with `-e` (`extensions`). With several flows (`--flows`), one line per
/// responder instead ([`flows_lines`]).
pub fn hop_line(hop: &Hop, numeric: bool, extensions: bool) -> String {
    if hop.probes.iter().any(|p| p.flow != 0) {
        return flows_lines(hop, numeric, extensions);
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
                let _ = write!(line, " {}", responder_label(r, numeric, extensions));
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
fn flows_lines(hop: &Hop, numeric: bool, extensions: bool) -> String {
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
            responder_label(r, numeric, extensions),
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

/// How `--report` (and mtr's `-r`/`-w`) prints: mtr's fields (`-o`),
/// wide or not, extensions (`-e`), names, and with path-MTU discovery a
/// last `PMTU` column.
#[derive(Debug, Clone)]
pub struct ReportStyle {
    pub fields: Vec<Field>,
    pub wide: bool,
    pub extensions: bool,
    pub numeric: bool,
    pub pmtu: bool,
}

impl Default for ReportStyle {
    fn default() -> ReportStyle {
        ReportStyle {
            fields: fields::parse_order(fields::DEFAULT_ORDER).unwrap_or_default(),
            wide: false,
            extensions: false,
            numeric: false,
            pmtu: false,
        }
    }
}

/// mtr's host column: 33 characters from the line's start (the figures
/// are written over whatever passes it), unless wide.
const REPORT_HOST_END: usize = 33;

/// mtr 0.95's report, byte for byte where it can be: a `Start:` line
/// (ISO 8601, UTC here), `HOST:` and the local host name, then one line per
/// hop up to the destination (or up to one silent hop past the last that
/// answered, as mtr stops), each field written at its place in the line
/// whatever the one before printed (so `100.0%` loses its `%` to the
/// next field, as in mtr). Extra responders of a hop (ECMP) on `` `|-- ``
/// lines; with `-e` the RFC 4884 objects under their hop.
pub fn report<'a>(
    local_host: &str,
    start: SystemTime,
    hops: impl IntoIterator<Item = (&'a Hop, Figures)>,
    style: &ReportStyle,
) -> String {
    let hops: Vec<(&Hop, Figures)> = hops.into_iter().collect();
    let hops = &hops[..shown_hops(hops.iter().map(|(h, _)| *h)).min(hops.len())];
    let name = |r: &Responder| match (&r.name, style.numeric) {
        (Some(n), false) => n.clone(),
        _ => r.address.to_string(),
    };
    let first_name = |hop: &Hop| {
        hop.responders
            .first()
            .map_or_else(|| "???".to_string(), name)
    };
    let host_width = if style.wide {
        hops.iter()
            .map(|(h, _)| first_name(h).chars().count())
            .chain([local_host.chars().count()])
            .max()
            .unwrap_or(0)
    } else {
        REPORT_HOST_END
    };
    let mut out = format!("Start: {}\n", iso_time(start));
    let mut line = fixed(format!("HOST: {local_host:<host_width$}"), style.wide);
    let titles = style
        .fields
        .iter()
        .map(|f| format!("{:>w$}", f.title, w = f.width));
    put_fields(&mut line, titles, &style.fields);
    if style.pmtu {
        line.push_str("   PMTU");
    }
    out += &line;
    out.push('\n');
    for (hop, figures) in hops {
        let mut line = fixed(
            format!(" {:2}.|-- {:<host_width$}", hop.distance, first_name(hop)),
            style.wide,
        );
        let texts = style.fields.iter().map(|f| f.report_text(figures));
        put_fields(&mut line, texts, &style.fields);
        if style.pmtu {
            let value = hop.pmtu.map_or_else(|| "-".to_string(), |m| m.to_string());
            let _ = write!(line, " {value:>6}");
        }
        out += &line;
        out.push('\n');
        for r in hop.responders.iter().skip(1) {
            let _ = writeln!(out, "    |  `|-- {}", name(r));
        }
        if style.extensions {
            for r in &hop.responders {
                for e in &r.extensions {
                    let _ = writeln!(out, "    |   {e}");
                }
            }
        }
    }
    out
}

/// mtr's rows: up to the destination, else up to one hop past the last
/// that answered (none when nothing did).
fn shown_hops<'a>(hops: impl Iterator<Item = &'a Hop>) -> usize {
    let mut shown = 0;
    for (index, hop) in hops.enumerate() {
        if hop.reached {
            return index + 1;
        }
        if hop.is_alive() {
            shown = index + 2;
        }
    }
    shown
}

/// The line's start as mtr cuts it: the figures begin at column 33 (wide:
/// after the whole text).
fn fixed(mut start: String, wide: bool) -> String {
    if !wide {
        start = start.chars().take(REPORT_HOST_END).collect();
    }
    start
}

/// Writes each field's text at its place: a text longer than its field
/// is cut by the next field, as mtr's `snprintf(buf + len, ...)` does; the
/// last keeps all of it.
fn put_fields(line: &mut String, texts: impl Iterator<Item = String>, fields: &[Field]) {
    let last = fields.len().saturating_sub(1);
    for (index, (text, field)) in texts.zip(fields).enumerate() {
        if index == last {
            line.push_str(&text);
        } else {
            line.extend(text.chars().take(field.width));
        }
    }
}

/// mtr's `Start:` time, `2026-12-07T22:49:47+0000` (UTC).
pub fn iso_time(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_date(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+0000",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The Gregorian date of a day since 1970-01-01 (Howard Hinnant's
/// civil_from_days).
fn civil_date(days: u64) -> (i64, u32, u32) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The local host's name, as mtr's `HOST:` shows it (this UTS
/// namespace's; mtr's `UNKNOWNHOST` when it cannot be read).
pub fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "UNKNOWNHOST".to_string())
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

    /// `trace --report`'s table of `hops` (numeric), made on
    /// 2026-12-07 at 22:49:47 UTC on host `vm`.
    fn table(hops: &[Hop], style: ReportStyle) -> String {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_683_787);
        let rows = hops.iter().map(|h| (h, Figures::of_hop(h)));
        report(
            "vm",
            start,
            rows,
            &ReportStyle {
                numeric: true,
                ..style
            },
        )
    }

    /// [`table`]'s lines after its `Start:` line.
    fn table_lines(hops: &[Hop], style: ReportStyle) -> Vec<String> {
        table(hops, style)
            .lines()
            .skip(1)
            .map(String::from)
            .collect()
    }

    #[test]
    fn report_has_a_pmtu_column_with_path_mtu_discovery() {
        let silent = Hop::from_probes(3, Vec::new());
        let hops = [
            hop(1, "192.0.2.1", &[1500, 1500]),
            hop(2, "192.0.2.2", &[1400, 1400]),
            silent,
        ];
        let style = ReportStyle {
            pmtu: true,
            ..ReportStyle::default()
        };
        let text = table(&hops, style);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert!(lines[0].ends_with("StDev   PMTU"), "{text}");
        assert!(lines[1].starts_with("  1.|-- 192.0.2.1"), "{text}");
        assert!(lines[1].ends_with("   1500"), "{text}");
        assert!(lines[2].ends_with("   1400"), "{text}");
        assert!(lines[3].starts_with("  3.|-- ???") && lines[3].ends_with("      -"));
        // The column lines up over every row.
        let width = lines[1].len();
        assert!(lines[1..].iter().all(|l| l.len() == width), "{text}");
        // Without discovery: mtr's columns only.
        let plain = table(&hops, ReportStyle::default());
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
            hop_line(&hop, true, false),
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
        assert_eq!(hop_line(&single, true, false), " 3  192.0.2.3  0.010 ms");
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
        let table = table(&[hop], ReportStyle::default());
        let row: Vec<&str> = table.lines().nth(2).unwrap().split_whitespace().collect();
        // 1.|-- 192.0.2.1 0.0% 3 Last Avg Best Wrst StDev
        assert_eq!(&row[4..8], ["20.0", "23.3", "10.0", "40.0"], "{table}");
    }

    /// Hop 1 answered three times in 0.1 ms, hops 2 to 4 never.
    fn lab_path() -> Vec<Hop> {
        let probe = |ttl: u8, attempt: u16, answered: bool| ProbeResult {
            seq: u16::from(ttl) * 10 + attempt,
            ttl,
            flow: 0,
            attempt,
            size: None,
            reply: answered.then(|| ProbeReply {
                from: "10.77.1.1".parse().unwrap(),
                rtt: Duration::from_micros(100),
                kind: ReplyKind::TimeExceeded,
                annotation: None,
                reply_ttl: Some(64),
                extensions: Vec::new(),
            }),
            send_error: None,
        };
        (1..=4)
            .map(|ttl| Hop::from_probes(ttl, (0..3).map(|a| probe(ttl, a, ttl == 1)).collect()))
            .collect()
    }

    /// T9 of the new-user trial: mtr 0.95's `mtr -r -n -c 3` on a lab
    /// path whose second hop drops everything, byte for byte: `Start:`,
    /// `HOST:` with the local host name (not the target), `100.0` where
    /// the next field overwrote the `%`, and one silent hop past the last
    /// that answered.
    #[test]
    fn report_is_mtrs_byte_for_byte() {
        let want = "\
Start: 2026-12-07T22:49:47+0000
HOST: vm                          Loss%   Snt   Last   Avg  Best  Wrst StDev
  1.|-- 10.77.1.1                  0.0%     3    0.1   0.1   0.1   0.1   0.0
  2.|-- ???                       100.0     3    0.0   0.0   0.0   0.0   0.0
";
        assert_eq!(table(&lab_path(), ReportStyle::default()), want);
    }

    /// mtr's `-w` (the host column as wide as the longest name, header
    /// and rows two columns apart as in mtr) and `-o LS NA`.
    #[test]
    fn wide_report_and_field_order_are_mtrs() {
        let wide = ReportStyle {
            wide: true,
            ..ReportStyle::default()
        };
        let lines = table_lines(&lab_path(), wide);
        assert_eq!(
            lines,
            [
                "HOST: vm        Loss%   Snt   Last   Avg  Best  Wrst StDev",
                "  1.|-- 10.77.1.1  0.0%     3    0.1   0.1   0.1   0.1   0.0",
                "  2.|-- ???       100.0     3    0.0   0.0   0.0   0.0   0.0",
            ]
        );
        let ordered = ReportStyle {
            fields: fields::parse_order("LS NA").unwrap(),
            ..ReportStyle::default()
        };
        let lines = table_lines(&lab_path(), ordered);
        assert_eq!(
            lines,
            [
                "HOST: vm                          Loss%   Snt   Last   Avg",
                "  1.|-- 10.77.1.1                  0.0%     3    0.1   0.1",
                "  2.|-- ???                       100.0     3    0.0   0.0",
            ]
        );
    }

    /// traceroute's `-e`: RFC 4884 objects only when asked, on the hop
    /// line and in the report (they were always shown).
    #[test]
    fn extensions_only_with_e() {
        let mut hop = lab_path().remove(0);
        let mpls = icmpkit::trace::Extension::Mpls {
            labels: vec![icmpkit::wire::extension::MplsEntry {
                label: 16001,
                tc: 0,
                s: true,
                ttl: 1,
            }],
        };
        hop.responders[0].extensions = vec![mpls];
        let shown = " 1  10.77.1.1 <MPLS:L=16001,E=0,S=1,T=1>  0.100 ms";
        assert!(
            hop_line(&hop, true, true).starts_with(shown),
            "{}",
            hop_line(&hop, true, true)
        );
        assert!(!hop_line(&hop, true, false).contains('<'));
        let with = table(
            std::slice::from_ref(&hop),
            ReportStyle {
                extensions: true,
                ..ReportStyle::default()
            },
        );
        assert!(
            with.contains("    |   <MPLS:L=16001,E=0,S=1,T=1>\n"),
            "{with}"
        );
        let without = table(&[hop], ReportStyle::default());
        assert!(!without.contains("MPLS"), "{without}");
    }

    #[test]
    fn start_time_is_iso_8601() {
        let at = |secs| iso_time(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00+0000");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00+0000");
        assert_eq!(at(1_796_683_787), "2026-12-07T22:49:47+0000");
    }
}
