//! Text shared by both families' tcpdump-style `Display`: RFC 4884
//! extension objects and RFC 8335 interface identifications print the
//! same after an ICMPv4 or an ICMPv6 line.

use core::fmt;

use crate::extension::{ErrorBody, InterfaceId, Object};

/// Formats bytes as UTF-8, replacing invalid sequences with U+FFFD.
#[derive(Clone, Copy)]
pub struct Text<'a>(pub &'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

/// Appends MPLS labels (what traceroute users look for) and the other
/// extension objects of an error's body, when it has any.
pub(crate) fn fmt_extensions(f: &mut fmt::Formatter<'_>, body: &ErrorBody<'_>) -> fmt::Result {
    let Some(ext) = body.extensions() else {
        return Ok(());
    };
    for object in ext.objects() {
        match object {
            Ok(Object::Mpls(stack)) => {
                for entry in stack.entries() {
                    write!(f, ", {entry}")?;
                }
            }
            Ok(Object::InterfaceInfo(info)) => {
                f.write_str(", interface")?;
                if let Some(i) = info.if_index {
                    write!(f, " index {i}")?;
                }
                if let Some(a) = info.address {
                    write!(f, " {a}")?;
                }
                if let Some(n) = info.name {
                    write!(f, " {}", Text(n))?;
                }
                if let Some(m) = info.mtu {
                    write!(f, " mtu {m}")?;
                }
            }
            Ok(Object::InterfaceId(id)) => {
                f.write_str(", interface ")?;
                fmt_interface_id(f, &id)?;
            }
            Ok(Object::Unknown(raw)) => {
                write!(f, ", extension class {} c-type {}", raw.class, raw.c_type)?
            }
            Err(e) => write!(f, ", bad extension ({e})")?,
        }
    }
    Ok(())
}

/// An interface identification object: its name, `index N`, its address,
/// or `afi A (N bytes)` for an address family without an IP.
pub(crate) fn fmt_interface_id(f: &mut fmt::Formatter<'_>, id: &InterfaceId<'_>) -> fmt::Result {
    match id {
        InterfaceId::Name(n) => write!(f, "{}", Text(n)),
        InterfaceId::Index(i) => write!(f, "index {i}"),
        InterfaceId::Address { afi, address } => match id.ip() {
            Some(ip) => write!(f, "{ip}"),
            None => write!(f, "afi {afi} ({} bytes)", address.len()),
        },
    }
}

/// Writes a kebab-case name with spaces.
pub(crate) struct Spaced(pub &'static str);

impl fmt::Display for Spaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, word) in self.0.split('-').enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}
