//! The monitor as the driver runs it: the [`Schedule`] behind a mutex (the
//! exporter reads its counters while the driver runs), plus what turns
//! packets into its inputs. No I/O.

use std::sync::{Arc, Mutex, MutexGuard};

use icmpkit_wire::Family;

use crate::driver::{Protocol, SendOutcome, Transmit};
use crate::engine::clock::{Deadline, Timestamp, nanos};
use crate::engine::probe::{self, Incoming};
use crate::socket::{ErrorOrigin, QueuedError, Received};

use super::schedule::Schedule;

/// One socket's share of a monitor, as a [`Protocol`].
#[derive(Debug)]
pub(crate) struct MonitorProtocol {
    schedule: Arc<Mutex<Schedule>>,
    family: Family,
    /// A datagram socket: the kernel delivers only our echo id, and ICMP
    /// errors only on the error queue.
    datagram: bool,
    payload: Vec<u8>,
    /// The time the message given out was stamped with.
    stamped_at: Timestamp,
    /// The schedule's generation when it was given out.
    given_in: u64,
    stopped: bool,
}

impl MonitorProtocol {
    pub fn new(schedule: Arc<Mutex<Schedule>>, family: Family, datagram: bool) -> Self {
        MonitorProtocol {
            schedule,
            family,
            datagram,
            payload: Vec::new(),
            stamped_at: Timestamp::default(),
            given_in: 0,
            stopped: false,
        }
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        // A panic elsewhere while holding the lock leaves plain counters:
        // still good to read and update.
        self.schedule.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Protocol for MonitorProtocol {
    type Event = ();
    type Meta = Received;

    fn poll_timeout(&self) -> Option<Deadline> {
        self.schedule().next_due()
    }

    fn handle_timeout(&mut self, _now: Timestamp) {
        // Nothing times out: a reply counts whenever it comes (within the
        // duplicate window), loss is requests minus responses.
    }

    fn poll_transmit(&mut self, now: Timestamp, out: &mut Transmit) -> bool {
        let schedule = self.schedule.lock().unwrap_or_else(|p| p.into_inner());
        let Some((index, sequence)) = schedule.due(now) else {
            return false;
        };
        schedule.fill_payload(index, sequence, now, &mut self.payload);
        let id = schedule.echo_id();
        out.destination = schedule.address(index as usize);
        self.given_in = schedule.generation();
        drop(schedule);
        self.stamped_at = now;
        probe::echo_request(self.family, id, sequence, &self.payload, &mut out.message);
        out.scope_id = 0;
        out.token = u64::from(index);
        true
    }

    fn on_sent(&mut self, sent: &Transmit, outcome: SendOutcome) {
        let ok = match outcome {
            SendOutcome::Sent => true,
            SendOutcome::Failed { error, .. } => {
                tracing::debug!(destination = ?sent.destination, %error, "send failed");
                false
            }
        };
        let (now, generation) = (self.stamped_at, self.given_in);
        self.schedule()
            .sent_in(generation, sent.token as u32, ok, now);
    }

    fn handle_receive_error(&mut self, _error: &std::io::Error) {
        // The driver logged it; the exporter shows the count per socket.
        self.schedule().receive_error();
    }

    fn handle_incoming(&mut self, buf: &[u8], meta: &Received, now: Timestamp) {
        let icmp = buf.get(meta.icmp.clone()).unwrap_or(&[]);
        match probe::classify(self.family, icmp) {
            Incoming::EchoReply {
                id,
                sequence,
                data,
                checksum_ok: true,
            } => {
                let mut schedule = self.schedule();
                // Datagram sockets rewrite the id to the socket's.
                let id = if self.datagram {
                    schedule.echo_id()
                } else {
                    id
                };
                schedule.reply(
                    id,
                    sequence,
                    data,
                    meta.ttl,
                    meta.kernel_time.map(nanos),
                    now,
                );
            }
            Incoming::Error {
                icmp_type,
                code,
                quoted,
                quoted_icmp,
                ..
            } => {
                let mut schedule = self.schedule();
                let id = if self.datagram {
                    schedule.echo_id()
                } else {
                    quoted.id
                };
                schedule.icmp_error(
                    icmp_type,
                    code,
                    id,
                    quoted.sequence,
                    quoted.destination,
                    probe::echo_data(quoted_icmp),
                );
            }
            Incoming::EchoReply { .. } | Incoming::Corrupted => {
                tracing::debug!(from = %meta.source, "ICMP message with a bad checksum dropped");
            }
            Incoming::Other => {}
        }
    }

    fn handle_queued_error(&mut self, error: &QueuedError, quote: &[u8], _now: Timestamp) {
        // A raw socket gets each ICMP error as a packet too (counted
        // there); local errors belong to the failed send.
        if !self.datagram || !matches!(error.origin, ErrorOrigin::Icmp | ErrorOrigin::Icmp6) {
            return;
        }
        let Some(quoted) = probe::parse_own_request(self.family, quote) else {
            return;
        };
        let mut schedule = self.schedule();
        let id = schedule.echo_id();
        schedule.icmp_error(
            error.icmp_type,
            error.icmp_code,
            id,
            quoted.sequence,
            error.destination,
            probe::echo_data(quote),
        );
    }

    fn poll_event(&mut self) -> Option<()> {
        None
    }

    fn is_done(&self) -> bool {
        self.stopped
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.schedule().stop();
    }

    fn read_errors_after_send(&self) -> bool {
        // No transmit stamps: ICMP errors come with readiness.
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stamp::StampKey;

    /// A failed receive is the socket's: counted in its schedule (which the
    /// exporter reads), not lost and not charged to a target.
    #[test]
    fn receive_errors_are_counted_per_socket() {
        let schedule = Arc::new(Mutex::new(Schedule::new(
            Vec::new(),
            &[],
            StampKey::from_parts(1, 2),
            7,
            Timestamp::default(),
        )));
        let mut protocol = MonitorProtocol::new(Arc::clone(&schedule), Family::V4, false);
        let error = std::io::Error::from_raw_os_error(libc::ENOBUFS);
        protocol.handle_receive_error(&error);
        protocol.handle_receive_error(&error);
        assert_eq!(schedule.lock().unwrap().receive_errors(), 2);
    }
}
