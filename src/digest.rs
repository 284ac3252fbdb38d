//! Owns content digests (SHA-256, hex) used to tell whether a saved plan still matches the
//! manifest and the live state it was made from.

use ring::digest::{Context, Digest, SHA256, digest};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&digest(&SHA256, bytes))
}

fn hex(digest: &Digest) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Digest of a value's JSON form; struct field order makes it canonical for our own types. The
/// JSON is hashed as it is written, never held whole: a plan of 20,000 numbers is megabytes.
pub fn of_json<T: serde::Serialize>(value: &T) -> String {
    let mut hashing = Hashing(Context::new(&SHA256));
    // Writing into a hash cannot fail, and our types serialize without error.
    let _ = serde_json::to_writer(&mut hashing, value);
    hex(&hashing.0.finish())
}

struct Hashing(Context);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

    #[test]
    fn a_json_digest_is_the_digest_of_the_json_text() {
        let value = serde_json::json!({ "numbers": ["+14155550100", "+14155550101"], "n": 2 });
        let text = serde_json::to_vec(&value).unwrap_or_default();
        assert_eq!(super::of_json(&value), super::sha256_hex(&text));
    }
}
