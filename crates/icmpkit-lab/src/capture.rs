//! [`Capture`]: every IP packet a namespace sends or receives, recorded by a
//! background thread, for tests that check what went on the wire (a
//! tcpdump without the text parsing).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, recv, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

use crate::error::{Error, Result};
use crate::ns::Ns;

/// How long the capture thread waits for a packet before checking whether
/// it was told to stop.
const POLL: Duration = Duration::from_millis(20);

/// A packet capture running in one namespace, on all its interfaces, both
/// directions: an `AF_PACKET` datagram socket, so each record is the IP
/// packet without its link-layer header. Stop it with [`Capture::finish`].
#[derive(Debug)]
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Vec<u8>>>>,
}

impl Ns {
    /// Starts capturing every packet this namespace sends or receives.
    /// Packets sent after this returns are recorded.
    pub fn capture(&self) -> Result<Capture> {
        let socket = {
            let _inside = self.enter()?;
            packet_socket().map_err(|err| {
                Error::new(
                    format!("open a packet capture in {}", self.name()),
                    err.to_string(),
                )
            })?
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || record(&socket, &flag));
        Ok(Capture {
            stop,
            thread: Some(thread),
        })
    }
}

impl Capture {
    /// Stops the capture and returns every IP packet it saw, in order
    /// (IPv4 and IPv6; outgoing and incoming).
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL))` with a short receive
/// timeout and room for bursts.
pub(crate) fn packet_socket() -> nix::Result<OwnedFd> {
    let socket = socket(
        AddressFamily::Packet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )?;
    let poll = TimeVal::new(0, POLL.as_micros() as i64);
    setsockopt(&socket, sockopt::ReceiveTimeout, &poll)?;
    setsockopt(&socket, sockopt::RcvBuf, &(4 << 20))?;
    Ok(socket)
}

/// Reads packets until told to stop and the socket is drained.
fn record(socket: &OwnedFd, stop: &AtomicBool) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        match recv(socket.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(len) => {
                let packet = &buf[..len.min(buf.len())];
                if matches!(packet.first().map(|b| b >> 4), Some(4 | 6)) {
                    packets.push(packet.to_vec());
                }
            }
            Err(Errno::EAGAIN | Errno::EINTR) if !stop.load(Ordering::Relaxed) => {}
            Err(_) => return packets,
        }
    }
}
