//! Owns a number's `health_status` in the sandbox: whether it can send messages and, for the
//! entity of its chain that is limited (the number, its WABA, the business or the app), Meta's
//! error codes with their description and possible solution, rendered in Graph's shape. It
//! decides nothing about migrations.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::vocabulary::KnownCanSendMessage as CanSendMessage;

string_enum!(
    /// An entity of a number's chain, as `health_status.entities[].entity_type` names it.
    HealthEntity {
        PhoneNumber => "PHONE_NUMBER",
        Waba => "WABA",
        Business => "BUSINESS",
        App => "APP",
    }
);

/// A number's health as the world file (or an admin patch) states it. Absent: every entity
/// `AVAILABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthDef {
    pub can_send_message: CanSendMessage,
    /// The entity that limits the number; the others read `AVAILABLE`.
    #[serde(default = "default_entity")]
    pub entity_type: HealthEntity,
    #[serde(default)]
    pub errors: Vec<HealthErrorDef>,
}

/// One of Meta's health errors, e.g. 141006 "There is an error with the payment method".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthErrorDef {
    pub error_code: u64,
    pub error_description: String,
    #[serde(default)]
    pub possible_solution: Option<String>,
}

fn default_entity() -> HealthEntity {
    HealthEntity::PhoneNumber
}

/// The ids of a number's chain, in the order Graph lists its entities.
pub struct Chain<'a> {
    pub number: &'a str,
    pub waba: &'a str,
    pub business: &'a str,
    pub app: &'a str,
}

/// `health_status` in Graph's shape: the overall verdict, then one entity per link of the chain.
pub fn render(health: Option<&HealthDef>, chain: &Chain<'_>) -> Value {
    let overall = health.map_or(CanSendMessage::Available, |h| h.can_send_message);
    let entities: Vec<Value> = [
        (HealthEntity::PhoneNumber, chain.number),
        (HealthEntity::Waba, chain.waba),
        (HealthEntity::Business, chain.business),
        (HealthEntity::App, chain.app),
    ]
    .into_iter()
    .map(|(kind, id)| {
        let limiting = health.filter(|h| h.entity_type == kind);
        let mut entity = json!({
            "entity_type": kind.as_str(),
            "id": id,
            "can_send_message": limiting.map_or(CanSendMessage::Available, |h| h.can_send_message).as_str(),
        });
        if let Some(limiting) = limiting.filter(|h| !h.errors.is_empty()) {
            entity["errors"] = json!(limiting.errors);
        }
        entity
    })
    .collect();
    json!({ "can_send_message": overall.as_str(), "entities": entities })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiting_entity_carries_the_verdict_and_the_errors() {
        let chain = Chain { number: "1", waba: "2", business: "3", app: "4" };
        let healthy = render(None, &chain);
        assert_eq!(healthy["can_send_message"], "AVAILABLE");
        assert_eq!(healthy["entities"].as_array().unwrap().len(), 4);
        let blocked = HealthDef {
            can_send_message: CanSendMessage::Blocked,
            entity_type: HealthEntity::Waba,
            errors: vec![HealthErrorDef {
                error_code: 141006,
                error_description: "There is an error with the payment method.".into(),
                possible_solution: Some("Please add a new payment method to the account.".into()),
            }],
        };
        let value = render(Some(&blocked), &chain);
        assert_eq!(value["can_send_message"], "BLOCKED");
        assert_eq!(value["entities"][0]["can_send_message"], "AVAILABLE");
        assert!(value["entities"][0].get("errors").is_none());
        assert_eq!(value["entities"][1]["entity_type"], "WABA");
        assert_eq!(value["entities"][1]["id"], "2");
        assert_eq!(value["entities"][1]["errors"][0]["error_code"], 141006);
        // What wamig's client reads back.
        let parsed: crate::graph::HealthStatus = serde_json::from_value(value).unwrap();
        assert_eq!(
            parsed.entities[1].errors[0].possible_solution.as_deref(),
            Some("Please add a new payment method to the account.")
        );
    }
}
