//! `icmpkit send`: craft a message from flags, send it, print what comes
//! back decoded with its RTT (scapy's `sr1` from the command line).

mod args;

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use icmpkit::craft::{
    Answer, AnswerKind, IpOptions, MessageSpec, SendEvent, SendOptions, SendReport, Sender,
    expects_reply, parse_code, parse_type, type_label,
};
use icmpkit::resolve::{Target, resolve};
use icmpkit::wire::Family;

pub use args::SendArgs;

use crate::commands::decode::hex::parse_hex;
use crate::exit;
use crate::output::errln;
use crate::packet_view::{Meta, PacketView, Style};
use crate::schema::{Command, Record, SendAnswer, StartDetail};

/// How long a request waits for its answer unless `-W` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the command; returns the exit code.
pub fn run(args: SendArgs) -> i32 {
    crate::runtime::block_on(run_async(args), exit::ERROR)
}

async fn run_async(args: SendArgs) -> i32 {
    let family = args.family.family();
    let target = match resolve(&args.host, family).await {
        Ok(t) => t,
        Err(e) => return exit::fail(&e),
    };
    let (spec, opts) = match describe(&args, &target) {
        Ok(x) => x,
        Err(e) => return exit::fail(&e),
    };
    let expects_reply = expects_reply(&spec);
    let label = type_label(spec.family, spec.msg_type);
    let mut sender = match Sender::open(spec, target.address, &opts) {
        Ok(s) => s,
        Err(e) => return exit::fail(&worded(&e)),
    };
    if let Err(e) = exit::drop_privileges() {
        return exit::fail(&e);
    }
    let style = Style::from_flags(args.json, args.verbose);
    if style == Style::Json {
        let start = Record::start(
            Command::Send,
            StartDetail::Send {
                target: &target.name,
                address: target.address,
            },
        );
        let _ = start.write_line(&mut crate::output::stdout());
    } else {
        // A closed or full stdout is the reader's business, not a panic.
        let _ = writeln!(
            crate::output::stdout(),
            "SEND {} ({}): {label}{}",
            target.name,
            target.address,
            if sender.crafts_ip_header() {
                ", crafted IP header"
            } else {
                ""
            }
        );
    }
    let mut answered_by_reply = std::collections::HashSet::new();
    while let Some(event) = sender.next_event().await {
        if let SendEvent::Answer(a) = &event
            && a.kind == AnswerKind::Reply
        {
            answered_by_reply.insert(a.index);
        }
        print_event(&event, &target, args.source, style);
    }
    let report = sender.report();
    print_summary(&report, style);
    let all_replied = answered_by_reply.len() as u64 == report.sent;
    match (report.sent, expects_reply) {
        (0, _) => exit::ERROR,
        (_, false) => exit::OK,
        (_, true) if all_replied => exit::OK,
        _ => exit::NO_REPLY,
    }
}

/// Turns the flags into the message and how to send it.
fn describe(args: &SendArgs, target: &Target) -> Result<(MessageSpec, SendOptions), String> {
    let family = target.family();
    let msg_type = parse_type(family, &args.msg_type).map_err(|e| worded(&e))?;
    let mut spec = MessageSpec::new(family, msg_type);
    if let Some(code) = &args.code {
        spec.code = parse_code(family, msg_type, code).map_err(|e| worded(&e))?;
    }
    spec.id = args.id;
    spec.sequence = args.seq;
    spec.gateway = args.gateway;
    spec.mtu = args.mtu;
    spec.pointer = args.pointer;
    spec.mask = args.mask;
    spec.target = args.target;
    spec.destination = args.destination;
    spec.originate = args.originate;
    spec.receive = args.receive;
    spec.transmit = args.transmit;
    spec.local = args.local;
    spec.interface = args.interface.as_deref().map(|i| match i.parse() {
        Ok(q) => q,
        Err(never) => match never {},
    });
    spec.rest_of_header = args.rest_of_header;
    spec.data = payload(args, spec.family)?;
    // Checked here too, so that a field the type lacks is reported before
    // any socket is asked for.
    spec.validate().map_err(|e| worded(&e))?;

    let timeout = match args.timeout {
        Some(t) => t,
        None if expects_reply(&spec) => DEFAULT_TIMEOUT,
        None => Duration::ZERO,
    };
    let mut ip = IpOptions::default();
    ip.ttl = args.ttl;
    ip.tos = args.tos;
    ip.dont_fragment = args.df.then_some(true);
    ip.ip_id = args.ip_id;
    ip.source = args.source;
    ip.interface = args.bind_interface.clone();
    let mut opts = SendOptions::default();
    opts.count = args.count;
    opts.interval = args.interval;
    opts.timeout = timeout;
    opts.ip = ip;
    opts.any_source = args.any_source;
    opts.scope_id = target.scope_id;
    Ok((spec, opts))
}

/// Options the library refuses by the names `send` has long flags for
/// (a crafted message's fields, the IP header's, the run's).
const LONG_FLAGS: &[&str] = &[
    "type",
    "code",
    "id",
    "seq",
    "gateway",
    "mtu",
    "pointer",
    "mask",
    "target",
    "destination",
    "originate",
    "receive",
    "transmit",
    "local",
    "interface",
    "rest-of-header",
    "data",
    "ttl",
    "ip-id",
    "df",
    "source",
    "count",
    "interval",
    "timeout",
];

