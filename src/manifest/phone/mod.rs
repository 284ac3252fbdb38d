//! Phone numbers: parsing E.164 input as people write it in a manifest, normalising it to
//! `+<digits>`, and splitting the country calling code from the national number with the ITU
//! table in `country_codes`. Pure string work: no I/O, no network, no knowledge of manifest
//! positions (errors carry a column within the input; the caller maps it into the file). Why a
//! number is rejected, and the hint, is `error.rs`.

mod error;

use std::fmt;
use std::str::FromStr;

use super::country_codes;

pub use error::PhoneError;

/// E.164 caps an international number at 15 digits, country code included.
pub const MAX_DIGITS: usize = 15;

/// Shorter national numbers are short codes, which cannot hold a WhatsApp business number;
/// four is also the shortest real subscriber number (Niue, Tokelau).
pub const MIN_NATIONAL_DIGITS: usize = 4;

/// A valid international number: its digits and where the country code ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    /// Digits without the `+`; always 1..=15 ASCII digits.
    digits: String,
    /// Length of the country code prefix of `digits` (1..=3).
    cc_len: usize,
}

impl PhoneNumber {
    /// Parses E.164 as written by people: a leading `+` (surrounding whitespace ignored), then
    /// digits optionally separated by spaces, dashes, dots or parentheses. The country code is
    /// taken from the ITU table.
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        let scanned = scan(input)?;
        check_digit_count(input, &scanned)?;
        let digits = scanned.digits;
        let cc_len = match country_codes::lookup(&digits) {
            Some(code) => code.len(),
            // "+8" is not an unknown code, it is an unfinished one.
            None if digits.len() < 3 && country_codes::is_proper_prefix_of_assigned(&digits) => {
                return Err(PhoneError::TooFewDigits { input: input.to_owned(), digits: digits.len() });
            }
            None => {
                return Err(PhoneError::UnknownCountryCode {
                    input: input.to_owned(),
                    tried: (1..=digits.len().min(3)).map(|len| digits[..len].to_owned()).collect(),
                    column: scanned.first_digit_column.unwrap_or(1),
                });
            }
        };
        finish(input, digits, cc_len)
    }

    /// Parses like [`PhoneNumber::parse`] but splits with the manifest's explicit `cc:`
    /// override. The override exists for numbers the table gets wrong or does not know, so it
    /// is not checked against the table; it must be 1-3 digits not starting with 0 (E.164
    /// reserves 0) and must be how the number starts. A leading `+` on it is tolerated.
    pub fn parse_with_cc(input: &str, cc: &str) -> Result<PhoneNumber, PhoneError> {
        let code = {
            let trimmed = cc.trim();
            trimmed.strip_prefix('+').unwrap_or(trimmed)
        };
        let valid = (1..=3).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_digit())
            && !code.starts_with('0');
        if !valid {
            return Err(PhoneError::InvalidCountryCode { cc: cc.to_owned() });
        }
        let scanned = scan(input)?;
        check_digit_count(input, &scanned)?;
        if !scanned.digits.starts_with(code) {
            return Err(PhoneError::CountryCodeMismatch {
                input: input.to_owned(),
                cc: code.to_owned(),
                leading: scanned.digits.chars().take(3).collect(),
                column: scanned.first_digit_column.unwrap_or(1),
            });
        }
        finish(input, scanned.digits, code.len())
    }

    /// Builds a number from bare digits such as `WAMIG_CODE_<digits>` suffixes, file names or
    /// `digits_only` of a Graph `display_phone_number`. Only ASCII digits are accepted.
    pub fn from_digits(digits: &str) -> Result<PhoneNumber, PhoneError> {
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        if let Some((index, ch)) = digits.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(PhoneError::UnexpectedCharacter { input: digits.to_owned(), ch, column: index + 1 });
        }
        // Re-enter through `parse` so both constructors share one set of rules.
        let with_plus = format!("+{digits}");
        PhoneNumber::parse(&with_plus).map_err(|error| error.for_bare_digits(digits))
    }

    /// `+` and the digits, e.g. `+16315555555`.
    pub fn e164(&self) -> String {
        format!("+{}", self.digits)
    }

    /// The digits without `+`, e.g. `16315555555`; safe in environment variable and file names.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The country calling code, e.g. `1`.
    pub fn country_code(&self) -> &str {
        &self.digits[..self.cc_len]
    }

    /// Everything after the country code, e.g. `6315555555`.
    pub fn national_number(&self) -> &str {
        &self.digits[self.cc_len..]
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.digits)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        PhoneNumber::parse(input)
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Just the ASCII digits of `text`, for matching what Graph returns in `display_phone_number`
/// (`"+1 631-555-5555"`, `"16315555555"`, `"+52 1 55 1234 5678"`) against manifest numbers.
/// Nothing is reinterpreted: Mexico's legacy mobile `1` after `52` stays in.
pub fn digits_only(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The assigned country calling code that `digits` (bare digits, no `+`) starts with.
pub fn country_code_of(digits: &str) -> Option<&'static str> {
    country_codes::lookup(digits)
}

