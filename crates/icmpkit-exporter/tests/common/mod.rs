//! What the exporter's tests share: the exporter and Prometheus as child
//! processes in a lab namespace (killed when dropped), and a minimal HTTP
//! client that talks to them from inside the namespace.

#![allow(dead_code, reason = "each test file uses its own part")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use icmpkit_lab::Ns;

pub const EXPORTER: &str = env!("CARGO_BIN_EXE_icmpkit-exporter");

/// A child process killed (by its own pid) when dropped.
pub struct Process {
    pub child: Child,
    pub name: &'static str,
    log: PathBuf,
}

impl Process {
    pub fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process { child, name, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("kill");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("icmpkit-exporter-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP/1.0 request to `127.0.0.1:port` inside `ns`: (status, body).
pub fn http(ns: &Ns, method: &str, port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let _inside = ns
        .enter()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Polls `check` every 100 ms until it returns `Some`, for up to `limit`.
pub fn wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the exporter in `ns` on `port` with `args`, and waits until it
/// answers /-/healthy.
pub fn start_exporter(ns: &Ns, port: u16, args: &[&str], dir: &TempDir) -> Process {
    let mut command = ns.command(EXPORTER);
    command
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args);
    let process = Process::spawn(
        "icmpkit-exporter",
        command,
        dir.path(&format!("exporter-{port}.log")),
    );
    let up = wait_for(Duration::from_secs(10), || {
        http(ns, "GET", port, "/-/healthy")
            .ok()
            .filter(|(status, _)| *status == 200)
    });
    assert!(up.is_some(), "exporter did not come up:\n{}", process.log());
    process
}

/// A metric's value for the series whose labels include all of `labels`,
/// read from a text exposition.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            let Some(rest) = line.strip_prefix(name) else {
                return false;
            };
            (rest.starts_with('{') || rest.starts_with(' '))
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
