//! RFC 4884 multi-part ICMP messages: the split of an error's body into
//! the original datagram and the ICMP extension structure, and the
//! extension objects that routers put there: MPLS label stacks (RFC 4950),
//! interface information (RFC 5837) and interface identification (RFC 8335,
//! carried by extended echo requests).
//!
//! Parsing is lazy and zero-copy: [`Extensions::objects`] yields one
//! `Result` per object, so a malformed object is an error item, never a
//! panic and never the loss of the objects before it. Building goes the
//! other way: [`Extensions::from_objects`] over a slice of [`Object`]s, and
//! [`ErrorBody::emit`] pads the original datagram, computes the length
//! field value ([`ErrorBody::length_field`]) and the extension checksum.

use core::fmt;
use core::net::IpAddr;

use crate::bytes;
use crate::{Error, Family, Result, checksum};

/// RFC 4884 §4.1: the original datagram is padded to at least this many
/// bytes when extensions follow it.
pub const MIN_ORIGINAL_LEN: usize = 128;

/// Version of the extension structure (RFC 4884 §7).
pub const VERSION: u8 = 2;

/// Length of the extension header (version, reserved, checksum).
pub const HEADER_LEN: usize = 4;

/// Length of an object header (length, class, c-type).
pub const OBJECT_HEADER_LEN: usize = 4;

/// Class-Num of the MPLS label stack object (RFC 4950).
pub const CLASS_MPLS: u8 = 1;
/// Class-Num of the interface information object (RFC 5837).
pub const CLASS_INTERFACE_INFO: u8 = 2;
/// Class-Num of the interface identification object (RFC 8335).
pub const CLASS_INTERFACE_ID: u8 = 3;

/// Address family identifier of IPv4 (IANA address family numbers).
pub const AFI_IPV4: u16 = 1;
/// Address family identifier of IPv6.
pub const AFI_IPV6: u16 = 2;

/// How many bytes one unit of the RFC 4884 length field stands for:
/// 32-bit words for ICMPv4, 64-bit words for ICMPv6.
pub const fn length_unit(family: Family) -> usize {
    match family {
        Family::V4 => 4,
        Family::V6 => 8,
    }
}

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// Either bytes as received, or items given by a builder. Keeping both
/// behind one type is what lets parsing stay zero-copy while building
/// needs no allocation.
#[derive(Clone, Copy)]
enum Source<'a, T> {
    Wire(&'a [u8]),
    Items(&'a [T]),
}

// ---------------------------------------------------------------------------
// The body of an error message
// ---------------------------------------------------------------------------

/// The body of an ICMP error (after its 8-byte header): the original
/// datagram and, when RFC 4884 says there is one, the extension structure.
///
/// The length field lives at a different place per family and type (byte
/// 5 of ICMPv4 errors, byte 4 of ICMPv6 ones); the caller reads and writes
/// it, this type interprets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorBody<'a> {
    original: &'a [u8],
    extensions: Option<Extensions<'a>>,
    // The length field as received when it did not lead to extensions, so
    // that re-emitting a parsed body reproduces it.
    unexplained_length: u8,
}

impl<'a> ErrorBody<'a> {
    /// A body of only the original datagram (length field 0).
    pub const fn new(original: &'a [u8]) -> Self {
        ErrorBody {
            original,
            extensions: None,
            unexplained_length: 0,
        }
    }

    /// A body with an extension structure after the original datagram,
    /// which [`emit`](Self::emit) pads to [`MIN_ORIGINAL_LEN`] and to the
    /// family's length unit (or truncates to 255 units).
    pub const fn with_extensions(original: &'a [u8], extensions: Extensions<'a>) -> Self {
        ErrorBody {
            original,
            extensions: Some(extensions),
            unexplained_length: 0,
        }
    }

    /// Splits `body` (everything after an error's 8-byte header) using the
    /// RFC 4884 `length_field` of a message of `family`.
    ///
    /// * Length non-zero: the original datagram is `length × unit` bytes;
    ///   a version-2 extension structure may follow. A length that runs
    ///   past the body, is below 128 bytes, or is followed by something that
    ///   is not an extension structure leaves the whole body as the
    ///   original datagram (and the length field is kept for re-emission).
    /// * Length zero (RFC 4884 §5 compatibility with pre-RFC 4884 senders):
    ///   a body longer than 128 bytes with, at byte 128, a version-2
    ///   extension header whose checksum verifies is split there.
    ///
    /// Never fails: whatever cannot be explained stays in the original
    /// datagram.
    #[inline]
    pub fn parse(body: &'a [u8], length_field: u8, family: Family) -> Self {
        if length_field == 0 {
            if body.len() > MIN_ORIGINAL_LEN {
                let (original, rest) = body.split_at(MIN_ORIGINAL_LEN);
                if let Ok(ext) = Extensions::parse(rest)
                    && ext.checksum_status() == ChecksumStatus::Valid
                {
                    return Self::with_extensions(original, ext);
                }
            }
            return Self::new(body);
        }
        let original_len = usize::from(length_field) * length_unit(family);
        if original_len >= MIN_ORIGINAL_LEN && original_len < body.len() {
            let (original, rest) = body.split_at(original_len);
            if let Ok(ext) = Extensions::parse(rest) {
                return Self::with_extensions(original, ext);
            }
        }
        ErrorBody {
            original: body,
            extensions: None,
            unexplained_length: length_field,
        }
    }

