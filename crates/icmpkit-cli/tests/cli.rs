//! The command's surface: version, help, completions, bad usage.

mod common;

use std::process::Command;

use common::{ECHO_V4, ICMPKIT, TempFile, pcap_file, unhex};
use icmpkit_lab::output_text as text;

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

/// The flags that take an ICMP type complete its names (`send --type`,
/// `listen --type`), in every shell; numbers are still taken.
#[test]
fn completions_offer_icmp_type_names() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        let script = String::from_utf8_lossy(&o.stdout);
        for name in ["echo-request", "neighbor-solicitation", "time-exceeded"] {
            assert!(script.contains(name), "{shell}: no {name}");
        }
    }
    let fish = String::from_utf8_lossy(&run(&["completions", "fish"]).stdout).into_owned();
    // One `complete` entry per flag (its values may span lines).
    for command in ["send", "listen"] {
        let entry = fish
            .split("\ncomplete ")
            .find(|e| e.contains(&format!("using_subcommand {command}\"")) && e.contains("-l type"))
            .unwrap_or_else(|| panic!("no --type completion for {command}"));
        assert!(entry.contains("router-advertisement"), "{entry}");
    }
    // The names are offered, not imposed: the command's own check answers
    // (no clap "possible values" list), and nothing is sent.
    let o = run(&["send", "-t", "300", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("\"300\" is unknown"), "{}", text(&o));
    assert!(!text(&o).contains("possible values"), "{}", text(&o));
}

