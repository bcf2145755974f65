//! `icmpkit ping`: iputils ping, for one or several targets at once.

mod args;
mod graph;
pub mod human;

use std::io::Write;
use std::time::Duration;

use icmpkit::ping::{PingEvent, PingOptions, PingReport, Pinger, Timing};
use icmpkit::resolve::resolve_preferred;
use icmpkit::socket::PmtuDisc;

pub use args::PingArgs;

use crate::exit;
use crate::flags;
use crate::output::errln;
use crate::schema::{self, Command, Record, StartDetail};
use crate::signals::{Request, Signals};

/// iputils' `-W` when not given.
const IPUTILS_TIMEOUT: Duration = Duration::from_secs(10);

/// iputils' floor for intervals without privilege.
const MIN_USER_INTERVAL: Duration = Duration::from_millis(2);
/// iputils' floor for the adaptive interval without privilege.
const MIN_USER_ADAPTIVE: Duration = Duration::from_millis(200);

/// Runs the command; returns the exit code.
pub fn run(args: PingArgs) -> i32 {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return exit::fail(&e),
    };
    crate::runtime::block_on(run_all(args, options), exit::ERROR)
}

fn privileged() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The ping options the library names, by the iputils flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("count", "-c"),
    ("interval", "-i"),
    ("timeout", "-W"),
    ("deadline", "-w"),
    ("payload_size", "-s"),
    ("preload", "-l"),
    ("ttl", "-t"),
    ("flow_label", "-F"),
];

/// Turns the flags into library options, enforcing iputils' rules.
fn options(args: &PingArgs) -> Result<PingOptions, String> {
    // iputils' defaults, not the library's (which finish after 4 requests):
    // ping until stopped, wait 10 s for a reply.
    let mut timing = Timing::default();
    timing.count = args.count;
    timing.timeout = IPUTILS_TIMEOUT;
    if let Some(i) = args.interval {
        timing.interval = i;
        if timing.interval < MIN_USER_INTERVAL && !privileged() {
            return Err(format!(
                "cannot flood; minimal interval allowed for user is {}ms",
                MIN_USER_INTERVAL.as_millis()
            ));
        }
    }
    if args.flood {
        if !privileged() {
            return Err("cannot flood; minimal interval allowed for user is 2ms".into());
        }
        timing.flood = true;
        if args.interval.is_none() {
            timing.interval = Duration::ZERO;
        }
    }
    if let Some(w) = args.timeout {
        timing.timeout = w;
    }
    if let Some(w) = args.deadline {
        // iputils: -w 0 is no deadline.
        timing.deadline = (!w.is_zero()).then_some(w);
        // iputils: with -w, -c counts replies, not requests.
        timing.count_answers = true;
    }
    timing.preload = args.preload.unwrap_or(1);
    timing.adaptive = args.adaptive;
    timing.min_interval = if privileged() {
        Duration::ZERO
    } else {
        MIN_USER_ADAPTIVE
    };

    let mut opts = PingOptions::default();
    opts.timing = timing;
    opts.payload_size = args.size;
    opts.pattern = args.pattern.clone().map(|p| p.0).unwrap_or_default();
    opts.socket.ttl = args.ttl;
    opts.socket.tos = args.tos;
    opts.socket.broadcast = args.broadcast;
    opts.socket.mark = args.mark;
    opts.socket.pmtu = args.pmtudisc.as_deref().map(|m| match m {
        "do" => PmtuDisc::Do,
        "want" => PmtuDisc::Want,
        "dont" => PmtuDisc::Dont,
        _ => PmtuDisc::Probe,
    });
    if let Some(i) = &args.interface {
        flags::interface_or_source(i, &mut opts.socket);
    }
    opts.family = args.family.family();
    opts.id = args.identifier;
    opts.flow_label = args.flow_label;
    opts.privilege = args.socket_kind.privilege(icmpkit::socket::Privilege::Auto);
    Ok(opts)
}

/// Lines as iputils prints them, or machine output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Human,
    Json,
    Csv,
}

/// How each target's lines are printed.
#[derive(Clone, Copy)]
struct Style {
    format: Format,
    quiet: bool,
    timestamps: bool,
    outstanding: bool,
    flood: bool,
    numeric: bool,
    /// `-a`: a bell with each reply line.
    audible: bool,
    /// `-v`: `ident=` on reply lines.
    verbose: bool,
}

