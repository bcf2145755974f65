//! `icmpkit sweep` against real kernels in the lab: fping's flags and exit
//! codes, JSON/CSV, errors named with their router, shards, input sources,
//! and fping itself on the same prefix.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Output, Stdio};

use icmpkit_lab::{Chain, Lab, Reject, lab_or_skip};

mod common;
use common::ICMPKIT;

/// client — r1 — server: the server answers 10.9.0.0/25 and fd00:99::/121,
/// r1 blackholes 10.9.0.128/25 and fd00:99::80/121 except 10.9.0.252/30 and
/// fd00:99::fc/126, which it answers with Destination Unreachable.
fn lab_chain(lab: &Lab) -> Chain {
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.9.0.0/25").unwrap();
    c.reject(Reject::Blackhole, "10.9.0.128/25").unwrap();
    c.reject(Reject::Unreachable, "10.9.0.252/30").unwrap();
    c.serve_prefix("fd00:99::/121").unwrap();
    c.reject(Reject::Blackhole, "fd00:99::80/121").unwrap();
    c.reject(Reject::Unreachable, "fd00:99::fc/126").unwrap();
    c
}

fn sweep(c: &Chain, args: &[&str]) -> Output {
    common::icmpkit(c.client(), "sweep", args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn lines(s: &str) -> BTreeSet<String> {
    s.lines().map(str::to_string).collect()
}

fn v4_live() -> BTreeSet<String> {
    (1..=127).map(|i| format!("10.9.0.{i}")).collect()
}

fn v6_live() -> BTreeSet<String> {
    (0..=0x7f)
        .map(|i| {
            let a: std::net::Ipv6Addr = (0xfd00_0099_u128 << 96 | i).into();
            a.to_string()
        })
        .collect()
}

#[test]
fn alive_and_unreachable_lists_v4_and_v6() {
    let lab = lab_or_skip!("alive_and_unreachable_lists_v4_and_v6");
    let c = lab_chain(&lab);
    let args = [
        "10.9.0.0/24",
        "fd00:99::/120",
        "-r",
        "1",
        "-t",
        "200",
        "--rate",
        "0",
    ];
    let o = sweep(&c, &[&args[..], &["-a"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut want = v4_live();
    want.extend(v6_live());
    assert_eq!(lines(&stdout(&o)), want);
    assert_eq!(stdout(&o).lines().count(), want.len(), "listed once each");
    let o = sweep(&c, &[&args[..], &["-u", "-q"]].concat());
    let unreachable = lines(&stdout(&o));
    assert_eq!(unreachable.len(), 127 + 128); // 10.9.0.128-254, fd00:99::80-ff
    assert!(unreachable.is_disjoint(&want));
    assert!(stderr(&o).is_empty(), "-q: {}", stderr(&o));
    // fping on the same prefix finds the same live IPv4 hosts.
    if icmpkit_lab::require_tool("fping").is_ok() {
        let f = c
            .client()
            .command("fping")
            .args(["-g", "10.9.0.0/24", "-a", "-q", "-r", "1", "-t", "200"])
            .output()
            .unwrap();
        assert_eq!(lines(&stdout(&f)), v4_live());
    } else {
        icmpkit_lab::report_skip("fping comparison", &"fping not on PATH");
    }
}

#[test]
fn errors_name_the_router_and_exit_codes_follow_fping() {
    let lab = lab_or_skip!("errors_name_the_router_and_exit_codes_follow_fping");
    let c = lab_chain(&lab);
    let o = sweep(
        &c,
        &[
            "10.9.0.252-10.9.0.254",
            "fd00:99::fd",
            "-r",
            "0",
            "-t",
            "300",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for dst in ["10.9.0.252", "10.9.0.253", "10.9.0.254"] {
        assert!(
            err.contains(&format!(
                "ICMP Host Unreachable (type 3 code 1) from 10.1.0.2 for ICMP Echo sent to {dst}"
            )),
            "{err}"
        );
    }
    assert!(
        err.contains("from fd00:1::2 for ICMP Echo sent to fd00:99::fd"),
        "{err}"
    );
    assert_eq!(
        lines(&stdout(&o)),
        lines(
            "10.9.0.252 is unreachable\n10.9.0.253 is unreachable\n10.9.0.254 is unreachable\nfd00:99::fd is unreachable\n"
        )
    );
    // -H sets the TTL (in the IP header icmpkit writes on raw IPv4 sockets):
    // with 1, r1 answers Time Exceeded.
    let o = sweep(&c, &["10.9.0.7", "-H", "1", "-r", "0", "-t", "300"]);
    assert!(
        stderr(&o).contains(
            "ICMP Time Exceeded (type 11 code 0) from 10.1.0.2 for ICMP Echo sent to 10.9.0.7"
        ),
        "{}",
        stderr(&o)
    );
    // All alive: 0.
    let o = sweep(&c, &["10.9.0.1-10.9.0.20", "fd00:99::1", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A name that does not resolve: the rest is swept, exit 2.
    let o = sweep(&c, &["10.9.0.1", "no-such-host.invalid", "-t", "200"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stdout(&o).contains("10.9.0.1 is alive"));
    assert!(stderr(&o).contains("no-such-host.invalid"));
    // Bad arguments: 3.
    for bad in [
        &["10.9.0.0/33"][..],
        &["10.9.0.1", "--shard", "3/3"],
        &["10.9.0.1", "--frobnicate"],
        &["10.9.0.1", "-b", "8"],
        &["10.9.0.1", "-c", "0"],
        &["10.9.0.9-10.9.0.1"],
    ] {
        let o = sweep(&c, bad);
        assert_eq!(o.status.code(), Some(3), "{bad:?}: {}", stderr(&o));
    }
    // A system failure (no socket allowed): 4.
    let o = c
        .client()
        .run_as(65534, 65534, ICMPKIT)
        .args(["sweep", "10.9.0.1", "--privileged"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // The default tries raw first, then falls back to a datagram socket
    // where ping_group_range lets the user in; without either: 4 and how
    // to grant it.
    let as_nobody = || {
        c.client()
            .run_as(65534, 65534, ICMPKIT)
            .args(["sweep", "10.9.0.1", "-a"])
            .output()
            .unwrap()
    };
    let o = as_nobody();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("ping_group_range"), "{}", stderr(&o));
    c.client().allow_ping_sockets().unwrap();
    let o = as_nobody();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "10.9.0.1");
}

#[test]
fn replies_with_a_bad_checksum_are_counted_as_corrupted_not_alive() {
    let lab = lab_or_skip!("replies_with_a_bad_checksum_are_counted_as_corrupted_not_alive");
    icmpkit_lab::require_or_skip!(
        "replies_with_a_bad_checksum_are_counted_as_corrupted_not_alive",
        icmpkit_lab::require_tool("nft")
    );
    let c = lab_chain(&lab);
    // The server's kernel answers, then nft changes one byte of each echo
    // reply's data (byte 42, which holds 0x2a) without fixing the checksum.
    c.server()
        .nft(
            "add table ip iklab ; \
             add chain ip iklab ikout { type filter hook output priority 0 ; } ; \
             add rule ip iklab ikout icmp type echo-reply @th,400,8 set 0xaa",
        )
        .expect("nft rule");
    let o = sweep(
        &c,
        &[
            "10.9.0.1-10.9.0.4",
            "--json",
            "--privileged",
            "-r",
            "0",
            "-t",
            "300",
        ],
    );
    let objects: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let summary = objects.last().expect("a summary");
    assert_eq!(summary["event"], "summary", "{objects:?}");
    assert_eq!(
        (
            summary["corrupted"].as_u64(),
            summary["alive"].as_str(),
            summary["replies"].as_u64()
        ),
        (Some(4), Some("0"), Some(0)),
        "{summary}"
    );
    assert!(stderr(&o).contains("4 corrupted"), "{}", stderr(&o));
}

#[test]
fn json_csv_and_per_probe_statistics() {
    let lab = lab_or_skip!("json_csv_and_per_probe_statistics");
    let c = lab_chain(&lab);
    let o = sweep(
        &c,
        &[
            "10.9.0.1-10.9.0.3",
            "10.9.0.130",
            "--json",
            "-r",
            "0",
            "-t",
            "200",
        ],
    );
    let objects: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(objects.len(), 6);
    assert_eq!(objects[0]["event"], "start");
    assert_eq!(objects[0]["schema_version"], 1);
    // Numbers that can pass 2^53 are strings.
    assert_eq!(objects[0]["targets"], "4");
    assert!(objects[0]["seed"].as_str().unwrap().parse::<u64>().is_ok());
    let hosts = &objects[1..5];
    assert!(hosts.iter().all(|h| h["event"] == "host"));
    let alive = hosts.iter().filter(|h| h["status"] == "alive").count();
    assert_eq!(alive, 3);
    let dead = hosts.iter().find(|h| h["address"] == "10.9.0.130").unwrap();
    assert_eq!(dead["status"], "unreachable");
    assert_eq!(dead["sent"], 1);
    assert_eq!(dead["loss_percent"], 100.0);
    assert!(
        hosts
            .iter()
            .filter(|h| h["status"] == "alive")
            .all(|h| h["min_ms"].as_f64().unwrap() > 0.0)
    );
    let summary = &objects[5];
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        (summary["targets"].as_str(), summary["alive"].as_str()),
        (Some("4"), Some("3"))
    );
    assert_eq!(summary["seed"], objects[0]["seed"]);
    assert_eq!(summary["unreachable"], "1");

    let o = sweep(
        &c,
        &["10.9.0.1", "10.9.0.253", "--csv", "-r", "0", "-t", "300"],
    );
    let csv: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(
        csv[0],
        "target,address,status,sent,received,loss_percent,min_ms,avg_ms,max_ms,error,error_from"
    );
    assert_eq!(csv.len(), 3);
    let row = csv.iter().find(|r| r.starts_with("10.9.0.253,")).unwrap();
    assert!(
        row.starts_with("10.9.0.253,10.9.0.253,error,1,0,100.0,,,,ICMP Host Unreachable"),
        "{row}"
    );
    assert!(row.ends_with(",10.1.0.2"), "{row}");

    // -C: every RTT, "-" for the lost ones, on stderr as fping (names
    // padded to the longest).
    let o = sweep(
        &c,
        &[
            "10.9.0.5",
            "10.9.0.140",
            "-C",
            "3",
            "-p",
            "50",
            "-t",
            "100",
            "-q",
        ],
    );
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.starts_with("10.9.0.5   :"))
        .expect(&err);
    let rtts: Vec<&str> = line["10.9.0.5   :".len()..].split_whitespace().collect();
    assert_eq!(rtts.len(), 3);
    assert!(rtts.iter().all(|r| r.parse::<f64>().is_ok()), "{line}");
    assert!(err.contains("10.9.0.140 : - - -"), "{err}");
    // -c: xmt/rcv/%loss.
    let o = sweep(&c, &["10.9.0.5", "-c", "2", "-p", "20"]);
    let err = stderr(&o);
    assert!(
        err.contains("10.9.0.5 : xmt/rcv/%loss = 2/2/0%, min/avg/max = "),
        "{err}"
    );
    assert!(
        stdout(&o).contains("10.9.0.5 : [1], 64 bytes, "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn shards_files_stdin_and_exclusions() {
    let lab = lab_or_skip!("shards_files_stdin_and_exclusions");
    let c = lab_chain(&lab);
    let base = [
        "10.9.0.0/25",
        "-a",
        "-q",
        "-r",
        "0",
        "-t",
        "200",
        "--seed",
        "9",
    ];
    let mut union = Vec::new();
    for i in 0..4 {
        let shard = format!("{i}/4");
        let o = sweep(&c, &[&base[..], &["--shard", &shard]].concat());
        union.extend(stdout(&o).lines().map(str::to_string));
    }
    assert_eq!(union.len(), 126, "no overlap");
    assert_eq!(union.into_iter().collect::<BTreeSet<_>>(), {
        let mut w = v4_live();
        w.remove("10.9.0.127"); // the /25's broadcast address, skipped
        w
    });
    // -f FILE with comments, --exclude, --exclude-file.
    let dir = std::env::temp_dir().join(format!("icmpkit-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("targets");
    std::fs::write(
        &list,
        "# lab hosts\n10.9.0.1-10.9.0.10\n\nfd00:99::1  # v6\n",
    )
    .unwrap();
    let excl = dir.join("exclude");
    std::fs::write(&excl, "10.9.0.8/30\n").unwrap();
    let o = sweep(
        &c,
        &[
            "-f",
            list.to_str().unwrap(),
            "--exclude",
            "10.9.0.1,10.9.0.2/32",
            "--exclude-file",
            excl.to_str().unwrap(),
            "-a",
        ],
    );
    assert_eq!(
        lines(&stdout(&o)),
        lines("10.9.0.3\n10.9.0.4\n10.9.0.5\n10.9.0.6\n10.9.0.7\nfd00:99::1\n")
    );
    std::fs::remove_dir_all(&dir).ok();
    // Targets on stdin.
    let mut child = c
        .client()
        .command(ICMPKIT)
        .args(["sweep", "-a"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"10.9.0.3\n10.9.0.4\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(lines(&stdout(&o)), lines("10.9.0.3\n10.9.0.4\n"));
}

/// A bad -I is reported as such (the raw socket's own error), not as a
/// missing privilege after falling back to a datagram socket.
#[test]
fn unknown_interface_is_named_not_a_privilege_problem() {
    let lab = lab_or_skip!("unknown_interface_is_named_not_a_privilege_problem");
    let ns = lab.namespace("badif").unwrap();
    let o = ns
        .command(ICMPKIT)
        .args(["sweep", "-I", "nosuchif0", "127.0.0.1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("nosuchif0"), "{err}");
    assert!(!err.contains("permission denied"), "{err}");
}

/// `-O` (fping's TOS flag), in hex or decimal, is the TOS byte / traffic
/// class of every probe on the wire.
#[test]
fn tos_is_on_every_probe() {
    let lab = lab_or_skip!("tos_is_on_every_probe");
    let c = lab.chain(0).expect("chain");
    for (server, tos, expected) in [
        (c.server_v4().to_string(), "0x10", 0x10u8),
        (c.server_v6().to_string(), "184", 0xb8),
    ] {
        let capture = c.client().capture().expect("capture");
        let o = sweep(&c, &["-O", tos, "-C", "2", "-p", "50", "-q", &server]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let probes = common::echo_request_tos(&capture.finish());
        assert_eq!(probes, [expected, expected], "{tos}");
    }
}

/// P9 of the new-user trial: `-b` takes IPv6 payloads up to 65,527, as
/// ping does (IPv6's payload length does not count its header); IPv4
/// stops at 65,507 and is refused past it with the flag named, exit 3.
#[test]
fn ipv6_payloads_up_to_65527_as_ping() {
    let lab = lab_or_skip!("ipv6_payloads_up_to_65527_as_ping");
    let ns = lab.namespace("bigv6").expect("namespace");
    // The whole reply is read (it was cut to 2,048 bytes: an IPv4 one then
    // failed its checksum), IPv6 at its largest and IPv4 at its largest.
    // fping's bytes: the ICMP header and data.
    for (target, size, bytes) in [("::1", "65527", "65535"), ("127.0.0.1", "65507", "65515")] {
        let o = common::icmpkit(&ns, "sweep", &[target, "-c", "1", "-b", size]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains("1/1/0%"), "{}", stderr(&o));
        assert!(stderr(&o).contains("0 corrupted"), "{}", stderr(&o));
        let line = format!("{target} : [0], {bytes} bytes");
        assert!(stdout(&o).starts_with(&line), "{}", stdout(&o));
    }
    let o = common::icmpkit(&ns, "sweep", &["::1", "-c", "1", "-b", "65528"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("65527"), "{}", stderr(&o));
    // A size IPv6 allows but IPv4 does not: the refusal says whose limit.
    for targets in [&["127.0.0.1"][..], &["127.0.0.1", "::1"]] {
        let mut args = targets.to_vec();
        args.extend(["-c", "1", "-b", "65508"]);
        let o = common::icmpkit(&ns, "sweep", &args);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("-b must be between 32 and 65507 for IPv4 (got 65508)"),
            "{targets:?}: {}",
            stderr(&o)
        );
    }
}
