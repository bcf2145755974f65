//! A list of IPv6 addresses that is either read from the wire (a slice of
//! 16-byte entries) or given by the caller for emitting: MLDv2 sources,
//! RDNSS servers.

use core::fmt;
use core::net::Ipv6Addr;

use crate::bytes;

/// A zero-copy list of IPv6 addresses.
///
/// Parsed messages hold the wire bytes; builders hold a caller's slice.
/// Two lists are equal when they yield the same addresses, whichever the
/// source.
#[derive(Clone, Copy)]
pub struct Ipv6Addrs<'a>(Inner<'a>);

#[derive(Clone, Copy)]
enum Inner<'a> {
    /// `16 * n` bytes from a packet.
    Wire(&'a [u8]),
    /// Addresses given by a caller.
    Built(&'a [Ipv6Addr]),
}

impl<'a> Ipv6Addrs<'a> {
    /// The empty list.
    pub const EMPTY: Ipv6Addrs<'static> = Ipv6Addrs(Inner::Built(&[]));

    /// A list to emit, from the caller's addresses.
    pub const fn new(addrs: &'a [Ipv6Addr]) -> Self {
        Ipv6Addrs(Inner::Built(addrs))
    }

    /// `count` addresses read from `buf` at `at`; `Truncated` when `buf`
    /// holds fewer.
    pub(crate) fn from_wire(
        buf: &'a [u8],
        at: usize,
        count: usize,
        what: &'static str,
    ) -> crate::Result<Self> {
        let len = count
            .checked_mul(16)
            .ok_or(crate::Error::Malformed("address count overflow"))?;
        Ok(Ipv6Addrs(Inner::Wire(bytes::slice(buf, at, len, what)?)))
    }

    /// The number of addresses.
    pub fn len(&self) -> usize {
        match self.0 {
            Inner::Wire(b) => b.len() / 16,
            Inner::Built(a) => a.len(),
        }
    }

    /// True when the list holds no address.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The addresses, in order.
    pub fn iter(&self) -> Ipv6AddrIter<'a> {
        Ipv6AddrIter {
            list: *self,
            next: 0,
        }
    }

    /// Bytes the list takes on the wire.
    pub fn buffer_len(&self) -> usize {
        self.len() * 16
    }

    /// Writes the addresses at `at`; the caller has checked room.
    pub(crate) fn emit(&self, buf: &mut [u8], at: usize) {
        for (i, addr) in self.iter().enumerate() {
            bytes::put_bytes(buf, at + 16 * i, &addr.octets());
        }
    }
}

impl<'a> IntoIterator for Ipv6Addrs<'a> {
    type Item = Ipv6Addr;
    type IntoIter = Ipv6AddrIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Ipv6Addrs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Ipv6Addrs<'_> {}

impl fmt::Debug for Ipv6Addrs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`Ipv6Addrs`].
#[derive(Clone, Debug)]
pub struct Ipv6AddrIter<'a> {
    list: Ipv6Addrs<'a>,
    next: usize,
}

impl Iterator for Ipv6AddrIter<'_> {
    type Item = Ipv6Addr;

    fn next(&mut self) -> Option<Ipv6Addr> {
        let addr = match self.list.0 {
            Inner::Wire(b) => bytes::ipv6_at(b, self.next * 16, "address").ok(),
            Inner::Built(a) => a.get(self.next).copied(),
        }?;
        self.next += 1;
        Some(addr)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Ipv6AddrIter<'_> {}

#[cfg(feature = "serde")]
impl serde::Serialize for Ipv6Addrs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}
