//! `icmpkit sweep`: fping -g / zmap's ICMP echo scan on icmpkit's sweep
//! engine.

mod args;
mod output;
mod progress;

use std::io::{IsTerminal, Read};

use icmpkit::Error;
use icmpkit::sweep::{
    Schedule, SenderKind, Shard, SweepEvent, SweepOptions, Sweeper, TargetSet, TargetSpec,
    parse_lines, resolve_targets,
};
use ipnet::IpNet;

pub use args::SweepArgs;

use crate::exit;
use crate::flags;
use crate::output::errln;
use crate::signals::Signals;
use output::{Format, Output};
use progress::Progress;

/// Runs the command; returns the exit code (fping's).
pub fn run(args: SweepArgs) -> i32 {
    let (specs, options) = match plan(&args) {
        Ok(p) => p,
        Err(e) => {
            errln!("icmpkit sweep: {e}");
            return exit::BAD_ARGS;
        }
    };
    if specs.is_empty() {
        // Only a file or stdin can give no targets at all.
        let source = args
            .file
            .as_deref()
            .filter(|f| *f != "-")
            .unwrap_or("stdin");
        return nothing_to_probe(&format!("{source} lists none"));
    }
    crate::runtime::block_on(sweep(args, specs, options), exit::SYSTEM)
}

/// An empty target set: fping exits 1 then (silently); say why.
fn nothing_to_probe(why: &str) -> i32 {
    errln!("icmpkit sweep: no targets to probe: {why}");
    exit::NO_REPLY
}

/// The targets `specs` name (exclusions applied) and whether some names did
/// not resolve (each said on stderr), or the exit code when there is
/// nothing to probe.
async fn resolve(specs: &[TargetSpec], options: &SweepOptions) -> Result<(TargetSet, u64), i32> {
    let (set, name_errors) = match resolve_targets(specs, &options.exclude, options.family).await {
        Ok(r) => r,
        Err(e) => {
            errln!("icmpkit sweep: {}", exit::worded(&e));
            return Err(code_of(&e));
        }
    };
    for e in &name_errors {
        errln!("{}: {}", e.target, e.error);
    }
    if set.is_empty() && !name_errors.is_empty() {
        // fping: 2 when names did not resolve, whatever else.
        errln!("icmpkit sweep: no targets to probe: no name resolved");
        return Err(exit::ERROR);
    }
    if set.is_empty() {
        return Err(nothing_to_probe("every target is excluded"));
    }
    let in_shard = options.shard.len_of(set.len());
    if in_shard == 0 {
        let total = set.len();
        let plural = if total == 1 { "" } else { "s" };
        return Err(nothing_to_probe(&format!(
            "shard {} holds none of the {total} target{plural}",
            options.shard
        )));
    }
    Ok((set, name_errors.len() as u64))
}

/// The exit code for a library error.
fn code_of(e: &Error) -> i32 {
    match e {
        Error::NameLookup { .. } => exit::ERROR,
        Error::InvalidOption(_) | Error::Address { .. } | Error::Broadcast(_) => exit::BAD_ARGS,
        _ => exit::SYSTEM,
    }
}

fn read_file(path: &str) -> Result<String, String> {
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(drop)
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| format!("{path}: {e}"))?;
    Ok(text)
}

/// The targets and library options the flags ask for.
fn plan(args: &SweepArgs) -> Result<(Vec<TargetSpec>, SweepOptions), String> {
    let mut inputs = args.targets.clone();
    if args.generate && inputs.len() == 2 && !inputs[0].contains('/') {
        inputs = vec![format!("{}-{}", inputs[0], inputs[1])];
    }
    let mut specs = inputs
        .iter()
        .map(|t| t.parse::<TargetSpec>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if args.generate && !matches!(specs[..], [TargetSpec::Net(_) | TargetSpec::Range(..)]) {
        // fping -g: one prefix, or a start and an end address.
        let given = match args.targets.join(" ") {
            none if none.is_empty() => "none given".to_string(),
            given => format!("not {given:?}"),
        };
        return Err(format!(
            "-g takes a prefix (192.0.2.0/24) or a start and an end address, {given}"
        ));
    }
    if let Some(file) = &args.file {
        specs.extend(parse_lines(&read_file(file)?).map_err(|e| e.to_string())?);
    } else if inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            return Err("no targets (give prefixes, ranges or hosts, -f FILE, or stdin)".into());
        }
        specs.extend(parse_lines(&read_file("-")?).map_err(|e| e.to_string())?);
    }
    let mut exclude: Vec<IpNet> = Vec::new();
    let mut exclude_text: Vec<String> = args.exclude.clone();
    if let Some(file) = &args.exclude_file {
        exclude_text.extend(
            read_file(file)?
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
                .filter(|l| !l.is_empty()),
        );
    }
    for e in exclude_text {
        let net = match e.parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => e
                .parse::<std::net::IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("bad exclusion {e:?}: not a prefix or address"))?,
        };
        exclude.push(net);
    }
    // -c 1 is one probe with statistics (fping), not single-probe mode
    // with its retries.
    let count = args
        .count
        .or(args.vcount)
        .or(args.loop_forever.then_some(LOOP_PROBES));
    let retries = if count.is_some() { 0 } else { args.retries };
    let count = count.unwrap_or(1);
    // -i is kept exact (Schedule::interval); the rate in packets per
    // second only picks how many threads send.
    let interval = args.interval;
    let rate = match (args.rate, interval) {
        (Some(r), _) => r,
        (None, Some(i)) if i.is_zero() => 0,
        (None, Some(i)) => (1.0 / i.as_secs_f64()).round().max(1.0) as u64,
        (None, None) => 10_000,
    };
    let mut schedule = Schedule::default();
    schedule.count = count;
    schedule.retries = retries;
    schedule.timeout = args.timeout;
    schedule.backoff = args.backoff;
    schedule.period = args.period;
    schedule.rate = rate;
    schedule.interval = interval;
    schedule.max_in_flight = args.max_in_flight;
    let mut options = SweepOptions::default();
    options.schedule = schedule;
    options.payload_size = args.size;
    options.seed = args.seed;
    options.exclude = exclude;
    options.senders = args.senders.map(usize::from);
    options.sender = match args.sender.as_str() {
        "raw" => SenderKind::Raw,
        "packet" => SenderKind::Packet,
        _ => SenderKind::Auto,
    };
    if let Some(s) = &args.shard {
        options.shard = s.parse::<Shard>()?;
    }
    options.family = args.family.family();
    options.privilege = args
        .socket_kind
        .privilege(icmpkit::socket::Privilege::PreferRaw);
    options.socket.ttl = args.ttl;
    options.socket.tos = args.tos;
    if args.dont_fragment {
        options.socket.pmtu = Some(icmpkit::socket::PmtuDisc::Do);
    }
    if let Some(i) = &args.interface {
        flags::interface_or_source(i, &mut options.socket);
    }
    Ok((specs, options))
}

