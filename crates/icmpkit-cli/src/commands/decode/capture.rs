//! Capture files: pcap (any byte order, micro- or nanosecond stamps) and
//! pcapng (every interface, its own link type and time resolution), read
//! as a stream of frames.

use std::io::{self, BufRead, Read};
use std::time::Duration;

use pcap_file::pcap::PcapHeader;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{Endianness, PcapError, TsResolution};

/// One captured frame.
pub struct Frame<'a> {
    /// Capture time since the UNIX epoch (`None` in pcapng simple packets).
    pub time: Option<Duration>,
    /// Its link-layer header type.
    pub linktype: u32,
    /// The captured bytes (a snap length may have cut them: the IP
    /// header's length tells, see `ip::Located::truncated`).
    pub data: &'a [u8],
    /// Its length on the wire (at least `data`'s: a snap length cut the
    /// rest).
    pub original_len: usize,
}

impl Frame<'_> {
    /// Bytes the snap length left out.
    pub fn cut(&self) -> usize {
        self.original_len.saturating_sub(self.data.len())
    }
}

/// The file formats, by their magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Tells pcap and pcapng by the first four bytes; `None` for anything else.
pub fn sniff(start: &[u8]) -> Option<Format> {
    match start.get(..4)? {
        [0xa1, 0xb2, 0xc3, 0xd4]
        | [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d]
        | [0x4d, 0x3c, 0xb2, 0xa1] => Some(Format::Pcap),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some(Format::PcapNg),
        _ => None,
    }
}