    /// The original datagram part (with any padding the sender added).
    pub fn original(&self) -> &'a [u8] {
        self.original
    }

    /// The extension structure, if the body has one.
    pub fn extensions(&self) -> Option<&Extensions<'a>> {
        self.extensions.as_ref()
    }

    /// The original datagram read as an IP packet (see [`crate::quoted`]).
    pub fn quoted(&self) -> Result<crate::quoted::Quoted<'a>> {
        crate::quoted::Quoted::parse(self.original)
    }

    /// Bytes of original datagram that [`emit`](Self::emit) writes.
    fn original_len(&self, family: Family) -> usize {
        let unit = length_unit(family);
        match self.extensions {
            None => self.original.len(),
            Some(_) => round_up(self.original.len(), unit).clamp(MIN_ORIGINAL_LEN, 255 * unit),
        }
    }

    /// The value for the error's length field: the padded original
    /// datagram in units of the family when extensions follow, else 0 (or
    /// the value received, for a parsed body whose length field explained
    /// nothing).
    pub fn length_field(&self, family: Family) -> u8 {
        match self.extensions {
            None => self.unexplained_length,
            Some(_) => (self.original_len(family) / length_unit(family)) as u8,
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self, family: Family) -> usize {
        self.original_len(family) + self.extensions.map_or(0, |e| e.buffer_len())
    }

    /// Writes the body: the original datagram (zero-padded, or cut to 255
    /// units, when extensions follow) then the extension structure with
    /// its checksum. Write [`length_field`](Self::length_field) into the
    /// error's header.
    pub fn emit(&self, family: Family, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len(family);
        bytes::check_room(buf, total)?;
        let original_len = self.original_len(family);
        let copied = bytes::head(self.original, original_len);
        bytes::put_bytes(buf, 0, copied);
        bytes::zero(buf, copied.len(), original_len - copied.len());
        if let Some(ext) = &self.extensions {
            ext.emit(&mut buf[original_len..total])?;
        }
        Ok(total)
    }

    /// Adds `quoted` (when the original datagram parses), `original_length`
    /// and `extensions` entries to a map being serialized, so that message
    /// `Repr`s of both families can flatten their body into their fields.
    #[cfg(feature = "serde")]
    pub fn serialize_entries<M: serde::ser::SerializeMap>(
        &self,
        map: &mut M,
    ) -> core::result::Result<(), M::Error> {
        map.serialize_entry("original_length", &self.original.len())?;
        if let Ok(quoted) = self.quoted() {
            map.serialize_entry("quoted", &quoted)?;
        }
        if let Some(ext) = &self.extensions {
            map.serialize_entry("extensions", ext)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The extension structure
// ---------------------------------------------------------------------------

/// What the extension header's checksum says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ChecksumStatus {
    /// The structure sums correctly.
    Valid,
    /// The checksum field is non-zero and wrong.
    Invalid,
    /// The field is zero: the sender computed none (RFC 4884 §7).
    Absent,
}

/// An ICMP extension structure: a header (version 2, checksum) and a
/// sequence of objects.
#[derive(Clone, Copy)]
pub struct Extensions<'a> {
    source: Source<'a, Object<'a>>,
}

impl<'a> Extensions<'a> {
    /// Reads the extension header at the start of `bytes` (all of which is
    /// the structure). Errors: fewer than 4 bytes, or a version other than
    /// 2. Objects are read lazily by [`objects`](Self::objects).
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let first = bytes::u8_at(bytes, 0, "ICMP extension header")?;
        bytes::slice(bytes, 0, HEADER_LEN, "ICMP extension header")?;
        if first >> 4 != VERSION {
            return Err(Error::Malformed("ICMP extension version is not 2"));
        }
        Ok(Extensions {
            source: Source::Wire(bytes),
        })
    }

    /// A structure to build from `objects` (version 2; the checksum is
    /// computed by [`emit`](Self::emit)).
    pub const fn from_objects(objects: &'a [Object<'a>]) -> Self {
        Extensions {
            source: Source::Items(objects),
        }
    }

    /// The version field.
    pub fn version(&self) -> u8 {
        match self.source {
            Source::Wire(b) => bytes::get_u8(b, 0) >> 4,
            Source::Items(_) => VERSION,
        }
    }

    /// Whether the checksum verifies (built structures always do).
    pub fn checksum_status(&self) -> ChecksumStatus {
        match self.source {
            Source::Wire(b) if bytes::get_u16(b, 2) == 0 => ChecksumStatus::Absent,
            Source::Wire(b) if checksum::verify(b) => ChecksumStatus::Valid,
            Source::Wire(_) => ChecksumStatus::Invalid,
            Source::Items(_) => ChecksumStatus::Valid,
        }
    }

    /// The bytes of the structure, for a parsed one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.source {
            Source::Wire(b) => Some(b),
            Source::Items(_) => None,
        }
    }

    /// The first interface identification object, what an extended echo
    /// request asks about (RFC 8335 §2).
    pub(crate) fn first_interface_id(&self) -> Option<InterfaceId<'a>> {
        self.objects().find_map(|o| match o {
            Ok(Object::InterfaceId(id)) => Some(id),
            _ => None,
        })
    }

    /// The objects, each a `Result`: iteration stops after the first
    /// object whose length field makes the rest unreadable.
    pub fn objects(&self) -> Objects<'a> {
        match self.source {
            Source::Wire(b) => Objects {
                source: Source::Wire(bytes::tail(b, HEADER_LEN)),
                failed: false,
            },
            Source::Items(items) => Objects {
                source: Source::Items(items),
                failed: false,
            },
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self.source {
            Source::Wire(b) => b.len(),
            Source::Items(items) => {
                HEADER_LEN + items.iter().map(Object::buffer_len).sum::<usize>()
            }
        }
    }

    /// Writes the structure. A parsed one is copied as received (its
    /// checksum included, right or wrong); a built one gets its checksum
    /// computed.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        bytes::check_room(buf, len)?;
        match self.source {
            Source::Wire(b) => bytes::put_bytes(buf, 0, b),
            Source::Items(items) => {
                bytes::put_u16(buf, 0, u16::from(VERSION) << 12);
                bytes::put_u16(buf, 2, 0);
                let mut at = HEADER_LEN;
                for object in items {
                    at += object.emit(&mut buf[at..len])?;
                }
                let sum = checksum::checksum(&buf[..len]);
                bytes::put_u16(buf, 2, sum);
            }
        }
        Ok(len)
    }
}

