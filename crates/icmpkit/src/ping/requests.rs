//! The echo requests a ping still waits on: from the oldest one not yet
//! answered to the newest sent, by sequence number, in send order (which is
//! also timeout order). Answered requests are forgotten as soon as every
//! older one is settled too, so a ping whose replies come back holds a
//! handful; one whose replies stop holds what it sent within a timeout, at
//! most one sequence space (65,536 requests of 32 bytes: 2 MiB).
//!
//! What happens to a reply after its request is forgotten is the session's
//! business: the stamp in its payload still times it, and iputils' table of
//! one bit per sequence number still tells a duplicate.

use std::collections::VecDeque;
use std::num::NonZeroU64;
use std::time::Duration;

use crate::engine::clock::Timestamp;
use crate::engine::sequence::Sequence;

/// Distinct sequence numbers: the window never spans more.
pub(super) const SEQUENCE_SPACE: usize = 1 << 16;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// Sent, nothing back yet.
    Waiting,
    /// An echo reply came back.
    Replied,
    /// An ICMP error came back.
    Errored,
    /// Its sequence number was skipped (the send failed): holds its place.
    NotSent,
}

/// One request of the window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request {
    /// When it left, as the session was told.
    pub sent: Timestamp,
    /// When the kernel sent it (CLOCK_REALTIME ns), if the socket says.
    pub kernel_tx_ns: Option<NonZeroU64>,
    pub fate: Fate,
}

impl Request {
    fn deadline_ns(&self, timeout: Duration) -> u64 {
        self.sent.after(timeout).monotonic_ns
    }
}

/// The window of requests; its front, if any, is always [`Fate::Waiting`].
#[derive(Debug)]
pub(super) struct Requests {
    /// Sequence number of `window[0]`; `window[i]` is `first + i`.
    first: Sequence,
    window: VecDeque<Request>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            first: Sequence(0),
            window: VecDeque::new(),
        }
    }
}

impl Requests {
    /// The request with sequence number `seq`, if it is in the window (and
    /// was sent).
    pub fn get(&self, seq: Sequence) -> Option<&Request> {
        self.window
            .get(self.index(seq))
            .filter(|r| r.fate != Fate::NotSent)
    }

    fn get_mut(&mut self, seq: Sequence) -> Option<&mut Request> {
        let i = self.index(seq);
        self.window.get_mut(i).filter(|r| r.fate != Fate::NotSent)
    }

    fn index(&self, seq: Sequence) -> usize {
        usize::from(seq.0.wrapping_sub(self.first.0))
    }

    /// Records request `seq` sent at `sent`. Sequence numbers skipped since
    /// the newest request hold their place. A request still waiting whose
    /// place is needed (the window already spans the whole sequence space)
    /// is given up: its sequence number goes to `given_up`.
    pub fn sent(&mut self, seq: Sequence, sent: Timestamp, given_up: &mut Vec<Sequence>) {
        let request = Request {
            sent,
            kernel_tx_ns: None,
            fate: Fate::Waiting,
        };
        if self.window.is_empty() {
            self.first = seq;
            self.window.push_back(request);
            return;
        }
        if let Some(old) = self.window.get_mut(self.index(seq)) {
            // Sent again while still in the window (a caller reusing a
            // number): the old request can no longer be told apart.
            if old.fate == Fate::Waiting {
                given_up.push(seq);
            }
            *old = request;
        } else {
            let end = self.first.0.wrapping_add(self.window.len() as u16);
            let skipped = seq.0.wrapping_sub(end);
            let placeholder = Request {
                fate: Fate::NotSent,
                ..request
            };
            for _ in 0..skipped {
                self.push(placeholder, given_up);
            }
            self.push(request, given_up);
        }
        self.forget_settled();
    }

    fn push(&mut self, request: Request, given_up: &mut Vec<Sequence>) {
        // Make room first, so the deque never grows past one sequence space.
        if self.window.len() == SEQUENCE_SPACE
            && let Some(oldest) = self.window.pop_front()
        {
            if oldest.fate == Fate::Waiting {
                given_up.push(self.first);
            }
            self.first = self.first.next();
        }
        self.window.push_back(request);
    }

    /// Records the kernel's transmit stamp of request `seq`.
    pub fn set_kernel_tx(&mut self, seq: Sequence, kernel_tx_ns: u64) {
        if let Some(r) = self.get_mut(seq) {
            r.kernel_tx_ns = NonZeroU64::new(kernel_tx_ns);
        }
    }

