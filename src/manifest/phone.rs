//! Phone numbers: parsing E.164 input, normalising, splitting country code and national number.