/// An address iputils warns about with `-b`: the limited broadcast, or
/// one the kernel refuses to connect to without SO_BROADCAST (a subnet's
/// broadcast address).
fn is_broadcast(address: std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(v4) = address else {
        return false;
    };
    if v4.is_broadcast() {
        return true;
    }
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|probe| probe.connect((v4, 1025)))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
}

/// `-I`: the source address and interface name the header shows (iputils:
/// `from 10.0.0.2 eth0: `; the name empty when `-I` gave an address).
fn header_source(
    args: &PingArgs,
    options: &PingOptions,
    address: std::net::IpAddr,
) -> Option<(std::net::IpAddr, String)> {
    args.interface.as_ref()?;
    let route = std::net::SocketAddr::new(address, 0);
    let source = icmpkit::socket::route_source(route, &options.socket).ok()?;
    Some((source, options.socket.interface.clone().unwrap_or_default()))
}

async fn run_all(args: PingArgs, options: PingOptions) -> i32 {
    let signals = Signals::install(true);
    let format = if args.json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        Format::Human
    };
    let style = Style {
        format,
        quiet: args.quiet,
        timestamps: args.timestamps,
        outstanding: args.outstanding,
        flood: args.flood,
        numeric: args.numeric,
        audible: args.audible,
        verbose: args.verbose,
    };
    // iputils prints the pattern as it reads its flags.
    if let Some(pattern) = args
        .pattern
        .as_ref()
        .filter(|_| format == Format::Human && !args.quiet)
    {
        let mut out = crate::output::stdout();
        let _ = writeln!(out, "{}", human::pattern_line(&pattern.0));
        let _ = out.flush();
    }
    // Resolve and open every target first: errors end the run before any
    // packet leaves, as with iputils.
    let mut pingers = Vec::new();
    for t in &args.targets {
        // A dual-stack name: the system resolver's first address, as iputils.
        let target = match resolve_preferred(t, options.family).await {
            Ok(t) => t,
            Err(e) => return exit::fail(&e),
        };
        let source = header_source(&args, &options, target.address);
        if args.broadcast && is_broadcast(target.address) {
            errln!("WARNING: pinging broadcast address");
        }
        match Pinger::with_target(target, &options) {
            Ok(p) => pingers.push((p, source)),
            Err(e) => return exit::fail(&exit::worded_with_flags(&e, FLAGS)),
        }
    }
    // Sockets are open: give up any privilege we were started with.
    if let Err(e) = exit::drop_privileges() {
        return exit::fail(&e);
    }
    if args.graph && crate::output::stdout_is_terminal() {
        let pingers = pingers.into_iter().map(|(p, _)| p).collect();
        return graph::run(pingers, signals).await;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // SIGQUITs so far: each target notices a new one by the version.
    let (quit_tx, quit_rx) = tokio::sync::watch::channel(0u64);
    tokio::spawn(relay_signals(signals, stop_tx, quit_tx));
    let mut tasks = Vec::new();
    for (pinger, source) in pingers {
        let stop = stop_rx.clone();
        let quit = quit_rx.clone();
        let opts = options.clone();
        let target = Target {
            pinger,
            source,
            opts,
        };
        tasks.push(tokio::spawn(one_target(target, stop, quit, style)));
    }
    let mut code = exit::OK;
    for t in tasks {
        match t.await {
            Ok(Err(NoRoute(message))) => code = exit::fail(&format!("connect: {message}")),
            Ok(Ok(report)) => {
                let no_reply = report.packets_received == 0
                    || (options.timing.deadline.is_some()
                        && options
                            .timing
                            .count
                            .is_some_and(|c| report.packets_received < c));
                if no_reply && code == exit::OK {
                    code = exit::NO_REPLY;
                }
            }
            Err(e) => code = exit::fail(&e),
        }
    }
    code
}

/// Hands the signals to every target's task: Ctrl-C/SIGTERM stop every
/// ping (statistics follow); SIGQUIT asks for interim statistics.
async fn relay_signals(
    mut signals: Signals,
    stop: tokio::sync::watch::Sender<bool>,
    quit: tokio::sync::watch::Sender<u64>,
) {
    loop {
        match signals.next().await {
            Request::Stop => {
                let _ = stop.send(true);
            }
            Request::Interim => {
                quit.send_modify(|n| *n += 1);
            }
        }
    }
}

