//! `icmpkit mtr`: a live trace. On a terminal, a full-screen view per
//! target ([`state`] is the pure state and key handling, [`view`] draws a
//! frame from it); this module is the wiring on the tokio loop: the live
//! traces, crossterm's key stream, signals and the redraw pace. On a pipe
//! or with `-r/-w/-j/-C`, the rounds run as `icmpkit trace --report`
//! (the same code) and the report is printed.

mod args;
pub mod state;
pub mod view;

#[cfg(test)]
mod view_tests;

use std::io::Write;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use icmpkit::socket::SocketKind;
use icmpkit::trace::{LiveTrace, ProbeProtocol, TraceOptions};
use tokio_stream::{StreamExt, StreamMap};

pub use args::MtrArgs;

use crate::commands::trace::{self, TraceArgs};
use crate::exit;
use crate::signals::Signals;
use crate::terminal::{LiveTerminal, REDRAW_EVERY};

use state::{Action, TargetView, ViewState};

/// Rounds of a report when `-c` is not given (mtr's 10).
const REPORT_ROUNDS: u64 = 10;

/// Runs the command; returns the exit code.
pub fn run(args: MtrArgs) -> i32 {
    if let Err(e) = check(&args) {
        return exit::fail(&e);
    }
    if args.wants_report() || !crate::output::stdout_is_terminal() {
        return report(&args);
    }
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return exit::fail(&e),
    };
    crate::runtime::block_on(live(args, options), exit::ERROR)
}

/// The values trace would refuse under its own flags' names, refused
/// under mtr's (`-Z`, `-m`, `-s`, `-i`).
fn check(args: &MtrArgs) -> Result<(), String> {
    if args.timeout.is_zero() {
        return Err("-Z must be above 0".into());
    }
    if args.interval.is_zero() {
        return Err("-i must be above 0".into());
    }
    if args.max_ttl < args.first_ttl {
        return Err(format!(
            "-m must be at least -f ({}), got {}",
            args.first_ttl, args.max_ttl
        ));
    }
    if data_size(args.size) > MAX_DATA {
        return Err(format!("-s must be at most {}", MAX_DATA + 28));
    }
    Ok(())
}

/// The most probe data after the header (the library's limit).
const MAX_DATA: usize = 65_000;

/// The flags as `icmpkit trace`'s, for one target: the report runs there.
fn trace_args(args: &MtrArgs, target: &str) -> TraceArgs {
    TraceArgs {
        target: target.to_string(),
        family: args.family,
        icmp: !(args.udp || args.shared.tcp),
        udp: args.udp,
        shared: args.shared,
        port: args.port,
        first_ttl: args.first_ttl,
        max_ttl: args.max_ttl,
        queries: 3,
        in_flight: 32,
        send_wait: Duration::ZERO,
        wait: args.timeout,
        fast: false,
        numeric: args.numeric,
        extensions: args.extensions,
        source: args.source,
        interface: args.interface.clone(),
        tos: args.tos,
        data_size: data_size(args.size),
        mtu: false,
        dont_fragment: false,
        socket_kind: args.socket_kind,
        report: !(args.json || args.csv),
        order: args
            .order
            .clone()
            .unwrap_or_else(|| trace::fields::DEFAULT_ORDER.to_string()),
        wide: args.wide,
        cycles: u16::try_from(args.count.unwrap_or(REPORT_ROUNDS)).unwrap_or(u16::MAX),
        interval: args.interval,
        json: args.json,
        csv: args.csv,
    }
}

/// mtr's `-s` is the whole packet; the library takes the data after the
/// ICMP/UDP header (IPv4's 28 bytes of headers).
fn data_size(packet: usize) -> usize {
    packet.saturating_sub(28)
}

/// Report mode: each target traced as `icmpkit trace --report` does it.
fn report(args: &MtrArgs) -> i32 {
    if args.count.is_some_and(|c| c > u64::from(u16::MAX)) {
        return exit::fail(&"-c: a report runs at most 65535 rounds");
    }
    let mut code = exit::OK;
    for target in &args.targets {
        let trace_args = trace_args(args, target);
        let mut options = match trace::options(&trace_args) {
            Ok(o) => o,
            Err(e) => return exit::fail(&e),
        };
        // JSON and CSV run the rounds at the interval too.
        options.plan.queries = trace_args.cycles;
        options.plan.round_interval = args.interval;
        code = code.max(trace::run_with(trace_args, options));
    }
    code
}

/// The live view's trace options.
fn options(args: &MtrArgs) -> Result<TraceOptions, String> {
    let first = args.targets.first().map_or("", String::as_str);
    let mut options = trace::options(&trace_args(args, first))?;
    options.plan.round_interval = args.interval;
    if options.plan.round_interval < Duration::from_secs(1) && !privileged() {
        return Err("-i below 1 second needs privilege (as mtr)".into());
    }
    Ok(options)
}

