//! The code enums both families share the shape of: named variants plus
//! `Unknown(u8)`, so that every code byte round-trips.

/// Declares a code enum with named variants and `Unknown(u8)`, the `u8`
/// conversions both ways, and `name()` (the kebab-case name of the
/// family's `code_name` table for the type the enum belongs to).
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident (names: $code_name:path, type: $msg_type:expr) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        ///
        /// A code built as `Unknown(n)` where `n` has a name here is emitted
        /// as `n` and parses back as the named variant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A code this crate has no name for, kept raw.
            Unknown(u8),
        }

        impl $name {
            /// The code's kebab-case name (the JSON vocabulary), `None`
            /// for a code without one.
            pub fn name(self) -> Option<&'static str> {
                $code_name($msg_type, self.into())
            }
        }

        impl From<u8> for $name {
            fn from(code: u8) -> Self {
                match code {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                match code {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

pub(crate) use code_enum;
