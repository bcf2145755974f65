//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/fixtures`, where the committed captures and their scripts live.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The bytes of `tests/fixtures/NAME.hex` (comment lines skipped).
pub fn fixture(name: &str) -> Vec<u8> {
    hex_file(&fixtures_dir().join(format!("{name}.hex")))
}

/// The bytes of a `.hex` capture file (comment lines skipped), committed or
/// freshly written by a capture script.
pub fn hex_file(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<String>()
        .split_whitespace()
        .collect();
    hex::decode(hex).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Prints `SKIPPED: <test>: <why>` on the process's stderr itself: libtest
/// captures `println!` of a passing test, which would hide the skip. (The
/// wire crate cannot use icmpkit-lab's `report_skip`: the lab depends on it.)
pub fn report_skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("SKIPPED: {test}: {why}\n").as_bytes());
}

/// Why a capture script cannot run here (it builds network namespaces, so
/// it needs root and `tools`), or `None` when it can.
pub fn missing_lab_prerequisite(tools: &[&str]) -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (network namespaces need it)".into());
    }
    for tool in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

/// Runs `tests/fixtures/SCRIPT` into a fresh scratch directory and returns
/// it (the caller removes it once compared); panics with the script's
/// stderr when it fails.
pub fn run_capture_script(script: &str) -> PathBuf {
    let tag = script.trim_end_matches(".sh").replace('_', "-");
    let out = std::env::temp_dir().join(format!("icmpkit-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let run = Command::new("bash")
        .arg(fixtures_dir().join(script))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// Every fixture, by name.
pub const FIXTURES: [&str; 5] = [
    "icmpv4-echo-reply",
    "icmpv4-host-unreachable",
    "icmpv4-time-exceeded",
    "icmpv4-port-unreachable",
    "icmpv6-packet-too-big",
];
