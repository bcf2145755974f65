//! A namespace left by a crashed run (our prefix, dead pid), and its `/etc/netns` files, are
//! removed by the next `Lab::new`.
//! Its own test binary, because the cleanup runs once per process, at the first `Lab::new`.

use std::path::Path;
use std::process::Command;

use icmpkit_lab::{Lab, lab_or_skip};

#[test]
fn first_lab_removes_namespaces_of_dead_runs_only() {
    // Checks root/ip/namespace support; this first Lab::new already did its cleanup, so the
    // stale namespace below is cleaned by a helper process running this test binary again.
    let lab = lab_or_skip!("first_lab_removes_namespaces_of_dead_runs_only");
    if std::env::var_os("ICMPKIT_LAB_STALE_CHILD").is_some() {
        return; // The child: its Lab::new above was the point.
    }
    let mut exited = Command::new("true").spawn().expect("spawn true");
    let dead_pid = exited.id();
    exited.wait().expect("wait true");
    let stale = format!("ik{dead_pid}x0crashed");
    let ours = lab.namespace("alive").expect("namespace of a live run");
    let status = Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .expect("ip netns add");
    assert!(status.success());
    let stale_path = Path::new("/run/netns").join(&stale);
    assert!(stale_path.exists());
    let stale_etc = Path::new("/etc/netns").join(&stale);
    std::fs::create_dir_all(&stale_etc).expect("stale /etc/netns dir");
    std::fs::write(stale_etc.join("hosts"), "").expect("stale hosts file");
    lab.etc_file(&ours, "hosts", "")
        .expect("a live run's etc file");
    let ours_etc = Path::new("/etc/netns").join(ours.name());

    let me = std::env::current_exe().expect("own test binary");
    let child = Command::new(me)
        .args([
            "--exact",
            "first_lab_removes_namespaces_of_dead_runs_only",
            "--nocapture",
        ])
        .env("ICMPKIT_LAB_STALE_CHILD", "1")
        .output()
        .expect("run child");
    let cleaned = !stale_path.exists();
    if !cleaned {
        let _ = Command::new("ip")
            .args(["netns", "delete", &stale])
            .status();
    }
    let etc_cleaned = !stale_etc.exists();
    if !etc_cleaned {
        let _ = std::fs::remove_dir_all(&stale_etc);
    }
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(cleaned, "stale namespace {stale} survived");
    assert!(etc_cleaned, "{} survived", stale_etc.display());
    assert!(
        ours_etc.exists(),
        "a live run's etc files must be left alone"
    );
    assert!(
        ours.path().exists(),
        "a live run's namespace must be left alone"
    );
    drop(Lab::new("sanity").expect("lab"));
}
