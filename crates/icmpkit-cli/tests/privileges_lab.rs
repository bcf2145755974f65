//! Privileges are given up by every thread, in every command. The README's
//! install (`setcap cap_net_raw+ep`) is the path tested: a copy of the
//! binary with that file capability, run as `nobody`, whose threads
//! (tokio's blocking pool after resolving a name, sweep's senders, listen's
//! readers...) must all show empty capability sets in
//! `/proc/<pid>/task/*/status` while the command runs.

use std::path::Path;
use std::time::Duration;

use icmpkit_lab::{CapableCopy, NOBODY, Ns, lab_or_skip, require_or_skip, thread_capabilities};

mod common;
use common::{ICMPKIT, Running};

/// `icmpkit <command> <args>` from `copy`, as nobody inside `ns`.
fn start(copy: &CapableCopy, ns: &Ns, command: &str, args: &[&str]) -> Running {
    let mut line = ns.run_as(NOBODY, NOBODY, copy.binary());
    line.arg(command).args(args);
    Running::spawn(line)
}

/// Runs `icmpkit <command> <args>` from the capable copy as nobody in a
/// fresh namespace, reads every thread's capabilities while it runs, stops
/// it with Ctrl-C and checks that no thread held any, and that `worked`
/// holds for its output (the capability was there and served).
fn assert_every_thread_dropped(
    test: &str,
    command: &str,
    args: &[&str],
    worked: impl Fn(&str) -> bool,
) {
    let lab = lab_or_skip!(test);
    let copy = require_or_skip!(test, CapableCopy::new(Path::new(ICMPKIT), test));
    let ns = lab.namespace("caps").expect("namespace");
    let mut running = start(&copy, &ns, command, args);
    // Long enough to resolve, open, drop and start every thread.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        running.is_running(),
        "{command} ended early: {}",
        running.kill()
    );
    let threads = thread_capabilities(running.pid());
    running.signal(nix::sys::signal::Signal::SIGINT);
    running.wait_within(Duration::from_secs(10), Duration::from_millis(20), "Ctrl-C");
    let (_, stdout, stderr) = running.finish();
    let output = format!("{stdout}{stderr}");
    assert!(worked(&output), "{command} did not work:\n{output}");
    let holding: Vec<_> = threads
        .iter()
        .filter(|(_, e, p)| *e != 0 || *p != 0)
        .collect();
    assert!(
        holding.is_empty(),
        "{command}: threads still holding capabilities (tid, CapEff, CapPrm): {holding:x?} \
         of {} threads\n{output}",
        threads.len()
    );
}

#[test]
fn ping_by_name_drops_capabilities_in_every_thread() {
    // `localhost` is resolved on tokio's blocking pool, whose thread lives on.
    assert_every_thread_dropped(
        "ping_by_name_drops_capabilities_in_every_thread",
        "ping",
        &["--privileged", "-i", "0.2", "localhost"],
        |out| out.contains("bytes from") && out.contains("ping statistics"),
    );
}

#[test]
fn sweep_drops_capabilities_in_every_thread() {
    assert_every_thread_dropped(
        "sweep_drops_capabilities_in_every_thread",
        "sweep",
        &[
            "--privileged",
            "--senders",
            "2",
            "-c",
            "100",
            "-p",
            "100",
            "localhost",
        ],
        |out| out.contains("localhost : [0], 64 bytes"),
    );
}

#[test]
fn trace_drops_capabilities_in_every_thread() {
    assert_every_thread_dropped(
        "trace_drops_capabilities_in_every_thread",
        "trace",
        &[
            "--privileged",
            "-n",
            "-r",
            "-c",
            "100",
            "--interval",
            "0.1",
            "localhost",
        ],
        |out| out.contains("127.0.0.1"),
    );
}

#[test]
fn listen_drops_capabilities_in_every_thread() {
    assert_every_thread_dropped(
        "listen_drops_capabilities_in_every_thread",
        "listen",
        &[],
        |out| out.contains("packets"),
    );
}

#[test]
fn send_drops_capabilities_in_every_thread() {
    assert_every_thread_dropped(
        "send_drops_capabilities_in_every_thread",
        "send",
        &["-c", "100", "-i", "0.1", "localhost"],
        |out| out.contains("reply"),
    );
}

#[test]
fn respond_drops_capabilities_in_every_thread() {
    assert_every_thread_dropped(
        "respond_drops_capabilities_in_every_thread",
        "respond",
        &[],
        |out| !out.contains("permission") && !out.contains("Permission"),
    );
}
