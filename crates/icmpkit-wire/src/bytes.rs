//! Bounds-checked big-endian field access. Parsers read packets only
//! through it, so that no parser can panic on short input; the few slices
//! taken elsewhere (in emitters) follow a length check.

use crate::{Error, Result};

/// The bytes `at..at+len` of `buf`, or `Truncated` naming `what`.
#[inline]
pub(crate) fn slice<'a>(
    buf: &'a [u8],
    at: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8]> {
    let end = at
        .checked_add(len)
        .ok_or(Error::Malformed("length overflow"))?;
    buf.get(at..end).ok_or(Error::Truncated {
        what,
        need: end,
        have: buf.len(),
    })
}

/// The byte at `at`.
#[inline]
pub(crate) fn u8_at(buf: &[u8], at: usize, what: &'static str) -> Result<u8> {
    buf.get(at).copied().ok_or(Error::Truncated {
        what,
        need: at + 1,
        have: buf.len(),
    })
}

/// The big-endian `u16` at `at`.
#[inline]
pub(crate) fn u16_at(buf: &[u8], at: usize, what: &'static str) -> Result<u16> {
    let b = slice(buf, at, 2, what)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

/// The big-endian `u32` at `at`.
#[inline]
pub(crate) fn u32_at(buf: &[u8], at: usize, what: &'static str) -> Result<u32> {
    let b = slice(buf, at, 4, what)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The IPv4 address at `at`.
#[inline]
pub(crate) fn ipv4_at(buf: &[u8], at: usize, what: &'static str) -> Result<core::net::Ipv4Addr> {
    Ok(core::net::Ipv4Addr::from(u32_at(buf, at, what)?))
}

/// The IPv6 address at `at`.
#[inline]
pub(crate) fn ipv6_at(buf: &[u8], at: usize, what: &'static str) -> Result<core::net::Ipv6Addr> {
    let b = slice(buf, at, 16, what)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ok(core::net::Ipv6Addr::from(a))
}

/// Checks that an output buffer holds `need` bytes.
#[inline]
pub(crate) fn check_room(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::BufferTooSmall {
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Writes `v` big-endian at `at`; the caller has checked room.
#[inline]
pub(crate) fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes `v` big-endian at `at`; the caller has checked room.
#[inline]
pub(crate) fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The byte at `at`, or 0 past the end: for getters of views whose length
/// `new_checked` already verified (and which must not panic when built
/// with `new_unchecked` over a short buffer).
#[inline]
pub(crate) fn get_u8(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

/// The big-endian `u16` at `at`, or 0 past the end (see [`get_u8`]).
#[inline]
pub(crate) fn get_u16(buf: &[u8], at: usize) -> u16 {
    u16_at(buf, at, "").unwrap_or(0)
}

/// The big-endian `u32` at `at`, or 0 past the end (see [`get_u8`]).
#[inline]
pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32_at(buf, at, "").unwrap_or(0)
}

/// The bytes from `at` to the end (empty past the end).
#[inline]
pub(crate) fn tail(buf: &[u8], at: usize) -> &[u8] {
    buf.get(at..).unwrap_or(&[])
}

/// The first `len` bytes of `buf`, or all of it if shorter.
#[inline]
pub(crate) fn head(buf: &[u8], len: usize) -> &[u8] {
    buf.get(..len).unwrap_or(buf)
}

/// The bytes `at..at+len`, clipped to what the buffer holds.
#[inline]
pub(crate) fn clipped(buf: &[u8], at: usize, len: usize) -> &[u8] {
    head(tail(buf, at), len)
}

/// Writes one byte at `at`; the caller has checked room.
#[inline]
pub(crate) fn put_u8(buf: &mut [u8], at: usize, v: u8) {
    buf[at] = v;
}

/// Copies `data` to `at`; the caller has checked room.
#[inline]
pub(crate) fn put_bytes(buf: &mut [u8], at: usize, data: &[u8]) {
    buf[at..at + data.len()].copy_from_slice(data);
}

/// Zeroes `at..at+len`; the caller has checked room.
#[inline]
pub(crate) fn zero(buf: &mut [u8], at: usize, len: usize) {
    buf[at..at + len].fill(0);
}

/// The IPv4 or IPv6 address in `bytes` when it has exactly 4 or 16 bytes.
#[inline]
pub(crate) fn ip_from(bytes: &[u8]) -> Option<core::net::IpAddr> {
    match bytes.len() {
        4 => ipv4_at(bytes, 0, "").ok().map(core::net::IpAddr::V4),
        16 => ipv6_at(bytes, 0, "").ok().map(core::net::IpAddr::V6),
        _ => None,
    }
}

/// The `N` bytes at `at` as an array: one bounds check for a whole fixed
/// header, whose fields are then read without further checks.
#[inline]
pub(crate) fn array_at<const N: usize>(
    buf: &[u8],
    at: usize,
    what: &'static str,
) -> Result<[u8; N]> {
    let s = slice(buf, at, N, what)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

/// The bytes of `buf` from `at` to its end, for writing (empty when `at`
/// is past it).
#[inline]
pub(crate) fn tail_mut(buf: &mut [u8], at: usize) -> &mut [u8] {
    buf.get_mut(at..).unwrap_or(&mut [])
}

/// The first `len` bytes of an output buffer, or `BufferTooSmall`.
#[inline]
pub(crate) fn head_mut(buf: &mut [u8], len: usize) -> Result<&mut [u8]> {
    let have = buf.len();
    buf.get_mut(..len)
        .ok_or(Error::BufferTooSmall { need: len, have })
}
