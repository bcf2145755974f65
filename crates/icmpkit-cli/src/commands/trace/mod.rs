//! `icmpkit trace`: traceroute lines as hops complete, or an mtr report,
//! JSON or CSV at the end.

mod args;
pub mod fields;
pub mod output;

use std::io::Write;
use std::time::Duration;

use icmpkit::trace::{Hop, Plan, ProbeProtocol, TraceEvent, TraceOptions, Tracer};

pub use args::{SharedArgs, TraceArgs};

use crate::exit;
use crate::output::errln;
use crate::signals::Signals;

/// Runs the command; returns the exit code.
pub fn run(args: TraceArgs) -> i32 {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return exit::fail(&e),
    };
    crate::runtime::block_on(trace(args, options), exit::ERROR)
}

/// Runs the command with options already made from `args` (mtr's
/// report mode adjusts them); returns the exit code.
pub fn run_with(args: TraceArgs, options: TraceOptions) -> i32 {
    crate::runtime::block_on(trace(args, options), exit::ERROR)
}

/// The flags as library options.
pub fn options(args: &TraceArgs) -> Result<TraceOptions, String> {
    let protocol = if args.udp {
        ProbeProtocol::Udp
    } else if args.shared.tcp {
        ProbeProtocol::Tcp
    } else {
        ProbeProtocol::Icmp
    };
    let mut plan = Plan::default();
    plan.first_ttl = args.first_ttl;
    plan.max_ttl = args.max_ttl;
    plan.queries = if args.report {
        args.cycles
    } else {
        args.queries
    };
    plan.flows = args.shared.flows;
    plan.in_flight = args.in_flight;
    plan.send_interval = args.send_wait;
    plan.round_interval = if args.report {
        args.interval
    } else {
        Duration::ZERO
    };
    plan.wait = args.wait;
    plan.fast = args.fast;
    plan.path_mtu = args.mtu.then_some(Plan::MAX_MTU);
    plan.validate().map_err(|e| worded(&e))?;
    let mut options = TraceOptions::default();
    options.plan = plan;
    options.protocol = protocol;
    options.privilege = args
        .socket_kind
        .privilege(icmpkit::socket::Privilege::PreferRaw);
    options.family = args.family.family();
    options.port = args.port;
    options.data_size = args.data_size;
    options.resolve_names = !args.numeric;
    options.socket.source = args.source;
    options.socket.interface = args.interface.clone();
    options.socket.tos = args.tos;
    if args.dont_fragment {
        // DF on every probe whatever the kernel learnt of the path (its
        // cached MTU would refuse big probes locally, before any router
        // could say where the path narrows).
        options.socket.pmtu = Some(icmpkit::socket::PmtuDisc::Probe);
    }
    Ok(options)
}