/// The first request could not leave for want of a route (the OS's text):
/// iputils fails at once then (`connect: Network is unreachable`, exit 2)
/// rather than pinging a target it cannot reach.
struct NoRoute(String);

/// `message` (a send error's text, with or without std's " (os error N)")
/// says the kernel has no route; returns the OS's words for it.
fn no_route(message: &str) -> Option<String> {
    [libc::ENETUNREACH, libc::EHOSTUNREACH]
        .into_iter()
        .map(|errno| {
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            // "Network is unreachable (os error 101)" -> iputils' words.
            text.split(" (os error").next().unwrap_or(&text).to_string()
        })
        .find(|words| message.starts_with(words.as_str()))
}

/// One target's ping, with what its header shows.
struct Target {
    pinger: Pinger,
    /// `-I`: the source address and interface name.
    source: Option<(std::net::IpAddr, String)>,
    opts: PingOptions,
}

/// iputils' `pipe`: the most requests outstanding when a reply came
/// (requests sent so far minus the reply's sequence, plus one).
#[derive(Default)]
struct Pipe {
    sent: u16,
    most: u32,
}

impl Pipe {
    fn count(&mut self, event: &PingEvent) {
        match event {
            PingEvent::Sent { .. } => self.sent = self.sent.wrapping_add(1),
            PingEvent::Reply {
                sequence,
                duplicate: false,
                ..
            } => {
                let outstanding = u32::from(self.sent.wrapping_sub(*sequence)) + 1;
                // A sequence ahead of the count (wrapped) is no measure.
                if outstanding <= 0x8000 {
                    self.most = self.most.max(outstanding);
                }
            }
            _ => {}
        }
    }
}

/// Pings one target to the end, printing as it goes.
async fn one_target(
    target: Target,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut quit: tokio::sync::watch::Receiver<u64>,
    style: Style,
) -> Result<PingReport, NoRoute> {
    let Target {
        mut pinger,
        source,
        opts,
    } = target;
    let mut pipe = Pipe::default();
    let target = pinger.target().clone();
    let mut out = crate::output::stdout();
    // The header waits for the first send: with no route, iputils prints
    // only its error.
    let mut header = match style.format {
        Format::Json => {
            let start = Record::start(
                Command::Ping,
                StartDetail::Ping {
                    target: &target.name,
                    address: target.address,
                    payload_size: opts.payload_size,
                    socket: format!("{:?}", pinger.socket_kind()).to_lowercase(),
                },
            );
            serde_json::to_string(&start).ok()
        }
        // One header for every target's rows: csv_line prints it.
        Format::Csv => None,
        // -v: iputils' first line says what getaddrinfo gave.
        Format::Human if style.verbose => Some(format!(
            "{}\n{}",
            human::resolved_line(&target.name, target.address),
            human::header(
                &target.name,
                target.address,
                opts.payload_size,
                source.as_ref().map(|(ip, iface)| (*ip, iface.as_str())),
                opts.flow_label,
            )
        )),
        Format::Human => Some(human::header(
            &target.name,
            target.address,
            opts.payload_size,
            source.as_ref().map(|(ip, iface)| (*ip, iface.as_str())),
            opts.flow_label,
        )),
    };
    let mut last_sent: Option<u16> = None;
    let mut first_send = true;
    loop {
        // Signals are checked on every event without waiting (an atomic
        // read each): in a flood an event is always ready, and the select
        // below then never gets to poll its signal branches within the
        // task's cooperative budget.
        if stop.has_changed().unwrap_or(false) {
            stop.mark_unchanged();
            pinger.stop();
        }
        if quit.has_changed().unwrap_or(false) {
            quit.mark_unchanged();
            errln!(
                "{}",
                human::interim(&pinger.report(), pinger.smoothed_rtt())
            );
        }
        let event = tokio::select! {
            // The event first: while one is ready (a flood's hot path) the
            // signal branches are not polled at all (measured: polling them
            // in a random order, making and dropping their futures, cost a
            // fifth of a flood's user-space instructions). They wake the
            // task while the ping waits.
            biased;
            e = pinger.next_event() => e,
            _ = stop.changed() => { pinger.stop(); continue; }
            _ = quit.changed() => {
                let r = pinger.report();
                errln!("{}", human::interim(&r, pinger.smoothed_rtt()));
                continue;
            }
        };
        let mut next = event;
        // Events already waiting (a flood's two a probe) are taken without
        // another select; signals are looked at again every
        // EVENTS_PER_SELECT events.
        let mut taken = 0;
        let over = loop {
            let Some(event) = next else { break true };
            pipe.count(&event);
            if first_send {
                if let PingEvent::SendError { message, .. } = &event
                    && let Some(reason) = no_route(message)
                {
                    pinger.stop();
                    return Err(NoRoute(reason));
                }
                first_send = !matches!(event, PingEvent::Sent { .. });
            }
            if let Some(line) = header.take() {
                let _ = writeln!(out, "{line}");
            }
            match style.format {
                Format::Json => {
                    let record = schema::ping_event(&event, &target.name, schema::unix_now());
                    let _ = record.write_line(&mut crate::output::stdout_locked());
                }
                Format::Csv => {
                    if let Some(row) = csv_row(&event, &target) {
                        csv_line(&row);
                    }
                }
                Format::Human => print_human(&event, &pinger, style, &mut last_sent),
            }
            taken += 1;
            if taken == crate::events::EVENTS_PER_SELECT {
                break false;
            }
            match crate::events::ready_event(&mut pinger).await {
                Some(e) => next = e,
                None => break false,
            }
        };
        if over {
            break;
        }
    }
    if let Some(line) = header.take() {
        let _ = writeln!(out, "{line}");
    }
    let report = pinger.report();
    if style.format == Format::Json {
        let record = Record::PingSummary(Box::new((&report).into()));
        let _ = record.write_line(&mut crate::output::stdout_locked());
    } else if style.format == Format::Csv {
        csv_line(&csv_summary(&report));
    } else {
        let ipg_ewma = (style.flood || opts.timing.adaptive || opts.timing.interval.is_zero())
            .then(|| {
                let ipg = if report.packets_sent > 1 {
                    report.elapsed / (report.packets_sent as u32 - 1).max(1)
                } else {
                    Duration::ZERO
                };
                (ipg, pinger.smoothed_rtt().unwrap_or_default())
            });
        let _ = writeln!(
            out,
            "{}",
            human::statistics(
                &report,
                report.icmp_errors + report.local_errors,
                pipe.most,
                ipg_ewma
            )
        );
    }
    let _ = out.flush();
    Ok(report)
}

