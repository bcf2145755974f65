//! Every command as a Unix citizen: a closed stdout or stderr ends it at
//! once and quietly (exit 141, never a panic's 101, never running on), and
//! SIGTERM stops it like Ctrl-C, with its statistics or hops so far.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use icmpkit_lab::{Chain, Ns, Reject, lab_or_skip};
use nix::sys::signal::Signal;

mod common;
use common::{ICMPKIT, Running};

/// The exit status of a broken pipe (exit.rs).
const BROKEN_PIPE: i32 = 141;
/// How long a command may take to notice: generous for a loaded machine,
/// far below the runs that never end by themselves.
const LIMIT: Duration = Duration::from_secs(5);
/// An address no namespace of the lab routes: sends fail locally
/// (ENETUNREACH), nothing leaves.
const NO_ROUTE: &str = "198.51.100.1";

/// Which stream goes to a pipe whose reader has already gone.
#[derive(Debug, Clone, Copy)]
enum Closed {
    Stdout,
    Stderr,
}

/// Waits for `child` within [`LIMIT`] (killing it and failing beyond);
/// returns its exit code.
fn wait_within(mut child: Child, what: &str) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll icmpkit") {
            return status.code();
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`icmpkit {what}` still ran {LIMIT:?} after its reader left");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `icmpkit <args>` in `ns` with the `closed` stream on a pipe nobody
/// reads any more; the other stream is captured (stdout closed) or thrown
/// away. Returns the exit code and what came on stderr.
fn run_with_closed(ns: &Ns, args: &[&str], closed: Closed) -> (Option<i32>, String) {
    let (reader, writer) = nix::unistd::pipe().expect("a pipe");
    drop(reader);
    let mut command = ns.command(ICMPKIT);
    command.args(args).stdin(Stdio::null());
    match closed {
        Closed::Stdout => command.stdout(writer).stderr(Stdio::piped()),
        Closed::Stderr => command.stdout(Stdio::null()).stderr(writer),
    };
    let mut child = command.spawn().expect("start icmpkit");
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut text);
            text
        })
    });
    let code = wait_within(child, &args.join(" "));
    let stderr = stderr
        .map(|t| t.join().expect("stderr reader"))
        .unwrap_or_default();
    (code, stderr)
}

fn assert_broken_pipe_exit(ns: &Ns, args: &[&str], closed: Closed) {
    let (code, stderr) = run_with_closed(ns, args, closed);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(
        code,
        Some(BROKEN_PIPE),
        "{args:?} with {closed:?} closed: {stderr}"
    );
}

#[test]
fn a_closed_stdout_ends_every_command_at_once() {
    let lab = lab_or_skip!("a_closed_stdout_ends_every_command_at_once");
    let c = lab.pair().expect("pair");
    let server = c.server_v4().to_string();
    let ns = c.client();
    // The first five never end by themselves: they must notice.
    for args in [
        &["ping", "-i", "0.2", &server][..],
        &["ping", "-i", "0.2", "--json", &server],
        &["sweep", "-c", "1000", "-p", "100", &server],
        &["listen"],
        &["respond"],
        &["trace", "-n", "-q", "1", &server],
        // On a pipe: the report after -c rounds (10 by default).
        &["mtr", "-n", "-i", "0.5", &server],
        &["send", &server],
        &["decode", common::ECHO_V4],
    ] {
        assert_broken_pipe_exit(ns, args, Closed::Stdout);
    }
}

#[test]
fn a_closed_stderr_never_panics() {
    let lab = lab_or_skip!("a_closed_stderr_never_panics");
    let c = lab.pair().expect("pair");
    let server = c.server_v4().to_string();
    let ns = c.client();
    // Each of these writes to stderr (a local error, a summary, a send
    // error, an announcement): before, each write panicked (exit 101).
    for args in [
        &[
            "ping", "-c", "3", "-i", "0.1", "-M", "do", "-s", "3000", &server,
        ][..],
        &["sweep", "-r", "0", &server],
        &["trace", "-n", "-q", "1", "-m", "2", NO_ROUTE],
        &["send", NO_ROUTE],
        &["decode", common::ECHO_V4],
        &["listen", "-c", "1"],
        &["respond", "-c", "1"],
    ] {
        assert_broken_pipe_exit(ns, args, Closed::Stderr);
    }
}

/// Reads `lines` lines of `icmpkit <args>`'s stdout in `ns`, then leaves
/// like `head` does; returns the exit code and how long it took to end.
fn head(ns: &Ns, args: &[&str], lines: usize) -> (Option<i32>, Duration) {
    let mut child = ns
        .command(ICMPKIT)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start icmpkit");
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    for n in 0..lines {
        let mut line = String::new();
        let read = out.read_line(&mut line).expect("read a line");
        assert!(read > 0, "{args:?}: output ended after {n} lines");
    }
    drop(out);
    let left = Instant::now();
    let code = wait_within(child, &args.join(" "));
    (code, left.elapsed())
}

#[test]
fn ping_and_sweep_end_when_head_has_read_enough() {
    let lab = lab_or_skip!("ping_and_sweep_end_when_head_has_read_enough");
    let c = lab.pair().expect("pair");
    let server = c.server_v4().to_string();
    // `ping host | head -3`: the header and two replies, then gone; the
    // next reply line (200 ms later) or the watch on stdout ends it.
    let (code, took) = head(c.client(), &["ping", "-i", "0.2", &server], 3);
    assert_eq!(code, Some(BROKEN_PIPE));
    assert!(took < Duration::from_secs(2), "ping took {took:?}");
    // `sweep -c N | head -2`: the per-probe lines reach the pipe as they
    // come (not at the end of a 100 s run), and the sweep ends after.
    let (code, took) = head(
        c.client(),
        &["sweep", "-c", "1000", "-p", "100", &server],
        2,
    );
    assert_eq!(code, Some(BROKEN_PIPE));
    assert!(took < Duration::from_secs(2), "sweep took {took:?}");
}