impl PartialEq for Extensions<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.version() == other.version()
            && self.checksum_status() == other.checksum_status()
            && self.objects().eq(other.objects())
    }
}

impl fmt::Debug for Extensions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("version", &self.version())
            .field("checksum", &self.checksum_status())
            .field("objects", &DebugIter(self.objects()))
            .finish()
    }
}

struct DebugIter<I>(I);

impl<I: Iterator + Clone> fmt::Debug for DebugIter<I>
where
    I::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

/// Iterator over the objects of an [`Extensions`].
#[derive(Clone)]
pub struct Objects<'a> {
    source: Source<'a, Object<'a>>,
    failed: bool,
}

impl<'a> Iterator for Objects<'a> {
    type Item = Result<Object<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Items(items) => {
                let (first, rest) = items.split_first()?;
                *items = rest;
                Some(Ok(*first))
            }
            Source::Wire(rest) => {
                if rest.is_empty() || self.failed {
                    return None;
                }
                match Object::parse_prefix(rest) {
                    Ok((object, len)) => {
                        *rest = bytes::tail(rest, len);
                        Some(Ok(object))
                    }
                    Err(e) => {
                        // A bad object length leaves no way to find the next.
                        self.failed = true;
                        Some(Err(e))
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------

/// One extension object.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "object", rename_all = "kebab-case"))]
pub enum Object<'a> {
    /// MPLS label stack (class 1, c-type 1; RFC 4950).
    #[cfg_attr(feature = "serde", serde(rename = "mpls-label-stack"))]
    Mpls(MplsStack<'a>),
    /// Interface information (class 2; RFC 5837).
    #[cfg_attr(feature = "serde", serde(rename = "interface-information"))]
    InterfaceInfo(InterfaceInfo<'a>),
    /// Interface identification (class 3; RFC 8335).
    #[cfg_attr(feature = "serde", serde(rename = "interface-identification"))]
    InterfaceId(InterfaceId<'a>),
    /// Any other class or c-type, kept raw.
    Unknown(RawObject<'a>),
}

/// An object this crate does not model, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RawObject<'a> {
    /// Class-Num.
    pub class: u8,
    /// C-Type.
    pub c_type: u8,
    /// The payload after the 4-byte object header.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))]
    pub data: &'a [u8],
}

impl<'a> Object<'a> {
    /// Reads one object at the start of `bytes`, returning it and its
    /// length. An object whose length field is below 4 or past the end is
    /// an error; so is a known class whose payload does not fit its format.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Object<'a>, usize)> {
        let len = usize::from(bytes::u16_at(bytes, 0, "ICMP extension object header")?);
        let class = bytes::u8_at(bytes, 2, "ICMP extension object header")?;
        let c_type = bytes::u8_at(bytes, 3, "ICMP extension object header")?;
        if len < OBJECT_HEADER_LEN {
            return Err(Error::Malformed("ICMP extension object length below 4"));
        }
        let data = bytes::slice(
            bytes,
            OBJECT_HEADER_LEN,
            len - OBJECT_HEADER_LEN,
            "ICMP extension object",
        )?;
        let object = match (class, c_type) {
            (CLASS_MPLS, 1) => Object::Mpls(MplsStack::parse(data)?),
            (CLASS_INTERFACE_INFO, _) => Object::InterfaceInfo(InterfaceInfo::parse(c_type, data)?),
            (CLASS_INTERFACE_ID, 1..=3) => Object::InterfaceId(InterfaceId::parse(c_type, data)?),
            _ => Object::Unknown(RawObject {
                class,
                c_type,
                data,
            }),
        };
        Ok((object, len))
    }

    /// The Class-Num.
    pub fn class(&self) -> u8 {
        match self {
            Object::Mpls(_) => CLASS_MPLS,
            Object::InterfaceInfo(_) => CLASS_INTERFACE_INFO,
            Object::InterfaceId(_) => CLASS_INTERFACE_ID,
            Object::Unknown(raw) => raw.class,
        }
    }

    /// The C-Type.
    pub fn c_type(&self) -> u8 {
        match self {
            Object::Mpls(_) => 1,
            Object::InterfaceInfo(info) => info.c_type(),
            Object::InterfaceId(id) => id.c_type(),
            Object::Unknown(raw) => raw.c_type,
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            Object::Mpls(stack) => stack.len() * 4,
            Object::InterfaceInfo(info) => info.payload_len(),
            Object::InterfaceId(id) => id.payload_len(),
            Object::Unknown(raw) => raw.data.len(),
        }
    }

    /// Bytes [`emit`](Self::emit) writes, object header included.
    pub fn buffer_len(&self) -> usize {
        OBJECT_HEADER_LEN + self.payload_len()
    }

    /// Writes the object (header and payload).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let len16 = u16::try_from(len)
            .map_err(|_| Error::Malformed("ICMP extension object over 65535 bytes"))?;
        bytes::check_room(buf, len)?;
        bytes::put_u16(buf, 0, len16);
        bytes::put_u8(buf, 2, self.class());
        bytes::put_u8(buf, 3, self.c_type());
        let payload = &mut buf[OBJECT_HEADER_LEN..len];
        match self {
            Object::Mpls(stack) => stack.emit(payload)?,
            Object::InterfaceInfo(info) => info.emit(payload)?,
            Object::InterfaceId(id) => id.emit(payload),
            Object::Unknown(raw) => bytes::put_bytes(payload, 0, raw.data),
        }
        Ok(len)
    }
}

// --- MPLS (RFC 4950) -------------------------------------------------------

/// One MPLS label stack entry (RFC 3032).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MplsEntry {
    /// The 20-bit label.
    pub label: u32,
    /// Traffic class (3 bits; formerly EXP).
    pub tc: u8,
    /// Bottom of stack.
    pub s: bool,
    /// The TTL of the label.
    pub ttl: u8,
}

impl MplsEntry {
    fn from_word(w: u32) -> Self {
        MplsEntry {
            label: w >> 12,
            tc: ((w >> 9) & 0x7) as u8,
            s: w & 0x100 != 0,
            ttl: w as u8,
        }
    }

    fn to_word(self) -> u32 {
        ((self.label & 0xf_ffff) << 12)
            | (u32::from(self.tc & 0x7) << 9)
            | (u32::from(self.s) << 8)
            | u32::from(self.ttl)
    }
}

impl fmt::Display for MplsEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MPLS label {}, tc {}, s {}, ttl {}",
            self.label,
            self.tc,
            u8::from(self.s),
            self.ttl
        )
    }
}

