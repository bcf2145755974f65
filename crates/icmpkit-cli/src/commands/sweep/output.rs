//! What `icmpkit sweep` prints: fping's lines, JSON or CSV on stdout;
//! ICMP errors, per-probe lines, statistics and the summary on stderr
//! (fping prints its statistics there too).

use crate::output::errln;
use std::io::{BufWriter, Stdout, Write};

use crate::output::Guarded;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use icmpkit::sweep::{HostResult, SweepEvent, SweepSummary, TargetSet};

use crate::schema::{self, BigCount, Command, HostRecord, Record, StartDetail, SweepSummaryRecord};

use super::args::SweepArgs;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// fping's lines.
    Text,
    /// One JSON object per target, then a summary object.
    Json,
    /// A header and one row per target.
    Csv,
}

/// Which targets are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Alive,
    Unreachable,
}

/// The printer.
pub struct Output {
    format: Format,
    filter: Filter,
    quiet: bool,
    /// `-c`/`-C` (even `-c 1`): per-probe lines and per-target statistics
    /// instead of "is alive" lines.
    statistics: bool,
    list_rtts: bool,
    out: BufWriter<Guarded<Stdout>>,
    flush_each: bool,
    /// With several probes per target, results are printed at the end in
    /// input order (as fping does).
    held: Vec<HostResult>,
    /// fping's per-probe lines (`-c`/`-C`/`-l`, not quiet).
    per_probe: bool,
    /// `-e`: the RTT on "is alive" lines.
    show_rtt: bool,
    /// `-D`: the UNIX time before per-probe lines.
    timestamps: bool,
    /// `-s`: fping's statistics block instead of the summary line.
    global_stats: bool,
    /// `-x`/`-X`: one "Enough hosts reachable" line instead of a list.
    reachable_only: bool,
    /// fping pads names to the longest target name in per-target lines.
    name_width: usize,
    /// Per target (index): what the `(avg, loss)` of per-probe lines and
    /// `-Q`'s statistics count. Kept only when one of them is printed: a
    /// plain sweep of a /8 must not keep an entry per target.
    running: HashMap<u64, Running>,
    /// Whether `running` is kept (per-probe lines or `-Q`).
    keep_running: bool,
    /// Over every target: what `-s` prints.
    overall: Tally,
    /// ICMP errors received (`-s`: "other ICMP received").
    icmp_errors: u64,
}

/// Replies and losses of one target, or of all, over some time.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Probes answered or timed out.
    resolved: u64,
    received: u64,
    total: Duration,
    min: Option<Duration>,
    max: Option<Duration>,
}

impl Tally {
    fn reply(&mut self, rtt: Duration) {
        self.resolved += 1;
        self.received += 1;
        self.total += rtt;
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = Some(self.max.map_or(rtt, |m| m.max(rtt)));
    }

    fn avg(&self) -> Option<Duration> {
        (self.received > 0).then(|| self.total / self.received as u32)
    }
}

/// One target's counts for fping's running `(avg, loss)` and `-Q`.
#[derive(Debug, Default)]
struct Running {
    /// Probes sent so far, as far as answers and timeouts tell (the
    /// highest probe number heard of, plus one).
    sent: u64,
    all: Tally,
    /// Since the last `-Q` statistics.
    interval: Tally,
}

/// fping's integer loss percentage (`(sent - received) * 100 / sent`).
fn loss_percent(sent: u64, received: u64) -> u64 {
    match sent {
        0 => 0,
        s => s.saturating_sub(received) * 100 / s,
    }
}

/// A time in milliseconds as fping's `sprint_tm` writes it: three
/// significant-ish digits (0.123, 1.23, 12.3, 123).
fn fping_ms(d: Duration) -> String {
    let t = d.as_secs_f64() * 1000.0;
    if t < 1.0 {
        format!("{t:.3}")
    } else if t < 10.0 {
        format!("{t:.2}")
    } else if t < 100.0 {
        format!("{t:.1}")
    } else if t < 1_000_000.0 {
        format!("{t:.0}")
    } else {
        format!("{t:.3e}")
    }
}

