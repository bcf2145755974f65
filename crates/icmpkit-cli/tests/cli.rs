//! The command's surface: version, help, completions, bad usage.

use std::process::Command;

const ICMPKIT: &str = env!("CARGO_BIN_EXE_icmpkit");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(ICMPKIT)
        .args(args)
        .output()
        .expect("run icmpkit")
}

#[test]
fn version_and_help() {
    let o = run(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("icmpkit {}", env!("CARGO_PKG_VERSION"))
    );
    let o = run(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("ping"), "{help}");
    let o = run(&["ping", "--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("-c <COUNT>"));
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("icmpkit"),
            "{shell}"
        );
    }
}

#[test]
fn bad_usage_exits_2_without_panicking() {
    for args in [
        &["nosuchcommand"][..],
        &["ping"],
        &["ping", "-c", "x", "127.0.0.1"],
        &["ping", "-c", "0", "127.0.0.1"],
        &["completions", "nosh"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

/// Values that would panic, hang or silently misbehave are refused with a
/// message naming the flag, before any packet is sent.
#[test]
fn misbehaving_values_are_refused_with_the_flag_named() {
    for (args, code, flag) in [
        (
            &["ping", "-W", "0", "-c", "1", "127.0.0.1"][..],
            2,
            "timeout",
        ),
        (&["ping", "-i", "1e300", "127.0.0.1"], 2, "1e300"),
        (&["trace", "-w", "0", "127.0.0.1"], 2, "-w"),
        (&["sweep", "-r", "4294967295", "127.0.0.1"], 3, "retries"),
        (&["send", "--size", "70000", "127.0.0.1"], 2, "--size"),
        (&["respond", "-w", "1e20"], 2, "-w"),
        (&["respond", "-c", "0"], 2, "--count"),
        (&["listen", "-c", "0"], 2, "--count"),
        (&["listen", "--duration", "0"], 2, "--duration"),
    ] {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A full or closed stdout ends the command, never in a panic.
#[test]
fn unwritable_stdout_is_not_a_panic() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        eprintln!("SKIPPED: unwritable_stdout_is_not_a_panic: no /dev/full");
        return;
    };
    let o = Command::new(ICMPKIT)
        .args(["completions", "bash"])
        .stdout(full)
        .output()
        .expect("run icmpkit");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("writing the completions"), "{err}");
}