fn print_human(event: &PingEvent, pinger: &Pinger, style: Style, last_sent: &mut Option<u16>) {
    // -q prints send errors alone (then the statistics): a quiet flood
    // takes no stdout lock for each event.
    if style.quiet {
        if let PingEvent::Sent { sequence } = event {
            *last_sent = Some(*sequence);
        }
        if !matches!(event, PingEvent::SendError { .. }) {
            return;
        }
    }
    let target = pinger.target();
    let mut out = crate::output::stdout_locked();
    let prefix = if style.timestamps {
        format!("[{:.6}] ", unix_now())
    } else {
        String::new()
    };
    match event {
        PingEvent::Sent { sequence } => {
            if style.outstanding
                && let Some(prev) = *last_sent
                && !pinger.is_answered(prev)
                && !style.quiet
            {
                let _ = writeln!(out, "{prefix}no answer yet for icmp_seq={prev}");
            }
            *last_sent = Some(*sequence);
            if style.flood && !style.quiet {
                let _ = write!(out, ".");
                let _ = out.flush();
            }
        }
        PingEvent::Reply {
            from,
            sequence,
            bytes,
            ttl,
            rtt,
            duplicate,
            bad_checksum,
            ..
        } => {
            if style.quiet {
                return;
            }
            if style.flood {
                // iputils marks a damaged reply with a C where the dot was.
                let mark = if *bad_checksum { "\x08C" } else { "\x08 \x08" };
                let _ = write!(out, "{mark}");
                let _ = out.flush();
                return;
            }
            let who = human::responder(*from, &target.name, target.address, style.numeric);
            let line = if style.verbose {
                let seq_ident = (*sequence, pinger.echo_id());
                human::verbose_reply_line(
                    &who,
                    *bytes,
                    seq_ident,
                    *ttl,
                    *rtt,
                    *duplicate,
                    *bad_checksum,
                )
            } else {
                human::reply_line(
                    &who,
                    *bytes,
                    *sequence,
                    *ttl,
                    *rtt,
                    *duplicate,
                    *bad_checksum,
                )
            };
            // -a: iputils rings the bell at the end of the line.
            let bell = if style.audible { "\x07" } else { "" };
            let _ = writeln!(out, "{prefix}{line}{bell}");
        }
        PingEvent::Error { sequence, error } => {
            if style.quiet {
                return;
            }
            if style.flood {
                let _ = write!(out, "\x08E");
                let _ = out.flush();
                return;
            }
            let who = human::responder(error.from, &target.name, target.address, style.numeric);
            let _ = writeln!(out, "{prefix}{}", human::error_line(&who, *sequence, error));
        }
        PingEvent::LocalError { message, mtu, .. } => {
            if style.quiet {
                return;
            }
            if style.flood {
                let _ = write!(out, "E");
                let _ = out.flush();
                return;
            }
            match mtu {
                Some(mtu) => errln!("icmpkit: local error: {message}, mtu={mtu}"),
                None => errln!("icmpkit: local error: {message}"),
            }
        }
        PingEvent::SendError { message, .. } => {
            errln!("icmpkit: sendmsg: {message}");
        }
        PingEvent::Timeout { .. } => {}
    }
}