/// A library error worded for `send`: a refused option by its flag
/// (`--gateway does not go with ...`).
fn worded(error: &icmpkit::Error) -> String {
    match error.invalid_option() {
        Some(invalid) if LONG_FLAGS.contains(&invalid.option) => {
            format!("invalid option: --{} {}", invalid.option, invalid.reason)
        }
        _ => exit::worded(error),
    }
}

/// The payload from `--data`, `--hex`, `--file` or `--size`/`--pattern`,
/// at most what one packet of `family` carries.
fn payload(args: &SendArgs, family: Family) -> Result<Option<Vec<u8>>, String> {
    let data = if let Some(text) = &args.data {
        text.as_bytes().to_vec()
    } else if let Some(hex) = &args.hex {
        parse_hex(hex).map_err(|e| format!("--hex: {e}"))?
    } else if let Some(path) = &args.file {
        std::fs::read(path).map_err(|e| format!("--file {}: {e}", path.display()))?
    } else if let Some(size) = args.size {
        let pattern = match &args.pattern {
            Some(p) => match parse_hex(p).map_err(|e| format!("--pattern: {e}"))? {
                // An empty pattern would silently mean the default fill.
                empty if empty.is_empty() => {
                    return Err("--pattern: no hex digits (give bytes to repeat, e.g. ff00)".into());
                }
                pattern => pattern,
            },
            None => Vec::new(),
        };
        fill(usize::from(size), &pattern)
    } else {
        return Ok(None);
    };
    let max = family.max_icmp_data();
    if data.len() > max {
        return Err(format!(
            "payload of {} bytes is too large for {} (max {max})",
            data.len(),
            match family {
                Family::V4 => "IPv4",
                Family::V6 => "IPv6",
            }
        ));
    }
    Ok(Some(data))
}

/// `size` bytes of `pattern` repeated; without a pattern each byte is its
/// offset (ping's fill).
fn fill(size: usize, pattern: &[u8]) -> Vec<u8> {
    match pattern {
        [] => (0..size).map(|i| i as u8).collect(),
        p => p.iter().copied().cycle().take(size).collect(),
    }
}

fn print_event(event: &SendEvent, target: &Target, source: Option<std::net::IpAddr>, style: Style) {
    let mut out = crate::output::stdout_locked();
    let family = target.family();
    match event {
        SendEvent::Sent { index, message } => {
            let meta = Meta {
                time: Some(unix_now()),
                src: source,
                dst: Some(target.address),
                ..Meta::default()
            };
            let view = PacketView::new(family, message, meta);
            if style == Style::Json {
                let _ = Record::SendSent {
                    index: *index,
                    packet: &view,
                }
                .write_line(&mut out);
            } else {
                let _ = write!(out, "#{index} sent  ");
                let _ = view.write(style, &mut out);
            }
        }
        SendEvent::Answer(answer) => print_answer(&mut out, answer, family, style),
        SendEvent::Timeout { index } => {
            if style == Style::Json {
                let _ = Record::SendTimeout { index: *index }.write_line(&mut out);
            } else {
                let _ = writeln!(out, "#{index} no answer");
            }
        }
        SendEvent::SendError { index, error } => {
            if style == Style::Json {
                let _ = Record::SendRefused {
                    index: *index,
                    message: error,
                }
                .write_line(&mut out);
            } else {
                errln!("icmpkit: #{index}: send failed: {error}");
            }
        }
    }
}

fn print_answer(out: &mut impl Write, answer: &Answer, family: Family, style: Style) {
    let meta = Meta {
        time: Some(unix_now()),
        src: Some(answer.from),
        dst: answer.to,
        ttl: answer.ttl,
        ..Meta::default()
    };
    let view = PacketView::new(family, &answer.message, meta);
    let kind = match answer.kind {
        AnswerKind::Reply => "reply",
        AnswerKind::Error => "error",
    };
    let rtt_ms = answer.rtt.as_secs_f64() * 1000.0;
    if style == Style::Json {
        let fields = SendAnswer {
            index: answer.index,
            rtt_ms,
            duplicate: answer.duplicate,
            packet: &view,
        };
        let record = match answer.kind {
            AnswerKind::Reply => Record::SendReply(fields),
            AnswerKind::Error => Record::SendError(fields),
        };
        let _ = record.write_line(out);
        return;
    }
    let dup = if answer.duplicate { " (DUP!)" } else { "" };
    match style {
        Style::Tree => {
            let _ = writeln!(out, "#{} {kind}, rtt {rtt_ms:.3} ms{dup}", answer.index);
            let _ = view.write(style, out);
        }
        _ => {
            let _ = writeln!(
                out,
                "#{} {kind} {}, rtt {rtt_ms:.3} ms{dup}",
                answer.index,
                view.line()
            );
        }
    }
}

fn print_summary(report: &SendReport, style: Style) {
    let mut out = crate::output::stdout_locked();
    if style == Style::Json {
        let _ = Record::SendSummary {
            sent: report.sent,
            answered: report.answered,
            replies: report.replies,
            errors: report.errors,
        }
        .write_line(&mut out);
    } else {
        let _ = writeln!(
            out,
            "--- {} sent, {} answered ({} replies, {} errors) ---",
            report.sent, report.answered, report.replies, report.errors
        );
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_repeats_the_pattern_or_counts() {
        assert_eq!(fill(5, &[0xab, 0xcd]), vec![0xab, 0xcd, 0xab, 0xcd, 0xab]);
        assert_eq!(fill(3, &[]), vec![0, 1, 2]);
        assert!(fill(0, &[1]).is_empty());
    }
}
