//! Capture files: pcap (any byte order, micro- or nanosecond stamps) and
//! pcapng (every interface, its own link type and time resolution), read
//! as a stream of frames.

use std::io::{BufRead, Read};
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader};

/// One captured frame.
pub struct Frame<'a> {
    /// Capture time since the UNIX epoch (`None` in pcapng simple packets).
    pub time: Option<Duration>,
    /// Its link-layer header type.
    pub linktype: u32,
    /// The captured bytes (a snap length may have cut them: the IP
    /// header's length tells, see `ip::Located::truncated`).
    pub data: &'a [u8],
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

fn read_pcap(input: impl Read, each: &mut dyn FnMut(Frame<'_>)) -> Result<(), String> {
    let mut reader = PcapReader::new(input).map_err(|e| format!("pcap: {e}"))?;
    let linktype = u32::from(reader.header().datalink);
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| format!("pcap: {e}"))?;
        each(Frame {
            time: Some(packet.timestamp),
            linktype,
            data: &packet.data,
        });
    }
    Ok(())
}

fn read_pcapng(input: impl Read, each: &mut dyn FnMut(Frame<'_>)) -> Result<(), String> {
    let mut reader = PcapNgReader::new(input).map_err(|e| format!("pcapng: {e}"))?;
    // (link type, if_tsresol) of the current section's interfaces, kept
    // here because a block borrows the reader.
    let mut interfaces: Vec<(u32, u8)> = reader
        .interfaces()
        .iter()
        .map(|i| (u32::from(i.linktype), tsresol(i)))
        .collect();
    let undeclared = |id: u32| format!("pcapng: packet on undeclared interface {id}");
    while let Some(block) = reader.next_block() {
        let block = block.map_err(|e| format!("pcapng: {e}"))?;
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
                });
            }
            Block::SimplePacket(spb) => {
                let &(linktype, _) = interfaces.first().ok_or_else(|| undeclared(0))?;
                each(Frame {
                    time: None,
                    linktype,
                    data: &spb.data,
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