/// An MPLS label stack object: the stack as the packet arrived, top first.
#[derive(Clone, Copy)]
pub struct MplsStack<'a> {
    source: Source<'a, MplsEntry>,
}

impl<'a> MplsStack<'a> {
    fn parse(data: &'a [u8]) -> Result<Self> {
        if data.len() % 4 != 0 {
            return Err(Error::Malformed(
                "MPLS label stack object not a multiple of 4 bytes",
            ));
        }
        Ok(MplsStack {
            source: Source::Wire(data),
        })
    }

    /// A stack to build, top entry first.
    pub const fn from_entries(entries: &'a [MplsEntry]) -> Self {
        MplsStack {
            source: Source::Items(entries),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match self.source {
            Source::Wire(b) => b.len() / 4,
            Source::Items(items) => items.len(),
        }
    }

    /// True when the stack has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, top first.
    pub fn entries(&self) -> MplsEntries<'a> {
        MplsEntries {
            source: self.source,
        }
    }

    /// `Malformed` for a label above 20 bits or a traffic class above 7.
    fn emit(&self, buf: &mut [u8]) -> Result<()> {
        for (i, entry) in self.entries().enumerate() {
            if entry.label > 0xf_ffff || entry.tc > 7 {
                return Err(Error::Malformed(
                    "MPLS label above 20 bits or traffic class above 7",
                ));
            }
            bytes::put_u32(buf, i * 4, entry.to_word());
        }
        Ok(())
    }
}

impl PartialEq for MplsStack<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries().eq(other.entries())
    }
}

impl fmt::Debug for MplsStack<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}

/// Iterator over an [`MplsStack`]'s entries.
#[derive(Clone)]
pub struct MplsEntries<'a> {
    source: Source<'a, MplsEntry>,
}

impl Iterator for MplsEntries<'_> {
    type Item = MplsEntry;

    fn next(&mut self) -> Option<MplsEntry> {
        match &mut self.source {
            Source::Items(items) => {
                let (first, rest) = items.split_first()?;
                *items = rest;
                Some(*first)
            }
            Source::Wire(rest) => {
                let word = bytes::u32_at(rest, 0, "").ok()?;
                *rest = bytes::tail(rest, 4);
                Some(MplsEntry::from_word(word))
            }
        }
    }
}

// --- Interface information (RFC 5837) --------------------------------------

/// What the interface described by an [`InterfaceInfo`] was to the packet
/// (RFC 5837 §4.1, the two top bits of the c-type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum InterfaceRole {
    /// The interface the packet arrived on.
    IncomingInterface,
    /// A sub-IP component (e.g. a bundle member) of the incoming interface.
    IncomingSubIp,
    /// The interface the packet would have left on.
    OutgoingInterface,
    /// The next hop the packet would have been sent to.
    NextHop,
}

