//! `icmpkit listen` in the lab: it sees exactly the pings sent into its
//! namespace, Ctrl-C ends it cleanly, and the pcap it writes reads back in
//! tshark and in `icmpkit decode`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use icmpkit_lab::{Ns, lab_or_skip, require_or_skip, require_tool};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const ICMPKIT: &str = env!("CARGO_BIN_EXE_icmpkit");

/// Starts `icmpkit listen ARGS` in `ns` and waits until its sockets are
/// open (it says "listening on" on stderr).
fn start_listen(ns: &Ns, args: &[&str]) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = ns
        .command(ICMPKIT)
        .arg("listen")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start icmpkit listen");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("listening on"), "listen said: {first}");
    // The rest of stderr (the counts) is read as it comes.
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    (child, rest)
}

/// Ctrl-C, then stdout and the exit status.
fn interrupt(mut child: Child) -> String {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "listen exit status after Ctrl-C: {status}"
    );
    out
}

fn ping(ns: &Ns, args: &[&str]) {
    ns.exec(&[&["ping", "-q", "-i", "0.2"][..], args].concat())
        .expect("iputils ping");
}

fn echo_sequences(objects: &[Value], family: &str, type_name: &str, src: &str) -> Vec<u64> {
    objects
        .iter()
        .filter(|o| o["family"] == family && o["type_name"] == type_name && o["src"] == src)
        .map(|o| o["sequence"].as_u64().unwrap())
        .collect()
}

#[test]
fn listen_sees_exactly_the_pings_sent_into_its_namespace() {
    let lab = lab_or_skip!("listen_sees_exactly_the_pings_sent_into_its_namespace");
    let pair = lab.pair().expect("lab pair");
    let (server, client) = (pair.server(), pair.client());
    let (child, stderr) = start_listen(server, &["--json", "--type", "echo-request"]);
    ping(client, &["-c", "5", &pair.server_v4().to_string()]);
    ping(client, &["-6", "-c", "3", &pair.server_v6().to_string()]);
    let out = interrupt(child);
    let counts = stderr.join().unwrap();
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // A start record, a packet record per packet, a summary record.
    assert_eq!(records[0]["event"], "start", "{out}");
    assert_eq!(records[0]["command"], "listen", "{out}");
    let summary = records.last().unwrap();
    assert_eq!(summary["event"], "summary", "{out}");
    let objects: Vec<Value> = records
        .iter()
        .filter(|o| o["event"] == "packet")
        .cloned()
        .collect();
    assert_eq!(summary["shown"], objects.len(), "{out}");
    let client_v4 = pair.client_v4().to_string();
    let client_v6 = pair.client_v6().to_string();
    assert_eq!(
        echo_sequences(&objects, "icmpv4", "echo-request", &client_v4),
        vec![1, 2, 3, 4, 5],
        "{out}"
    );
    assert_eq!(
        echo_sequences(&objects, "icmpv6", "echo-request", &client_v6),
        vec![1, 2, 3],
        "{out}"
    );
    assert_eq!(objects.len(), 8, "only the pings: {out}");
    for o in &objects {
        assert_eq!(o["checksum_valid"], true);
        assert_eq!(o["ttl"], 64);
        assert!(o["time"].as_f64().unwrap() > 1.0e9, "kernel time: {o}");
    }
    assert!(counts.contains("8 shown"), "{counts}");
    assert!(counts.contains("echo-request 5"), "{counts}");
    assert!(
        counts.contains("kernel drops: 0 (icmpv4), 0 (icmpv6)"),
        "{counts}"
    );
}

#[test]
fn listen_pcap_reads_back_in_tshark_and_decode() {
    const NAME: &str = "listen_pcap_reads_back_in_tshark_and_decode";
    require_or_skip!(NAME, require_tool("tshark"));
    let lab = lab_or_skip!(NAME);
    let pair = lab.pair().expect("lab pair");
    for file_name in ["listen.pcap", "listen.pcapng"] {
        let file = std::env::temp_dir().join(format!("icmpkit-{}-{file_name}", std::process::id()));
        let path = file.to_str().unwrap();
        let (child, _stderr) = start_listen(pair.server(), &["-w", path, "--from", "10.0.0.0/8"]);
        ping(pair.client(), &["-c", "4", &pair.server_v4().to_string()]);
        interrupt(child);

        let tshark = Command::new("tshark")
            .args([
                "-n",
                "-r",
                path,
                "-Y",
                "icmp.type == 8",
                "-T",
                "fields",
                "-e",
                "icmp.seq",
            ])
            .output()
            .unwrap();
        assert!(
            tshark.status.success(),
            "{}",
            String::from_utf8_lossy(&tshark.stderr)
        );
        let seqs: Vec<String> = String::from_utf8(tshark.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(seqs, ["1", "2", "3", "4"], "tshark on {file_name}");

        let decode = Command::new(ICMPKIT)
            .args(["decode", "--json", "-r", path])
            .output()
            .unwrap();
        assert!(decode.status.success());
        let objects: Vec<Value> = String::from_utf8(decode.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|o| o["event"] == "packet")
            .collect();
        let client_v4 = pair.client_v4().to_string();
        assert_eq!(
            echo_sequences(&objects, "icmpv4", "echo-request", &client_v4),
            vec![1, 2, 3, 4],
            "decode on {file_name}"
        );
        let _ = std::fs::remove_file(&file);
    }
}

/// `-c` ends listen after that many packets, `--duration` after that
/// long, both with status 0; `-i` listens on one interface only (pings to
/// the server arrive on its veth, not on `lo`).
#[test]
fn count_duration_and_interface_end_or_narrow_it() {
    let lab = lab_or_skip!("count_duration_and_interface_end_or_narrow_it");
    let pair = lab.pair().expect("lab pair");
    let (server, client) = (pair.server(), pair.client());
    let server_v4 = pair.server_v4().to_string();
    let wait = |child: Child| {
        let out = child.wait_with_output().expect("listen ends by itself");
        assert!(out.status.success(), "{:?}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (child, _) = start_listen(server, &["-c", "2", "--type", "echo-request", "-4"]);
    ping(client, &["-c", "4", &server_v4]);
    assert_eq!(wait(child).lines().count(), 2);

    let start = std::time::Instant::now();
    let (child, _) = start_listen(server, &["--duration", "0.5"]);
    wait(child);
    let took = start.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(450) && took < std::time::Duration::from_secs(3),
        "{took:?}"
    );

    let (child, _) = start_listen(server, &["-i", "lo", "--type", "echo-request", "-4"]);
    ping(client, &["-c", "2", &server_v4]);
    assert_eq!(interrupt(child).lines().count(), 0, "nothing came in on lo");
}