/// Reads every frame of a capture in `format`, calling `each` in order.
/// Errors (a bad header, a file cut mid-record) end the reading with a
/// message; frames before them have been handed over.
pub fn read(
    input: impl BufRead,
    format: Format,
    mut each: impl FnMut(Frame<'_>),
) -> Result<(), String> {
    match format {
        Format::Pcap => read_pcap(input, &mut each),
        Format::PcapNg => read_pcapng(input, &mut each),
    }
}

/// The most bytes one pcap record may hold (libpcap's `MAXIMUM_SNAPLEN`):
/// a longer record is a corrupt file, and is refused before reading it.
const MAX_PCAP_RECORD: u32 = 262_144;

/// Reads pcap records itself (pcap-file reads only the file header):
/// pcap-file refuses every record whose original length exceeds the snap
/// length, which is every cut packet of a `tcpdump -s N` capture.
fn read_pcap(mut input: impl Read, each: &mut dyn FnMut(Frame<'_>)) -> Result<(), String> {
    let mut file_header = [0u8; 24];
    let got = read_up_to(&mut input, &mut file_header)
        .map_err(|e| format!("pcap: reading the file header: {e}"))?;
    if got < file_header.len() {
        return Err(cut_short("pcap", "the file header", got, file_header.len()));
    }
    let (_, header) = PcapHeader::from_slice(&file_header).map_err(|e| format!("pcap: {e}"))?;
    let linktype = u32::from(header.datalink);
    let mut data = Vec::new();
    for number in 1u64.. {
        let mut record = [0u8; 16];
        let reading = |e| format!("pcap: reading packet {number}: {e}");
        let got = read_up_to(&mut input, &mut record).map_err(reading)?;
        if got == 0 {
            return Ok(());
        }
        if got < record.len() {
            let part = format!("the record header of packet {number}");
            return Err(cut_short("pcap", &part, got, record.len()));
        }
        let field = |at: usize| {
            let bytes = [record[at], record[at + 1], record[at + 2], record[at + 3]];
            match header.endianness {
                Endianness::Big => u32::from_be_bytes(bytes),
                Endianness::Little => u32::from_le_bytes(bytes),
            }
        };
        let (seconds, fraction, captured, original) = (field(0), field(4), field(8), field(12));
        if captured > MAX_PCAP_RECORD {
            return Err(format!(
                "pcap: packet {number}: captured length {captured} is over \
                 {MAX_PCAP_RECORD}, the most a record holds (a corrupt file)"
            ));
        }
        // Bounded above: at most MAX_PCAP_RECORD bytes.
        data.resize(captured as usize, 0);
        let got = read_up_to(&mut input, &mut data).map_err(reading)?;
        if got < data.len() {
            let part = format!("packet {number}");
            return Err(cut_short("pcap", &part, got, data.len()));
        }
        let nanos = match header.ts_resolution {
            TsResolution::MicroSecond => u64::from(fraction) * 1000,
            TsResolution::NanoSecond => u64::from(fraction),
        };
        each(Frame {
            time: Some(Duration::from_secs(u64::from(seconds)) + Duration::from_nanos(nanos)),
            linktype,
            data: &data,
            original_len: original as usize,
        });
    }
    Ok(())
}

/// `truncated pcap: the file ends inside packet 3 (20 of its 36 bytes)`.
fn cut_short(format: &str, part: &str, got: usize, whole: usize) -> String {
    format!("truncated {format}: the file ends inside {part} ({got} of its {whole} bytes)")
}

/// Words a pcap-file error met while reading `part` of a pcapng file:
/// pcap-file reports a file that ends mid-block as an unexpected end of
/// file.
fn pcapng_error(error: PcapError, part: &str) -> String {
    match error {
        PcapError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            format!("truncated pcapng: the file ends inside {part}")
        }
        PcapError::IoError(e) => format!("pcapng: reading {part}: {e}"),
        PcapError::InvalidField(why) => format!("pcapng: {part} is invalid: {why}"),
        e => format!("pcapng: {part}: {e}"),
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_pcapng(input: impl Read, each: &mut dyn FnMut(Frame<'_>)) -> Result<(), String> {
    let mut reader =
        PcapNgReader::new(input).map_err(|e| pcapng_error(e, "the section header block"))?;
    // (link type, if_tsresol) of the current section's interfaces, kept
    // here because a block borrows the reader.
    let mut interfaces: Vec<(u32, u8)> = reader
        .interfaces()
        .iter()
        .map(|i| (u32::from(i.linktype), tsresol(i)))
        .collect();
    // Blocks and packets so far, to say where a bad block is.
    let (mut blocks, mut packets) = (1u64, 0u64);
    while let Some(block) = reader.next_block() {
        blocks += 1;
        let block = block.map_err(|e| {
            let part = match packets {
                0 => format!("block {blocks}, before any packet"),
                n => format!("block {blocks}, after packet {n}"),
            };
            pcapng_error(e, &part)
        })?;
        if matches!(
            block,
            Block::EnhancedPacket(_) | Block::SimplePacket(_) | Block::Packet(_)
        ) {
            packets += 1;
        }
        let undeclared =
            |id: u32| format!("pcapng: packet {packets} is on undeclared interface {id}");
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                interfaces.push((u32::from(idb.linktype), tsresol(&idb)))
            }
            Block::EnhancedPacket(epb) => {
                let id = epb.interface_id;
                let &(linktype, resolution) =
                    interfaces.get(id as usize).ok_or_else(|| undeclared(id))?;
                // pcap-file 2 reads the raw stamp as nanoseconds whatever
                // the interface's if_tsresol says; rescale it.
                each(Frame {
                    time: Some(ticks_to_time(epb.timestamp.as_nanos(), resolution)),
                    linktype,
                    data: &epb.data,
                    original_len: epb.original_len as usize,
                });
            }
            Block::SimplePacket(spb) => {
                let &(linktype, _) = interfaces.first().ok_or_else(|| undeclared(0))?;
                each(Frame {
                    time: None,
                    linktype,
                    data: &spb.data,
                    original_len: spb.original_len as usize,
                });
            }
            Block::Packet(pb) => {
                let id = u32::from(pb.interface_id);
                let &(linktype, resolution) =
                    interfaces.get(id as usize).ok_or_else(|| undeclared(id))?;
                each(Frame {
                    time: Some(ticks_to_time(u128::from(pb.timestamp), resolution)),
                    linktype,
                    data: &pb.data,
                    original_len: pb.original_len as usize,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The interface's `if_tsresol` (default 6: microseconds).
fn tsresol(interface: &InterfaceDescriptionBlock<'_>) -> u8 {
    interface
        .options
        .iter()
        .find_map(|o| match o {
            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
            _ => None,
        })
        .unwrap_or(6)
}

/// Converts a pcapng timestamp in units of `tsresol` (high bit clear:
/// 10^-n s; set: 2^-n s) to a duration.
fn ticks_to_time(ticks: u128, tsresol: u8) -> Duration {
    let exponent = u32::from(tsresol & 0x7f);
    let per_second: u128 = if tsresol & 0x80 == 0 {
        10u128.checked_pow(exponent)
    } else {
        1u128.checked_shl(exponent)
    }
    .unwrap_or(u128::MAX)
    .max(1);
    let secs = (ticks / per_second).min(u128::from(u64::MAX)) as u64;
    let nanos = (ticks % per_second).saturating_mul(1_000_000_000) / per_second;
    Duration::new(secs, nanos as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(&[0xd4, 0xc3, 0xb2, 0xa1, 2]), Some(Format::Pcap));
        assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(Format::PcapNg));
        assert_eq!(sniff(b"4500"), None);
        assert_eq!(sniff(&[0xa1]), None);
    }

    /// A pcap file in either byte order (the magic tells which resolution), raw IP, with these records
    /// of (time in fraction units, bytes kept, original length).
    fn pcap(big_endian: bool, magic: u32, snaplen: u32, records: &[(u32, &[u8], u32)]) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u32| {
            out.extend(if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let mut out = Vec::new();
        put(&mut out, magic);
        let version: [u16; 2] = [2, 4];
        for v in version {
            out.extend(if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        for v in [0, 0, snaplen, 101] {
            put(&mut out, v);
        }
        for (fraction, data, original) in records {
            for v in [1_700_000_000, *fraction, data.len() as u32, *original] {
                put(&mut out, v);
            }
            out.extend_from_slice(data);
        }
        out
    }

    /// A frame as the tests compare it: (time, link type, bytes).
    type Seen = (Option<Duration>, u32, Vec<u8>);

    fn frames(file: &[u8]) -> (Vec<Seen>, Result<(), String>) {
        let mut seen = Vec::new();
        let result = read(file, sniff(file).unwrap(), |f| {
            seen.push((f.time, f.linktype, f.data.to_vec()))
        });
        (seen, result)
    }

    #[test]
    fn pcap_both_byte_orders_and_resolutions_and_snap_lengths() {
        let packet = [0x45u8, 0, 0, 100, 1, 2, 3, 4];
        let second = Duration::from_secs(1_700_000_000);
        // Big-endian, nanoseconds; the record was cut by a snap length of 8.
        let file = pcap(true, 0xa1b2_3c4d, 8, &[(5, &packet, 100)]);
        let (seen, result) = frames(&file);
        assert_eq!(result, Ok(()));
        assert_eq!(
            seen,
            vec![(Some(second + Duration::from_nanos(5)), 101, packet.to_vec())]
        );
        // Little-endian, microseconds, two records.
        let file = pcap(false, 0xa1b2_c3d4, 65535, &[(7, &packet, 8), (0, &[], 0)]);
        let (seen, result) = frames(&file);
        assert_eq!(result, Ok(()));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, Some(second + Duration::from_micros(7)));
        assert!(seen[1].2.is_empty());
    }

    #[test]
    fn pcapng_time_resolutions() {
        assert_eq!(ticks_to_time(1_500_000, 6), Duration::from_millis(1500));
        assert_eq!(ticks_to_time(1_500_000_000, 9), Duration::from_millis(1500));
        assert_eq!(
            ticks_to_time(3 << 10 | 512, 0x80 | 10),
            Duration::from_millis(3500)
        );
        // Absurd resolutions neither panic nor divide by zero.
        let _ = ticks_to_time(u128::MAX, 0x7f);
        let _ = ticks_to_time(u128::MAX, 0xff);
    }
}