fn privileged() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The live view, to the end; returns the exit code.
async fn live(args: MtrArgs, options: TraceOptions) -> i32 {
    let mut signals = Signals::install(false);
    let started = std::time::SystemTime::now();
    let mut traces = StreamMap::new();
    let mut views = Vec::new();
    for (index, target) in args.targets.iter().enumerate() {
        let trace = match LiveTrace::start(target, &options, args.count).await {
            Ok(t) => t,
            Err(e) => return exit::fail(&e),
        };
        let raw = trace.socket_kind() == SocketKind::Raw;
        views.push(TargetView::new(
            target,
            trace.target().address,
            trace.protocol(),
            raw,
        ));
        traces.insert(index, trace);
    }
    // The sockets are open: the rounds go on on them without privilege.
    if let Err(e) = exit::drop_privileges() {
        return exit::fail(&e);
    }
    let mut state = ViewState::new(views, !args.numeric, options.plan.round_interval);
    state.extensions = args.extensions;
    if let Some(order) = &args.order {
        state.fields = trace::fields::parse_order(order).unwrap_or_default();
    }
    if !privileged() {
        state.min_interval = Duration::from_secs(1).min(state.interval);
    }
    let outcome = match LiveTerminal::enter() {
        Ok(mut terminal) => view_loop(&mut terminal, &mut state, &mut traces, &mut signals).await,
        Err(e) => Err(format!("cannot use the terminal: {e}")),
    };
    // The terminal is restored here (dropped above), before anything prints.
    if let Err(e) = outcome {
        return exit::fail(&e);
    }
    if args.report_on_exit {
        print_reports(&state, &args, started);
    }
    exit::OK
}

/// The reports of every target, as `trace --report` prints them (the
/// live figures: jitter and geometric mean over every answer).
fn print_reports(state: &ViewState, args: &MtrArgs, started: std::time::SystemTime) {
    let style = trace::report_style(&trace_args(args, ""));
    let host = trace::output::local_host_name();
    let mut out = crate::output::stdout_locked();
    for t in &state.targets {
        let hops: Vec<_> = t
            .stats
            .hops()
            .iter()
            .map(|h| (h.to_hop(), trace::output::Figures::of_statistics(h)))
            .collect();
        let rows = hops.iter().map(|(hop, figures)| (hop, *figures));
        let _ = write!(
            out,
            "{}",
            trace::output::report(&host, started, rows, &style)
        );
    }
    let _ = out.flush();
}

/// Keys, trace events, signals and redraws until the user quits, a signal
/// stops the view, or (with `-c`) every trace is over.
async fn view_loop(
    terminal: &mut LiveTerminal,
    state: &mut ViewState,
    traces: &mut StreamMap<usize, LiveTrace>,
    signals: &mut Signals,
) -> Result<(), String> {
    let mut keys = EventStream::new();
    let mut redraws = tokio::time::interval(REDRAW_EVERY);
    redraws.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changed = true;
    loop {
        tokio::select! {
            () = signals.stop() => return Ok(()),
            key = keys.next() => match key {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    match state.on_key(key) {
                        Action::Quit => return Ok(()),
                        Action::Ignored => continue,
                        action => apply(action, state, traces),
                    }
                    changed = true;
                }
                Some(Ok(Event::Resize(..))) => changed = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("reading the terminal: {e}")),
                None => return Ok(()),
            },
            // Paused: no trace is polled, so none sends.
            Some((index, event)) = traces.next(), if !state.paused && !traces.is_empty() => {
                state.on_event(index, &event);
                changed = true;
            }
            _ = redraws.tick(), if changed => {
                mark_finished(state, traces);
                terminal
                    .draw(|frame| view::draw(frame, state))
                    .map_err(|e| format!("drawing: {e}"))?;
                changed = false;
                if traces.is_empty() && state.targets.iter().all(|t| t.finished) {
                    // -c rounds done: the last table was shown.
                    return Ok(());
                }
            }
        }
    }
}

/// Targets whose trace ended (its rounds done) are marked.
fn mark_finished(state: &mut ViewState, traces: &StreamMap<usize, LiveTrace>) {
    for (index, t) in state.targets.iter_mut().enumerate() {
        t.finished = !traces.contains_key(&index);
    }
}

/// Carries out what a key asked of the probing.
fn apply(action: Action, state: &mut ViewState, traces: &mut StreamMap<usize, LiveTrace>) {
    match action {
        Action::Interval(interval) => {
            for (index, trace) in traces.iter_mut() {
                if let Err(e) = trace.set_interval(interval) {
                    state.refused(*index, format!("interval: {e}"));
                }
            }
        }
        Action::Names(on) => {
            for (_, trace) in traces.iter_mut() {
                trace.set_names(on);
            }
        }
        Action::Protocol(protocol) => switch_protocol(protocol, state, traces),
        // Pausing is the loop's: it stops polling the traces.
        Action::Pause(_) | Action::Redraw | Action::Quit | Action::Ignored => {}
    }
}

fn switch_protocol(
    protocol: ProbeProtocol,
    state: &mut ViewState,
    traces: &mut StreamMap<usize, LiveTrace>,
) {
    let tab = state.tab;
    let Some((_, trace)) = traces.iter_mut().find(|entry| entry.0 == tab) else {
        return;
    };
    match trace.set_protocol(protocol) {
        // The rounds asked for (-c) may all have begun: no switch then.
        Ok(()) if trace.protocol() == protocol => {
            let raw = trace.socket_kind() == SocketKind::Raw;
            state.protocol_switched(tab, protocol, raw);
        }
        Ok(()) => {}
        Err(e) => state.refused(tab, exit::worded(&e)),
    }
}
