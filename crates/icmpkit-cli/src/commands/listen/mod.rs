//! `icmpkit listen`: every ICMP and ICMPv6 packet reaching the host, from
//! raw sockets ([`icmpkit::listen`]), printed with the shared
//! [`packet_view`](crate::packet_view) or written to a capture file.
//!
//! One thread per family reads batches; each batch is filtered, counted
//! and written under one lock. The main thread waits for Ctrl-C, SIGTERM,
//! the duration or the count, then stops the readers and flushes.

mod args;
mod filter;
mod sink;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use icmpkit::listen::{Heard, ListenOptions, Listener};
use icmpkit::wire::{Family, icmpv4, icmpv6};
use tokio::sync::Notify;

pub use args::ListenArgs;

use crate::exit;
use crate::output::errln;
use crate::packet_view::{Meta, PacketView, Style};
use crate::signals::Signals;
use filter::Filter;
use sink::Sink;

/// How long a reader blocks before looking at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Counts and output, shared by the readers.
struct State {
    sink: Sink,
    filter: Filter,
    count: Option<u64>,
    received: [u64; 2],
    shown: u64,
    by_type: [[u64; 256]; 2],
    interfaces: HashMap<u32, Option<String>>,
    scratch: Vec<u8>,
    error: Option<std::io::Error>,
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl State {
    /// Handles one packet; returns true when the count is reached.
    fn packet(&mut self, heard: &Heard<'_>) -> bool {
        self.received[slot(heard.family)] += 1;
        if self.count.is_some_and(|c| self.shown >= c)
            || !self
                .filter
                .passes(heard.family, heard.icmp.first().copied(), heard.src)
        {
            return false;
        }
        self.shown += 1;
        if let Some(&t) = heard.icmp.first() {
            self.by_type[slot(heard.family)][usize::from(t)] += 1;
        }
        let interface = heard.ifindex.and_then(|index| {
            self.interfaces
                .entry(index)
                .or_insert_with(|| {
                    nix::net::if_::if_indextoname(index)
                        .ok()
                        .and_then(|n| n.into_string().ok())
                })
                .clone()
        });
        let meta = Meta {
            time: Some(heard.time),
            src: Some(heard.src),
            dst: heard.dst,
            ttl: heard.ttl,
            interface,
            truncated: heard.truncated,
        };
        let view = PacketView::new(heard.family, heard.icmp, meta);
        let ip = heard.ip_packet(&mut self.scratch);
        if self.error.is_none()
            && let Err(e) = self.sink.put(&view, ip, heard.time)
        {
            self.error = Some(e);
        }
        self.count.is_some_and(|c| self.shown >= c)
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: ListenArgs) -> i32 {
    match listen(&args) {
        Ok(code) => code,
        Err(e) => exit::fail(&e),
    }
}

fn listen(args: &ListenArgs) -> Result<i32, String> {
    let filter = Filter::new(&args.types, args.from.clone())?;
    let families: Vec<Family> = [Family::V4, Family::V6]
        .into_iter()
        .filter(|f| match f {
            Family::V4 => !args.ipv6,
            Family::V6 => !args.ipv4,
        })
        .filter(|f| filter.wants(*f))
        .collect();
    if families.is_empty() {
        return Err("no ICMP type left to listen for in the chosen family".into());
    }
    let duration = match args.duration {
        Some(s) if s > 0.0 => Some(crate::flags::seconds("--duration", s)?),
        Some(s) => return Err(format!("bad value for --duration: {s:?} (above 0)")),
        None => None,
    };
    let mut listeners = Vec::new();
    for &family in &families {
        let mut options = ListenOptions::builder().type_filter(filter.kernel_filter(family));
        if let Some(name) = &args.interface {
            options = options.interface(name.clone());
        }
        let options = options.build().map_err(|e| e.to_string())?;
        listeners.push(Listener::open(family, &options).map_err(|e| e.to_string())?);
    }
    let style = Style::from_flags(args.json, args.verbose);
    let sink = match &args.write {
        Some(path) => Sink::file(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => Sink::print(style),
    };
    // Sockets and the output file are open: give up privileges.
    exit::drop_privileges()?;
    let state = Arc::new(Mutex::new(State {
        sink,
        filter,
        count: args.count,
        received: [0; 2],
        shown: 0,
        by_type: [[0; 256]; 2],
        interfaces: HashMap::new(),
        scratch: Vec::with_capacity(65_535 + 40),
        error: None,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(Notify::new());
    if !args.quiet {
        let names: Vec<&str> = families
            .iter()
            .map(|f| match f {
                Family::V4 => "icmpv4",
                Family::V6 => "icmpv6",
            })
            .collect();
        errln!(
            "listening on {} ({})",
            args.interface.as_deref().unwrap_or("all interfaces"),
            names.join(", ")
        );
    }
    let readers: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (state, stop, done) = (state.clone(), stop.clone(), done.clone());
            thread::spawn(move || read_loop(listener, &state, &stop, &done))
        })
        .collect();

    wait_for_end(duration, &done)?;
    stop.store(true, Ordering::Relaxed);
    let mut drops = Vec::new();
    let mut read_error = None;
    for reader in readers {
        match reader.join() {
            Ok((listener, error)) => {
                drops.push((listener.family(), listener.kernel_drops()));
                read_error = read_error.or(error);
            }
            Err(_) => read_error = Some("a reader thread panicked".to_string()),
        }
    }
    let state = Arc::try_unwrap(state)
        .map_err(|_| "reader threads still hold the output".to_string())?
        .into_inner()
        .map_err(|_| "output lock poisoned".to_string())?;
    if !args.quiet {
        errln!("{}", report(&state, &drops).trim_end());
    }
    let write_error = state.error;
    state
        .sink
        .finish()
        .map_err(|e| format!("writing the output: {e}"))?;
    if let Some(e) = write_error
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(format!("writing the output: {e}"));
    }
    match read_error {
        Some(e) => Err(e),
        None => Ok(exit::OK),
    }
}

/// Reads batches until `stop`; returns the listener (for its drop count)
/// and the error that ended it, if any.
fn read_loop(
    mut listener: Listener,
    state: &Mutex<State>,
    stop: &AtomicBool,
    done: &Notify,
) -> (Listener, Option<String>) {
    while !stop.load(Ordering::Relaxed) {
        let mut guard = None;
        let result = listener.recv(POLL, |heard| {
            let state =
                guard.get_or_insert_with(|| state.lock().unwrap_or_else(|p| p.into_inner()));
            if state.packet(heard) {
                stop.store(true, Ordering::Relaxed);
                done.notify_one();
            }
        });
        if let Some(mut state) = guard {
            let flushed = state.sink.flush_lines();
            if state.error.is_none()
                && let Err(e) = flushed
            {
                state.error = Some(e);
            }
            if state.error.is_some() {
                stop.store(true, Ordering::Relaxed);
                done.notify_one();
            }
        }
        if let Err(e) = result {
            done.notify_one();
            return (listener, Some(format!("receiving: {e}")));
        }
    }
    (listener, None)
}

/// Waits for Ctrl-C, SIGTERM, the duration or a reader's notice.
fn wait_for_end(duration: Option<Duration>, done: &Notify) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut signals = Signals::install(false);
        let deadline = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = signals.stop() => {}
            _ = crate::output::exit_when_stdout_closes() => {}
            _ = deadline => {}
            _ = done.notified() => {}
        }
        Ok::<(), String>(())
    })
}

