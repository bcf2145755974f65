//! The human presentations: the summary, the one-liner and the `-v` tree.

use std::fmt::{self, Write as _};

use icmpkit::wire::Family;
use serde_json::Value;

use super::{Message, PacketView};

/// The summary of a message: `echo request id 4660 seq 1, 64 bytes`.
pub struct Summary<'v, 'a>(pub(super) &'v PacketView<'a>);

/// The one-liner: `12:00:01.000123 192.0.2.1 > 192.0.2.2 ttl 64: <summary>`.
pub struct Line<'v, 'a>(pub(super) &'v PacketView<'a>);

/// The one-liner followed by every field, indented; ends with a newline.
pub struct Tree<'v, 'a>(pub(super) &'v PacketView<'a>);

impl fmt::Display for Summary<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.0;
        match view.message.as_ref() {
            Ok(message) => fmt_message(f, message)?,
            Err(error) => {
                match view.type_name() {
                    Some(name) => write!(f, "{}", Spaced(name))?,
                    None => match view.msg_type() {
                        Some(t) => write!(f, "type {t}")?,
                        None => f.write_str("empty message")?,
                    },
                }
                if let Some(code) = view.code() {
                    write!(f, " code {code}")?;
                }
                if let Some((id, sequence)) = view.partial_ids() {
                    write!(f, " id {id} seq {sequence}")?;
                }
                // Cut by the capture: `truncated` below says it.
                if view.malformed().is_some() {
                    write!(f, ", {error}")?;
                }
            }
        }
        write!(f, ", {} bytes", view.bytes.len())?;
        if let Some(wire) = view.wire_length() {
            write!(f, " of {wire}")?;
        }
        if view.checksum_valid() == Some(false) {
            f.write_str(", bad checksum")?;
        }
        if view.meta.truncated {
            f.write_str(", truncated")?;
        }
        if view.meta.first_fragment {
            f.write_str(", first fragment (checksum not verified)")?;
        }
        for (i, carrier) in view.carriers.iter().enumerate() {
            f.write_str(if i == 0 { ", via " } else { " / " })?;
            write!(f, "{carrier}")?;
        }
        Ok(())
    }
}

/// The message's own words. Echo gets the compact form (the common case in
/// a sniffer); the rest reuses the packet model's tcpdump-style `Display`
/// without its family prefix and length suffix, which the line gives once.
fn fmt_message(f: &mut fmt::Formatter<'_>, message: &Message<'_>) -> fmt::Result {
    use icmpkit::wire::{icmpv4::Repr as V4, icmpv6::Repr as V6};
    match message {
        Message::V4(V4::EchoRequest { id, sequence, .. })
        | Message::V6(V6::EchoRequest { id, sequence, .. }) => {
            write!(f, "echo request id {id} seq {sequence}")
        }
        Message::V4(V4::EchoReply { id, sequence, .. })
        | Message::V6(V6::EchoReply { id, sequence, .. }) => {
            write!(f, "echo reply id {id} seq {sequence}")
        }
        Message::V4(repr) => write_trimmed(f, &repr.to_string()),
        Message::V6(repr) => write_trimmed(f, &repr.to_string()),
    }
}

fn write_trimmed(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let text = text
        .strip_prefix("ICMP6, ")
        .or_else(|| text.strip_prefix("ICMP "))
        .unwrap_or(text);
    let text = match text.rfind(", length ") {
        Some(at) if text[at + 9..].bytes().all(|b| b.is_ascii_digit()) => &text[..at],
        _ => text,
    };
    f.write_str(text)
}

/// A kebab-case name with spaces.
struct Spaced(&'static str);

impl fmt::Display for Spaced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, word) in self.0.split('-').enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}

/// `HH:MM:SS.ffffff` of a time since the UNIX epoch, in UTC.
pub(super) struct Clock(pub std::time::Duration);

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs() % 86_400;
        write!(
            f,
            "{:02}:{:02}:{:02}.{:06}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            self.0.subsec_micros()
        )
    }
}

impl fmt::Display for Line<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.0;
        let meta = &view.meta;
        if let Some(time) = meta.time {
            write!(f, "{} ", Clock(time))?;
        }
        if let Some(interface) = &meta.interface {
            write!(f, "{interface} ")?;
        }
        if let Some(direction) = meta.direction {
            write!(f, "{direction} ")?;
        }
        match (meta.src, meta.dst) {
            (Some(src), Some(dst)) => write!(f, "{src} > {dst}")?,
            (Some(src), None) => write!(f, "{src} > ?")?,
            (None, Some(dst)) => write!(f, "? > {dst}")?,
            (None, None) => f.write_str(match view.family {
                Family::V4 => "icmpv4",
                Family::V6 => "icmpv6",
            })?,
        }
        if let Some(ttl) = meta.ttl {
            write!(f, " ttl {ttl}")?;
        }
        write!(f, ": {}", view.summary())
    }
}

