//! Each program under `examples/` runs on loopback (inside a namespace of
//! its own) and prints what its task promises.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

use icmpkit_lab::{Ns, lab_or_skip, output_text};

/// Where cargo put example `name` (beside this test's `deps/` directory).
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    profile_dir.join("examples").join(name)
}

/// Builds the examples (once per run) with the features this test was
/// built with: a no-op when `cargo test` already built them, and no stale
/// binary when only this test is run.
fn ensure_built() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let mut features = Vec::new();
        if cfg!(feature = "dns") {
            features.push("dns");
        }
        if cfg!(feature = "serde") {
            features.push("serde");
        }
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "icmpkit", "--examples", "--features"])
            .arg(features.join(","))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the examples failed");
    });
}

/// Runs example `name` with `args` in `ns`; its stdout, after checking it
/// succeeded.
fn run(ns: &Ns, name: &str, args: &[&str]) -> String {
    ensure_built();
    let output = ns
        .command(example_path(name))
        .args(args)
        .output()
        .expect("run the example");
    assert!(output.status.success(), "{name}: {}", output_text(&output));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn blocking_ping_example_reports_three_replies() {
    let lab = lab_or_skip!("blocking_ping_example_reports_three_replies");
    let ns = lab.namespace("exping").unwrap();
    let out = run(&ns, "ping", &["127.0.0.1"]);
    assert!(
        out.starts_with("127.0.0.1 (127.0.0.1): 3 sent, 3 received, 0% loss, avg "),
        "{out}"
    );
}

#[test]
fn streaming_ping_example_prints_each_event_in_order() {
    let lab = lab_or_skip!("streaming_ping_example_prints_each_event_in_order");
    let ns = lab.namespace("exstream").unwrap();
    let out = run(&ns, "ping_stream", &["127.0.0.1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    for (pair, seq) in lines.chunks(2).zip(1..=3) {
        assert_eq!(pair[0], format!("sent: seq={seq}"), "{out}");
        let reply = format!("reply from 127.0.0.1: seq={seq} rtt=Some(");
        assert!(pair[1].starts_with(&reply), "{out}");
    }
    assert_eq!(lines[6], "3 sent, 3 received");
}

#[test]
fn multiping_example_sweeps_a_range_and_names_the_unresolvable() {
    let lab = lab_or_skip!("multiping_example_sweeps_a_range_and_names_the_unresolvable");
    let ns = lab.namespace("exmulti").unwrap();
    // The namespace has no route out: the name fails locally.
    let out = run(
        &ns,
        "multiping",
        &["127.0.0.1-127.0.0.3", "no-such-host.invalid"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, host) in lines.iter().zip(["127.0.0.1", "127.0.0.2", "127.0.0.3"]) {
        assert!(line.starts_with(&format!("{host} alive, rtt ")), "{out}");
    }
    assert!(lines[3].starts_with("no-such-host.invalid: "), "{out}");
}

#[test]
fn traceroute_example_finds_the_one_hop_of_loopback() {
    let lab = lab_or_skip!("traceroute_example_finds_the_one_hop_of_loopback");
    let ns = lab.namespace("extrace").unwrap();
    let out = run(&ns, "traceroute", &["127.0.0.1"]);
    assert!(
        out.starts_with(" 1  127.0.0.1  2/2 answered, avg ") && out.lines().count() == 1,
        "{out}"
    );
}

#[test]
fn timestamp_example_decodes_the_kernels_reply() {
    let lab = lab_or_skip!("timestamp_example_decodes_the_kernels_reply");
    let ns = lab.namespace("exstamp").unwrap();
    let out = run(&ns, "timestamp", &["127.0.0.1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("Reply from 127.0.0.1 in ")
            && lines[0].contains(": ICMP time stamp reply id 4660 seq 1: org "),
        "{out}"
    );
    assert_eq!(lines[1], "1 sent, 1 answered");
}

#[test]
fn packet_example_builds_and_parses_an_echo() {
    let lab = lab_or_skip!("packet_example_builds_and_parses_an_echo");
    let ns = lab.namespace("expacket").unwrap();
    let out = run(&ns, "packet", &[]);
    assert_eq!(
        out,
        "built 13 bytes: 08 00 a1 f8 12 34 00 01 68 65 6c 6c 6f\n\
         parsed: ICMP echo request, id 4660, seq 1, length 13\n\
         decoded: ICMP echo reply, id 4660, seq 1, length 8\n"
    );
}
