//! Owns observation: reading the live state of every WABA the manifest names (destinations and
//! sources) into one [`Snapshot`], with as few round trips as Graph allows — multi-id reads of up
//! to 50 WABAs with their numbers, subscribed apps and templates expanded, edges followed to their
//! last page, the token's permissions read alongside. A WABA the token cannot read is recorded as
//! unreadable, not an error. It decides nothing about migrations.

pub mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

pub use snapshot::{
    Access, AppRef, BusinessRef, HealthEntity, HealthError, HealthView, Listings, NumberView, Presence,
    Snapshot, TemplateView, TokenView, WabaView,
};

use crate::graph::{BusinessInfo, MessageTemplate, PhoneNumber, Waba};
use crate::graph::{ErrorClass, GraphClient, GraphError};
use crate::manifest::DesiredState;
use crate::ui::Ui;

/// How many observation reads `plan` and `status` keep in flight. Meta's budgets count calls, not
/// connections, and it publishes no limit on concurrent reads; with 4,000 WABAs read in 80
/// multi-id requests, the round trips are what a large plan waits for.
pub const OBSERVE_CONCURRENCY: usize = 8;

/// Every WABA id the manifest names, destinations first, without repeats.
pub fn named_wabas(desired: &DesiredState) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let destinations = desired.destinations.iter().map(|d| d.waba.clone());
    let sources = desired.numbers.iter().filter_map(|n| n.source_waba.clone());
    destinations.chain(sources).filter(|id| seen.insert(id.clone())).collect()
}

/// Reads the live state. Fails only when nothing sensible can be observed (bad token, network);
/// a WABA the token may not read becomes `Access::Unreadable`.
pub async fn observe(client: &GraphClient, desired: &DesiredState, ui: &Ui) -> Result<Snapshot, GraphError> {
    observe_wabas(client, &named_wabas(desired), ui).await
}

/// Reads these WABAs (and the token's permissions) with the same multi-id requests as `plan`:
/// what `wamig import` starts from, where no manifest names them yet.
pub async fn observe_wabas(client: &GraphClient, ids: &[String], ui: &Ui) -> Result<Snapshot, GraphError> {
    let (wabas, token) = tokio::join!(read_wabas(client, ids, ui), read_token(client));
    let token = token?;
    let mut views = BTreeMap::new();
    for (id, result) in wabas? {
        let view = match result {
            Ok(waba) => waba_view(&id, &waba),
            Err(reason) => {
                WabaView { id: id.clone(), access: Access::Unreadable { reason }, ..WabaView::default() }
            }
        };
        views.insert(id, view);
    }
    Ok(Snapshot {
        observed_at: jiff::Timestamp::now().to_string(),
        api_version: client.api_version().as_str().to_owned(),
        token,
        wabas: views,
    })
}

fn unreadable(error: &GraphError) -> bool {
    matches!(error.class(), ErrorClass::Permission | ErrorClass::NotFound)
}

/// Multi-id reads of up to 50 WABAs each, run together. Graph refuses a whole multi-id read when
/// one of its WABAs is out of the token's reach, so only such a chunk is read again one WABA at a
/// time, to tell which; the other chunks keep their single round trip.
async fn read_wabas(
    client: &GraphClient,
    ids: &[String],
    ui: &Ui,
) -> Result<Vec<(String, Result<Waba, String>)>, GraphError> {
    // The client keeps its requests within its concurrency limit, however many are spawned.
    let mut chunks = tokio::task::JoinSet::new();
    for (index, chunk) in ids.chunks(crate::graph::MAX_IDS_PER_REQUEST).enumerate() {
        let (client, chunk, ui) = (client.clone(), chunk.to_vec(), ui.clone());
        chunks.spawn(async move { (index, read_chunk(&client, &chunk, &ui).await) });
    }
    let mut results = Vec::new();
    while let Some(joined) = chunks.join_next().await {
        let Ok((index, result)) = joined else { continue };
        results.push((index, result?));
    }
    results.sort_by_key(|(index, _)| *index);
    let mut found: BTreeMap<String, Result<Waba, String>> =
        results.into_iter().flat_map(|(_, part)| part).collect();
    Ok(ids.iter().map(|id| (id.clone(), found.remove(id).unwrap_or_else(|| Err(missing(id))))).collect())
}

async fn read_chunk(
    client: &GraphClient,
    ids: &[String],
    ui: &Ui,
) -> Result<Vec<(String, Result<Waba, String>)>, GraphError> {
    match client.wabas(ids).await {
        Ok(mut found) => {
            Ok(ids.iter().map(|id| (id.clone(), found.remove(id).ok_or_else(|| missing(id)))).collect())
        }
        Err(error) if unreadable(&error) => {
            ui.debug("observe_fallback", "a WABA is out of this token's reach; reading each WABA on its own");
            let mut reads = tokio::task::JoinSet::new();
            for (index, id) in ids.iter().enumerate() {
                let (client, id) = (client.clone(), id.clone());
                reads.spawn(async move { (index, client.waba(&id).await) });
            }
            let mut results: Vec<Option<Result<Waba, String>>> = vec![None; ids.len()];
            while let Some(joined) = reads.join_next().await {
                let Ok((index, result)) = joined else { continue };
                results[index] = Some(match result {
                    Ok(waba) => Ok(waba),
                    Err(error) if unreadable(&error) => Err(error.message()),
                    Err(error) => return Err(error),
                });
            }
            Ok(ids
                .iter()
                .zip(results)
                .map(|(id, result)| (id.clone(), result.unwrap_or_else(|| Err(missing(id)))))
                .collect())
        }
        Err(error) => Err(error),
    }
}