    /// Records what came back for request `seq` (a reply overrides an
    /// error); settled requests at the front are forgotten.
    pub fn settle(&mut self, seq: Sequence, fate: Fate) {
        if let Some(r) = self.get_mut(seq)
            && (r.fate == Fate::Waiting || fate == Fate::Replied)
        {
            r.fate = fate;
        }
        self.forget_settled();
    }

    /// Forgets the requests whose timeout passed by `now_ns` (pushing their
    /// sequence numbers to `timed_out`) and the settled ones behind them.
    pub fn expire(&mut self, now_ns: u64, timeout: Duration, timed_out: &mut Vec<Sequence>) {
        while let Some(front) = self.window.front() {
            if front.fate == Fate::Waiting {
                if front.deadline_ns(timeout) > now_ns {
                    break;
                }
                timed_out.push(self.first);
            }
            self.window.pop_front();
            self.first = self.first.next();
        }
    }

    /// When the oldest waiting request times out.
    pub fn next_deadline(&self, timeout: Duration) -> Option<u64> {
        self.window.front().map(|r| r.deadline_ns(timeout))
    }

    fn forget_settled(&mut self) {
        while self.window.front().is_some_and(|r| r.fate != Fate::Waiting) {
            self.window.pop_front();
            self.first = self.first.next();
        }
    }

    /// Requests held (waiting, or settled behind a waiting one).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// Requests there is room for without reallocating.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.window.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    fn at(ms: u64) -> Timestamp {
        Timestamp {
            realtime_ns: ms * 1_000_000,
            monotonic_ns: ms * 1_000_000,
        }
    }

    #[test]
    fn a_request_takes_32_bytes() {
        // What the 2 MiB bound of a full window rests on.
        assert_eq!(std::mem::size_of::<Request>(), 32);
    }

    #[test]
    fn answered_requests_are_forgotten_once_older_ones_are_settled() {
        let mut r = Requests::default();
        let mut given_up = Vec::new();
        for seq in 1..=3 {
            r.sent(Sequence(seq), at(u64::from(seq)), &mut given_up);
        }
        r.settle(Sequence(2), Fate::Replied);
        assert_eq!(r.len(), 3, "1 still waits: 2 stays behind it");
        assert!(r.get(Sequence(2)).is_some());
        r.settle(Sequence(1), Fate::Errored);
        assert_eq!(r.len(), 1, "1 and 2 settled: forgotten");
        assert!(r.get(Sequence(1)).is_none() && r.get(Sequence(3)).is_some());
        assert_eq!(r.next_deadline(TIMEOUT), Some(at(1003).monotonic_ns));
        let mut timed_out = Vec::new();
        r.expire(at(1002).monotonic_ns, TIMEOUT, &mut timed_out);
        assert!(timed_out.is_empty());
        r.expire(at(1003).monotonic_ns, TIMEOUT, &mut timed_out);
        assert_eq!(timed_out, vec![Sequence(3)]);
        assert_eq!((r.len(), r.next_deadline(TIMEOUT)), (0, None));
        assert!(given_up.is_empty());
    }

    #[test]
    fn skipped_numbers_hold_their_place_and_are_never_found() {
        let mut r = Requests::default();
        let mut given_up = Vec::new();
        r.sent(Sequence(65_535), at(0), &mut given_up);
        // 0 and 1 failed to send; 2 went out (the numbers wrapped).
        r.sent(Sequence(2), at(1), &mut given_up);
        assert_eq!(r.len(), 4);
        assert!(r.get(Sequence(0)).is_none() && r.get(Sequence(1)).is_none());
        assert_eq!(r.get(Sequence(2)).map(|q| q.sent), Some(at(1)));
        r.settle(Sequence(65_535), Fate::Replied);
        assert_eq!(r.len(), 1, "the placeholders went with it");
    }

    #[test]
    fn the_window_never_spans_more_than_the_sequence_space() {
        let mut r = Requests::default();
        let mut given_up = Vec::new();
        for i in 0..(SEQUENCE_SPACE as u64 + 10) {
            r.sent(Sequence(i as u16), at(i), &mut given_up);
        }
        assert_eq!(r.len(), SEQUENCE_SPACE);
        assert!(r.capacity() <= SEQUENCE_SPACE, "{}", r.capacity());
        assert_eq!(given_up, (0..10).map(Sequence).collect::<Vec<_>>());
        assert_eq!(
            r.get(Sequence(5)).map(|q| q.sent),
            Some(at(SEQUENCE_SPACE as u64 + 5)),
            "5 is the newer request now"
        );
    }
}