impl InterfaceRole {
    fn from_bits(bits: u8) -> Self {
        match bits & 0x3 {
            0 => InterfaceRole::IncomingInterface,
            1 => InterfaceRole::IncomingSubIp,
            2 => InterfaceRole::OutgoingInterface,
            _ => InterfaceRole::NextHop,
        }
    }

    fn bits(self) -> u8 {
        self as u8
    }
}

const INFO_IFINDEX: u8 = 0x08;
const INFO_ADDRESS: u8 = 0x04;
const INFO_NAME: u8 = 0x02;
const INFO_MTU: u8 = 0x01;
const MAX_NAME_SUBOBJECT: usize = 64;

/// An interface information object: which of ifIndex, address, name and
/// MTU are present is said by the c-type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InterfaceInfo<'a> {
    /// The interface's role.
    pub role: InterfaceRole,
    /// The interface's ifIndex.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "ifindex", skip_serializing_if = "Option::is_none")
    )]
    pub if_index: Option<u32>,
    /// An IP address of the interface.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub address: Option<IpAddr>,
    /// The interface's name (UTF-8 per RFC 5837, trailing NULs removed; at
    /// most 63 bytes).
    #[cfg_attr(
        feature = "serde",
        serde(
            skip_serializing_if = "Option::is_none",
            serialize_with = "crate::serde_util::text_opt"
        )
    )]
    pub name: Option<&'a [u8]>,
    /// The interface's MTU.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mtu: Option<u32>,
}

impl<'a> InterfaceInfo<'a> {
    fn parse(c_type: u8, data: &'a [u8]) -> Result<Self> {
        let mut at = 0;
        let if_index = if c_type & INFO_IFINDEX != 0 {
            at += 4;
            Some(bytes::u32_at(
                data,
                at - 4,
                "interface information ifIndex",
            )?)
        } else {
            None
        };
        let address = if c_type & INFO_ADDRESS != 0 {
            let afi = bytes::u16_at(data, at, "interface information address")?;
            let len = match afi {
                AFI_IPV4 => 4,
                AFI_IPV6 => 16,
                _ => {
                    return Err(Error::Malformed(
                        "interface information address family unknown",
                    ));
                }
            };
            let addr = bytes::slice(data, at + 4, len, "interface information address")?;
            at += 4 + len;
            bytes::ip_from(addr)
        } else {
            None
        };
        let name = if c_type & INFO_NAME != 0 {
            let len = usize::from(bytes::u8_at(data, at, "interface name")?);
            if len == 0 || len % 4 != 0 || len > MAX_NAME_SUBOBJECT {
                return Err(Error::Malformed(
                    "interface name sub-object length not a multiple of 4 up to 64",
                ));
            }
            let field = bytes::slice(data, at + 1, len - 1, "interface name")?;
            at += len;
            Some(trim_nul(field))
        } else {
            None
        };
        let mtu = if c_type & INFO_MTU != 0 {
            at += 4;
            Some(bytes::u32_at(data, at - 4, "interface information MTU")?)
        } else {
            None
        };
        if at != data.len() {
            return Err(Error::Malformed(
                "interface information object has trailing bytes",
            ));
        }
        Ok(InterfaceInfo {
            role: InterfaceRole::from_bits(c_type >> 6),
            if_index,
            address,
            name,
            mtu,
        })
    }

    /// The c-type byte: role and which fields are present.
    pub fn c_type(&self) -> u8 {
        let mut c = self.role.bits() << 6;
        if self.if_index.is_some() {
            c |= INFO_IFINDEX;
        }
        if self.address.is_some() {
            c |= INFO_ADDRESS;
        }
        if self.name.is_some() {
            c |= INFO_NAME;
        }
        if self.mtu.is_some() {
            c |= INFO_MTU;
        }
        c
    }

    fn name_subobject_len(&self) -> usize {
        self.name.map_or(0, |n| round_up(n.len() + 1, 4))
    }

    fn payload_len(&self) -> usize {
        let address = match self.address {
            None => 0,
            Some(IpAddr::V4(_)) => 8,
            Some(IpAddr::V6(_)) => 20,
        };
        self.if_index.map_or(0, |_| 4)
            + address
            + self.name_subobject_len()
            + self.mtu.map_or(0, |_| 4)
    }

    fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let mut at = 0;
        if let Some(index) = self.if_index {
            bytes::put_u32(buf, at, index);
            at += 4;
        }
        match self.address {
            Some(IpAddr::V4(a)) => {
                bytes::put_u32(buf, at, u32::from(AFI_IPV4) << 16);
                bytes::put_bytes(buf, at + 4, &a.octets());
                at += 8;
            }
            Some(IpAddr::V6(a)) => {
                bytes::put_u32(buf, at, u32::from(AFI_IPV6) << 16);
                bytes::put_bytes(buf, at + 4, &a.octets());
                at += 20;
            }
            None => {}
        }
        if let Some(name) = self.name {
            let len = self.name_subobject_len();
            if len > MAX_NAME_SUBOBJECT {
                return Err(Error::Malformed("interface name longer than 63 bytes"));
            }
            bytes::put_u8(buf, at, len as u8);
            bytes::put_bytes(buf, at + 1, name);
            bytes::zero(buf, at + 1 + name.len(), len - 1 - name.len());
            at += len;
        }
        if let Some(mtu) = self.mtu {
            bytes::put_u32(buf, at, mtu);
        }
        Ok(())
    }
}

