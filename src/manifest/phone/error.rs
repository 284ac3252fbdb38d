//! Owns why a phone number was rejected: one sentence naming the input, the column to point at,
//! and a hint phrased for someone editing the manifest. It must not parse numbers (`mod.rs`).

use super::{MAX_DIGITS, MIN_NATIONAL_DIGITS};

/// Why a phone number was rejected. `Display` is one sentence naming the input; [`hint`]
/// says how to fix it and [`column`] points into the input.
///
/// [`hint`]: PhoneError::hint
/// [`column`]: PhoneError::column
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("phone number {input:?} does not start with +")]
    MissingPlus { input: String, column: usize },
    #[error("phone number {input:?} starts with the international call prefix 00 instead of +")]
    InternationalPrefix { input: String, column: usize },
    #[error("phone number {input:?} has an unexpected character {ch:?} at column {column}")]
    UnexpectedCharacter { input: String, ch: char, column: usize },
    #[error(
        "phone number {input:?} has too few digits ({digits}) to hold a country code and a national number"
    )]
    TooFewDigits { input: String, digits: usize },
    #[error(
        "phone number {input:?} has {national_digits} digit(s) after its country code {cc}, fewer than the {MIN_NATIONAL_DIGITS} a national number needs"
    )]
    NationalNumberTooShort { input: String, cc: String, national_digits: usize },
    #[error(
        "phone number {input:?} has {digits} digits, more than the {MAX_DIGITS} E.164 allows including the country code"
    )]
    TooManyDigits { input: String, digits: usize, column: usize },
    #[error("phone number {input:?} does not start with an assigned country calling code (tried {})", or_list(.tried))]
    UnknownCountryCode { input: String, tried: Vec<String>, column: usize },
    #[error("country code override {cc:?} is not 1-3 digits")]
    InvalidCountryCode { cc: String },
    #[error("phone number {input:?} does not start with its country code override {cc}")]
    CountryCodeMismatch {
        input: String,
        cc: String,
        /// The number's first (up to three) digits, to suggest a matching override.
        leading: String,
        column: usize,
    },
}

impl PhoneError {
    /// What to do about it, phrased for someone editing the manifest.
    pub fn hint(&self) -> String {
        match self {
            PhoneError::Empty => "write the number in E.164 form, e.g. +16315555555".to_owned(),
            PhoneError::MissingPlus { .. } => {
                "write it in E.164 form, e.g. +16315555555: a + then the country code and the \
                 national number without its leading trunk 0"
                    .to_owned()
            }
            PhoneError::InternationalPrefix { .. } => {
                "replace the leading 00 with +, e.g. 0044 20 7946 0958 becomes +44 20 7946 0958".to_owned()
            }
            PhoneError::UnexpectedCharacter { ch: '+', .. } => {
                "keep a single + at the very start; only digits and separators may follow it".to_owned()
            }
            PhoneError::UnexpectedCharacter { ch, .. } => format!(
                "remove {ch:?}: a phone number is + and digits, optionally separated by spaces, \
                 dashes, dots or parentheses (extensions cannot be part of it)"
            ),
            PhoneError::TooFewDigits { .. } | PhoneError::NationalNumberTooShort { .. } => {
                "write the full international number: country code, then area code and \
                 subscriber number, e.g. +16315555555"
                    .to_owned()
            }
            PhoneError::TooManyDigits { .. } => format!(
                "check for extra or repeated digits; E.164 numbers have at most {MAX_DIGITS} \
                 digits, and an extension cannot be part of the number"
            ),
            PhoneError::UnknownCountryCode { tried, .. } => {
                if tried.first().is_some_and(|first| first == "0") {
                    "drop the leading 0s after +: the + already stands for the international \
                     prefix, so the country code follows it directly (e.g. +44..., not +0044...)"
                        .to_owned()
                } else {
                    "check the country code against the ITU list (e.g. 1, 44, 852); if this number \
                     really uses a code missing there, give it explicitly with `cc:`"
                        .to_owned()
                }
            }
            PhoneError::InvalidCountryCode { .. } => {
                "set `cc:` to the 1-3 digit country calling code the number starts with, e.g. \
                 cc: \"44\", or remove `cc:` to derive it from the ITU table"
                    .to_owned()
            }
            PhoneError::CountryCodeMismatch { leading, .. } => format!(
                "the number's digits start with {leading}; set `cc:` to its first 1-3 digits, or \
                 remove `cc:` to derive the country code from the ITU table"
            ),
        }
    }

    /// 1-based character offset within the input where the problem is, when there is one
    /// place to point at.
    pub fn column(&self) -> Option<usize> {
        match self {
            PhoneError::MissingPlus { column, .. }
            | PhoneError::InternationalPrefix { column, .. }
            | PhoneError::UnexpectedCharacter { column, .. }
            | PhoneError::TooManyDigits { column, .. }
            | PhoneError::UnknownCountryCode { column, .. }
            | PhoneError::CountryCodeMismatch { column, .. } => Some(*column),
            PhoneError::Empty
            | PhoneError::TooFewDigits { .. }
            | PhoneError::NationalNumberTooShort { .. }
            | PhoneError::InvalidCountryCode { .. } => None,
        }
    }

    /// Rewrites an error found in `+<digits>` so that it names, and points into, the bare
    /// digits `from_digits` was given (one column to the left, since there is no `+`).
    pub(super) fn for_bare_digits(self, digits: &str) -> PhoneError {
        let input = digits.to_owned();
        let shift = |column: usize| column.saturating_sub(1).max(1);
        match self {
            PhoneError::TooFewDigits { digits, .. } => PhoneError::TooFewDigits { input, digits },
            PhoneError::NationalNumberTooShort { cc, national_digits, .. } => {
                PhoneError::NationalNumberTooShort { input, cc, national_digits }
            }
            PhoneError::TooManyDigits { digits, column, .. } => {
                PhoneError::TooManyDigits { input, digits, column: shift(column) }
            }
            PhoneError::UnknownCountryCode { tried, column, .. } => {
                PhoneError::UnknownCountryCode { input, tried, column: shift(column) }
            }
            // Bare digits cannot produce the other kinds once `+` is prepended.
            other => other,
        }
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_list_reads_naturally() {
        assert_eq!(or_list(&[]), "");
        assert_eq!(or_list(&["2".to_owned()]), "2");
        assert_eq!(or_list(&["2".to_owned(), "21".to_owned()]), "2 or 21");
    }
}