fn missing(id: &str) -> String {
    format!("Graph returned nothing for WABA {id}")
}

async fn read_token(client: &GraphClient) -> Result<TokenView, GraphError> {
    match client.token_info().await {
        Ok(info) => Ok(TokenView { permissions: Some(info.scopes.clone()), unknown_reason: None }),
        // The token works for reads (or the WABA reads will say so); only its permissions are
        // hidden from us. The check becomes `unknown`.
        Err(error)
            if !matches!(
                error.class(),
                ErrorClass::Auth | ErrorClass::AppSecretProof | ErrorClass::Network
            ) =>
        {
            Ok(TokenView { permissions: None, unknown_reason: Some(error.message()) })
        }
        Err(error) => Err(error),
    }
}

/// Graph may show a Mexican mobile number with the old `1` after the country code
/// (`+52 1 55 …`); the manifest writes it without. Matching uses the form without.
pub fn canonical_digits(digits: &str) -> String {
    match digits.strip_prefix("521") {
        Some(rest) if digits.len() == 13 => format!("52{rest}"),
        _ => digits.to_owned(),
    }
}

pub fn number_view(number: &PhoneNumber) -> NumberView {
    NumberView {
        id: number.id.clone(),
        display_phone_number: number.display_phone_number.clone(),
        digits: canonical_digits(&number.digits().unwrap_or_default()),
        verified_name: number.verified_name.clone(),
        name_status: number.name_status.clone(),
        new_name_status: number.new_name_status.clone(),
        code_verification_status: number.code_verification_status.clone(),
        status: number.status.clone(),
        platform_type: number.platform_type.clone(),
        account_mode: number.account_mode.clone(),
        is_on_biz_app: number.is_on_biz_app,
        is_pin_enabled: number.is_pin_enabled,
        quality_rating: number.quality_rating.clone(),
        messaging_limit_tier: number.messaging_limit_tier.clone(),
        is_official_business_account: number.is_official_business_account,
        health: number.health_status.as_ref().and_then(health_view),
    }
}

fn health_view(health: &crate::graph::HealthStatus) -> Option<HealthView> {
    Some(HealthView {
        can_send_message: health.can_send_message.clone()?,
        entities: health
            .entities
            .iter()
            .map(|entity| HealthEntity {
                entity_type: entity.entity_type.clone(),
                id: entity.id.clone(),
                can_send_message: entity.can_send_message.clone(),
                additional_info: entity.additional_info.clone(),
                errors: entity
                    .errors
                    .iter()
                    .map(|error| HealthError {
                        code: error.error_code,
                        description: error.error_description.clone(),
                        possible_solution: error.possible_solution.clone(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

pub fn template_view(template: &MessageTemplate) -> TemplateView {
    TemplateView {
        id: Some(template.id.clone()).filter(|id| !id.is_empty()),
        name: template.name.clone().unwrap_or_default(),
        language: template.language.clone(),
        status: template.status.clone(),
        quality: template.quality().cloned(),
        category: template.category.clone(),
        components: template.components.clone(),
        parameter_format: template.parameter_format.clone(),
    }
}

fn business_ref(info: Option<&BusinessInfo>) -> Option<BusinessRef> {
    info.and_then(|b| b.id.clone().map(|id| BusinessRef { id, name: b.name.clone() }))
}

pub fn waba_view(id: &str, waba: &Waba) -> WabaView {
    let refused = |field: &str| waba.refused_fields.iter().any(|f| f == field);
    let payment_method = match waba.has_payment_method() {
        Some(true) => Presence::Present,
        // Graph refused the field to this app: nothing is known.
        _ if refused("primary_funding_id") => Presence::Unknown,
        // Graph omits fields that hold nothing: an absent `primary_funding_id` on a WABA we
        // could read means no payment method.
        Some(false) | None => Presence::Absent,
    };
    let mut numbers: Vec<NumberView> = waba.phone_numbers().iter().map(number_view).collect();
    numbers.sort_by(|a, b| a.digits.cmp(&b.digits).then(a.id.cmp(&b.id)));
    let mut templates: Vec<TemplateView> = waba.message_templates().iter().map(template_view).collect();
    templates.sort_by(|a, b| a.name.cmp(&b.name).then(a.language.cmp(&b.language)));
    WabaView {
        id: id.to_owned(),
        access: Access::Readable,
        name: waba.name.clone(),
        account_review_status: waba.account_review_status.clone(),
        business_verification_status: waba.business_verification_status.clone(),
        payment_method,
        owner_business: business_ref(waba.owner_business_info.as_ref()),
        on_behalf_of_business: business_ref(waba.on_behalf_of_business_info.as_ref()),
        ownership_type: waba.ownership_type.clone(),
        refused_fields: waba.refused_fields.clone(),
        subscribed_apps: Some(
            waba.subscribed_apps()
                .iter()
                .filter_map(|app| app.whatsapp_business_api_data.as_ref())
                .map(|data| AppRef { id: data.id.clone().unwrap_or_default(), name: data.name.clone() })
                .collect(),
        ),
        templates: Some(templates),
        numbers: Some(numbers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mexican_mobile_numbers_match_without_the_old_one() {
        assert_eq!(canonical_digits("5215512345678"), "525512345678");
        assert_eq!(canonical_digits("525512345678"), "525512345678");
        assert_eq!(canonical_digits("16315555555"), "16315555555");
    }
}