/// `icmpkit man --dir D` writes icmpkit.1 and a page per command, each a
/// roff page that `man -l` renders (where man is installed).
#[test]
fn man_pages_for_every_command() {
    let dir = std::env::temp_dir().join(format!("icmpkit-man-{}", std::process::id()));
    let o = run(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let commands = [
        "ping",
        "sweep",
        "trace",
        "decode",
        "listen",
        "send",
        "respond",
        "mtr",
        "completions",
    ];
    let pages: Vec<String> = std::iter::once("icmpkit".to_string())
        .chain(commands.iter().map(|c| format!("icmpkit-{c}")))
        .collect();
    let mut listed: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().collect();
    listed.sort_unstable();
    let mut wanted: Vec<String> = pages
        .iter()
        .map(|p| dir.join(format!("{p}.1")).display().to_string())
        .collect();
    wanted.sort_unstable();
    assert_eq!(listed, wanted);
    let man = icmpkit_lab::require_tool("man");
    for page in &pages {
        let path = dir.join(format!("{page}.1"));
        let roff = std::fs::read_to_string(&path).unwrap();
        assert!(roff.contains(&format!(".TH {page} 1")), "{page}: {roff}");
        if man.is_ok() {
            let shown = Command::new("man")
                .arg("-l")
                .arg(&path)
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .output()
                .unwrap();
            let shown_text = String::from_utf8_lossy(&shown.stdout);
            assert!(shown.status.success(), "{page}: {}", text(&shown));
            assert!(shown_text.contains("NAME"), "{page}: {shown_text}");
            assert!(shown_text.contains("SYNOPSIS"), "{page}: {shown_text}");
        }
    }
    if let Err(e) = man {
        icmpkit_lab::report_skip("man_pages_for_every_command (man -l part)", &e);
    }
    // The send page lists the flags of send.
    let send = std::fs::read_to_string(dir.join("icmpkit-send.1")).unwrap();
    assert!(send.contains("rest\\-of\\-header") || send.contains("rest-of-header"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_usage_exits_2_without_panicking() {
    for args in [
        &["nosuchcommand"][..],
        &["ping"],
        &["ping", "-c", "x", "127.0.0.1"],
        &["ping", "-c", "0", "127.0.0.1"],
        &["completions", "nosh"],
        // trace's and mtr's shared -T / --flows keep their conflicts and
        // ranges in both commands.
        &["trace", "-T", "-U", "127.0.0.1"],
        &["trace", "-I", "-T", "127.0.0.1"],
        &["mtr", "-T", "-u", "127.0.0.1"],
        &["trace", "--flows", "0", "127.0.0.1"],
        &["mtr", "--flows", "257", "127.0.0.1"],
        // -o and -e as mtr: unknown letters refused; trace's -o needs --report.
        &["mtr", "-o", "LSQ", "127.0.0.1"],
        &["trace", "-o", "LS", "127.0.0.1"],
        &["trace", "--report-wide", "127.0.0.1"],
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
        (&["ping", "-W", "0", "-c", "1", "127.0.0.1"][..], 2, "-W"),
        (&["ping", "-i", "1e300", "127.0.0.1"], 2, "1e300"),
        (&["trace", "-w", "0", "127.0.0.1"], 2, "-w"),
        (&["trace", "-U", "-p", "0", "127.0.0.1"], 2, "1..=65535"),
        (
            &["trace", "--data-size", "65001", "127.0.0.1"],
            2,
            "--data-size must be between 0 and 65000 (got 65001)",
        ),
        (&["mtr", "-Z", "0", "127.0.0.1"], 2, "-Z must be above 0"),
        (&["mtr", "-i", "0", "127.0.0.1"], 2, "-i must be above 0"),
        (
            &["mtr", "-i", "-1", "127.0.0.1"],
            2,
            "for '--interval <SECONDS>'",
        ),
        (
            &["mtr", "-f", "5", "-m", "3", "127.0.0.1"],
            2,
            "-m must be at least -f (5)",
        ),
        (
            &["mtr", "-s", "70000", "127.0.0.1"],
            2,
            "-s must be at most 65028",
        ),
        (&["mtr", "-c", "0", "127.0.0.1"], 2, "-c"),
        (
            &["mtr", "-r", "-o", "LSZ", "127.0.0.1"],
            2,
            "-o: unknown field 'Z' (known: LDRSNBAWVGJMXI and space)",
        ),
        (
            &["trace", "--report", "-o", "Lq", "127.0.0.1"],
            2,
            "unknown field 'q'",
        ),
        (
            &["mtr", "-c", "70000", "127.0.0.1"],
            2,
            "at most 65535 rounds",
        ),
        (&["sweep", "-r", "4294967295", "127.0.0.1"], 3, "retries"),
        (&["send", "--size", "70000", "127.0.0.1"], 2, "--size"),
        (
            &["send", "--size", "8", "--pattern", "", "127.0.0.1"],
            2,
            "--pattern: no hex digits",
        ),
        (&["respond", "-w", "1e20"], 2, "--deadline"),
        (&["respond", "-c", "0"], 2, "--count"),
        (&["listen", "-c", "0"], 2, "--count"),
        (&["listen", "--duration", "0"], 2, "--duration"),
    ] {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: started anyway");
    }
}

/// A full or closed stdout ends the command, never in a panic.
#[test]
fn unwritable_stdout_is_not_a_panic() {
    let Ok(full) = std::fs::File::create("/dev/full") else {
        icmpkit_lab::report_skip("unwritable_stdout_is_not_a_panic", &"no /dev/full");
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

/// A capture cut short: the packets before the cut are decoded, then one
/// line names the file, the packet (or pcapng block) and says it is
/// truncated; exit 2 (as tshark: complete packets, then a warning).
#[test]
fn decode_of_a_truncated_capture_names_file_packet_and_truncation() {
    let echo = unhex(ECHO_V4);
    let pcap = pcap_file(65535, &[(&echo, 36), (&echo, 36), (&echo, 36)]);
    let pcapng = common::pcapng_file(&[&echo, &echo, &echo]);
    let pcap_record = 16 + echo.len();
    let cases = [
        (
            "data.pcap",
            &pcap[..pcap.len() - 26],
            2,
            "truncated pcap: the file ends inside packet 3 (10 of its 36 bytes)",
        ),
        (
            "record.pcap",
            &pcap[..24 + pcap_record + 5],
            1,
            "truncated pcap: the file ends inside the record header of packet 2 (5 of its 16 bytes)",
        ),
        (
            "header.pcap",
            &pcap[..10],
            0,
            "truncated pcap: the file ends inside the file header (10 of its 24 bytes)",
        ),
        (
            "cut.pcapng",
            &pcapng[..pcapng.len() - 7],
            2,
            "truncated pcapng: the file ends inside block 5, after packet 2",
        ),
    ];
    for (name, bytes, complete, message) in cases {
        let file = TempFile::new(name, bytes);
        let o = run(&["decode", "-r", file.path()]);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(out.lines().count(), complete, "{name}: {out}");
        assert!(
            out.lines()
                .all(|l| l.contains("echo request id 4660 seq 1, 16 bytes")),
            "{name}: {out}"
        );
        let expected = format!("icmpkit: {}: {message}", file.path());
        assert!(err.lines().any(|l| l == expected), "{name}: {err}");
    }
}

/// Every TOS / traffic class / mark flag takes decimal or 0x hex (as ping
/// -Q and traceroute -t do), through one parser with range checks; bad
/// values are refused naming the flag and the range, before any packet.
#[test]
fn tos_and_mark_flags_take_decimal_or_hex() {
    let byte_range = "0 to 255 (0xff)";
    for (args, code, flag, words) in [
        (
            &["trace", "-t", "256", "127.0.0.1"][..],
            2,
            "--tos",
            byte_range,
        ),
        (
            &["trace", "-t", "0x100", "127.0.0.1"],
            2,
            "--tos",
            byte_range,
        ),
        (&["trace", "-t", "-1", "127.0.0.1"], 2, "--tos", byte_range),
        (
            &["trace", "-t", "0x", "127.0.0.1"],
            2,
            "--tos",
            "not a number",
        ),
        (&["ping", "-Q", "0x1ff", "127.0.0.1"], 2, "-Q", byte_range),
        (
            &["ping", "-m", "0x100000000", "127.0.0.1"],
            2,
            "-m",
            "0 to 4294967295",
        ),
        (
            &["send", "--tos", "ten", "127.0.0.1"],
            2,
            "--tos",
            "decimal, or hex with 0x",
        ),
        (&["sweep", "-O", "300", "127.0.0.1"], 3, "--tos", byte_range),
    ] {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(flag) && err.contains(words), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Accepted in hex: a trace and a sweep of loopback with TOS 0x10
    // (lab tests check the byte on the wire).
    if !nix::unistd::geteuid().is_root() {
        icmpkit_lab::report_skip(
            "tos_and_mark_flags_take_decimal_or_hex (sending part)",
            &"not root",
        );
        return;
    }
    let o = run(&[
        "trace",
        "-t",
        "0x10",
        "-n",
        "-m",
        "1",
        "-q",
        "1",
        "-w",
        "1",
        "127.0.0.1",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(" 1  127.0.0.1"), "{out}");
    let o = run(&["sweep", "-O", "0x10", "-q", "127.0.0.1"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["ping", "-c", "1", "-Q", "0X10", "-m", "0x10", "127.0.0.1"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A negative time, share or TOS reaches the flag's own check, which names
/// the range, instead of clap's "unexpected argument '-1'" with its advice
/// to write `-- -1`.
#[test]
fn negative_values_are_refused_by_the_flags_range() {
    for (args, code, words) in [
        (
            &["ping", "-i", "-1", "127.0.0.1"][..],
            2,
            "for '-i <INTERVAL>': -1.0 is out of range (seconds, 0 to",
        ),
        (
            &["ping", "-W", "-0.5", "127.0.0.1"],
            2,
            "for '-W <TIMEOUT>'",
        ),
        (
            &["sweep", "-t", "-5", "127.0.0.1"],
            3,
            "for '--timeout <MS>': -5.0 is out of range (milliseconds",
        ),
        (
            &["sweep", "-B", "-1", "127.0.0.1"],
            3,
            "backoff must be between",
        ),
        (
            &["trace", "-z", "-1", "127.0.0.1"],
            2,
            "for '--sendwait <SENDWAIT>'",
        ),
        (
            &["trace", "-w", "-1", "127.0.0.1"],
            2,
            "for '--wait <WAIT>'",
        ),
        (
            &["send", "-i", "-1", "127.0.0.1"],
            2,
            "for '--interval <SECONDS>'",
        ),
        (
            &["respond", "--delay", "-5"],
            2,
            "out of range (0 to 1 hour)",
        ),
        (&["respond", "--loss", "-1"], 2, "out of range (0 to 100%)"),
        (
            &["respond", "--jitter", "-5ms"],
            2,
            "duration \"-5ms\" out of range",
        ),
        (
            &["respond", "--loss", "-5%"],
            2,
            "share \"-5%\" out of range",
        ),
        (&["respond", "-w", "-1"], 2, "for '--deadline <SECONDS>'"),
        (
            &["listen", "--duration", "-1"],
            2,
            "for '--duration <SECONDS>'",
        ),
    ] {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
}

/// `sweep -g` (fping's generate) takes one prefix or a start and an end
/// address; anything else is a usage error (exit 3), not a silent list.
#[test]
fn sweep_generate_takes_a_prefix_or_start_and_end() {
    for (args, words) in [
        (&["sweep", "-g", "127.0.0.1"][..], "not \"127.0.0.1\""),
        (
            &["sweep", "-g", "127.0.0.1", "127.0.0.2", "127.0.0.3"],
            "not \"127.0.0.1 127.0.0.2 127.0.0.3\"",
        ),
        (
            &["sweep", "-g", "a.example", "b.example"],
            "not \"a.example b.example\"",
        ),
        (&["sweep", "-g", "127.0.0.0/30", "127.0.0.9"], "not"),
        (&["sweep", "-g"], "none given"),
    ] {
        let o = run_with_stdin(args, b"");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("-g takes a prefix (192.0.2.0/24) or a start and an end address"),
            "{args:?}: {err}"
        );
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

/// Options the library refuses are named by ping's own flags, as iputils
/// users type them (the library names its fields: `timeout`, `payload_size`).
#[test]
fn ping_refusals_name_the_flag() {
    for (args, expected) in [
        (
            &["ping", "-W", "0", "-c", "1", "127.0.0.1"][..],
            "icmpkit: invalid option: -W must be above 0",
        ),
        (
            &["ping", "-s", "70000", "-c", "1", "127.0.0.1"][..],
            "icmpkit: invalid option: -s must be between 0 and 65507 for IPv4 (got 70000)",
        ),
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim(), expected, "{args:?}");
    }
}
