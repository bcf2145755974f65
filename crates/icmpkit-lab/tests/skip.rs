//! Without root, `lab_or_skip!` prints `SKIPPED: <test>: <reason>` and returns.

use std::process::Command;

use icmpkit_lab::{lab_or_skip, require_or_skip, require_tool};

/// Runs in a child process as `nobody`: must skip, never reach the panic.
#[test]
fn unprivileged_child() {
    if std::env::var_os("ICMPKIT_LAB_SKIP_CHILD").is_none() {
        return; // Only meaningful in the child started below.
    }
    let _lab = lab_or_skip!("unprivileged_child");
    panic!("Lab::new must refuse without root");
}

#[test]
fn without_root_tests_say_skipped_and_why() {
    let _lab = lab_or_skip!("without_root_tests_say_skipped_and_why"); // needs root to drop it
    require_or_skip!(
        "without_root_tests_say_skipped_and_why",
        require_tool("setpriv")
    );
    let me = std::env::current_exe().expect("own test binary");
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(me)
        .args(["--exact", "unprivileged_child", "--nocapture"])
        .env("ICMPKIT_LAB_SKIP_CHILD", "1")
        .output()
        .expect("run child");
    let stderr = String::from_utf8_lossy(&child.stderr);
    if stderr.contains("Permission denied")
        && !child.status.success()
        && !stderr.contains("SKIPPED")
    {
        icmpkit_lab::report_skip(
            "without_root_tests_say_skipped_and_why",
            &format!("nobody cannot run {stderr}"),
        );
        return;
    }
    assert!(child.status.success(), "{stderr}");
    assert!(
        stderr.contains("SKIPPED: unprivileged_child: needs root"),
        "{stderr}"
    );
}
