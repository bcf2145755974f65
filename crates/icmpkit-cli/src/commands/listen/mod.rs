//! `icmpkit listen`: every ICMP and ICMPv6 packet the host receives, sends
//! or forwards, from a packet socket (or, where none opens, what reaches
//! the host, from raw sockets) ([`icmpkit::listen`]), printed with the
//! shared [`packet_view`](crate::packet_view) or written to a capture file.
//!
//! The library's listeners (async streams on its driver: one packet
//! socket, or one raw socket per family) do the reading; this only filters, counts and writes what they hand
//! out, on the one runtime, until Ctrl-C, SIGTERM, the duration or the
//! count. Output is flushed whenever no packet is waiting.

mod args;
mod filter;
mod sink;

use std::collections::HashMap;
use std::pin::Pin;
use std::task::Poll;

use futures_core::Stream;
use icmpkit::listen::{Heard, ListenOptions, Listener};
use icmpkit::wire::{Family, icmpv4, icmpv6};

pub use args::ListenArgs;

use crate::exit;
use crate::output::errln;
use crate::packet_view::{Meta, PacketView, Style};
use crate::schema::{Command, Record, StartDetail};
use crate::signals::Signals;
use filter::{Filter, Networks};
use sink::Sink;

/// Counts and output.
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
    /// Writes out the lines kept so far, remembering the first error.
    fn flush(&mut self) {
        let flushed = self.sink.flush_lines();
        if self.error.is_none()
            && let Err(e) = flushed
        {
            self.error = Some(e);
        }
    }

    /// Handles one packet; returns true when the count is reached.
    fn packet(&mut self, heard: &Heard<'_>) -> bool {
        self.received[slot(heard.family)] += 1;
        if self.count.is_some_and(|c| self.shown >= c)
            || !self.filter.passes(
                heard.family,
                heard.icmp.first().copied(),
                heard.src,
                heard.dst,
            )
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
            direction: heard.direction.map(|d| d.name()),
            wire_length: None,
            first_fragment: heard.first_fragment,
        };
        let view =
            PacketView::with_checksum_dst(heard.family, heard.icmp, meta, heard.checksum_dst)
                .via(heard.encapsulation);
        let (record, wire_len) = match heard.frame {
            Some(frame) => {
                sink::linux_sll2(&mut self.scratch, heard, frame);
                let header = self.scratch.len() - frame.len();
                let wire_len = header + heard.wire_len.unwrap_or(frame.len());
                (&self.scratch[..], wire_len)
            }
            None => {
                let ip = heard.ip_packet(&mut self.scratch);
                (ip, ip.len())
            }
        };
        if self.error.is_none()
            && let Err(e) = self.sink.put(&view, record, wire_len, heard.time)
        {
            self.error = Some(e);
        }
        self.count.is_some_and(|c| self.shown >= c)
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: ListenArgs) -> i32 {
    crate::runtime::block_on(
        async move {
            match listen(&args).await {
                Ok(code) => code,
                Err(e) => exit::fail(&e),
            }
        },
        exit::ERROR,
    )
}

