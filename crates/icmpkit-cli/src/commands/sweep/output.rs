//! What `icmpkit sweep` prints: fping's lines, JSON or CSV on stdout;
//! ICMP errors, per-probe lines, statistics and the summary on stderr
//! (fping prints its statistics there too).

use crate::output::errln;
use std::io::{BufWriter, Stdout, Write};

use crate::output::Guarded;
use std::time::Duration;

use icmpkit::sweep::{HostResult, SweepEvent, SweepSummary};

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
    /// A printer for `args`, sweeping `targets` in the order of `seed`.
    pub fn new(format: Format, args: &SweepArgs, targets: u64, seed: u64) -> Output {
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
            quiet: args.quiet,
            statistics: args.count.is_some() || args.vcount.is_some(),
            list_rtts: args.vcount.is_some(),
            out: BufWriter::with_capacity(1 << 16, crate::output::stdout()),
            flush_each: crate::output::stdout_is_terminal(),
            held: Vec::new(),
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

    /// Prints what `event` calls for.
    pub fn event(&mut self, event: &SweepEvent) {
        match event {
            SweepEvent::Host(h) if self.statistics => self.held.push(h.clone()),
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
                } else if self.statistics {
                    let _ = writeln!(
                        self.out,
                        "{address} : [{probe}], {bytes} bytes, {} ms{from_note}",
                        ms(*rtt)
                    );
                    self.maybe_flush();
                }
            }
            _ => {}
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
            Format::Text if self.filter != Filter::All => {
                let _ = writeln!(self.out, "{}", r.target);
            }
            // fping -q: no "is alive" lines (the exit status says it).
            Format::Text if self.quiet => {}
            Format::Text => {
                let verdict = if h.is_alive() { "alive" } else { "unreachable" };
                let _ = writeln!(self.out, "{} is {verdict}", r.target);
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
    fn statistics(&self, h: &HostResult) {
        let r = &h.report;
        if self.list_rtts {
            let rtts: Vec<String> = h
                .probe_rtts
                .iter()
                .map(|d| d.map(ms).unwrap_or_else(|| "-".into()))
                .collect();
            errln!("{} : {}", r.target, rtts.join(" "));
            return;
        }
        let loss = (r.packet_loss * 100.0).round();
        match (r.rtt.min, r.rtt.avg, r.rtt.max) {
            (Some(min), Some(avg), Some(max)) => errln!(
                "{} : xmt/rcv/%loss = {}/{}/{loss}%, min/avg/max = {}/{}/{}",
                r.target,
                r.packets_sent,
                r.packets_received,
                ms(min),
                ms(avg),
                ms(max)
            ),
            _ => errln!(
                "{} : xmt/rcv/%loss = {}/{}/{loss}%",
                r.target,
                r.packets_sent,
                r.packets_received
            ),
        }
    }

    /// Prints held results, then the summary.
    pub fn finish(&mut self, summary: &SweepSummary, seed: u64) {
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
        if text {
            for h in &held {
                self.statistics(h);
            }
        }
        if self.format == Format::Json {
            let record = Record::SweepSummary(SweepSummaryRecord::new(summary, seed));
            let _ = record.write_line(&mut self.out);
            let _ = self.out.flush();
        }
        if !self.quiet {
            let secs = summary.elapsed.as_secs_f64();
            errln!(
                "{} targets: {} alive, {} unreachable ({} by ICMP error); {} probes{}, {} replies \
                 ({} late, {} duplicate, {} rejected, {} corrupted) in {secs:.3} s, sent at {:.0} pkt/s; seed {seed}",
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
                summary.send_rate(),
            );
        }
    }
}