fn trim_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes::head(field, end)
}

// --- Interface identification (RFC 8335) -----------------------------------

/// Which interface an extended echo request asks about (RFC 8335 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum InterfaceId<'a> {
    /// By name (c-type 1; trailing NULs removed).
    Name(
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::text"))]
        &'a [u8],
    ),
    /// By ifIndex (c-type 2).
    #[cfg_attr(feature = "serde", serde(rename = "ifindex"))]
    Index(u32),
    /// By address (c-type 3).
    Address {
        /// Address family identifier (1 IPv4, 2 IPv6, or another IANA AFI).
        afi: u16,
        /// The address bytes (as many as the address length field says).
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::hex"))]
        address: &'a [u8],
    },
}

impl<'a> InterfaceId<'a> {
    fn parse(c_type: u8, data: &'a [u8]) -> Result<Self> {
        match c_type {
            1 => Ok(InterfaceId::Name(trim_nul(data))),
            2 => {
                if data.len() != 4 {
                    return Err(Error::Malformed(
                        "interface identification ifIndex not 4 bytes",
                    ));
                }
                Ok(InterfaceId::Index(bytes::u32_at(
                    data,
                    0,
                    "interface identification ifIndex",
                )?))
            }
            _ => {
                let afi = bytes::u16_at(data, 0, "interface identification address")?;
                let len = usize::from(bytes::u8_at(data, 2, "interface identification address")?);
                let address = bytes::slice(data, 4, len, "interface identification address")?;
                if data.len() != 4 + round_up(len, 4) {
                    return Err(Error::Malformed(
                        "interface identification address length disagrees with object",
                    ));
                }
                Ok(InterfaceId::Address { afi, address })
            }
        }
    }

    /// The c-type: 1 name, 2 ifIndex, 3 address.
    pub fn c_type(&self) -> u8 {
        match self {
            InterfaceId::Name(_) => 1,
            InterfaceId::Index(_) => 2,
            InterfaceId::Address { .. } => 3,
        }
    }

    /// The address as an IP address, when it is IPv4 or IPv6.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            InterfaceId::Address {
                afi: AFI_IPV4 | AFI_IPV6,
                address,
            } => bytes::ip_from(address),
            _ => None,
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            InterfaceId::Name(name) => round_up(name.len(), 4),
            InterfaceId::Index(_) => 4,
            InterfaceId::Address { address, .. } => 4 + round_up(address.len().min(255), 4),
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        match self {
            InterfaceId::Name(name) => {
                bytes::put_bytes(buf, 0, name);
                bytes::zero(buf, name.len(), buf.len() - name.len());
            }
            InterfaceId::Index(index) => bytes::put_u32(buf, 0, *index),
            InterfaceId::Address { afi, address } => {
                let address = bytes::head(address, 255);
                bytes::put_u16(buf, 0, *afi);
                bytes::put_u8(buf, 2, address.len() as u8);
                bytes::put_u8(buf, 3, 0);
                bytes::put_bytes(buf, 4, address);
                bytes::zero(buf, 4 + address.len(), buf.len() - 4 - address.len());
            }
        }
    }
}

#[cfg(feature = "serde")]
mod ser {
    use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

    use super::{Extensions, MplsStack, Objects};

