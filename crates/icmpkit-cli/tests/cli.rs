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

/// A file in the temporary directory, unique to this test process, that is
/// removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("icmpkit-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs icmpkit with `stdin` as its standard input.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(ICMPKIT)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run icmpkit");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for icmpkit")
}

/// An empty target list exits 1 as fping does (`fping -f /dev/null`), with
/// one line saying why, instead of a silent "0 targets" success.
#[test]
fn sweep_with_no_targets_exits_1_and_says_why() {
    let comments = TempFile::new("no-targets.txt", b"# nothing here\n\n   \n");
    let cases: [(&[&str], &str); 5] = [
        (&["sweep", "-f", "/dev/null"], "/dev/null lists none"),
        (&["sweep", "-f", comments.path()], "lists none"),
        (&["sweep", "-f", "-"], "stdin lists none"),
        (
            &["sweep", "127.0.0.0/30", "--exclude", "127.0.0.0/8"],
            "every target is excluded",
        ),
        (
            &["sweep", "127.0.0.1", "--shard", "1/2"],
            "shard 1/2 holds none of the 1 target",
        ),
    ];
    for (args, why) in cases {
        let o = run_with_stdin(args, b"");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("icmpkit sweep: no targets to probe: "),
            "{args:?}: {err}"
        );
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // No target argument and an empty stdin (not a terminal) is the same.
    let o = run_with_stdin(&["sweep"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stdin lists none"));
}

/// Hex without a single digit is not an empty ICMP message: decode says
/// there is nothing to decode and exits 2, as for other unreadable input.
#[test]
fn decode_of_empty_hex_is_refused() {
    for args in [
        &["decode", ""][..],
        &["decode", "   "],
        &["decode", "0x"],
        &["decode", "0800f7ff00000000", " \t"],
    ] {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("nothing to decode"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("empty message"), "{args:?}: {out}");
    }
    // A hex line of stdin with no digits is refused with its line number.
    let o = run_with_stdin(&["decode"], b"0800f7ff00000000\n0x\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("stdin: line 2: nothing to decode"), "{err}");
    // An empty stdin decodes nothing and is no error (tshark on an empty pipe).
    let o = run_with_stdin(&["decode"], b"");
    assert_eq!(o.status.code(), Some(0));
}

/// An echo request from 192.0.2.1 to 192.0.2.2 in IPv4 (id 4660, seq 1,
/// 8 data bytes; built with scapy).
const ECHO_V4: &str = "45000024000040004001b6d5c0000201c00002020800d5b6123400010102030405060708";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A little-endian, microsecond pcap file of raw IP (link type 101) with
/// `snaplen`, one record per (bytes kept, original length).
fn pcap_file(snaplen: u32, records: &[(&[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, snaplen, 101] {
        out.extend(v.to_le_bytes());
    }
    for (i, (data, original)) in records.iter().enumerate() {
        for v in [1_700_000_000, i as u32, data.len() as u32, *original] {
            out.extend(v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    out
}

/// A capture made with a snap length (`tcpdump -s 28`) keeps the start of
/// each packet and its original length: such records are decoded (marked
/// truncated), not refused because the original length is over the snap
/// length.
#[test]
fn decode_reads_pcap_cut_by_a_snap_length() {
    let echo = unhex(ECHO_V4);
    let file = TempFile::new(
        "snap.pcap",
        &pcap_file(28, &[(&echo[..28], 36), (&echo[..28], 36)]),
    );
    let o = run(&["decode", "-r", file.path()]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for line in lines {
        assert!(
            line.contains("192.0.2.1 > 192.0.2.2 ttl 64: echo request id 4660 seq 1"),
            "{line}"
        );
        assert!(line.ends_with("truncated"), "{line}");
    }
}