/// Envelope keys the tree leaves out because the line shows them, or
/// folds into another line (names next to numbers, validity next to the
/// checksum).
const SHOWN_ELSEWHERE: &[&str] = &[
    "time",
    "src",
    "dst",
    "ttl",
    "interface",
    "direction",
    "type_name",
    "code_name",
    "checksum_valid",
];

impl fmt::Display for Tree<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.0;
        writeln!(f, "{}", view.line())?;
        // The tree walks the JSON object, so it shows exactly the fields
        // `--json` has: one schema, two layouts.
        let Ok(Value::Object(map)) = serde_json::to_value(view) else {
            return Err(fmt::Error);
        };
        for (key, value) in &map {
            if SHOWN_ELSEWHERE.contains(&key.as_str()) || value.is_null() {
                continue;
            }
            match key.as_str() {
                "type" => write_named(f, "type", value, view.type_name())?,
                "code" => write_named(f, "code", value, view.code_name())?,
                "checksum" => {
                    let sum = value.as_u64().unwrap_or_default();
                    let status = match view.checksum_valid() {
                        Some(true) => "valid",
                        Some(false) => "INVALID",
                        None => "not checked",
                    };
                    writeln!(f, "  checksum: {sum:#06x} ({status})")?;
                }
                "truncated" if value == &Value::Bool(false) => {}
                _ => write_field(f, 1, key, value)?,
            }
        }
        Ok(())
    }
}

fn write_named(
    f: &mut fmt::Formatter<'_>,
    key: &str,
    value: &Value,
    name: Option<&str>,
) -> fmt::Result {
    match name {
        Some(name) => writeln!(f, "  {key}: {value} ({name})"),
        None => writeln!(f, "  {key}: {value}"),
    }
}

fn indent(f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
    (0..depth).try_for_each(|_| f.write_str("  "))
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_field(f: &mut fmt::Formatter<'_>, depth: usize, key: &str, value: &Value) -> fmt::Result {
    indent(f, depth)?;
    match value {
        Value::Object(map) => {
            writeln!(f, "{key}:")?;
            for (k, v) in map {
                write_field(f, depth + 1, k, v)?;
            }
            Ok(())
        }
        Value::Array(items) if items.is_empty() => writeln!(f, "{key}: []"),
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let list: Vec<String> = items.iter().map(scalar).collect();
            writeln!(f, "{key}: {}", list.join(", "))
        }
        Value::Array(items) => {
            writeln!(f, "{key}:")?;
            for item in items {
                write_item(f, depth + 1, item)?;
            }
            Ok(())
        }
        other => writeln!(f, "{key}: {}", scalar(other)),
    }
}

/// A list item: `- ` then an object's fields (the first on the dash's
/// line), or the value.
fn write_item(f: &mut fmt::Formatter<'_>, depth: usize, item: &Value) -> fmt::Result {
    match item {
        Value::Object(map) => {
            let mut first = true;
            for (k, v) in map {
                if first {
                    indent(f, depth)?;
                    f.write_str("- ")?;
                    // The dash takes the place of one indentation level.
                    let mut line = String::new();
                    write_field_into(&mut line, depth + 1, k, v);
                    f.write_str(line.trim_start())?;
                    first = false;
                } else {
                    write_field(f, depth + 1, k, v)?;
                }
            }
            if first {
                indent(f, depth)?;
                f.write_str("- {}\n")?;
            }
            Ok(())
        }
        other => {
            indent(f, depth)?;
            writeln!(f, "- {}", scalar(other))
        }
    }
}

/// [`write_field`] into a string (to strip the first line's indentation).
fn write_field_into(out: &mut String, depth: usize, key: &str, value: &Value) {
    struct Field<'a>(usize, &'a str, &'a Value);
    impl fmt::Display for Field<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_field(f, self.0, self.1, self.2)
        }
    }
    let _ = write!(out, "{}", Field(depth, key, value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_utc_time_of_day_with_microseconds() {
        let t = std::time::Duration::new(86_400 * 3 + 3600 * 13 + 60 * 7 + 9, 123_456_789);
        assert_eq!(Clock(t).to_string(), "13:07:09.123456");
    }
}