async fn trace(args: TraceArgs, options: TraceOptions) -> i32 {
    let mut signals = Signals::install(false);
    // mtr's `Start:`: when the first round began.
    let started = std::time::SystemTime::now();
    let mut tracer = match Tracer::start(&args.target, &options).await {
        Ok(t) => t,
        Err(e) => return exit::fail(&worded(&e)),
    };
    // The raw sockets are open; later probe sockets (UDP, TCP connects)
    // need no privilege.
    if let Err(e) = exit::drop_privileges() {
        return exit::fail(&e);
    }
    let mut stdout = crate::output::stdout_locked();
    let streaming = !(args.json || args.csv || args.report);
    if streaming {
        let _ = writeln!(stdout, "{}", output::header(tracer.target(), &options));
    } else if args.json {
        let _ = writeln!(stdout, "{}", output::json_start(tracer.target(), &options));
    }
    // --json: the hops printed as they came (the rest follow at the end).
    let mut hops_printed = 0;
    let mut shown_pmtu = None;
    // The first Ctrl-C or SIGTERM stops the trace: the hops it has heard
    // of still come out (named as the lookups allow). A second one leaves
    // at once.
    let mut stopping = false;
    loop {
        tokio::select! {
            event = tracer.next_event() => match event {
                Some(TraceEvent::Hop(hop)) if streaming => {
                    let mut line = output::hop_line(&hop, args.numeric, args.extensions);
                    output::mark_pmtu_change(&mut line, &hop, &mut shown_pmtu);
                    let _ = writeln!(stdout, "{line}");
                    let _ = stdout.flush();
                }
                Some(TraceEvent::Hop(hop)) if args.json => {
                    let _ = writeln!(stdout, "{}", output::json_hop(&hop));
                    let _ = stdout.flush();
                    hops_printed += 1;
                }
                Some(_) => {}
                None => break,
            },
            _ = signals.stop() => {
                if stopping {
                    break;
                }
                stopping = true;
                tracer.stop();
            }
        }
    }
    let hops = tracer.hops();
    let text = if args.json {
        // Hops a stop cut short were never handed out: they end the stream,
        // before the summary.
        let mut rest = String::new();
        for hop in hops.iter().skip(hops_printed) {
            rest += &output::json_hop(hop);
            rest.push('\n');
        }
        rest + &output::json_summary(&hops, tracer.path_mtu()) + "\n"
    } else if args.csv {
        output::csv(&hops)
    } else if args.report {
        let rows = hops.iter().map(|h| (h, output::Figures::of_hop(h)));
        output::report(
            &output::local_host_name(),
            started,
            rows,
            &report_style(&args),
        )
    } else {
        output::resume(tracer.path_mtu(), &hops)
    };
    let _ = write!(stdout, "{text}");
    if tracer.corrupted() > 0 {
        // Damaged on their way (a raw socket gets ICMPv4 unchecked): the
        // probes they answered show as lost.
        errln!(
            "icmpkit: {} answers with a bad ICMP checksum ignored",
            tracer.corrupted()
        );
    }
    report_send_errors(&hops)
}

/// How `--report` prints, from the flags (`-o` was checked by clap).
pub fn report_style(args: &TraceArgs) -> output::ReportStyle {
    output::ReportStyle {
        fields: fields::parse_order(&args.order).unwrap_or_default(),
        wide: args.wide,
        extensions: args.extensions,
        numeric: args.numeric,
        pmtu: args.mtu,
    }
}

/// Probes the kernel refused to send show as `*`; say why on stderr (as
/// traceroute does), and fail when not one probe could leave.
fn report_send_errors(hops: &[Hop]) -> i32 {
    let probes = hops.iter().flat_map(|h| &h.probes);
    let total = probes.clone().count();
    let mut failed = probes.filter_map(|p| p.send_error.as_deref());
    let Some(first) = failed.next() else {
        return exit::OK;
    };
    let count = 1 + failed.count();
    errln!("icmpkit: {count} of {total} probes could not be sent: {first}");
    if count == total {
        exit::ERROR
    } else {
        exit::OK
    }
}

/// The trace options the library names, by the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("first_ttl", "-f"),
    ("max_ttl", "-m"),
    ("wait", "-w"),
    ("send_interval", "-z"),
    ("queries", "-q"),
    ("in_flight", "-N"),
    ("flows", "--flows"),
    ("path_mtu", "--mtu"),
    ("data_size", "--data-size"),
];

/// A library error worded for `trace`: a refused option by its flag
/// (`-f must be at least 1`).
fn worded(error: &icmpkit::Error) -> String {
    exit::worded_with_flags(error, FLAGS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_plans_name_the_flag() {
        let mut plan = Plan::default();
        plan.first_ttl = 0;
        let text = worded(&plan.validate().unwrap_err());
        assert_eq!(text, "invalid option: -f must be at least 1");
        let mut plan = Plan::default();
        plan.max_ttl = 3;
        plan.first_ttl = 5;
        let text = worded(&plan.validate().unwrap_err());
        assert!(
            text.starts_with("invalid option: -m must be between 5 and 255"),
            "{text}"
        );
    }
}
