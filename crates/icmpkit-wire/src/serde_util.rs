//! Serde helpers shared by both families' `Serialize` impls: bytes as hex
//! strings, bytes as (lossy) UTF-8 text, anything `Display` as a string.
//! None of them allocates, so they work without `alloc`.

use core::fmt;

use serde::Serializer;

pub use crate::display::Text;

/// Formats bytes as lowercase hex without separators.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through a stack buffer, not `write!` per byte: JSON output of
        // echo payloads spent most of its time formatting here.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 128];
        for chunk in self.0.chunks(buf.len() / 2) {
            for (pair, b) in buf.chunks_exact_mut(2).zip(chunk) {
                pair[0] = DIGITS[usize::from(b >> 4)];
                pair[1] = DIGITS[usize::from(b & 0x0f)];
            }
            let text = buf.get(..chunk.len() * 2).unwrap_or_default();
            f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// Serializes any `Display` value as a string.
pub struct Display<'a, T: fmt::Display>(pub &'a T);

impl<T: fmt::Display> serde::Serialize for Display<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// `serialize_with` for bytes as a hex string.
pub fn hex<S: Serializer, B: AsRef<[u8]> + ?Sized>(bytes: &B, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Hex(bytes.as_ref()))
}

/// `serialize_with` for bytes as UTF-8 text.
pub fn text<S: Serializer, B: AsRef<[u8]> + ?Sized>(bytes: &B, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Text(bytes.as_ref()))
}

/// `serialize_with` for optional bytes as UTF-8 text (or null).
pub fn text_opt<S: Serializer>(bytes: &Option<&[u8]>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.collect_str(&Text(b)),
        None => s.serialize_none(),
    }
}
