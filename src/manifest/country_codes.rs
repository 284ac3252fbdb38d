//! Owns the table of assigned ITU-T E.164 country calling codes and prefix lookups in it. Pure
//! data: no I/O, and no opinion on how a number is written (that is `phone`'s job).
//!
//! Sources cross-checked when building the table:
//! - the ITU-T "List of ITU-T Recommendation E.164 assigned country codes" (Annex to ITU
//!   Operational Bulletin No. 991 of 1.XI.2011, amended up to No. 1057 of 1.VIII.2014), as
//!   transcribed with its spare and reserved entries in Wireshark's
//!   `epan/dissectors/packet-e164.c`;
//! - the TSB assignment of 383 to Kosovo (December 2016), the only change since that list;
//! - Google libphonenumber's `countryCodeToRegionCodeMap` (`javascript/i18n/phonenumbers/
//!   metadatalite.js`, generated from `resources/PhoneNumberMetadata.xml`).
//!
//! The two agree except where libphonenumber leaves out codes it has no numbering data for:
//! 379 (Vatican City, assigned but unused: the Vatican dials through +39 06 698), 388 (group of
//! countries, shared code) and 991 (ITPCS trial, shared code). Those are assigned by the ITU, so
//! they are kept. 970 is listed by the ITU as "reserved" under Resolution 99 but is in service
//! for Palestine, so it is kept too. Spare codes (210, 259, 28x, 293, 384, 422, 671, 684, 801,
//! 83x, 851, 89x, 978, 990, 997, ...) and reserved ones (875-877, 879, 969, 999) are absent on
//! purpose: a number under them is a typo, not an odd case.

