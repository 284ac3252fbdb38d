//! Owns the object I/O of the shared journal: reading an object with its version (bounded in
//! size), conditional and plain writes, and the scrubbing of store error texts (credential values
//! and URL query strings). It must not know what the objects mean (the journal, the lock, the
//! store check are `shared`'s).

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::Serialize;

use super::{Failure, Inner, MAX_OBJECT_BYTES};
use crate::state::StateError;

pub(super) async fn read_bytes(
    inner: &Inner,
    path: &ObjectPath,
    name: &'static str,
) -> Result<Option<Vec<u8>>, StateError> {
    Ok(read_versioned(inner, path, name).await?.map(|(bytes, _)| bytes))
}

/// An object's bytes and version; `None` when there is no such object.
pub(super) async fn read_versioned(
    inner: &Inner,
    path: &ObjectPath,
    name: &'static str,
) -> Result<Option<(Vec<u8>, UpdateVersion)>, StateError> {
    let url = inner.url.to_string();
    let read_error = |error: &object_store::Error| StateError::Read {
        url: url.clone(),
        object: name,
        message: describe(error),
    };
    let result = match inner.store.get(path).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(read_error(&error)),
    };
    if result.meta.size > MAX_OBJECT_BYTES {
        return Err(StateError::Corrupt {
            url,
            object: name,
            message: format!(
                "{} bytes, more than the {MAX_OBJECT_BYTES} a wamig object can have",
                result.meta.size
            ),
        });
    }
    let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
    let bytes = result.bytes().await.map_err(|error| read_error(&error))?;
    Ok(Some((bytes.to_vec(), version)))
}

pub(super) async fn put_json(
    inner: &Inner,
    path: &ObjectPath,
    value: &impl Serialize,
    mode: PutMode,
) -> Result<UpdateVersion, Failure> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    put(inner, path, bytes, mode).await
}

pub(super) async fn put(
    inner: &Inner,
    path: &ObjectPath,
    bytes: Vec<u8>,
    mode: PutMode,
) -> Result<UpdateVersion, Failure> {
    let options = PutOptions { mode, ..PutOptions::default() };
    match inner.store.put_opts(path, PutPayload::from(bytes), options).await {
        Ok(result) => Ok(UpdateVersion { e_tag: result.e_tag, version: result.version }),
        Err(
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::NotFound { .. },
        ) => Err(Failure::Conflict),
        Err(error) => Err(Failure::Other(describe(&error))),
    }
}

/// The store's error text, safe to show: URLs lose their query strings (Azure SAS tokens live
/// there) and the values of the stores' credential variables are redacted wherever they appear.
pub fn describe(error: &object_store::Error) -> String {
    scrub_store_text(&error.to_string())
}

/// Environment variables whose values are credentials for one of the stores.
const CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
];

pub fn scrub_store_text(text: &str) -> String {
    let secrets: Vec<crate::secret::Secret> = CREDENTIAL_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .filter(|value| !value.is_empty())
        .map(crate::secret::Secret::new)
        .collect();
    let refs: Vec<&crate::secret::Secret> = secrets.iter().collect();
    let text = crate::secret::scrub(text, &refs);
    // Cut the query string off every URL: up to the next whitespace or closing bracket.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("://") {
        let (before, url) = rest.split_at(at);
        out.push_str(before);
        let end =
            url.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>')).unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        out.push_str(url.split_once('?').map_or(url, |(base, _)| base));
        rest = after;
    }
    out.push_str(rest);
    out
}
