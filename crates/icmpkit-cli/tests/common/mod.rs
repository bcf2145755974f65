//! What the CLI's tests share: running the binary in a namespace, a chain
//! whose client may also open unprivileged ICMP sockets, temporary files and
//! capture files built by hand.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::Output;

use icmpkit_lab::{Chain, Lab, Ns};

/// The binary under test.
pub const ICMPKIT: &str = env!("CARGO_BIN_EXE_icmpkit");

/// Runs `icmpkit <command> <args>` inside `ns` and waits for it.
pub fn icmpkit(ns: &Ns, command: &str, args: &[&str]) -> Output {
    ns.command(ICMPKIT)
        .arg(command)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run icmpkit {command}: {e}"))
}

/// A chain with `routers` routers whose client may also open unprivileged
/// ICMP sockets (as root too).
pub fn chain_with_ping_sockets(lab: &Lab, routers: usize) -> Chain {
    let c = lab.chain(routers).expect("build the lab chain");
    c.client()
        .allow_ping_sockets()
        .expect("open ping_group_range");
    c
}

/// Runs an nft script (one line of `;`-separated commands) inside `ns`.
pub fn nft(ns: &Ns, script: &str) {
    ns.nft(script).expect("nft rule");
}

/// A file in the temporary directory, unique to this test process, that is
/// removed when dropped.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    /// Writes `contents` to a file named after `name`.
    pub fn new(name: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("icmpkit-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }

    /// Its path, as an argument.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An echo request from 192.0.2.1 to 192.0.2.2 in IPv4 (id 4660, seq 1,
/// 8 data bytes; built with scapy).
pub const ECHO_V4: &str =
    "45000024000040004001b6d5c0000201c00002020800d5b6123400010102030405060708";

/// The bytes of a hex string (test data: panics on bad hex).
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A little-endian, microsecond pcap file of raw IP (link type 101) with
/// `snaplen`, one record per (bytes kept, original length).
pub fn pcap_file(snaplen: u32, records: &[(&[u8], u32)]) -> Vec<u8> {
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

/// A little-endian pcapng file: a section header, one raw-IP interface
/// (microseconds), and an enhanced packet block per packet.
pub fn pcapng_file(packets: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    // Section header: type, length 28, byte-order magic, version 1.0,
    // section length unknown (-1), length again.
    for v in [
        0x0a0d_0d0au32,
        28,
        0x1a2b_3c4d,
        0x0000_0001,
        u32::MAX,
        u32::MAX,
        28,
    ] {
        out.extend(v.to_le_bytes());
    }
    // Interface description: type 1, length 20, link type 101, snap length 0.
    for v in [1u32, 20, 101, 0, 20] {
        out.extend(v.to_le_bytes());
    }
    for (i, data) in packets.iter().enumerate() {
        let padded = data.len().div_ceil(4) * 4;
        let length = (32 + padded) as u32;
        for v in [
            6u32,
            length,
            0,
            0,
            i as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            out.extend(v.to_le_bytes());
        }
        out.extend_from_slice(data);
        out.resize(out.len() + padded - data.len(), 0);
        out.extend(length.to_le_bytes());
    }
    out
}

/// The TOS byte (IPv4) or traffic class (IPv6) of each echo request among
/// `packets` (IP packets, as a lab capture records them), in order.
pub fn echo_request_tos(packets: &[Vec<u8>]) -> Vec<u8> {
    packets
        .iter()
        .filter_map(|p| match p.first().map(|b| b >> 4) {
            Some(4) => {
                let header = usize::from(p[0] & 0x0f) * 4;
                (p.len() > header && p[9] == 1 && p[header] == 8).then_some(p[1])
            }
            // A bare ICMPv6 echo request (no extension headers).
            Some(6) => (p.len() > 40 && p[6] == 58 && p[40] == 128)
                .then_some((p[0] & 0x0f) << 4 | p[1] >> 4),
            _ => None,
        })
        .collect()
}

/// `icmpkit <command> <args>` started in a namespace, its stdout and
/// stderr read by threads as they come (a full pipe would block it), for
/// tests that signal it or watch it while it runs.
pub struct Running {
    child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    /// Starts `icmpkit <command> <args>` inside `ns`.
    pub fn start(ns: &Ns, command: &str, args: &[&str]) -> Running {
        let mut prepared = ns.command(ICMPKIT);
        prepared.arg(command).args(args);
        Running::spawn(prepared)
    }

    /// Starts a prepared command line (another binary, another user...).
    pub fn spawn(mut command: std::process::Command) -> Running {
        use std::process::Stdio;
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        let stdout = read_all(child.stdout.take().expect("piped stdout"));
        let stderr = read_all(child.stderr.take().expect("piped stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Its pid: `ip netns exec` execs the command, so it is icmpkit's
    /// once started.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it `signal`.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal icmpkit");
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll icmpkit").is_none()
    }

    /// Waits for its end, polling every `poll`; beyond `limit` it is killed
    /// and the test fails saying `what` did not end it. Returns how long
    /// it took.
    pub fn wait_within(
        &mut self,
        limit: std::time::Duration,
        poll: std::time::Duration,
        what: &str,
    ) -> std::time::Duration {
        let start = std::time::Instant::now();
        while self.is_running() {
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("icmpkit still ran {limit:?} after {what}");
            }
            std::thread::sleep(poll);
        }
        start.elapsed()
    }

    /// Kills it (if it still runs) and returns what it printed, stdout
    /// then stderr: for a failure message.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let (_, stdout, stderr) = self.finish();
        stdout + &stderr
    }

    /// Waits for its end: exit status, stdout, stderr.
    pub fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let status = self.child.wait().expect("wait for icmpkit");
        let stdout = self.stdout.join().expect("stdout reader");
        let stderr = self.stderr.join().expect("stderr reader");
        (status, stdout, stderr)
    }
}

/// Reads `pipe` to its end on a thread (invalid UTF-8 replaced).
fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `text` with every decimal number (one dot, digits on both sides: an RTT
/// or a time) masked as `T`, so two tools' lines compare; addresses (three
/// dots) and counts stay.
pub fn mask_times(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let dots = run.matches('.').count();
        let is_time = dots == 1 && !run.starts_with('.') && !run.ends_with('.') && run.len() > 2;
        out.push_str(if is_time { "T" } else { run });
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}
