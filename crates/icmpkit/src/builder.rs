//! The one shape of every options builder (`PingOptions::builder()`,
//! `SweepOptions::builder()`...): start from the defaults, set what
//! differs, `build()` validates with the typed errors
//! ([`Error::InvalidOption`](crate::Error::InvalidOption)).

/// Declares `$builder` for `$options` (which has `Default` and a
/// `validate(&self) -> Result<()>`), `$options::builder()`, one setter per
/// line (`name(arg: Type) field.path = value;`, or `name()` with no
/// argument) and `build()`.
macro_rules! options_builder {
    (
        $(#[$meta:meta])*
        $builder:ident builds $options:ident {
            $(
                $(#[$doc:meta])*
                $name:ident($($arg:ident: $ty:ty)?) $($field:ident).+ = $value:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        #[must_use = "a builder does nothing until `build()`"]
        pub struct $builder {
            options: $options,
        }

        impl $options {
            #[doc = concat!(
                "A [`", stringify!($builder), "`] starting from the defaults; ",
                "[`", stringify!($builder), "::build`] validates."
            )]
            pub fn builder() -> $builder {
                $builder::default()
            }
        }

        impl $builder {
            $(
                $(#[$doc])*
                pub fn $name(mut self $(, $arg: $ty)?) -> Self {
                    self.options.$($field).+ = $value;
                    self
                }
            )*

            #[doc = concat!(
                "The options, checked by [`", stringify!($options), "::validate`]: ",
                "a value no run could take is an ",
                "[`Error::InvalidOption`](crate::Error::InvalidOption) naming the option."
            )]
            pub fn build(self) -> crate::Result<$options> {
                self.options.validate()?;
                Ok(self.options)
            }
        }
    };
}

pub(crate) use options_builder;