/// What survives of the input once syntax is checked.
struct Scanned {
    digits: String,
    first_digit_column: Option<usize>,
    /// Column of the first digit beyond `MAX_DIGITS`, to point at where the number overflows.
    overflow_column: Option<usize>,
}

/// Separators people put between digits. Beyond the ASCII ones the manifest documents, any
/// Unicode whitespace and dash look-alikes are accepted because copying a number out of a
/// document or web page silently turns spaces into no-break spaces and hyphens into dashes.
fn is_separator(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}') || c.is_whitespace()
}

fn scan(input: &str) -> Result<Scanned, PhoneError> {
    let mut chars = input.chars().enumerate().skip_while(|(_, c)| c.is_whitespace());
    let Some((index, first)) = chars.next() else {
        return Err(PhoneError::Empty);
    };
    if first != '+' {
        let column = index + 1;
        let input = input.to_owned();
        return Err(if input.trim_start().starts_with("00") {
            PhoneError::InternationalPrefix { input, column }
        } else {
            PhoneError::MissingPlus { input, column }
        });
    }
    let mut scanned = Scanned { digits: String::new(), first_digit_column: None, overflow_column: None };
    for (index, c) in chars {
        let column = index + 1;
        if c.is_ascii_digit() {
            if scanned.digits.len() == MAX_DIGITS && scanned.overflow_column.is_none() {
                scanned.overflow_column = Some(column);
            }
            scanned.first_digit_column.get_or_insert(column);
            scanned.digits.push(c);
        } else if !is_separator(c) {
            return Err(PhoneError::UnexpectedCharacter { input: input.to_owned(), ch: c, column });
        }
    }
    Ok(scanned)
}

fn check_digit_count(input: &str, scanned: &Scanned) -> Result<(), PhoneError> {
    if scanned.digits.is_empty() {
        return Err(PhoneError::TooFewDigits { input: input.to_owned(), digits: 0 });
    }
    if scanned.digits.len() > MAX_DIGITS {
        return Err(PhoneError::TooManyDigits {
            input: input.to_owned(),
            digits: scanned.digits.len(),
            column: scanned.overflow_column.unwrap_or(1),
        });
    }
    Ok(())
}

