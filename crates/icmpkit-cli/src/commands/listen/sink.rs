//! Where listen puts packets: printed (line, tree or JSON) or written to
//! a pcap / pcapng file: Linux cooked v2 frames (SLL2, what `tcpdump -i
//! any` writes: interface, direction, tunnels kept) from a packet socket,
//! raw IP from raw sockets.

use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};

use crate::output::Guarded;
use std::path::Path;
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};

use crate::packet_view::{PacketView, Style};

/// Bytes written per packet at most (the largest IP packet).
const SNAP_LEN: u32 = 65_535;
/// pcapng `if_tsresol` for nanoseconds (pcap-file writes nanosecond ticks).
const TSRESOL_NANOS: u8 = 9;

/// The output of `listen`.
pub enum Sink {
    /// Printed on stdout.
    Print {
        /// How.
        style: Style,
        /// Buffered stdout, flushed after each batch.
        out: BufWriter<Guarded<Stdout>>,
    },
    /// A pcap file (nanosecond stamps).
    Pcap(PcapWriter<BufWriter<File>>),
    /// A pcapng file (one raw-IP interface).
    PcapNg(PcapNgWriter<BufWriter<File>>),
}

fn to_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

impl Sink {
    /// Printing on stdout.
    pub fn print(style: Style) -> Self {
        Sink::Print {
            style,
            out: BufWriter::with_capacity(1 << 16, crate::output::stdout()),
        }
    }

    /// Creates `path` (pcapng when it ends in `.pcapng`), for SLL2 frames
    /// (`cooked`) or raw IP packets.
    pub fn file(path: &Path, cooked: bool) -> io::Result<Self> {
        let linktype = if cooked {
            DataLink::LINUX_SLL2
        } else {
            DataLink::RAW
        };
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"))
        {
            let mut writer = PcapNgWriter::new(file).map_err(to_io)?;
            let interface = InterfaceDescriptionBlock {
                linktype,
                snaplen: SNAP_LEN,
                options: vec![InterfaceDescriptionOption::IfTsResol(TSRESOL_NANOS)],
            };
            writer.write_pcapng_block(interface).map_err(to_io)?;
            Ok(Sink::PcapNg(writer))
        } else {
            let header = PcapHeader {
                datalink: linktype,
                snaplen: SNAP_LEN,
                ts_resolution: pcap_file::TsResolution::NanoSecond,
                ..PcapHeader::default()
            };
            Ok(Sink::Pcap(
                PcapWriter::with_header(file, header).map_err(to_io)?,
            ))
        }
    }

    /// Prints `view`, or writes `record` (the whole IP packet, or an SLL2
    /// frame), `wire_len` bytes long before any cut, to the file.
    pub fn put(
        &mut self,
        view: &PacketView<'_>,
        record: &[u8],
        wire_len: usize,
        time: Duration,
    ) -> io::Result<()> {
        let ip_packet = record;
        let orig_len = u32::try_from(wire_len).unwrap_or(u32::MAX);
        match self {
            Sink::Print { style, out } => view.write(*style, out),
            Sink::Pcap(writer) => writer
                .write_packet(&PcapPacket::new(time, orig_len, ip_packet))
                .map(drop)
                .map_err(to_io),
            Sink::PcapNg(writer) => {
                let block = EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: time,
                    original_len: orig_len,
                    data: ip_packet.into(),
                    options: Vec::new(),
                };
                writer.write_pcapng_block(block).map(drop).map_err(to_io)
            }
        }
    }

    /// Writes a `--json` record other than a packet (start, summary); a
    /// file or another style takes none.
    pub fn record(&mut self, record: &crate::schema::Record<'_>) -> io::Result<()> {
        match self {
            Sink::Print {
                style: Style::Json,
                out,
            } => record.write_line(out),
            _ => Ok(()),
        }
    }

    /// Pushes buffered lines out (after a batch), so that they show live.
    pub fn flush_lines(&mut self) -> io::Result<()> {
        match self {
            Sink::Print { out, .. } => out.flush(),
            _ => Ok(()),
        }
    }

    /// Flushes everything to the file or stdout (at the end).
    pub fn finish(self) -> io::Result<()> {
        match self {
            Sink::Print { mut out, .. } => out.flush(),
            Sink::Pcap(writer) => writer.into_writer().flush(),
            Sink::PcapNg(writer) => writer.into_inner().flush(),
        }
    }
}

/// `ARPHRD_NONE`: a packet socket in cooked mode does not keep the link
/// header, so none is named.
const ARPHRD_NONE: u16 = 0xfffe;

/// Writes into `out` the SLL2 record of `frame` (a cooked packet socket
/// frame, from its network header): the 20-byte header (protocol,
/// interface index, direction), then the frame.
pub fn linux_sll2(out: &mut Vec<u8>, heard: &icmpkit::listen::Heard<'_>, frame: &[u8]) {
    out.clear();
    out.extend_from_slice(&heard.link_protocol.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&heard.ifindex.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&ARPHRD_NONE.to_be_bytes());
    out.push(heard.direction.map_or(0, |d| d.pkttype()));
    // No link-layer address: its length, then 8 bytes of room.
    out.extend_from_slice(&[0; 9]);
    out.extend_from_slice(frame);
}
