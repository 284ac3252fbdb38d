//! Owns content digests (SHA-256, hex) used to tell whether a saved plan still matches the
//! manifest and the live state it was made from.

use ring::digest::{SHA256, digest};

pub fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Digest of a value's JSON form; struct field order makes it canonical for our own types.
pub fn of_json<T: serde::Serialize>(value: &T) -> String {
    sha256_hex(&serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vector() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
