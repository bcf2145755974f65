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