/// Assigned country calling codes with the area or service each serves, sorted as strings so
/// lookups can binary-search. No code is a prefix of another, which is what lets a number's
/// leading digits pick exactly one code.
pub const ASSIGNED: &[(&str, &str)] = &[
    ("1", "North American Numbering Plan (United States, Canada, Caribbean)"),
    ("20", "Egypt"),
    ("211", "South Sudan"),
    ("212", "Morocco"),
    ("213", "Algeria"),
    ("216", "Tunisia"),
    ("218", "Libya"),
    ("220", "Gambia"),
    ("221", "Senegal"),
    ("222", "Mauritania"),
    ("223", "Mali"),
    ("224", "Guinea"),
    ("225", "Côte d'Ivoire"),
    ("226", "Burkina Faso"),
    ("227", "Niger"),
    ("228", "Togo"),
    ("229", "Benin"),
    ("230", "Mauritius"),
    ("231", "Liberia"),
    ("232", "Sierra Leone"),
    ("233", "Ghana"),
    ("234", "Nigeria"),
    ("235", "Chad"),
    ("236", "Central African Republic"),
    ("237", "Cameroon"),
    ("238", "Cabo Verde"),
    ("239", "Sao Tome and Principe"),
    ("240", "Equatorial Guinea"),
    ("241", "Gabon"),
    ("242", "Congo"),
    ("243", "Democratic Republic of the Congo"),
    ("244", "Angola"),
    ("245", "Guinea-Bissau"),
    ("246", "Diego Garcia"),
    ("247", "Ascension"),
    ("248", "Seychelles"),
    ("249", "Sudan"),
    ("250", "Rwanda"),
    ("251", "Ethiopia"),
    ("252", "Somalia"),
    ("253", "Djibouti"),
    ("254", "Kenya"),
    ("255", "Tanzania"),
    ("256", "Uganda"),
    ("257", "Burundi"),
    ("258", "Mozambique"),
    ("260", "Zambia"),
    ("261", "Madagascar"),
    ("262", "Réunion and Mayotte"),
    ("263", "Zimbabwe"),
    ("264", "Namibia"),
    ("265", "Malawi"),
    ("266", "Lesotho"),
    ("267", "Botswana"),
    ("268", "Eswatini"),
    ("269", "Comoros"),
    ("27", "South Africa"),
    ("290", "Saint Helena and Tristan da Cunha"),
    ("291", "Eritrea"),
    ("297", "Aruba"),
    ("298", "Faroe Islands"),
    ("299", "Greenland"),
    ("30", "Greece"),
    ("31", "Netherlands"),
    ("32", "Belgium"),
    ("33", "France"),
    ("34", "Spain"),
    ("350", "Gibraltar"),
    ("351", "Portugal"),
    ("352", "Luxembourg"),
    ("353", "Ireland"),
    ("354", "Iceland"),
    ("355", "Albania"),
    ("356", "Malta"),
    ("357", "Cyprus"),
    ("358", "Finland and Åland"),
    ("359", "Bulgaria"),
    ("36", "Hungary"),
    ("370", "Lithuania"),
    ("371", "Latvia"),
    ("372", "Estonia"),
    ("373", "Moldova"),
    ("374", "Armenia"),
    ("375", "Belarus"),
    ("376", "Andorra"),
    ("377", "Monaco"),
    ("378", "San Marino"),
    ("379", "Vatican City State"),
    ("380", "Ukraine"),
    ("381", "Serbia"),
    ("382", "Montenegro"),
    ("383", "Kosovo"),
    ("385", "Croatia"),
    ("386", "Slovenia"),
    ("387", "Bosnia and Herzegovina"),
    ("388", "Group of countries, shared code"),
    ("389", "North Macedonia"),
    ("39", "Italy and Vatican City"),
    ("40", "Romania"),
    ("41", "Switzerland"),
    ("420", "Czech Republic"),
    ("421", "Slovakia"),
    ("423", "Liechtenstein"),
    ("43", "Austria"),
    ("44", "United Kingdom, Guernsey, Isle of Man, Jersey"),
    ("45", "Denmark"),
    ("46", "Sweden"),
    ("47", "Norway, Svalbard and Jan Mayen"),
    ("48", "Poland"),
    ("49", "Germany"),
    ("500", "Falkland Islands"),
    ("501", "Belize"),
    ("502", "Guatemala"),
    ("503", "El Salvador"),
    ("504", "Honduras"),
    ("505", "Nicaragua"),
    ("506", "Costa Rica"),
    ("507", "Panama"),
    ("508", "Saint Pierre and Miquelon"),
    ("509", "Haiti"),
    ("51", "Peru"),
    ("52", "Mexico"),
    ("53", "Cuba"),
    ("54", "Argentina"),
    ("55", "Brazil"),
    ("56", "Chile"),
    ("57", "Colombia"),
    ("58", "Venezuela"),
    ("590", "Guadeloupe, Saint Barthélemy, Saint Martin"),
    ("591", "Bolivia"),
    ("592", "Guyana"),
    ("593", "Ecuador"),
    ("594", "French Guiana"),
    ("595", "Paraguay"),
    ("596", "Martinique"),
    ("597", "Suriname"),
    ("598", "Uruguay"),
    ("599", "Curaçao and Caribbean Netherlands"),
    ("60", "Malaysia"),
    ("61", "Australia, Christmas Island, Cocos (Keeling) Islands"),
    ("62", "Indonesia"),
    ("63", "Philippines"),
    ("64", "New Zealand"),
    ("65", "Singapore"),
    ("66", "Thailand"),
    ("670", "Timor-Leste"),
    ("672", "Australian External Territories"),
    ("673", "Brunei Darussalam"),
    ("674", "Nauru"),
    ("675", "Papua New Guinea"),
    ("676", "Tonga"),
    ("677", "Solomon Islands"),
    ("678", "Vanuatu"),
    ("679", "Fiji"),
    ("680", "Palau"),
    ("681", "Wallis and Futuna"),
    ("682", "Cook Islands"),
    ("683", "Niue"),
    ("685", "Samoa"),
    ("686", "Kiribati"),
    ("687", "New Caledonia"),
    ("688", "Tuvalu"),
    ("689", "French Polynesia"),
    ("690", "Tokelau"),
    ("691", "Micronesia"),
    ("692", "Marshall Islands"),
    ("7", "Russia and Kazakhstan"),
    ("800", "International Freephone Service"),
    ("808", "International Shared Cost Service"),
    ("81", "Japan"),
    ("82", "Korea (Republic of)"),
    ("84", "Viet Nam"),
    ("850", "Korea (Democratic People's Republic of)"),
    ("852", "Hong Kong, China"),
    ("853", "Macao, China"),
    ("855", "Cambodia"),
    ("856", "Lao People's Democratic Republic"),
    ("86", "China"),
    ("870", "Inmarsat SNAC"),
    ("878", "Universal Personal Telecommunication Service"),
    ("880", "Bangladesh"),
    ("881", "Global Mobile Satellite System, shared code"),
    ("882", "International Networks, shared code"),
    ("883", "International Networks, shared code"),
    ("886", "Taiwan, China"),
    ("888", "Telecommunications for Disaster Relief (OCHA)"),
    ("90", "Türkiye"),
    ("91", "India"),
    ("92", "Pakistan"),
    ("93", "Afghanistan"),
    ("94", "Sri Lanka"),
    ("95", "Myanmar"),
    ("960", "Maldives"),
    ("961", "Lebanon"),
    ("962", "Jordan"),
    ("963", "Syrian Arab Republic"),
    ("964", "Iraq"),
    ("965", "Kuwait"),
    ("966", "Saudi Arabia"),
    ("967", "Yemen"),
    ("968", "Oman"),
    ("970", "Palestine"),
    ("971", "United Arab Emirates"),
    ("972", "Israel"),
    ("973", "Bahrain"),
    ("974", "Qatar"),
    ("975", "Bhutan"),
    ("976", "Mongolia"),
    ("977", "Nepal"),
    ("979", "International Premium Rate Service"),
    ("98", "Iran"),
    ("991", "International public correspondence service trial, shared code"),
    ("992", "Tajikistan"),
    ("993", "Turkmenistan"),
    ("994", "Azerbaijan"),
    ("995", "Georgia"),
    ("996", "Kyrgyzstan"),
    ("998", "Uzbekistan"),
];

