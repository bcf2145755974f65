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
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
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