/// The counts printed at the end, on stderr.
fn report(state: &State, drops: &[(Family, Option<u64>)]) -> String {
    let received: u64 = state.received.iter().sum();
    let mut text = format!(
        "{received} packets received ({} icmpv4, {} icmpv6), {} shown\n",
        state.received[0], state.received[1], state.shown
    );
    for family in [Family::V4, Family::V6] {
        let counts = &state.by_type[slot(family)];
        let parts: Vec<String> = (0..=255u8)
            .filter(|t| counts[usize::from(*t)] > 0)
            .map(|t| {
                let name = match family {
                    Family::V4 => icmpv4::type_name(t),
                    Family::V6 => icmpv6::type_name(t),
                };
                let n = counts[usize::from(t)];
                match name {
                    Some(name) => format!("{name} {n}"),
                    None => format!("type {t} {n}"),
                }
            })
            .collect();
        if !parts.is_empty() {
            let tag = if family == Family::V4 {
                "icmpv4"
            } else {
                "icmpv6"
            };
            text += &format!("  {tag}: {}\n", parts.join(", "));
        }
    }
    let drops: Vec<String> = drops
        .iter()
        .map(|(family, n)| {
            let tag = if *family == Family::V4 {
                "icmpv4"
            } else {
                "icmpv6"
            };
            match n {
                Some(n) => format!("{n} ({tag})"),
                None => format!("unknown ({tag})"),
            }
        })
        .collect();
    text += &format!("kernel drops: {}\n", drops.join(", "));
    text
}