    impl Serialize for MplsStack<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("MplsStack", 1)?;
            st.serialize_field("entries", &Entries(self))?;
            st.end()
        }
    }

    struct Entries<'b, 'a>(&'b MplsStack<'a>);

    impl Serialize for Entries<'_, '_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.entries())
        }
    }

    impl Serialize for Extensions<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(3))?;
            map.serialize_entry("version", &self.version())?;
            map.serialize_entry("checksum", &self.checksum_status())?;
            map.serialize_entry("objects", &ObjectList(self.objects()))?;
            map.end()
        }
    }

    struct ObjectList<'a>(Objects<'a>);

    impl Serialize for ObjectList<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.clone().map(ObjectItem))
        }
    }

    /// A malformed object shows as `{"object": "malformed", "error": ...}`.
    struct ObjectItem<'a>(crate::Result<super::Object<'a>>);

    impl Serialize for ObjectItem<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match &self.0 {
                Ok(object) => object.serialize(s),
                Err(e) => {
                    let mut map = s.serialize_map(Some(2))?;
                    map.serialize_entry("object", "malformed")?;
                    map.serialize_entry("error", &crate::serde_util::Display(e))?;
                    map.end()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const STACK: [MplsEntry; 2] = [
        MplsEntry {
            label: 16004,
            tc: 0,
            s: false,
            ttl: 1,
        },
        MplsEntry {
            label: 3,
            tc: 5,
            s: true,
            ttl: 1,
        },
    ];

    fn emit_ext(objects: &[Object<'_>], buf: &mut [u8]) -> usize {
        Extensions::from_objects(objects).emit(buf).unwrap()
    }

    #[test]
    fn mpls_words_match_rfc4950_layout() {
        let objects = [Object::Mpls(MplsStack::from_entries(&STACK))];
        let mut buf = [0u8; 64];
        let n = emit_ext(&objects, &mut buf);
        assert_eq!(n, 4 + 4 + 8);
        assert_eq!(&buf[..2], &[0x20, 0x00]);
        assert_eq!(&buf[4..8], &[0x00, 0x0c, 1, 1]);
        // label 16004 = 0x03e84, tc 0, s 0, ttl 1
        assert_eq!(&buf[8..12], &[0x03, 0xe8, 0x40, 0x01]);
        // label 3, tc 5, s 1, ttl 1
        assert_eq!(&buf[12..16], &[0x00, 0x00, 0x3b, 0x01]);
        let ext = Extensions::parse(&buf[..n]).unwrap();
        assert_eq!(ext.checksum_status(), ChecksumStatus::Valid);
        let Ok(Object::Mpls(stack)) = ext.objects().next().unwrap() else {
            panic!("not MPLS")
        };
        assert!(stack.entries().eq(STACK.iter().copied()));
        assert_eq!(ext, Extensions::from_objects(&objects));
    }

    #[test]
    fn interface_info_and_id_round_trip() {
        let objects = [
            Object::InterfaceInfo(InterfaceInfo {
                role: InterfaceRole::IncomingInterface,
                if_index: Some(7),
                address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
                name: Some(b"ge-0/0/1"),
                mtu: Some(1500),
            }),
            Object::InterfaceInfo(InterfaceInfo {
                role: InterfaceRole::NextHop,
                if_index: None,
                address: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                name: None,
                mtu: None,
            }),
            Object::InterfaceId(InterfaceId::Name(b"eth0")),
            Object::InterfaceId(InterfaceId::Index(3)),
            Object::InterfaceId(InterfaceId::Address {
                afi: AFI_IPV4,
                address: &[192, 0, 2, 9],
            }),
            Object::Unknown(RawObject {
                class: 200,
                c_type: 9,
                data: &[1, 2, 3, 4],
            }),
        ];
        let mut buf = [0u8; 256];
        let n = emit_ext(&objects, &mut buf);
        let ext = Extensions::parse(&buf[..n]).unwrap();
        assert_eq!(ext.checksum_status(), ChecksumStatus::Valid);
        assert_eq!(ext.objects().count(), objects.len());
        assert!(
            ext.objects()
                .map(|o| o.unwrap())
                .eq(objects.iter().copied())
        );
        // c-type of the first: role 0, ifIndex+address+name+MTU = 0x0f.
        assert_eq!(buf[7], 0x0f);
        let Ok(Object::InterfaceId(id)) = ext.objects().nth(4).unwrap() else {
            panic!()
        };
        assert_eq!(id.ip(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))));
        buf[8] ^= 0xff;
        assert_eq!(
            Extensions::parse(&buf[..n]).unwrap().checksum_status(),
            ChecksumStatus::Invalid
        );
    }

    /// RFC 5837 §4.1-4.3 byte by byte: c-type bits (role in bits 0-1,
    /// ifIndex 0x08, IP address 0x04, name 0x02, MTU 0x01), the address
    /// sub-object (AFI, 16 reserved bits, the address), the name
    /// sub-object (a length byte counting itself, NUL padding to 4 bytes,
    /// at most 64), then the MTU.
    #[test]
    fn interface_info_bytes_match_rfc5837_layout() {
        let info = InterfaceInfo {
            role: InterfaceRole::OutgoingInterface,
            if_index: Some(0x0102_0304),
            address: Some(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x33,
            ))),
            name: Some(b"xe-1/2/3"),
            mtu: Some(9000),
        };
        let mut buf = [0u8; 128];
        let n = Object::InterfaceInfo(info).emit(&mut buf).unwrap();
        #[rustfmt::skip]
        let expected = [
            0, 44, 2, 0x80 | 0x0f, // length, class, role 2 (outgoing) + all four
            1, 2, 3, 4, // ifIndex
            0, 2, 0, 0, // AFI 2 (IPv6), reserved
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x33,
            12, b'x', b'e', b'-', b'1', b'/', b'2', b'/', b'3', 0, 0, 0, // name
            0, 0, 0x23, 0x28, // MTU 9000
        ];
        assert_eq!(&buf[..n], &expected[..]);
        assert_eq!(
            Object::parse_prefix(&buf[..n]),
            Ok((Object::InterfaceInfo(info), n))
        );

        // Next hop, IPv4 address only (AFI 1).
        let next_hop = InterfaceInfo {
            role: InterfaceRole::NextHop,
            if_index: None,
            address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            name: None,
            mtu: None,
        };
        let n = Object::InterfaceInfo(next_hop).emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[0, 12, 2, 0xc4, 0, 1, 0, 0, 192, 0, 2, 1]);

        // Names: 3 bytes fill a 4-byte sub-object; 63 the largest, 64;
        // 64 bytes do not fit.
        for (len, sub_object) in [(0, 4), (3, 4), (4, 8), (63, 64)] {
            let name = [b'a'; 63];
            let info = InterfaceInfo {
                role: InterfaceRole::IncomingInterface,
                if_index: None,
                address: None,
                name: Some(&name[..len]),
                mtu: None,
            };
            let n = Object::InterfaceInfo(info).emit(&mut buf).unwrap();
            assert_eq!(n, 4 + sub_object, "{len}-byte name");
            assert_eq!(usize::from(buf[4]), sub_object, "{len}-byte name");
            assert_eq!(
                Object::parse_prefix(&buf[..n]),
                Ok((Object::InterfaceInfo(info), n))
            );
        }
        let long = InterfaceInfo {
            role: InterfaceRole::IncomingInterface,
            if_index: None,
            address: None,
            name: Some(&[b'a'; 64]),
            mtu: None,
        };
        assert!(matches!(
            Object::InterfaceInfo(long).emit(&mut buf),
            Err(Error::Malformed(_))
        ));
        // A name sub-object whose length is not a multiple of 4, or that
        // says 0, is malformed.
        for bad in [5u8, 0] {
            let object = [0, 12, 2, 0x02, bad, b'a', b'b', b'c', 0, 0, 0, 0];
            assert!(Object::parse_prefix(&object).is_err(), "length {bad}");
        }
    }

    #[test]
    fn malformed_object_is_an_error_item_and_ends_iteration() {
        // Header, a good unknown object, then an object of length 2.
        let bytes = [
            0x20, 0, 0, 0, 0, 8, 9, 9, 1, 2, 3, 4, 0, 2, 1, 1, 0xff, 0xff,
        ];
        let ext = Extensions::parse(&bytes).unwrap();
        assert_eq!(ext.checksum_status(), ChecksumStatus::Absent);
        let items: [_; 3] = {
            let mut it = ext.objects();
            [it.next(), it.next(), it.next()]
        };
        assert!(matches!(items[0], Some(Ok(Object::Unknown(_)))));
        assert_eq!(
            items[1],
            Some(Err(Error::Malformed(
                "ICMP extension object length below 4"
            )))
        );
        assert_eq!(items[2], None);
        // MPLS object whose payload is not a multiple of 4.
        let bad = [0x20, 0, 0, 0, 0, 7, 1, 1, 0, 0, 0];
        assert!(
            Extensions::parse(&bad)
                .unwrap()
                .objects()
                .next()
                .unwrap()
                .is_err()
        );
        assert!(Extensions::parse(&[0x10, 0, 0, 0]).is_err());
        assert!(Extensions::parse(&[0x20, 0]).is_err());
    }

    #[test]
    fn error_body_pads_sets_length_and_splits_back() {
        let stack = [Object::Mpls(MplsStack::from_entries(&STACK))];
        let original = [0x45u8; 28];
        for family in [Family::V4, Family::V6] {
            let body = ErrorBody::with_extensions(&original, Extensions::from_objects(&stack));
            let mut buf = [0u8; 512];
            let n = body.emit(family, &mut buf).unwrap();
            assert_eq!(n, 128 + 16);
            assert_eq!(
                body.length_field(family) as usize * length_unit(family),
                128
            );
            assert!(buf[28..128].iter().all(|&b| b == 0));
            let parsed = ErrorBody::parse(&buf[..n], body.length_field(family), family);
            assert_eq!(parsed.original().len(), 128);
            assert_eq!(parsed.extensions(), body.extensions());
            // RFC 4884 §5: a length-0 sender with extensions at 128.
            let compat = ErrorBody::parse(&buf[..n], 0, family);
            assert_eq!(compat, parsed);
            // Re-emission is byte-identical.
            let mut again = [0u8; 512];
            assert_eq!(parsed.emit(family, &mut again), Ok(n));
            assert_eq!(&again[..n], &buf[..n]);
        }
    }

    #[test]
    fn error_body_without_valid_extensions_keeps_everything() {
        let body = [0u8; 200];
        // Length 0, no valid extension at 128: all original.
        assert_eq!(ErrorBody::parse(&body, 0, Family::V4).original().len(), 200);
        // Length past the body: all original, length kept.
        let parsed = ErrorBody::parse(&body, 60, Family::V4);
        assert_eq!(parsed.original().len(), 200);
        assert_eq!(parsed.extensions(), None);
        assert_eq!(parsed.length_field(Family::V4), 60);
        // Length pointing at something that is not version 2.
        let parsed = ErrorBody::parse(&body, 32, Family::V4);
        assert_eq!(parsed.original().len(), 200);
        // A compat candidate with a bad checksum is not taken.
        let mut bad = [0u8; 140];
        bad[128] = 0x20;
        bad[130] = 0x12;
        assert_eq!(ErrorBody::parse(&bad, 0, Family::V6).extensions(), None);
    }

    #[test]
    fn long_original_is_cut_to_255_units() {
        let original = [1u8; 1100];
        let objects = [Object::InterfaceId(InterfaceId::Index(1))];
        let body = ErrorBody::with_extensions(&original, Extensions::from_objects(&objects));
        assert_eq!(body.length_field(Family::V4), 255);
        let mut buf = [0u8; 1100];
        assert_eq!(body.emit(Family::V4, &mut buf), Ok(1020 + 12));
        assert_eq!(
            body.emit(Family::V4, &mut buf[..100]),
            Err(Error::BufferTooSmall {
                need: 1032,
                have: 100
            })
        );
    }
}
