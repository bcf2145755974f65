//! Privileges are given up by every thread, in every command. The README's
//! install (`setcap cap_net_raw+ep`) is the path tested: a copy of the
//! binary with that file capability, run as `nobody`, whose threads
//! (tokio's blocking pool after resolving a name, sweep's senders, listen's
//! readers...) must all show empty capability sets in
//! `/proc/<pid>/task/*/status` while the command runs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use icmpkit_lab::{Ns, Skip, lab_or_skip, require_or_skip};

mod common;
use common::{ICMPKIT, Running};

const NOBODY: u32 = 65_534;

/// A copy of the binary with `cap_net_raw+ep`, in a directory of its own
/// (removed on drop) that `nobody` can enter.
struct CapableCopy {
    dir: PathBuf,
    binary: PathBuf,
}

impl CapableCopy {
    fn new(test: &str) -> Result<CapableCopy, Skip> {
        icmpkit_lab::require_tool("setcap")?;
        let dir = std::env::temp_dir().join(format!("icmpkit-caps-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the copy's directory");
        let copy = CapableCopy {
            binary: dir.join("icmpkit"),
            dir,
        };
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&copy.dir, open.clone()).expect("chmod the directory");
        std::fs::copy(ICMPKIT, &copy.binary).expect("copy icmpkit");
        std::fs::set_permissions(&copy.binary, open).expect("chmod the copy");
        let setcap = Command::new("setcap")
            .arg("cap_net_raw+ep")
            .arg(&copy.binary)
            .output()
            .expect("run setcap");
        if !setcap.status.success() {
            return Err(Skip::new(format!(
                "setcap refused on {} (no xattr support?): {}",
                copy.dir.display(),
                icmpkit_lab::output_text(&setcap)
            )));
        }
        Ok(copy)
    }

    /// `icmpkit <command> <args>` as nobody inside `ns`.
    fn start(&self, ns: &Ns, command: &str, args: &[&str]) -> Running {
        let mut line = ns.run_as(NOBODY, NOBODY, &self.binary);
        line.arg(command).args(args);
        Running::spawn(line)
    }
}

impl Drop for CapableCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (tid, CapEff, CapPrm) of every thread of `pid`.
fn thread_capabilities(pid: u32) -> Vec<(String, u64, u64)> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let mut threads = Vec::new();
    for entry in std::fs::read_dir(&tasks)
        .expect("list the command's threads")
        .flatten()
    {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue; // ended meanwhile
        };
        let field = |name: &str| {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {status}"));
            u64::from_str_radix(line.trim(), 16).expect("a hex capability mask")
        };
        threads.push((
            entry.file_name().to_string_lossy().into_owned(),
            field("CapEff:"),
            field("CapPrm:"),
        ));
    }
    threads
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
    let copy = require_or_skip!(test, CapableCopy::new(test));
    let ns = lab.namespace("caps").expect("namespace");
    let mut running = copy.start(&ns, command, args);
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
