//! `icmpkit decode`: every ICMP/ICMPv6 packet of a capture file or of hex
//! input, as one-liners, `-v` trees or JSON (the shared
//! [`packet_view`](crate::packet_view)).

mod args;
mod capture;
pub mod hex;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::time::Duration;

use icmpkit::wire::encap::{self, Carrier, Within};
use icmpkit::wire::{Family, link};

pub use args::DecodeArgs;

use crate::exit;
use crate::output::errln;
use crate::packet_view::{Meta, PacketView, Style};
use crate::schema::{Command, Record, StartDetail};
use hex::Start;

/// Output buffer: large, because a decode is a batch job.
const OUT_BUFFER: usize = 1 << 20;
/// Input buffer for capture files.
const IN_BUFFER: usize = 1 << 20;

/// What decode saw, printed at the end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Frames or hex packets read.
    pub packets: u64,
    /// ICMP/ICMPv6 messages printed.
    pub icmp: u64,
    /// Of those, malformed.
    pub malformed: u64,
    /// Of those, with a checksum that does not verify.
    pub bad_checksum: u64,
    /// Of those, cut short by the capture's snap length.
    pub truncated: u64,
    /// Of those, in the first fragment of a larger IP packet (checksum
    /// not verified).
    pub first_fragments: u64,
    /// Packets skipped: not IP, not ICMP, or a non-first fragment.
    pub skipped: u64,
    /// Frames of a link type decode does not read.
    pub unsupported_link: u64,
    /// Of those, how many of each link type.
    pub unsupported_by_type: std::collections::BTreeMap<u32, u64>,
    /// ICMP packets whose IPv4 total length was 0 or beyond the wire
    /// length, read with the captured length instead (as tshark does).
    pub length_from_capture: u64,
    /// ICMP packets found inside a tunnel or mirror encapsulation.
    pub encapsulated: u64,
}

/// Decodes packets and writes them in one style.
struct Decoder<W: Write> {
    style: Style,
    family: Option<Family>,
    out: W,
    counts: Counts,
    /// The first write error (a closed pipe): output stops there.
    write_error: Option<io::Error>,
}

impl<W: Write> Decoder<W> {
    fn frame(&mut self, frame: capture::Frame<'_>) {
        self.counts.packets += 1;
        if !link::supported(frame.linktype) {
            self.counts.unsupported_link += 1;
            *self
                .counts
                .unsupported_by_type
                .entry(frame.linktype)
                .or_default() += 1;
            return;
        }
        match link::ip_packet_carried(frame.linktype, frame.data) {
            Some((ip, outer)) => self.ip(ip, frame.time, frame.cut(), outer),
            None => self.counts.skipped += 1,
        }
    }

    /// One hex packet; an IP header cut short is an error (bad input).
    fn hex(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.counts.packets += 1;
        let start = hex::classify(bytes, self.family);
        match start {
            // Hex input is the whole packet: nothing was cut.
            Start::Ip(ip) => self.ip(ip, None, 0, None),
            Start::Icmp(family, icmp) => self.show(&PacketView::new(family, icmp, Meta::default())),
            Start::CutIp(_) => {
                self.counts.skipped += 1;
                return Err(start.error().unwrap_or_default());
            }
        }
        Ok(())
    }

    /// `cut`: bytes of the packet a snap length left out. A tunnel or
    /// mirror packet is unwrapped (up to [`encap::MAX_DEPTH`] levels) and
    /// the ICMP inside shown with what carried it.
    fn ip(&mut self, ip: &[u8], time: Option<Duration>, cut: usize, outer: Option<Carrier>) {
        let Some(Within {
            located, carriers, ..
        }) = encap::locate_icmp_carried(ip, cut, outer)
        else {
            self.counts.skipped += 1;
            return;
        };
        self.counts.length_from_capture += u64::from(located.length_from_capture);
        self.counts.encapsulated += u64::from(!carriers.is_empty());
        self.show(&PacketView::from_located(located, time).via(carriers.as_slice()));
    }

    fn show(&mut self, view: &PacketView<'_>) {
        self.counts.icmp += 1;
        self.counts.malformed += u64::from(view.malformed().is_some());
        self.counts.bad_checksum += u64::from(view.checksum_valid() == Some(false));
        self.counts.truncated += u64::from(view.meta().truncated);
        self.counts.first_fragments += u64::from(view.meta().first_fragment);
        if self.write_error.is_none()
            && let Err(e) = view.write(self.style, &mut self.out)
        {
            self.write_error = Some(e);
        }
    }

    /// Writes a `--json` record other than a packet (start, summary).
    fn record(&mut self, record: &Record<'_>) {
        if self.write_error.is_none()
            && let Err(e) = record.write_line(&mut self.out)
        {
            self.write_error = Some(e);
        }
    }