/// `-D`'s prefix: `[seconds.5 digits] ` of the UNIX time.
fn unix_stamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("[{:.5}] ", now.as_secs_f64())
}

/// `-Q`'s heading: `[HH:MM:SS]` (UTC; fping writes local time).
fn clock_heading() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        % 86_400;
    format!(
        "[{:02}:{:02}:{:02}]",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Targets whose names are measured for fping's padding: beyond, names
/// are not padded (a scan that size is read by programs).
const PADDED_TARGETS: u64 = 1 << 20;

fn longest_name(targets: &TargetSet) -> usize {
    if targets.len() > PADDED_TARGETS {
        return 0;
    }
    (0..targets.len())
        .filter_map(|i| targets.name(i))
        .map(|n| n.len())
        .max()
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn status(h: &HostResult) -> &'static str {
    if h.is_alive() {
        "alive"
    } else if h.error().is_some() || h.send_error.is_some() {
        "error"
    } else {
        "unreachable"
    }
}

/// fping's name of an ICMP error.
fn error_text(e: &icmpkit::IcmpError) -> String {
    let v4 = e.family == icmpkit::wire::Family::V4;
    let what = match (v4, e.icmp_type, e.code) {
        (true, 3, 0) | (false, 1, 0) => "Network Unreachable",
        (true, 3, 1) | (false, 1, 3) => "Host Unreachable",
        (true, 3, 9 | 10 | 13) | (false, 1, 1) => "Administratively Prohibited",
        (false, 1, 5) => "Source Address Failed Policy",
        (false, 1, 6) => "Reject Route",
        (true, 3, _) | (false, 1, _) => "Unreachable",
        (true, 11, _) | (false, 3, _) => "Time Exceeded",
        _ => "Error",
    };
    format!("ICMP {what} (type {} code {})", e.icmp_type, e.code)
}

impl Output {
    /// A printer for `args`, sweeping `set` in the order of `seed`.
    pub fn new(format: Format, args: &SweepArgs, set: &TargetSet, seed: u64) -> Output {
        let targets = set.len();
        let quiet = args.quiet || args.squiet.is_some();
        let statistics = args.count.is_some() || args.vcount.is_some() || args.loop_forever;
        let filter = if args.alive {
            Filter::Alive
        } else if args.unreachable {
            Filter::Unreachable
        } else {
            Filter::All
        };
        let mut o = Output {
            format,
            filter,
            quiet,
            statistics,
            list_rtts: args.vcount.is_some(),
            out: BufWriter::with_capacity(1 << 16, crate::output::stdout()),
            flush_each: crate::output::stdout_is_terminal(),
            held: Vec::new(),
            per_probe: statistics && !quiet && format == Format::Text,
            show_rtt: args.elapsed,
            timestamps: args.timestamp,
            global_stats: args.stats,
            reachable_only: args.reachable.is_some() || args.fast_reachable.is_some(),
            name_width: if format == Format::Text {
                longest_name(set)
            } else {
                0
            },
            running: HashMap::new(),
            keep_running: statistics || args.squiet.is_some(),
            overall: Tally::default(),
            icmp_errors: 0,
        };
        match format {
            Format::Csv => {
                let _ = writeln!(o.out, "{}", schema::csv::SWEEP_HEADER);
            }
            Format::Json => {
                let start = Record::start(
                    Command::Sweep,
                    StartDetail::Sweep {
                        targets: BigCount(targets),
                        seed: BigCount(seed),
                    },
                );
                let _ = start.write_line(&mut o.out);
            }
            Format::Text => {}
        }
        o
    }

    /// Counts and prints what `event` calls for; `targets` names them.
    pub fn event(&mut self, event: &SweepEvent, targets: &TargetSet) {
        self.count(event);
        match event {
            SweepEvent::Host(h) if self.statistics => self.held.push(HostResult::clone(h)),
            SweepEvent::Host(h) => self.host(h),
            SweepEvent::Error { address, error, .. }
                if !self.quiet && self.format == Format::Text =>
            {
                errln!(
                    "{} from {} for ICMP Echo sent to {address}",
                    error_text(error),
                    error.from
                );
            }
            // Never quiet: an error, not a result (fping's words).
            SweepEvent::SendError {
                address, message, ..
            } if self.format == Format::Text => {
                errln!("{address}: error while sending ping: {message}");
            }
            SweepEvent::Reply {
                index,
                address,
                from,
                probe,
                rtt,
                bytes,
                late,
                duplicate,
                ..
            } if !self.quiet && self.format == Format::Text => {
                let from_note = if from != address {
                    format!(" from {from}")
                } else {
                    String::new()
                };
                if *late {
                    errln!(
                        "{address} : late reply{from_note} to probe [{probe}], {} ms (after the timeout)",
                        ms(*rtt)
                    );
                } else if *duplicate {
                    errln!(
                        "{address} : duplicate reply{from_note} to probe [{probe}], {} ms",
                        ms(*rtt)
                    );
                } else if self.per_probe {
                    let name = self.padded_name(targets, *index, *address);
                    let running = self.running_note(*index);
                    let _ = writeln!(
                        self.out,
                        "{}{name} : [{probe}], {bytes} bytes, {} ms {running}{from_note}",
                        self.stamp(),
                        fping_ms(*rtt)
                    );
                    self.maybe_flush();
                }
            }
            SweepEvent::Timeout {
                index,
                address,
                probe,
            } if self.per_probe => {
                let name = self.padded_name(targets, *index, *address);
                let running = self.running_note(*index);
                let _ = writeln!(
                    self.out,
                    "{}{name} : [{probe}], timed out {running}",
                    self.stamp()
                );
                self.maybe_flush();
            }
            _ => {}
        }
    }

    /// Keeps the per-target and overall counts `event` changes.
    fn count(&mut self, event: &SweepEvent) {
        match event {
            SweepEvent::Reply {
                index,
                probe,
                rtt,
                late: false,
                duplicate: false,
                ..
            } => {
                self.overall.reply(*rtt);
                if !self.keep_running {
                    return;
                }
                let r = self.running.entry(*index).or_default();
                r.sent = r.sent.max(u64::from(*probe) + 1);
                r.all.reply(*rtt);
                r.interval.reply(*rtt);
            }
            SweepEvent::Timeout { index, probe, .. } if self.keep_running => {
                let r = self.running.entry(*index).or_default();
                r.sent = r.sent.max(u64::from(*probe) + 1);
                r.all.resolved += 1;
                r.interval.resolved += 1;
            }
            SweepEvent::Error { .. } => self.icmp_errors += 1,
            _ => {}
        }
    }

    /// The target's name as given, padded as fping pads it.
    fn padded_name(&self, targets: &TargetSet, index: u64, address: std::net::IpAddr) -> String {
        let name = targets.name(index).unwrap_or_else(|| address.to_string());
        format!("{name:<width$}", width = self.name_width)
    }

    /// fping's `(avg, loss)` after a per-probe line.
    fn running_note(&self, index: u64) -> String {
        let Some(r) = self.running.get(&index) else {
            return "(NaN avg, 100% loss)".into();
        };
        let avg = r.all.avg().map_or_else(|| "NaN".into(), fping_ms);
        let loss = loss_percent(r.sent, r.all.received);
        format!("({avg} avg, {loss}% loss)")
    }

    fn stamp(&self) -> String {
        if self.timestamps {
            unix_stamp()
        } else {
            String::new()
        }
    }

    /// `-Q`: every target's statistics since the last call, in input
    /// order, under the time of day (fping's format, on stderr).
    pub fn interval_statistics(&mut self, targets: &TargetSet) {
        if self.format != Format::Text {
            return;
        }
        let _ = self.out.flush();
        let mut block = format!("{}\n", clock_heading());
        for index in 0..targets.len() {
            let interval = self
                .running
                .get_mut(&index)
                .map(|r| std::mem::take(&mut r.interval))
                .unwrap_or_default();
            let name = targets.name(index).unwrap_or_default();
            block.push_str(&self.tally_line(&name, interval.resolved, &interval));
            block.push('\n');
        }
        crate::output::errln!("{}", block.trim_end_matches('\n'));
    }

    /// `NAME : xmt/rcv/%loss = S/R/L%[, min/avg/max = ...]`, padded.
    fn tally_line(&self, name: &str, sent: u64, t: &Tally) -> String {
        let mut line = format!(
            "{name:<width$} : xmt/rcv/%loss = {sent}/{}/{}%",
            t.received,
            loss_percent(sent, t.received),
            width = self.name_width
        );
        if let (Some(min), Some(avg), Some(max)) = (t.min, t.avg(), t.max) {
            line.push_str(&format!(
                ", min/avg/max = {}/{}/{}",
                fping_ms(min),
                fping_ms(avg),
                fping_ms(max)
            ));
        }
        line
    }

    /// `-x`/`-X`: fping's verdict line on stdout, and its exit status.
    pub fn reachable(&mut self, required: u64, alive: u64) -> i32 {
        let enough = alive >= required;
        let verdict = if enough { "Enough" } else { "Not enough" };
        let _ = writeln!(
            self.out,
            "{verdict} hosts reachable (required: {required}, reachable: {alive})"
        );
        let _ = self.out.flush();
        if enough {
            crate::exit::OK
        } else {
            crate::exit::NO_REPLY
        }
    }

    /// Pushes the lines printed so far out.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn maybe_flush(&mut self) {
        if self.flush_each {
            let _ = self.out.flush();
        }
    }

    fn wanted(&self, h: &HostResult) -> bool {
        match self.filter {
            Filter::All => true,
            Filter::Alive => h.is_alive(),
            Filter::Unreachable => !h.is_alive(),
        }
    }

    fn host(&mut self, h: &HostResult) {
        if !self.wanted(h) {
            return;
        }
        let r = &h.report;
        match self.format {
            Format::Text if self.filter != Filter::All && !self.reachable_only => {
                let _ = writeln!(self.out, "{}", r.target);
            }
            // fping -q: no "is alive" lines (the exit status says it); -x
            // neither (one verdict line at the end).
            Format::Text if self.quiet || self.reachable_only => {}
            Format::Text => {
                let verdict = if h.is_alive() { "alive" } else { "unreachable" };
                match r.rtts.first().filter(|_| self.show_rtt) {
                    Some(rtt) => {
                        let _ = writeln!(
                            self.out,
                            "{} is {verdict} ({} ms)",
                            r.target,
                            fping_ms(*rtt)
                        );
                    }
                    None => {
                        let _ = writeln!(self.out, "{} is {verdict}", r.target);
                    }
                }
            }
            Format::Json => {
                let record = Record::Host(Box::new(HostRecord::new(h, status(h))));
                let _ = record.write_line(&mut self.out);
            }
            Format::Csv => {
                let opt = |d: Option<Duration>| d.map(ms).unwrap_or_default();
                let (error, from) = match (h.error(), &h.send_error) {
                    (Some(e), _) => (error_text(e), e.from.to_string()),
                    (None, Some(message)) => (format!("send error: {message}"), String::new()),
                    (None, None) => (String::new(), String::new()),
                };
                let _ = writeln!(
                    self.out,
                    "{},{},{},{},{},{:.1},{},{},{},{},{}",
                    schema::csv::field(&r.target),
                    r.address,
                    status(h),
                    r.packets_sent,
                    r.packets_received,
                    r.packet_loss * 100.0,
                    opt(r.rtt.min),
                    opt(r.rtt.avg),
                    opt(r.rtt.max),
                    schema::csv::field(&error),
                    from
                );
            }
        }
        self.maybe_flush();
    }

    /// fping's per-target statistics (`-c`) or RTT lists (`-C`), on stderr.
    fn statistics(&self, h: &HostResult) -> String {
        let r = &h.report;
        if self.list_rtts {
            let rtts: Vec<String> = h
                .probe_rtts
                .iter()
                .map(|d| d.map(fping_ms).unwrap_or_else(|| "-".into()))
                .collect();
            return format!(
                "{:<width$} : {}",
                r.target,
                rtts.join(" "),
                width = self.name_width
            );
        }
        let tally = Tally {
            resolved: r.packets_sent,
            received: r.packets_received,
            total: r.rtts.iter().sum(),
            min: r.rtt.min,
            max: r.rtt.max,
        };
        self.tally_line(&r.target, r.packets_sent, &tally)
    }

    /// fping's `-s` block (on stderr).
    fn global_statistics(&self, summary: &SweepSummary, unknown: u64) -> String {
        let answered = summary.replies - summary.late - summary.duplicates;
        let timeouts = summary
            .probes_sent
            .saturating_sub(summary.send_errors)
            .saturating_sub(answered);
        let o = &self.overall;
        let zero = Duration::ZERO;
        let mut b = String::from("\n");
        b += &format!(" {:7} targets\n", summary.targets);
        b += &format!(" {:7} alive\n", summary.alive);
        b += &format!(" {:7} unreachable\n", summary.targets - summary.alive);
        b += &format!(" {unknown:7} unknown addresses\n\n");
        b += &format!(" {timeouts:7} timeouts (waiting for response)\n");
        b += &format!(" {:7} ICMP Echos sent\n", summary.probes_sent);
        b += &format!(" {:7} ICMP Echo Replies received\n", summary.replies);
        b += &format!(" {:7} other ICMP received\n\n", self.icmp_errors);
        b += &format!(
            " {} ms (min round trip time)\n",
            fping_ms(o.min.unwrap_or(zero))
        );
        b += &format!(
            " {} ms (avg round trip time)\n",
            fping_ms(o.avg().unwrap_or(zero))
        );
        b += &format!(
            " {} ms (max round trip time)\n",
            fping_ms(o.max.unwrap_or(zero))
        );
        b += &format!(
            " {:12.3} sec (elapsed real time)\n",
            summary.elapsed.as_secs_f64()
        );
        b
    }

    /// Prints held results, then the summary; `unknown`: names that did
    /// not resolve.
    pub fn finish(&mut self, summary: &SweepSummary, seed: u64, unknown: u64) {
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|h| h.index);
        let text = self.format == Format::Text;
        for h in &held {
            // fping -c/-C print statistics instead of "is alive" lines,
            // unless -a/-u ask for a list.
            if !text || self.filter != Filter::All {
                self.host(h);
            }
        }
        let _ = self.out.flush();
        if text && !held.is_empty() {
            let lines: Vec<String> = held.iter().map(|h| self.statistics(h)).collect();
            // fping: a blank line after the per-probe lines.
            let gap = if self.per_probe { "\n" } else { "" };
            errln!("{gap}{}", lines.join("\n"));
        }
        if self.format == Format::Json {
            let record = Record::SweepSummary(SweepSummaryRecord::new(summary, seed));
            let _ = record.write_line(&mut self.out);
            let _ = self.out.flush();
        }
        if text && self.global_stats {
            // Its own last line is blank, as fping's.
            errln!("{}", self.global_statistics(summary, unknown));
        } else if !self.quiet {
            let secs = summary.elapsed.as_secs_f64();
            errln!(
                "{} targets: {} alive, {} unreachable ({} by ICMP error); {} probes{}, {} replies \
                 ({} late, {} duplicate, {} rejected, {} corrupted) in {secs:.3} s{}; seed {seed}",
                summary.targets,
                summary.alive,
                summary.unreachable(),
                summary.errors,
                summary.probes_sent,
                match summary.send_errors {
                    0 => String::new(),
                    n => format!(", {n} send errors"),
                },
                summary.replies,
                summary.late,
                summary.duplicates,
                summary.rejected,
                summary.corrupted,
                // A rate needs two sends: one probe has none to show.
                match summary.send_rate() {
                    0.0 => String::new(),
                    rate => format!(", sent at {rate:.0} pkt/s"),
                },
            );
        }
    }
}