fn finish(input: &str, digits: String, cc_len: usize) -> Result<PhoneNumber, PhoneError> {
    let national_digits = digits.len() - cc_len;
    if national_digits < MIN_NATIONAL_DIGITS {
        return Err(PhoneError::NationalNumberTooShort {
            input: input.to_owned(),
            cc: digits[..cc_len].to_owned(),
            national_digits,
        });
    }
    Ok(PhoneNumber { digits, cc_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(input: &str) -> PhoneNumber {
        match PhoneNumber::parse(input) {
            Ok(number) => number,
            Err(error) => panic!("{input:?}: {error}"),
        }
    }

    fn parse_err(input: &str) -> PhoneError {
        match PhoneNumber::parse(input) {
            Ok(number) => panic!("{input:?} parsed as {number}"),
            Err(error) => error,
        }
    }

    #[test]
    fn manifest_examples() {
        let us = parse("+1 631-555-5555");
        assert_eq!(us.e164(), "+16315555555");
        assert_eq!(us.digits(), "16315555555");
        assert_eq!(us.country_code(), "1");
        assert_eq!(us.national_number(), "6315555555");
        assert_eq!(us.to_string(), "+16315555555");

        let uk = parse("+44 (20) 7946.0958");
        assert_eq!(uk.e164(), "+442079460958");
        assert_eq!(uk.country_code(), "44");
        assert_eq!(uk.national_number(), "2079460958");
    }

    #[test]
    fn real_numbers_split_at_the_right_country_code() {
        let cases = [
            // (input, country code, national number)
            ("+1 631-555-5555", "1", "6315555555"),
            ("+1 (876) 555-0123", "1", "8765550123"), // Jamaica is NANP, not 876
            ("+1 242 502 1234", "1", "2425021234"),   // Bahamas
            ("+44 20 7946 0958", "44", "2079460958"),
            ("+44 7700 900123", "44", "7700900123"),
            ("+91 98765 43210", "91", "9876543210"),
            ("+91-22-2345-6789", "91", "2223456789"),
            ("+55 11 91234-5678", "55", "11912345678"),
            ("+55 (21) 2345-6789", "55", "2123456789"),
            ("+52 55 1234 5678", "52", "5512345678"),
            ("+52 1 55 1234 5678", "52", "15512345678"),
            ("+62 812-3456-7890", "62", "81234567890"),
            ("+62 21 5795 1234", "62", "2157951234"),
            ("+49 30 901820", "49", "30901820"),
            ("+49 1512 3456789", "49", "15123456789"),
            ("+234 803 123 4567", "234", "8031234567"),
            ("+234 1 234 5678", "234", "12345678"),
            ("+7 701 123 4567", "7", "7011234567"),    // Kazakhstan
            ("+7 (495) 123-45-67", "7", "4951234567"), // Russia
            ("+852 2123 4567", "852", "21234567"),
            ("+852 9123 4567", "852", "91234567"),
            ("+971 50 123 4567", "971", "501234567"),
            ("+971 4 123 4567", "971", "41234567"),
            ("+683 4002", "683", "4002"), // Niue: 4-digit national numbers
            ("+690 3291", "690", "3291"), // Tokelau
            ("+800 1234 5678", "800", "12345678"),
            ("+882 16 1234 5678", "882", "1612345678"),
            ("+881 6 3123 4567", "881", "631234567"),
            ("+870 773 123 456", "870", "773123456"),
            ("+883 5100 1234 5678", "883", "510012345678"),
            ("+808 1234 5678", "808", "12345678"),
            ("+979 1234 5678 9", "979", "123456789"),
            ("+888 1234 5678", "888", "12345678"),
            ("+878 10 1234 5678", "878", "1012345678"),
            ("+33 1 23 45 67 89", "33", "123456789"),
            ("+81 3-1234-5678", "81", "312345678"),
            ("+86 138 0013 8000", "86", "13800138000"),
            ("+27 21 123 4567", "27", "211234567"),
            ("+20 10 1234 5678", "20", "1012345678"),
            ("+61 4 1234 5678", "61", "412345678"),
            ("+353 1 234 5678", "353", "12345678"),
            ("+380 44 123 4567", "380", "441234567"),
            ("+383 44 123 456", "383", "44123456"),
            ("+970 59 123 4567", "970", "591234567"),
            ("+998 90 123 45 67", "998", "901234567"),
            ("+599 9 123 4567", "599", "91234567"),
            ("+590 690 12 34 56", "590", "690123456"),
            ("+262 692 12 34 56", "262", "692123456"),
        ];
        for (input, cc, national) in cases {
            let number = parse(input);
            assert_eq!(number.country_code(), cc, "{input}");
            assert_eq!(number.national_number(), national, "{input}");
            assert_eq!(number.e164(), format!("+{cc}{national}"), "{input}");
        }
    }

    #[test]
    fn surrounding_whitespace_and_unicode_separators_are_ignored() {
        let expected = parse("+16315555555");
        assert_eq!(parse("  +1 631 555 5555\t\n"), expected);
        assert_eq!(parse("+1\u{a0}631\u{a0}555\u{a0}5555"), expected);
        assert_eq!(parse("+1\u{2013}631\u{2013}555\u{2013}5555"), expected);
        assert_eq!(parse("+(1) 631.555.5555"), expected);
        assert_eq!(parse("+1631555-5555"), expected);
    }

    #[test]
    fn serializes_as_e164_string() {
        let json = serde_json::to_string(&parse("+44 (20) 7946.0958")).unwrap();
        assert_eq!(json, "\"+442079460958\"");
    }

    #[test]
    fn from_str_is_parse() {
        assert_eq!("+1 631-555-5555".parse::<PhoneNumber>(), Ok(parse("+16315555555")));
    }

    #[test]
    fn empty_input() {
        for input in ["", "   ", "\t\n"] {
            let error = parse_err(input);
            assert_eq!(error, PhoneError::Empty);
            assert_eq!(error.column(), None);
            assert_eq!(error.to_string(), "the phone number is empty");
            assert!(error.hint().contains("E.164"));
        }
    }

    #[test]
    fn missing_plus() {
        let error = parse_err("16315555555");
        assert!(matches!(error, PhoneError::MissingPlus { column: 1, .. }));
        assert_eq!(error.to_string(), "phone number \"16315555555\" does not start with +");
        assert!(error.hint().contains("write it in E.164 form, e.g. +16315555555"));

        assert_eq!(parse_err("  (631) 555-5555").column(), Some(3));
        assert!(matches!(parse_err("tel:+16315555555"), PhoneError::MissingPlus { .. }));
        assert!(matches!(parse_err("0 20 7946 0958"), PhoneError::MissingPlus { .. }));
    }

    #[test]
    fn leading_international_prefix() {
        let error = parse_err(" 0044 20 7946 0958");
        assert!(matches!(error, PhoneError::InternationalPrefix { column: 2, .. }));
        assert!(error.to_string().contains("\" 0044 20 7946 0958\""));
        assert!(error.to_string().contains("00"));
        assert!(error.hint().contains("replace the leading 00 with +"));
    }

    #[test]
    fn unexpected_character_names_it_and_its_position() {
        let error = parse_err("+1 631 555 5555 x12");
        assert_eq!(
            error,
            PhoneError::UnexpectedCharacter { input: "+1 631 555 5555 x12".to_owned(), ch: 'x', column: 17 }
        );
        assert_eq!(error.column(), Some(17));
        assert_eq!(
            error.to_string(),
            "phone number \"+1 631 555 5555 x12\" has an unexpected character 'x' at column 17"
        );
        assert!(error.hint().contains("remove 'x'"));

        // Columns count characters, not bytes, and include leading whitespace.
        let error = parse_err("  +44 2é0");
        assert_eq!(error.column(), Some(8));
        assert!(matches!(error, PhoneError::UnexpectedCharacter { ch: 'é', .. }));

        let error = parse_err("+1 +631 555 5555");
        assert!(matches!(error, PhoneError::UnexpectedCharacter { ch: '+', column: 4, .. }));
        assert!(error.hint().contains("single +"));

        assert_eq!(parse_err("+49 030/1234567").column(), Some(8));
        assert_eq!(parse_err("++16315555555").column(), Some(2));
    }

    #[test]
    fn too_few_digits() {
        for (input, digits) in [("+", 0), ("+ - ()", 0), ("+8", 1), ("+85", 2)] {
            let error = parse_err(input);
            assert_eq!(error, PhoneError::TooFewDigits { input: input.to_owned(), digits }, "{input}");
            assert_eq!(error.column(), None);
            assert!(error.hint().contains("full international number"));
        }
        assert!(parse_err("+8").to_string().contains("too few digits (1)"));
    }

    #[test]
    fn national_number_too_short() {
        let error = parse_err("+44 123");
        assert_eq!(
            error,
            PhoneError::NationalNumberTooShort {
                input: "+44 123".to_owned(),
                cc: "44".to_owned(),
                national_digits: 3,
            }
        );
        assert_eq!(
            error.to_string(),
            "phone number \"+44 123\" has 3 digit(s) after its country code 44, fewer than the 4 \
             a national number needs"
        );
        assert!(matches!(parse_err("+1"), PhoneError::NationalNumberTooShort { national_digits: 0, .. }));
        assert!(matches!(
            parse_err("+683 400"),
            PhoneError::NationalNumberTooShort { national_digits: 3, .. }
        ));
    }

    #[test]
    fn too_many_digits_points_at_the_sixteenth() {
        let input = "+1 631 555 5555 12345";
        let error = parse_err(input);
        assert_eq!(error, PhoneError::TooManyDigits { input: input.to_owned(), digits: 16, column: 21 });
        assert!(error.to_string().contains("16 digits, more than the 15"));
        assert!(error.hint().contains("at most 15"));
        // Fifteen digits is the limit, not over it.
        assert_eq!(parse("+1 631 555 5555 1234").digits().len(), 15);
    }

    #[test]
    fn unknown_country_codes_name_the_digits_tried() {
        let error = parse_err("+210 555 1234");
        assert_eq!(
            error,
            PhoneError::UnknownCountryCode {
                input: "+210 555 1234".to_owned(),
                tried: vec!["2".to_owned(), "21".to_owned(), "210".to_owned()],
                column: 2,
            }
        );
        assert_eq!(
            error.to_string(),
            "phone number \"+210 555 1234\" does not start with an assigned country calling \
             code (tried 2, 21 or 210)"
        );
        assert!(error.hint().contains("cc:"));

        let spare = [
            "+210", "+259", "+280", "+293", "+384", "+422", "+671", "+684", "+801", "+809", "+830", "+851",
            "+875", "+879", "+884", "+890", "+969", "+978", "+990", "+997", "+999",
        ];
        for code in spare {
            let input = format!("{code} 1234 5678");
            assert!(matches!(parse_err(&input), PhoneError::UnknownCountryCode { .. }), "{input}");
        }

        let error = parse_err("+ 0044 20 7946 0958");
        assert!(matches!(error, PhoneError::UnknownCountryCode { column: 3, .. }));
        assert!(error.hint().contains("drop the leading 0s"));
        assert!(error.to_string().contains("tried 0, 00 or 004"));

        // Two digits that cannot start any code are unknown, not merely short.
        assert!(matches!(parse_err("+28"), PhoneError::UnknownCountryCode { .. }));
    }

    #[test]
    fn cc_override_splits_where_told() {
        let error = PhoneNumber::parse_with_cc("+1 242 502 1234", "1242").unwrap_err();
        assert_eq!(error, PhoneError::InvalidCountryCode { cc: "1242".to_owned() });

        let number = PhoneNumber::parse_with_cc("+44 20 7946 0958", "44").unwrap();
        assert_eq!(number, parse("+44 20 7946 0958"));

        // Need not be in the table: that is what the override is for.
        let number = PhoneNumber::parse_with_cc("+210 555 1234", "210").unwrap();
        assert_eq!(number.country_code(), "210");
        assert_eq!(number.national_number(), "5551234");
        assert_eq!(number.e164(), "+2105551234");

        let number = PhoneNumber::parse_with_cc("+44 20 7946 0958", " +442 ").unwrap();
        assert_eq!(number.country_code(), "442");
        assert_eq!(number.national_number(), "079460958");
    }

    #[test]
    fn cc_override_errors() {
        for cc in ["", " ", "+", "1234", "4a", "0", "04", "٤٤", "+-1"] {
            let error = PhoneNumber::parse_with_cc("+44 20 7946 0958", cc).unwrap_err();
            assert_eq!(error, PhoneError::InvalidCountryCode { cc: cc.to_owned() }, "{cc:?}");
            assert_eq!(error.column(), None);
            assert!(error.hint().contains("1-3 digit"));
        }

        let error = PhoneNumber::parse_with_cc(" +44 20 7946 0958", "1").unwrap_err();
        assert_eq!(
            error,
            PhoneError::CountryCodeMismatch {
                input: " +44 20 7946 0958".to_owned(),
                cc: "1".to_owned(),
                leading: "442".to_owned(),
                column: 3,
            }
        );
        assert!(error.to_string().contains("override 1"));
        assert!(error.hint().contains("start with 442"));

        // The number's own syntax is checked the same way as without an override.
        assert!(matches!(
            PhoneNumber::parse_with_cc("0044 20 7946 0958", "44"),
            Err(PhoneError::InternationalPrefix { .. })
        ));
        assert!(matches!(
            PhoneNumber::parse_with_cc("+44 123", "44"),
            Err(PhoneError::NationalNumberTooShort { national_digits: 3, .. })
        ));
        assert!(matches!(
            PhoneNumber::parse_with_cc("+44 1234 5678 9012 34", "44"),
            Err(PhoneError::TooManyDigits { digits: 16, .. })
        ));
    }

    #[test]
    fn from_digits_accepts_bare_digits_only() {
        assert_eq!(PhoneNumber::from_digits("16315555555"), Ok(parse("+1 631-555-5555")));
        assert_eq!(PhoneNumber::from_digits(""), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::from_digits("+16315555555"),
            Err(PhoneError::UnexpectedCharacter { input: "+16315555555".to_owned(), ch: '+', column: 1 })
        );
        assert_eq!(PhoneNumber::from_digits("1631 5555555").unwrap_err().column(), Some(5));
        assert_eq!(
            PhoneNumber::from_digits("2105551234"),
            Err(PhoneError::UnknownCountryCode {
                input: "2105551234".to_owned(),
                tried: vec!["2".to_owned(), "21".to_owned(), "210".to_owned()],
                column: 1,
            })
        );
        assert_eq!(
            PhoneNumber::from_digits("1631555555512345"),
            Err(PhoneError::TooManyDigits { input: "1631555555512345".to_owned(), digits: 16, column: 16 })
        );
        assert!(matches!(
            PhoneNumber::from_digits("44123"),
            Err(PhoneError::NationalNumberTooShort { ref input, .. }) if input == "44123"
        ));
        assert!(matches!(
            PhoneNumber::from_digits("8"),
            Err(PhoneError::TooFewDigits { ref input, digits: 1 }) if input == "8"
        ));
    }

    #[test]
    fn digits_only_reads_graph_display_numbers() {
        assert_eq!(digits_only("+1 631-555-5555"), "16315555555");
        assert_eq!(digits_only("16315555555"), "16315555555");
        assert_eq!(digits_only("+52 1 55 1234 5678"), "5215512345678");
        assert_eq!(digits_only("+44 (20) 7946.0958"), "442079460958");
        assert_eq!(digits_only("no digits ٣"), "");
    }

    #[test]
    fn country_code_of_bare_digits() {
        assert_eq!(country_code_of("16315555555"), Some("1"));
        assert_eq!(country_code_of("85221234567"), Some("852"));
        assert_eq!(country_code_of("6834002"), Some("683"));
        assert_eq!(country_code_of("77011234567"), Some("7"));
        assert_eq!(country_code_of("2105551234"), None);
        assert_eq!(country_code_of(""), None);
    }

    #[test]
    fn every_assigned_code_parses() {
        for (code, _) in country_codes::ASSIGNED {
            let number = parse(&format!("+{code} 1234 5678"));
            assert_eq!(number.country_code(), *code);
            assert_eq!(number.national_number(), "12345678");
        }
    }

    /// A country code from the table and a national number that fits within 15 digits.
    fn valid_parts() -> impl Strategy<Value = (String, String)> {
        let codes: Vec<&'static str> = country_codes::ASSIGNED.iter().map(|(c, _)| *c).collect();
        prop::sample::select(codes).prop_flat_map(|cc| {
            let max = MAX_DIGITS - cc.len();
            (
                Just(cc.to_owned()),
                proptest::collection::vec(0u8..10, MIN_NATIONAL_DIGITS..=max)
                    .prop_map(|ds| ds.into_iter().map(|d| char::from(b'0' + d)).collect()),
            )
        })
    }

    const NOISE: &[&str] = &["", "", "", " ", "-", ".", "(", ")", " - ", "  ", "\u{a0}", ") ("];

    fn check_error_invariants(input: &str, error: &PhoneError) {
        assert!(!error.to_string().is_empty());
        assert!(!error.hint().is_empty());
        if let Some(column) = error.column() {
            assert!((1..=input.chars().count().max(1)).contains(&column));
        }
        if let PhoneError::UnexpectedCharacter { ch, column, .. } = error {
            assert_eq!(input.chars().nth(column - 1), Some(*ch));
        }
    }

    fn check_number_invariants(number: &PhoneNumber) {
        let digits = number.digits();
        assert!(digits.len() <= MAX_DIGITS);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(format!("{}{}", number.country_code(), number.national_number()), digits);
        assert!(number.national_number().len() >= MIN_NATIONAL_DIGITS);
        assert_eq!(number.e164(), format!("+{digits}"));
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent((cc, national) in valid_parts()) {
            let number = PhoneNumber::parse(&format!("+{cc}{national}")).unwrap();
            prop_assert_eq!(PhoneNumber::parse(&number.e164()), Ok(number.clone()));
            prop_assert_eq!(PhoneNumber::from_digits(number.digits()), Ok(number.clone()));
            prop_assert_eq!(PhoneNumber::parse(&number.to_string()), Ok(number));
        }

        #[test]
        fn country_code_and_national_number_reassemble((cc, national) in valid_parts()) {
            let number = PhoneNumber::parse(&format!("+{cc}{national}")).unwrap();
            prop_assert_eq!(number.country_code(), cc.as_str());
            prop_assert_eq!(number.national_number(), national.as_str());
            check_number_invariants(&number);
        }

        #[test]
        fn formatting_noise_does_not_change_the_result(
            (cc, national) in valid_parts(),
            noise in proptest::collection::vec(prop::sample::select(NOISE), MAX_DIGITS + 1),
            lead in "[ \t]{0,3}",
            trail in "[ \t\n]{0,3}",
        ) {
            let digits = format!("{cc}{national}");
            let mut noisy = format!("{lead}+");
            for (digit, sep) in digits.chars().zip(&noise) {
                noisy.push_str(sep);
                noisy.push(digit);
            }
            noisy.push_str(noise[MAX_DIGITS]);
            noisy.push_str(&trail);
            let clean = PhoneNumber::parse(&format!("+{digits}"));
            prop_assert!(clean.is_ok());
            prop_assert_eq!(PhoneNumber::parse(&noisy), clean.clone());
            prop_assert_eq!(PhoneNumber::parse_with_cc(&noisy, &cc), clean);
        }

        #[test]
        fn arbitrary_input_never_panics(input in any::<String>(), cc in any::<String>()) {
            for result in [PhoneNumber::parse(&input), PhoneNumber::from_digits(&input)] {
                match result {
                    Ok(number) => check_number_invariants(&number),
                    Err(error) => check_error_invariants(&input, &error),
                }
            }
            if let Err(error) = PhoneNumber::parse_with_cc(&input, &cc) {
                check_error_invariants(&input, &error);
            }
            let _ = digits_only(&input);
            let _ = country_code_of(&input);
        }

        #[test]
        fn phone_like_input_never_panics_and_round_trips(
            input in "[ +0-9().\\-a-z/\u{a0}\u{2013}é]{0,24}",
            cc in "[+0-9a ]{0,4}",
        ) {
            match PhoneNumber::parse(&input) {
                Ok(number) => {
                    check_number_invariants(&number);
                    prop_assert_eq!(PhoneNumber::parse(&number.e164()), Ok(number.clone()));
                    prop_assert_eq!(number.digits(), digits_only(&input));
                    prop_assert_eq!(country_code_of(number.digits()), Some(number.country_code()));
                }
                Err(error) => check_error_invariants(&input, &error),
            }
            match PhoneNumber::parse_with_cc(&input, &cc) {
                Ok(number) => check_number_invariants(&number),
                Err(error) => check_error_invariants(&input, &error),
            }
            let bare = digits_only(&input);
            match PhoneNumber::from_digits(&bare) {
                Ok(number) => check_number_invariants(&number),
                Err(error) => check_error_invariants(&bare, &error),
            }
        }
    }
}