/// Probes per target of `-l`: as many as the 16-bit echo sequence numbers.
const LOOP_PROBES: u32 = 65_536;

/// How long printed lines may wait in the output buffer: a reader such as
/// `head` or `grep -m1` sees them live, and a sweep over a pipe whose
/// reader left ends soon (output.rs).
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

async fn sweep(args: SweepArgs, specs: Vec<TargetSpec>, options: SweepOptions) -> i32 {
    let mut signals = Signals::install(false);
    let (set, names_failed_count) = match resolve(&specs, &options).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let names_failed = names_failed_count > 0;
    let mut sweeper = match Sweeper::with_targets(set, &options) {
        Ok(s) => s,
        Err(e) => {
            // A payload too big for the targets' family: by its flag.
            let worded = exit::worded_with_flags(&e, &[("payload_size", "-b")]);
            errln!("icmpkit sweep: {worded}");
            return code_of(&e);
        }
    };
    // Sockets (the sender threads' included) are open: give up privileges.
    if let Err(e) = exit::drop_privileges() {
        errln!("icmpkit sweep: {e}");
        return exit::SYSTEM;
    }
    let format = if args.json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        Format::Text
    };
    let mut out = Output::new(format, &args, sweeper.targets(), sweeper.seed());
    let quiet = args.quiet || args.squiet.is_some();
    let mut progress = Progress::new(sweeper.summary().targets, quiet);
    let mut stopping = false;
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // -Q: statistics every SECS (the first tick, at once, is skipped).
    let every = args.squiet.unwrap_or(std::time::Duration::from_secs(3600));
    let mut report = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let enough = args.fast_reachable;
    loop {
        let event = tokio::select! {
            e = sweeper.next_event() => e,
            // Ctrl-C or SIGTERM: stop probing; with -c/-C every target's
            // statistics so far still come out (fping), then the summary.
            _ = signals.stop(), if !stopping => {
                stopping = true;
                sweeper.finish_early();
                continue;
            }
            _ = flush.tick() => {
                out.flush();
                continue;
            }
            _ = report.tick(), if args.squiet.is_some() => {
                out.interval_statistics(sweeper.targets());
                continue;
            }
        };
        let mut next = event;
        let mut taken = 0;
        // Events already waiting are taken without another select (one
        // per event cost more than printing the event): signals and ticks
        // are looked at again every EVENTS_PER_SELECT events.
        let over = loop {
            // By reference: an event is a few hundred bytes, each move a
            // memcpy.
            let Some(event) = &next else { break true };
            if let SweepEvent::Host(_) = event {
                progress.update(&sweeper);
            }
            progress.suspend(|| out.event(event, sweeper.targets()));
            // -X N: N alive is the answer; stop probing the rest.
            if !stopping && enough.is_some_and(|n| sweeper.summary().alive >= n) {
                stopping = true;
                sweeper.finish_early();
            }
            taken += 1;
            if taken == crate::events::EVENTS_PER_SELECT {
                break false;
            }
            match crate::events::ready_event(&mut sweeper).await {
                Some(e) => next = e,
                None => break false,
            }
        };
        if over {
            break;
        }
    }
    progress.finish();
    let summary = sweeper.summary();
    for note in &summary.fallbacks {
        errln!("icmpkit sweep: packet sender: {note}");
    }
    out.finish(&summary, sweeper.seed(), names_failed_count);
    if let Some(required) = args.reachable.or(args.fast_reachable) {
        return out.reachable(required, summary.alive);
    }
    // Interrupted, targets not finished are not alive: exit 1.
    if names_failed {
        exit::ERROR
    } else if summary.alive < summary.targets {
        exit::NO_REPLY
    } else {
        exit::OK
    }
}
