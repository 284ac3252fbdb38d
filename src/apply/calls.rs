//! Owns the seam between apply and the Graph API: the few calls a migration makes, as a trait.
//! `GraphClient` is the real implementation; the engine's unit tests use a recording fake, so
//! every branch of the engine (each answer Meta may give) is tested without a network. Nothing
//! here decides anything.

use std::collections::BTreeMap;
use std::future::Future;

use crate::graph::{GraphClient, GraphError, MessageTemplate, PhoneNumber};
use crate::secret::Secret;
use crate::vocabulary::CodeMethod;

/// The Graph calls apply makes for one number.
pub trait MigrationCalls: Send + Sync + 'static {
    /// `POST /{destination}/phone_numbers` with `migrate_phone_number=true`: the new node's id.
    fn initiate_migration(
        &self,
        destination: &str,
        cc: &str,
        national_number: &str,
    ) -> impl Future<Output = Result<String, GraphError>> + Send;

    fn request_code(
        &self,
        id: &str,
        method: CodeMethod,
        language: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;

    fn verify_code(&self, id: &str, code: &Secret) -> impl Future<Output = Result<(), GraphError>> + Send;

    fn register(
        &self,
        id: &str,
        pin: &Secret,
        data_localization_region: Option<&str>,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;

    fn phone_number(&self, id: &str) -> impl Future<Output = Result<PhoneNumber, GraphError>> + Send;

    fn phone_numbers(&self, waba: &str) -> impl Future<Output = Result<Vec<PhoneNumber>, GraphError>> + Send;

    /// Several numbers' nodes by id, in as few requests as Graph allows (50 ids a request).
    fn phone_numbers_by_id(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, PhoneNumber>, GraphError>> + Send;

    fn message_templates(
        &self,
        waba: &str,
    ) -> impl Future<Output = Result<Vec<MessageTemplate>, GraphError>> + Send;

    /// HTTP requests made so far, for the closing summary.
    fn request_count(&self) -> u64;

    /// The share (percent) of `waba`'s hourly Graph budget used, as Meta last reported it.
    fn budget_used(&self, waba: &str) -> Option<u64>;
}

impl MigrationCalls for GraphClient {
    async fn initiate_migration(
        &self,
        destination: &str,
        cc: &str,
        national_number: &str,
    ) -> Result<String, GraphError> {
        GraphClient::initiate_migration(self, destination, cc, national_number).await
    }

    async fn request_code(&self, id: &str, method: CodeMethod, language: &str) -> Result<(), GraphError> {
        GraphClient::request_code(self, id, method, language).await
    }

    async fn verify_code(&self, id: &str, code: &Secret) -> Result<(), GraphError> {
        GraphClient::verify_code(self, id, code).await
    }

    async fn register(
        &self,
        id: &str,
        pin: &Secret,
        data_localization_region: Option<&str>,
    ) -> Result<(), GraphError> {
        GraphClient::register(self, id, pin, data_localization_region).await
    }

    async fn phone_number(&self, id: &str) -> Result<PhoneNumber, GraphError> {
        GraphClient::phone_number(self, id).await
    }

    async fn phone_numbers(&self, waba: &str) -> Result<Vec<PhoneNumber>, GraphError> {
        GraphClient::phone_numbers(self, waba).await
    }

    async fn phone_numbers_by_id(&self, ids: &[String]) -> Result<BTreeMap<String, PhoneNumber>, GraphError> {
        GraphClient::phone_numbers_by_id(self, ids).await
    }

    async fn message_templates(&self, waba: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        GraphClient::message_templates(self, waba).await
    }

    fn request_count(&self) -> u64 {
        GraphClient::request_count(self)
    }

    fn budget_used(&self, waba: &str) -> Option<u64> {
        self.usage().for_object(waba).iter().map(|entry| entry.max_percent()).max()
    }
}
