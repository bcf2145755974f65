//! `icmpkit respond`: a userspace responder for echo, timestamp and
//! extended echo, with delay, jitter and loss; logs what it answered.

mod args;

use std::io::Write;
use std::time::Duration;

use icmpkit::respond::{
    Outcome, RespondConfig, RespondEvent, RespondOptions, Server, kernel_answers_echo,
    kernel_echo_sysctl,
};
use icmpkit::wire::Family;

pub use args::RespondArgs;

use crate::exit;
use crate::output::errln;
use crate::packet_view::{Meta, PacketView, Style};
use crate::schema::{Command, Record, StartDetail};
use crate::signals::Signals;

/// Runs the command; returns the exit code.
pub fn run(args: RespondArgs) -> i32 {
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => return exit::fail(&e),
    };
    crate::runtime::block_on(serve(args, opts), exit::ERROR)
}

fn options(args: &RespondArgs) -> Result<RespondOptions, String> {
    let mut config = RespondConfig {
        echo: false,
        timestamp: false,
        extended_echo: false,
        delay: args.delay,
        jitter: args.jitter,
        loss: args.loss,
    };
    for what in &args.answer {
        match what.trim() {
            "echo" => config.echo = true,
            "timestamp" => config.timestamp = true,
            "extended-echo" => config.extended_echo = true,
            "all" => {
                config.echo = true;
                config.timestamp = true;
                config.extended_echo = true;
            }
            other => {
                return Err(format!(
                    "--answer: unknown {other:?} (use echo, timestamp, extended-echo or all)"
                ));
            }
        }
    }
    Ok(RespondOptions {
        config,
        ipv4: !args.ipv6,
        ipv6: !args.ipv4,
        interface: args.interface.clone(),
        seed: args.seed,
    })
}

/// Totals printed at the end.
#[derive(Debug, Default)]
struct Totals {
    answered: u64,
    dropped: u64,
    failed: u64,
}

async fn serve(args: RespondArgs, opts: RespondOptions) -> i32 {
    let mut server = match Server::open(&opts) {
        Ok(s) => s,
        Err(e) => return exit::fail(&e),
    };
    if let Err(e) = exit::drop_privileges() {
        return exit::fail(&e);
    }
    announce(&server, &opts.config);
    let style = Style::from_flags(args.json, args.verbose);
    if style == Style::Json {
        let start = Record::start(Command::Respond, StartDetail::Plain {});
        let _ = start.write_line(&mut crate::output::stdout());
    }
    let deadline = args.deadline;
    let mut signals = Signals::install(false);
    let stop = signals.stop();
    tokio::pin!(stop);
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let mut totals = Totals::default();
    loop {
        let event = tokio::select! {
            e = server.next_event() => e,
            _ = &mut stop => break,
            _ = &mut until => break,
        };
        match &event.outcome {
            Outcome::Answered { .. } => totals.answered += 1,
            Outcome::Dropped => totals.dropped += 1,
            Outcome::SendFailed(_) => totals.failed += 1,
        }
        if !args.quiet {
            log(&event, style);
        }
        let handled = totals.answered + totals.dropped + totals.failed;
        if args.count.is_some_and(|c| handled >= c) {
            break;
        }
    }
    if style == Style::Json {
        let summary = Record::RespondSummary {
            answered: totals.answered,
            dropped: totals.dropped,
            send_errors: totals.failed,
        };
        let _ = summary.write_line(&mut crate::output::stdout());
    }
    errln!(
        "icmpkit respond: {} answered, {} dropped, {} failed{}",
        totals.answered,
        totals.dropped,
        totals.failed,
        match server.held() {
            0 => String::new(),
            n => format!(", {n} held answers not sent"),
        }
    );
    exit::OK
}

/// Says what is answered, and warns when the kernel answers too.
fn announce(server: &Server, config: &RespondConfig) {
    let mut what = Vec::new();
    for (on, name) in [
        (config.echo, "echo"),
        (config.timestamp, "timestamp"),
        (config.extended_echo, "extended-echo"),
    ] {
        if on {
            what.push(name);
        }
    }
    let families = server.families();
    let names: Vec<&str> = families
        .iter()
        .map(|f| match f {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
        .collect();
    errln!(
        "icmpkit respond: answering {} on {} (delay {:?}, jitter {:?}, loss {}%)",
        what.join(", "),
        names.join(" and "),
        config.delay,
        config.jitter,
        config.loss * 100.0
    );
    if config.echo || config.extended_echo {
        for family in families {
            if kernel_answers_echo(family) == Some(true) {
                let sysctl = kernel_echo_sysctl(family);
                errln!(
                    "icmpkit respond: warning: the kernel answers {} echo requests too ({sysctl} = 0), \
                     so each request gets two replies; turn it off with: sysctl -w {sysctl}=1",
                    if family == Family::V4 { "IPv4" } else { "IPv6" }
                );
            }
        }
    }
    if config.timestamp && families_has_v4(server) {
        errln!(
            "icmpkit respond: note: Linux answers ICMPv4 timestamp requests itself as well \
             (no sysctl turns that off; filter them, e.g. with nft, to leave them to us)"
        );
    }
}

fn families_has_v4(server: &Server) -> bool {
    server.families().contains(&Family::V4)
}

/// One request: its line, then what was done.
fn log(event: &RespondEvent, style: Style) {
    let mut out = crate::output::stdout_locked();
    let meta = Meta {
        time: Some(event.time),
        src: Some(event.from),
        dst: event.to,
        ttl: event.ttl,
        ..Meta::default()
    };
    let request = PacketView::new(event.family, &event.request, meta);
    let reply_meta = Meta {
        time: Some(event.time),
        src: event.to,
        dst: Some(event.from),
        ..Meta::default()
    };
    match (&event.outcome, style) {
        (Outcome::Answered { reply, delay }, Style::Json) => {
            let reply = PacketView::new(event.family, reply, reply_meta);
            let _ = Record::Answered {
                delay_ms: ms(*delay),
                request: &request,
                reply: &reply,
            }
            .write_line(&mut out);
        }
        (Outcome::Dropped, Style::Json) => {
            let _ = Record::Dropped { request: &request }.write_line(&mut out);
        }
        (Outcome::SendFailed(e), Style::Json) => {
            let _ = Record::RespondSendError {
                message: &e.to_string(),
                request: &request,
            }
            .write_line(&mut out);
        }
        (Outcome::Answered { reply, delay }, Style::Tree) => {
            let _ = request.write(Style::Tree, &mut out);
            let _ = writeln!(out, "  => answered after {:.3} ms:", ms(*delay));
            let reply = PacketView::new(event.family, reply, reply_meta);
            let _ = reply.write(Style::Tree, &mut out);
        }
        (outcome, _) => {
            let what = match outcome {
                Outcome::Answered { reply, delay } => {
                    let reply = PacketView::new(event.family, reply, Meta::default());
                    format!("answered after {:.3} ms: {}", ms(*delay), reply.summary())
                }
                Outcome::Dropped => "dropped (loss)".to_string(),
                Outcome::SendFailed(e) => format!("reply failed: {e}"),
            };
            let _ = writeln!(out, "{} => {what}", request.line());
        }
    }
    let _ = out.flush();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