/// client — r1 — r2 — server, r2 blackholing 10.99.0.0/24: probes there
/// are lost past r1 (a blackhole drops before the TTL check, so r2 would
/// not answer as a hop either).
fn chain_with_silent_targets(lab: &icmpkit_lab::Lab) -> Chain {
    let c = lab.chain(2).expect("chain");
    c.reject(Reject::Blackhole, "10.99.0.0/24")
        .expect("blackhole");
    c
}

#[test]
fn sigterm_and_sigint_give_sweep_statistics_so_far() {
    let lab = lab_or_skip!("sigterm_and_sigint_give_sweep_statistics_so_far");
    let c = chain_with_silent_targets(&lab);
    let server = c.server_v4().to_string();
    let silent = "10.99.0.7";
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut run = Running::start(
            c.client(),
            "sweep",
            &[&server, silent, "-c", "100", "-p", "100"],
        );
        std::thread::sleep(Duration::from_millis(700));
        run.signal(signal);
        run.wait_within(LIMIT, Duration::from_millis(20), "the signal");
        let (status, _, err) = run.finish();
        // fping on SIGINT: every target's statistics so far (names padded
        // to the longest).
        let line = |target: &str| {
            err.lines()
                .find(|l| {
                    l.split_once(" : xmt/rcv/%loss = ")
                        .is_some_and(|(name, _)| name.trim_end() == target)
                })
                .unwrap_or_else(|| panic!("{signal}: no statistics for {target}: {err}"))
                .to_string()
        };
        let alive = line(&server);
        let lost = line(silent);
        let sent: u64 = lost
            .split(" = ")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{lost}"));
        // Each wave waits for the silent target's timeout (500 ms).
        assert!((1..100).contains(&sent), "{signal}: {lost}");
        assert!(lost.contains(&format!("= {sent}/0/100%")), "{lost}");
        assert!(alive.contains(", min/avg/max = "), "{alive}");
        assert!(
            err.contains("2 targets: 1 alive, 1 unreachable"),
            "{signal}: {err}"
        );
        assert_eq!(status.code(), Some(1), "{signal}: {err}");
    }
    // Single-probe mode: a target still awaited is given up as unreachable.
    let mut run = Running::start(c.client(), "sweep", &[&server, silent, "-t", "5000"]);
    std::thread::sleep(Duration::from_millis(500));
    run.signal(Signal::SIGTERM);
    run.wait_within(LIMIT, Duration::from_millis(20), "SIGTERM");
    let (status, out, err) = run.finish();
    assert!(
        out.contains(&format!("{silent} is unreachable")),
        "{out}{err}"
    );
    assert!(err.contains("2 targets: 1 alive, 1 unreachable"), "{err}");
    assert_eq!(status.code(), Some(1), "{err}");
    // The JSON stream gets every host object and the summary too.
    let mut run = Running::start(
        c.client(),
        "sweep",
        &[&server, silent, "-c", "100", "-p", "100", "--json"],
    );
    std::thread::sleep(Duration::from_millis(700));
    run.signal(Signal::SIGTERM);
    run.wait_within(LIMIT, Duration::from_millis(20), "SIGTERM");
    let (_, out, err) = run.finish();
    let objects: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let hosts: Vec<_> = objects.iter().filter(|o| o["event"] == "host").collect();
    assert_eq!(hosts.len(), 2, "{out}{err}");
    assert!(hosts.iter().any(|h| h["status"] == "alive"), "{out}");
    let summary = objects.last().expect("a summary object");
    assert_eq!(summary["event"], "summary", "{out}");
    assert_eq!(summary["finished"], "2", "{out}");
}

#[test]
fn sigterm_gives_trace_hops_and_ping_statistics() {
    let lab = lab_or_skip!("sigterm_gives_trace_hops_and_ping_statistics");
    let c = chain_with_silent_targets(&lab);
    let router = c.router_v4(1).expect("r1").to_string();
    // Past r1 everything is lost: the trace waits -w 5 for hops 2.. .
    let mut run = Running::start(c.client(), "trace", &["-n", "-w", "5", "10.99.0.7"]);
    std::thread::sleep(Duration::from_millis(1000));
    run.signal(Signal::SIGTERM);
    run.wait_within(LIMIT, Duration::from_millis(20), "SIGTERM");
    let (status, out, err) = run.finish();
    assert!(
        out.lines()
            .any(|l| l.starts_with(" 1  ") && l.contains(&router)),
        "hop 1 after SIGTERM: {out}{err}"
    );
    assert_eq!(status.code(), Some(0), "{out}{err}");

    let mut run = Running::start(
        c.client(),
        "ping",
        &["-i", "0.1", &c.server_v4().to_string()],
    );
    std::thread::sleep(Duration::from_millis(500));
    run.signal(Signal::SIGTERM);
    run.wait_within(LIMIT, Duration::from_millis(20), "SIGTERM");
    let (status, out, err) = run.finish();
    assert!(out.contains("ping statistics ---"), "{out}{err}");
    assert_eq!(status.code(), Some(0), "{out}{err}");
}