    fn finish(mut self) -> (Counts, Option<io::Error>) {
        if self.write_error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.write_error = Some(e);
        }
        (self.counts, self.write_error)
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: DecodeArgs) -> i32 {
    let style = Style::from_flags(args.json, args.verbose);
    let family = crate::flags::family(args.ipv4, args.ipv6);
    let mut decoder = Decoder {
        style,
        family,
        // `decode ... | head` ends there: a broken pipe exits (output.rs).
        out: BufWriter::with_capacity(OUT_BUFFER, crate::output::stdout_locked()),
        counts: Counts::default(),
        write_error: None,
    };
    if style == Style::Json {
        decoder.record(&Record::start(Command::Decode, StartDetail::Plain {}));
    }
    let result = feed(&args, &mut decoder);
    if style == Style::Json {
        let c = &decoder.counts;
        decoder.record(&Record::DecodeSummary {
            packets: c.packets,
            icmp: c.icmp,
            malformed: c.malformed,
            bad_checksum: c.bad_checksum,
            skipped: c.skipped,
        });
    }
    let (counts, write_error) = decoder.finish();
    if !args.quiet {
        errln!("{}", summary(&counts));
    }
    if let Err(e) = result {
        return exit::fail(&e);
    }
    match write_error {
        Some(e) => exit::fail(&e),
        None => exit::OK,
    }
}

fn feed<W: Write>(args: &DecodeArgs, decoder: &mut Decoder<W>) -> Result<(), String> {
    if !args.hex.is_empty() {
        for (i, text) in args.hex.iter().enumerate() {
            let bytes = hex::parse_packet(text).map_err(|e| format!("argument {}: {e}", i + 1))?;
            decoder
                .hex(&bytes)
                .map_err(|e| format!("argument {}: {e}", i + 1))?;
        }
        return Ok(());
    }
    match args.read.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            let file =
                File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let input = BufReader::with_capacity(IN_BUFFER, file);
            read_input(input, true, decoder).map_err(|e| format!("{}: {e}", path.display()))
        }
        // Stdin is a capture with `-r -`; without `-r`, a capture or hex.
        read => read_input(
            BufReader::with_capacity(IN_BUFFER, io::stdin()),
            read.is_some(),
            decoder,
        )
        .map_err(|e| format!("stdin: {e}")),
    }
}

/// Reads a capture, or (unless `capture_only`) hex text when the input
/// does not start with a capture magic number.
fn read_input<W: Write>(
    mut input: impl BufRead,
    capture_only: bool,
    decoder: &mut Decoder<W>,
) -> Result<(), String> {
    let start = input.fill_buf().map_err(|e| e.to_string())?;
    match capture::sniff(start) {
        Some(format) => capture::read(input, format, |frame| decoder.frame(frame)),
        None if capture_only && start.is_empty() => Err("empty, nothing to decode".into()),
        None if capture_only => Err("not a pcap or pcapng file".into()),
        None if start.is_empty() => Ok(()),
        None => {
            let mut text = String::new();
            input.read_to_string(&mut text).map_err(|e| e.to_string())?;
            for (i, packet) in hex::split_packets(&text)?.iter().enumerate() {
                decoder
                    .hex(packet)
                    .map_err(|e| format!("hex packet {}: {e}", i + 1))?;
            }
            Ok(())
        }
    }
}

/// `decode: 10 packets, 8 ICMP (1 malformed, 0 bad checksum), 2 skipped (not ICMP)`.
fn summary(c: &Counts) -> String {
    let mut line = format!(
        "decode: {} packets, {} ICMP ({} malformed, {} bad checksum), {} skipped (not ICMP)",
        c.packets, c.icmp, c.malformed, c.bad_checksum, c.skipped
    );
    if c.encapsulated > 0 {
        line += &format!(", {} inside tunnels", c.encapsulated);
    }
    if c.length_from_capture > 0 {
        line += &format!(
            ", {} with an IPv4 total length of 0 or past the packet (the captured length used)",
            c.length_from_capture
        );
    }
    if c.unsupported_link > 0 {
        let by_type: Vec<String> = c
            .unsupported_by_type
            .iter()
            .map(|(&linktype, n)| match link::linktype_name(linktype) {
                Some(name) => format!("{n} {name}"),
                None => format!("{n} link type {linktype}"),
            })
            .collect();
        line += &format!(
            ", {} of an unsupported link type ({})",
            c.unsupported_link,
            by_type.join(", ")
        );
    }
    if c.truncated > 0 {
        line += &format!(", {} truncated by the snap length", c.truncated);
    }
    if c.first_fragments > 0 {
        line += &format!(
            ", {} in first fragments (checksum not verified)",
            c.first_fragments
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_hex(style: Style, packets: &[&str]) -> (String, Counts) {
        let mut decoder = Decoder {
            style,
            family: None,
            out: Vec::new(),
            counts: Counts::default(),
            write_error: None,
        };
        for p in packets {
            decoder.hex(&hex::parse_hex(p).unwrap()).unwrap();
        }
        let out = String::from_utf8(decoder.out.clone()).unwrap();
        (out, decoder.counts)
    }

    #[test]
    fn counts_icmp_skipped_and_malformed() {
        // IPv4 UDP (skipped), an echo request in IPv4, and a cut timestamp.
        // (Built with scapy.)
        let udp = "4500001c000040004011b6cdc0000201c00002020035003500087b70";
        let echo = "45000024000040004001b6d5c0000201c00002020800d5b6123400010102030405060708";
        let (out, counts) = decode_hex(Style::Line, &[udp, echo, "0d00f2ff00010002"]);
        assert_eq!(counts.packets, 3);
        assert_eq!(counts.icmp, 2);
        assert_eq!(counts.skipped, 1);
        assert_eq!(counts.malformed, 1);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "192.0.2.1 > 192.0.2.2 ttl 64: echo request id 4660 seq 1, 16 bytes"
        );
        assert!(lines[1].contains("truncated"), "{}", lines[1]);
    }
}