/// Prints a CSV row, the header before the first row of any target (so
/// that a ping failing at once prints nothing, as iputils).
fn csv_line(row: &str) {
    static HEADER_PRINTED: std::sync::atomic::AtomicBool =
        std::sync::atomic::AtomicBool::new(false);
    let mut out = crate::output::stdout_locked();
    if !HEADER_PRINTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        let _ = writeln!(out, "{}", schema::csv::PING_HEADER);
    }
    let _ = writeln!(out, "{row}");
}

/// The CSV row of an event (`schema::csv::PING_HEADER`); none for a send.
fn csv_row(event: &PingEvent, target: &icmpkit::resolve::Target) -> Option<String> {
    use schema::csv::field;
    let start = |event: &str, sequence: u16| {
        format!(
            "{event},{},{},{sequence}",
            field(&target.name),
            target.address
        )
    };
    // The statistics columns stay empty on event rows.
    const NO_STATS: &str = ",,,,,,,,";
    Some(match event {
        PingEvent::Sent { .. } => return None,
        PingEvent::Reply {
            from,
            sequence,
            bytes,
            ttl,
            rtt,
            duplicate,
            ..
        } => format!(
            "{},{from},{bytes},{},{},{duplicate},{NO_STATS}",
            start("reply", *sequence),
            ttl.map_or(String::new(), |t| t.to_string()),
            schema::csv::opt_ms(*rtt),
        ),
        PingEvent::Error { sequence, error } => format!(
            "{},{},,,,,{}{NO_STATS}",
            start("error", *sequence),
            error.from,
            field(&error.to_string()),
        ),
        PingEvent::Timeout { sequence } => {
            format!("{},,,,,,{NO_STATS}", start("timeout", *sequence))
        }
        PingEvent::LocalError {
            sequence, message, ..
        } => format!(
            "{},,,,,,{}{NO_STATS}",
            start("local_error", *sequence),
            field(message)
        ),
        PingEvent::SendError { sequence, message } => format!(
            "{},,,,,,{}{NO_STATS}",
            start("send_error", *sequence),
            field(message)
        ),
    })
}

/// A target's summary row: the statistics columns.
fn csv_summary(report: &PingReport) -> String {
    let ms = schema::csv::opt_ms;
    format!(
        "summary,{},{},,,,,,,,{},{},{:.1},{},{},{},{},{:.3}",
        schema::csv::field(&report.target),
        report.address,
        report.packets_sent,
        report.packets_received,
        report.packet_loss * 100.0,
        ms(report.rtt.min),
        ms(report.rtt.avg),
        ms(report.rtt.max),
        ms(report.rtt.mdev),
        report.elapsed.as_secs_f64(),
    )
}

fn unix_now() -> f64 {
    schema::unix_now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_route_is_told_from_other_send_errors() {
        let text = |errno| std::io::Error::from_raw_os_error(errno).to_string();
        let unreachable = no_route(&text(libc::ENETUNREACH));
        assert_eq!(unreachable.as_deref(), Some("Network is unreachable"));
        assert_eq!(
            no_route("No route to host").as_deref(),
            Some("No route to host")
        );
        assert_eq!(no_route(&text(libc::EMSGSIZE)), None);
        assert_eq!(no_route(&text(libc::EACCES)), None);
    }
}
