//! What every `Packet` view (ICMPv4, ICMPv6, IPv4, IPv6) has in common:
//! the struct over a buffer and its constructors. Each view module writes
//! its own `check_len` (what `new_checked` enforces) and field accessors.

/// Declares `pub struct Packet<T: AsRef<[u8]>>` with the given doc
/// comment, `new_unchecked`, `new_checked` (which calls the module's
/// `check_len`), `into_inner`, and the private `buf`/`buf_mut` that the
/// accessors read and write through.
macro_rules! packet_view {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Packet<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> Packet<T> {
            /// Wraps a buffer without checking it; getters return 0 for
            /// fields past its end.
            pub const fn new_unchecked(buffer: T) -> Self {
                Packet { buffer }
            }

            /// Wraps a buffer after [`check_len`](Self::check_len).
            pub fn new_checked(buffer: T) -> $crate::Result<Self> {
                let packet = Self::new_unchecked(buffer);
                packet.check_len()?;
                Ok(packet)
            }

            /// The wrapped buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            fn buf(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
            fn buf_mut(&mut self) -> &mut [u8] {
                self.buffer.as_mut()
            }
        }
    };
}

pub(crate) use packet_view;