async fn listen(args: &ListenArgs) -> Result<i32, String> {
    let networks = Networks {
        from: args.from.clone(),
        to: args.to.clone(),
        host: args.host.clone(),
    };
    let filter = Filter::new(&args.types, networks)?;
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
        Some(s) if !s.is_zero() => Some(s),
        Some(_) => return Err("bad value for --duration: 0 (above 0)".into()),
        None => None,
    };
    let (listeners, fallback) = open_listeners(args, &families, &filter)?;
    let mut listeners = listeners;
    let packet_socket = listeners.iter().any(Listener::is_packet_socket);
    let style = Style::from_flags(args.json, args.verbose);
    let sink = match &args.write {
        Some(path) => {
            Sink::file(path, packet_socket).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Sink::print(style),
    };
    // Sockets and the output file are open: give up privileges.
    exit::drop_privileges()?;
    let mut sink = sink;
    sink.record(&Record::start(Command::Listen, StartDetail::Plain {}))
        .map_err(|e| format!("writing the output: {e}"))?;
    let mut state = State {
        sink,
        filter,
        count: args.count,
        received: [0; 2],
        shown: 0,
        by_type: [[0; 256]; 2],
        interfaces: HashMap::new(),
        scratch: Vec::with_capacity(65_535 + 40),
        error: None,
    };
    if let Some(reason) = fallback {
        errln!(
            "icmpkit: note: no packet socket ({reason}): listening on raw sockets, which miss \
             outgoing and forwarded ICMP"
        );
    }
    if !args.quiet {
        let names: Vec<&str> = families
            .iter()
            .map(|f| match f {
                Family::V4 => "icmpv4",
                Family::V6 => "icmpv6",
            })
            .collect();
        errln!(
            "listening on {} ({}, {})",
            args.interface.as_deref().unwrap_or("all interfaces"),
            names.join(", "),
            if packet_socket {
                "packet socket: in, out and forwarded"
            } else {
                "raw sockets: what reaches this host"
            }
        );
    }
    let mut signals = Signals::install(false);
    let stop = signals.stop();
    tokio::pin!(stop);
    let until = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    // The packets are taken in bursts between looks at the signals and the
    // clock: a select per packet would cost more than the packet.
    tokio::select! {
        _ = take_packets(&mut listeners, &mut state) => {}
        _ = &mut stop => {}
        _ = &mut until => {}
    }
    state.flush();
    let drops: Vec<_> = listeners
        .iter()
        .map(|l| {
            let tag = if l.is_packet_socket() {
                "packet socket"
            } else if l.family() == Family::V4 {
                "icmpv4"
            } else {
                "icmpv6"
            };
            (tag, l.kernel_drops())
        })
        .collect();
    let receive_errors: u64 = listeners
        .iter()
        .map(|l| l.transport_counters().receive_errors)
        .sum();
    if !args.quiet {
        errln!("{}", report(&state, &drops, receive_errors).trim_end());
    }
    let summary = Record::ListenSummary {
        received: state.received.iter().sum(),
        shown: state.shown,
    };
    if state.error.is_none()
        && let Err(e) = state.sink.record(&summary)
    {
        state.error = Some(e);
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
    Ok(exit::OK)
}

/// Opens the listeners `--socket` asks for: one packet socket for every
/// family, or (`raw`, or `auto` when no packet socket opens: the reason
/// is returned for a note) one raw socket per family.
fn open_listeners(
    args: &ListenArgs,
    families: &[Family],
    filter: &Filter,
) -> Result<(Vec<Listener>, Option<String>), String> {
    let options = |type_filter| {
        let mut options = ListenOptions::builder().type_filter(type_filter);
        if let Some(name) = &args.interface {
            options = options.interface(name.clone());
        }
        options.build().map_err(|e| e.to_string())
    };
    let mut fallback = None;
    if args.socket != "raw" {
        // The types are filtered here, for both families at once.
        let all = icmpkit::socket::TypeFilter::pass_all();
        let mut packet_options = options(all)?;
        // A packet socket's buffer is charged each frame's whole kernel
        // buffer (about 1 KiB for a 100-byte echo on a veth), and it hears
        // both directions: 4 times the raw socket's buffer keeps as many
        // frames waiting (bench/listen.sh).
        packet_options.recv_buffer = PACKET_RECV_BUFFER;
        match Listener::open_packet(families, &packet_options) {
            Ok(listener) => return Ok((vec![listener], None)),
            Err(e) if is_permission(&e) => {
                if args.socket != "auto" {
                    return Err(no_socket_hint(false, &exit::this_program()));
                }
                fallback = Some(e.to_string());
            }
            Err(e) if args.socket == "auto" => fallback = Some(e.to_string()),
            Err(e) => return Err(e.to_string()),
        }
    }
    let mut listeners = Vec::new();
    for &family in families {
        let options = options(filter.kernel_filter(family))?;
        match Listener::open(family, &options) {
            Ok(listener) => listeners.push(listener),
            // Neither kind opened: say what both need (one grant).
            Err(e) if is_permission(&e) && args.socket == "auto" => {
                return Err(no_socket_hint(true, &exit::this_program()));
            }
            Err(e) => return Err(exit::worded(&e)),
        }
    }
    Ok((listeners, fallback))
}

fn is_permission(error: &icmpkit::Error) -> bool {
    matches!(error, icmpkit::Error::Permission(_))
}

/// Why listen could not start without privilege: a packet socket (and,
/// when `raw_too`, the raw sockets it falls back on) needs `CAP_NET_RAW`,
/// which allows both; the remedies name `program`.
fn no_socket_hint(raw_too: bool, program: &str) -> String {
    use icmpkit::Remedy;
    let mut text = if raw_too {
        "permission denied: neither a packet socket (every ICMP packet the host receives, \
         sends or forwards) nor raw sockets (what reaches this host) could be opened: both \
         need CAP_NET_RAW, which allows both."
            .to_string()
    } else {
        "permission denied: cannot open a packet socket (every ICMP packet the host \
         receives, sends or forwards): it needs CAP_NET_RAW, which also allows the raw \
         sockets of --socket raw."
            .to_string()
    };
    let as_root = nix::unistd::geteuid().is_root();
    if as_root {
        text.push_str(
            " This process runs as root without it (a container, a user namespace or the \
             capability bounding set withholds it: grant it there).",
        );
    }
    text.push_str(" Fix one of:");
    text.push_str(&format!(
        "\n  {}   # allow packet and raw sockets for the program",
        Remedy::CapNetRaw.command(program)
    ));
    if !as_root {
        text.push_str(&format!("\n  {}", Remedy::Root.effect()));
    }
    text
}

/// The packet socket's receive buffer (see `open_listeners`).
const PACKET_RECV_BUFFER: usize = 32 << 20;

/// Packets taken before giving the runtime (signals, the duration) a turn.
const BURST: usize = 1024;

/// Hands every packet of the listeners to `state` (taking turns, so that a
/// flood on one family does not hide the other), flushing the output
/// whenever none is waiting. Ends when the count is reached, the output
/// failed or a listener's stream ended.
async fn take_packets(listeners: &mut [Listener], state: &mut State) {
    let mut first = 0;
    std::future::poll_fn(|cx| {
        let n = listeners.len();
        let mut taken = 0;
        while taken < BURST {
            let mut any = false;
            for k in 0..n {
                let i = (first + k) % n;
                match Pin::new(&mut listeners[i]).poll_next(cx) {
                    Poll::Pending => {}
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Ready(Some(packet)) => {
                        any = true;
                        taken += 1;
                        first = i + 1;
                        if state.packet(&packet.heard()) || state.error.is_some() {
                            return Poll::Ready(());
                        }
                    }
                }
            }
            if !any {
                state.flush();
                if state.error.is_some() {
                    // The output is gone: stop, as a failed write always did.
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// The counts printed at the end, on stderr.
fn report(state: &State, drops: &[(&str, Option<u64>)], receive_errors: u64) -> String {
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
        .map(|(tag, n)| match n {
            Some(n) => format!("{n} ({tag})"),
            None => format!("unknown ({tag})"),
        })
        .collect();
    text += &format!("kernel drops: {}\n", drops.join(", "));
    if receive_errors > 0 {
        text += &format!("receive errors: {receive_errors} (skipped)\n");
    }
    text
}
