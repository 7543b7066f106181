//! Closed vocabularies: enums whose values are spelt as fixed `snake_case` words.
//!
//! Storage, the configuration, the HTTP API, the CLI and the UI all spell a lead's status, a message's
//! outcome or a collector's TLS mode as the same words, so each enum gets its words from one table through
//! [`vocabulary!`](crate::vocabulary!): `as_str` and `Display` write them, `FromStr` reads them, `ALL` lists
//! the values, and an unknown word is a typed [`ParseNameError`] rather than a silent default. Serde derives
//! on the enums use the same words; each enum's tests check that both agree.

/// A word that names none of the values of a closed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {type_name}; expected one of: {expected}")]
pub struct ParseNameError {
    /// The type that was being read, such as `lead kind`.
    pub type_name: &'static str,
    /// The words that would have been accepted, comma-separated.
    pub expected: &'static str,
    /// The word that was given.
    pub value: String,
}

/// An enum with one fixed word per value; implemented by [`vocabulary!`](crate::vocabulary!).
pub trait Vocabulary: Copy + Sized + 'static {
    /// What a value is called in messages, such as `lead kind`.
    const TYPE_NAME: &'static str;
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The word for this value.
    fn word(self) -> &'static str;
}

/// Gives a field-less enum its words from one table: `ALL`, `as_str`, `Display`, `FromStr` (surrounding
/// whitespace ignored, case not) and [`Vocabulary`].
///
/// ```
/// use leadgate_domain::vocabulary;
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// enum Codec { Identity, Zstd }
///
/// vocabulary!(Codec, "codec", { Identity => "identity", Zstd => "zstd" });
///
/// assert_eq!(Codec::Zstd.as_str(), "zstd");
/// assert_eq!(" identity ".parse::<Codec>(), Ok(Codec::Identity));
/// assert_eq!(
///     "gzip".parse::<Codec>().unwrap_err().to_string(),
///     r#""gzip" is not a valid codec; expected one of: identity, zstd"#
/// );
/// ```
#[macro_export]
macro_rules! vocabulary {
    ($ty:ident, $type_name:literal, {
        $first:ident => $first_word:literal $(, $variant:ident => $word:literal)* $(,)?
    }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$ty::$first $(, $ty::$variant)*];

            /// The `snake_case` word used for this value in storage, configuration, JSON and the CLI.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $ty::$first => $first_word,
                    $($ty::$variant => $word,)*
                }
            }
        }

        impl $crate::vocabulary::Vocabulary for $ty {
            const TYPE_NAME: &'static str = $type_name;
            const ALL: &'static [$ty] = $ty::ALL;

            fn word(self) -> &'static str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::vocabulary::ParseNameError;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s.trim() {
                    $first_word => Ok($ty::$first),
                    $($word => Ok($ty::$variant),)*
                    _ => Err($crate::vocabulary::ParseNameError {
                        type_name: $type_name,
                        expected: concat!($first_word $(, ", ", $word)*),
                        value: s.to_owned(),
                    }),
                }
            }
        }
    };
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Vocabulary;

    /// Asserts that every value of `T` round-trips through its word, through `FromStr` and through serde.
    #[allow(clippy::unwrap_used)]
    pub(crate) fn assert_words_agree<T>()
    where
        T: Vocabulary
            + std::str::FromStr<Err = super::ParseNameError>
            + std::fmt::Display
            + std::fmt::Debug
            + PartialEq
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        for value in T::ALL {
            assert_eq!(value.word().parse::<T>().unwrap(), *value);
            assert_eq!(value.to_string(), value.word());
            let json = serde_json::to_string(value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.word()), "{}", T::TYPE_NAME);
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *value);
        }
    }
}