fn find(code: &str) -> Option<usize> {
    ASSIGNED.binary_search_by(|(c, _)| (*c).cmp(code)).ok()
}

/// The assigned country calling code `digits` starts with, if any. Because the table is
/// prefix-free at most one of the 1-, 2- and 3-digit prefixes can match.
pub fn lookup(digits: &str) -> Option<&'static str> {
    (1..=3).filter_map(|len| digits.get(..len)).find_map(|prefix| find(prefix).map(|index| ASSIGNED[index].0))
}

/// The area or service an assigned code serves, for messages.
pub fn area(code: &str) -> Option<&'static str> {
    find(code).map(|index| ASSIGNED[index].1)
}

/// Whether `digits` could still grow into an assigned code; tells "too short" apart from
/// "unknown code" when only one or two digits were written.
pub fn is_proper_prefix_of_assigned(digits: &str) -> bool {
    !digits.is_empty()
        && ASSIGNED.iter().any(|(code, _)| code.len() > digits.len() && code.starts_with(digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_one_to_three_digits_without_leading_zero() {
        for (code, area) in ASSIGNED {
            assert!((1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            assert!(!code.starts_with('0'), "{code}");
            assert!(!area.is_empty(), "{code}");
        }
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in ASSIGNED.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }

    #[test]
    fn table_is_prefix_free() {
        for (a, _) in ASSIGNED {
            for (b, _) in ASSIGNED {
                if a != b {
                    assert!(!b.starts_with(a), "{a} is a prefix of {b}");
                }
            }
        }
    }

    #[test]
    fn zone_one_and_seven_are_single_digit_and_alone_in_their_zone() {
        assert_eq!(lookup("1242"), Some("1"));
        assert_eq!(lookup("1876"), Some("1"));
        assert_eq!(lookup("77"), Some("7"));
        let single: Vec<_> = ASSIGNED.iter().filter(|(c, _)| c.len() == 1).collect();
        assert_eq!(single.len(), 2);
    }

    /// libphonenumber's `countryCodeToRegionCodeMap` keys, copied when the table was
    /// cross-checked; the table must hold all of them and add only the ITU-assigned codes it
    /// has no numbering data for.
    const LIBPHONENUMBER: &[u16] = &[
        1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
        57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211, 212, 213, 216,
        218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238,
        239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258,
        260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298, 299, 350, 351, 352, 353, 354,
        355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377, 378, 380, 381, 382, 383, 385, 386,
        387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 590, 591, 592, 593, 594,
        595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683, 685, 686,
        687, 688, 689, 690, 691, 692, 800, 808, 850, 852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886,
        888, 960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992,
        993, 994, 995, 996, 998,
    ];

    #[test]
    fn table_matches_libphonenumber_plus_unused_itu_assignments() {
        let ours: Vec<String> = ASSIGNED.iter().map(|(c, _)| (*c).to_owned()).collect();
        let theirs: Vec<String> = LIBPHONENUMBER.iter().map(u16::to_string).collect();
        let missing: Vec<_> = theirs.iter().filter(|c| !ours.contains(c)).collect();
        assert!(missing.is_empty(), "missing {missing:?}");
        let extra: Vec<_> = ours.iter().filter(|c| !theirs.contains(c)).collect();
        assert_eq!(extra, ["379", "388", "991"]);
    }

    #[test]
    fn global_service_codes_are_assigned() {
        for code in ["800", "808", "870", "878", "881", "882", "883", "888", "979"] {
            assert_eq!(lookup(code), Some(code));
        }
    }

    #[test]
    fn spare_and_reserved_codes_are_absent() {
        let unassigned = [
            "0", "210", "214", "215", "217", "219", "259", "280", "285", "289", "292", "293", "294", "295",
            "296", "384", "422", "424", "429", "671", "684", "693", "699", "801", "807", "809", "830", "839",
            "851", "854", "857", "859", "871", "874", "875", "876", "877", "879", "884", "885", "887", "889",
            "890", "899", "969", "978", "990", "997", "999",
        ];
        for code in unassigned {
            assert_eq!(lookup(code), None, "{code}");
        }
    }

    #[test]
    fn lookup_uses_leading_digits_only() {
        assert_eq!(lookup("442079460958"), Some("44"));
        assert_eq!(lookup("85221234567"), Some("852"));
        assert_eq!(lookup("4"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(lookup("4é"), None);
        assert_eq!(area("44"), Some("United Kingdom, Guernsey, Isle of Man, Jersey"));
        assert_eq!(area("210"), None);
    }

    #[test]
    fn proper_prefixes() {
        assert!(is_proper_prefix_of_assigned("8"));
        assert!(is_proper_prefix_of_assigned("85"));
        assert!(!is_proper_prefix_of_assigned("852"));
        assert!(!is_proper_prefix_of_assigned("28"));
        assert!(!is_proper_prefix_of_assigned("0"));
        assert!(!is_proper_prefix_of_assigned(""));
    }
}
