//! ICMPv4 (RFC 792 and successors).
