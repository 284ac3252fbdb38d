//! Owns the client's writes: start a migration, request and verify a code, register, and the
//! template writes (Meta's template migration, template creation). Each is sent once: it is
//! never retried here (the caller re-reads live state and decides).

use std::time::Duration;

use serde_json::Value;

use super::{Call, GraphClient, check_id, check_six_digits, is_digits, shape_error};
use crate::graph::class::Operation;
use crate::graph::error::GraphError;
use crate::secret::Secret;
use crate::vocabulary::CodeMethod;

impl GraphClient {
    /// Step 2: `POST /{dest_waba}/phone_numbers` with `cc`, `phone_number` (national number,
    /// digits) and `migrate_phone_number=true`. Returns the phone-number id.
    pub async fn initiate_migration(
        &self,
        dest_waba: &str,
        cc: &str,
        national_number: &str,
    ) -> Result<String, GraphError> {
        check_id(dest_waba, "destination WABA id")?;
        if !is_digits(cc) || cc.len() > 3 {
            return Err(GraphError::input(
                format!("`{cc}` is not a country calling code"),
                "cc is 1 to 3 digits without `+`, e.g. 1 or 44",
            ));
        }
        if !is_digits(national_number) || national_number.len() > 17 {
            return Err(GraphError::input(
                format!("`{national_number}` is not a national phone number"),
                "phone_number is the number without country code, digits only",
            ));
        }
        let call = self.post_call(
            &format!("{dest_waba}/phone_numbers"),
            Operation::InitiateMigration,
            vec![
                ("cc", cc.to_owned()),
                ("phone_number", national_number.to_owned()),
                ("migrate_phone_number", "true".to_owned()),
            ],
            Vec::new(),
        )?;
        let value = self.execute(&call).await?;
        match value.get("id") {
            Some(Value::String(id)) if is_digits(id) => Ok(id.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(shape_error(
                &call,
                "the answer has no phone-number `id`; the migration may have started, \
                 so read the destination's phone_numbers before trying again"
                    .into(),
            )),
        }
    }

    /// Step 3: `POST /{phone_number_id}/request_code` with `code_method` and `language`.
    pub async fn request_code(
        &self,
        phone_number_id: &str,
        method: CodeMethod,
        language: &str,
    ) -> Result<(), GraphError> {
        check_id(phone_number_id, "phone number id")?;
        let language_ok = (2..=16).contains(&language.len())
            && language.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
        if !language_ok {
            return Err(GraphError::input(
                format!("`{language}` is not a language code"),
                "write it like en_US",
            ));
        }
        let call = self.post_call(
            &format!("{phone_number_id}/request_code"),
            Operation::RequestCode,
            vec![("code_method", method.as_str().to_owned()), ("language", language.to_owned())],
            Vec::new(),
        )?;
        let value = self.execute(&call).await?;
        expect_success(value, &call)
    }

    /// Step 4: `POST /{phone_number_id}/verify_code` with the 6-digit `code`.
    pub async fn verify_code(&self, phone_number_id: &str, code: &Secret) -> Result<(), GraphError> {
        check_id(phone_number_id, "phone number id")?;
        check_six_digits(code, "verification code")?;
        let call = self.post_call(
            &format!("{phone_number_id}/verify_code"),
            Operation::VerifyCode,
            Vec::new(),
            vec![("code", code.clone())],
        )?;
        let value = self.execute(&call).await?;
        expect_success(value, &call)
    }

    /// Step 5: `POST /{phone_number_id}/register` with `messaging_product=whatsapp`, the
    /// 6-digit `pin` (it becomes the number's two-step PIN) and, for a number whose data is
    /// stored in a country, `data_localization_region` (a 2-letter country code).
    pub async fn register(
        &self,
        phone_number_id: &str,
        pin: &Secret,
        data_localization_region: Option<&str>,
    ) -> Result<(), GraphError> {
        check_id(phone_number_id, "phone number id")?;
        check_six_digits(pin, "PIN")?;
        let mut params = vec![("messaging_product", "whatsapp".to_owned())];
        if let Some(region) = data_localization_region {
            if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(GraphError::input(
                    format!("`{region}` is not a data localization region"),
                    "write it as a 2-letter country code in capitals, like IN",
                ));
            }
            params.push(("data_localization_region", region.to_owned()));
        }
        let call = self.post_call(
            &format!("{phone_number_id}/register"),
            Operation::Register,
            params,
            vec![("pin", pin.clone())],
        )?;
        let value = self.execute(&call).await?;
        expect_success(value, &call)
    }
}

/// Meta's template migration gives up after 30 seconds and asks for a smaller `count`; waiting
/// longer for its answer gains nothing.
pub const TEMPLATE_MIGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Meta's most templates per template-migration page, and per `template_ids`.
pub const TEMPLATE_MIGRATION_MAX: usize = 500;

/// What `migrate_message_templates` answered: the templates copied, and those that were not with
/// Meta's reason. Ids are as Meta gave them (the source's, as far as its documentation shows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateMigration {
    pub migrated: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// What `POST /{waba}/message_templates` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTemplate {
    pub id: String,
    /// Usually `PENDING`: Meta reviews a new template.
    pub status: Option<String>,
}

impl GraphClient {
    /// `POST /{destination}/migrate_message_templates` with `source_waba_id`, `page_number`,
    /// `count` (1 to 500) and, when not empty, `template_ids` (at most 500). An answer later
    /// than 30 seconds is a [`crate::graph::ErrorClass::Timeout`]: ask again with a smaller
    /// `count` after reading what arrived.
    pub async fn migrate_message_templates(
        &self,
        destination: &str,
        source: &str,
        page_number: usize,
        count: usize,
        template_ids: &[String],
    ) -> Result<TemplateMigration, GraphError> {
        check_id(destination, "destination WABA id")?;
        check_id(source, "source WABA id")?;
        if !(1..=TEMPLATE_MIGRATION_MAX).contains(&count) {
            return Err(GraphError::input(
                format!("count {count} is not between 1 and {TEMPLATE_MIGRATION_MAX}"),
                "Meta migrates at most 500 templates per page",
            ));
        }
        if template_ids.len() > TEMPLATE_MIGRATION_MAX {
            return Err(GraphError::input(
                format!("{} template ids in one call", template_ids.len()),
                "Meta takes at most 500 template_ids per call",
            ));
        }
        for id in template_ids {
            check_id(id, "template id")?;
        }
        let mut params = vec![
            ("source_waba_id", source.to_owned()),
            ("page_number", page_number.to_string()),
            ("count", count.to_string()),
        ];
        if !template_ids.is_empty() {
            params.push(("template_ids", Value::from(template_ids.to_vec()).to_string()));
        }
        let call = self.post_call(
            &format!("{destination}/migrate_message_templates"),
            Operation::MigrateTemplates,
            params,
            Vec::new(),
        )?;
        let value = self.execute(&call).await?;
        if value.get("migrated_templates").is_none() && value.get("failed_templates").is_none() {
            return Err(shape_error(
                &call,
                "the answer has neither `migrated_templates` nor `failed_templates`; read the destination's templates to see what arrived".into(),
            ));
        }
        Ok(TemplateMigration {
            migrated: ids(value.get("migrated_templates")),
            failed: failures(value.get("failed_templates")),
        })
    }

    /// `POST /{waba}/message_templates` with `name`, `language`, `category`, `components` (as
    /// Graph listed them) and `parameter_format` when known. Meta reviews the new template.
    pub async fn create_message_template(
        &self,
        waba: &str,
        name: &str,
        language: &str,
        category: &str,
        components: &[Value],
        parameter_format: Option<&str>,
    ) -> Result<CreatedTemplate, GraphError> {
        check_id(waba, "WABA id")?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(GraphError::input(
                format!("`{name}` is not a template name"),
                "template names are lower-case letters, digits and `_`",
            ));
        }
        let mut params = vec![
            ("name", name.to_owned()),
            ("language", language.to_owned()),
            ("category", category.to_owned()),
            ("components", Value::from(components.to_vec()).to_string()),
        ];
        if let Some(format) = parameter_format {
            params.push(("parameter_format", format.to_owned()));
        }
        let call = self.post_call(
            &format!("{waba}/message_templates"),
            Operation::CreateTemplate,
            params,
            Vec::new(),
        )?;
        let value = self.execute(&call).await?;
        let id = match value.get("id") {
            Some(Value::String(id)) if is_digits(id) => id.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(shape_error(
                    &call,
                    "the answer has no template `id`; the template may have been created, so read the WABA's templates before trying again".into(),
                ));
            }
        };
        Ok(CreatedTemplate { id, status: value.get("status").and_then(Value::as_str).map(str::to_owned) })
    }
}

/// Ids as strings from an array of strings, numbers or objects with an `id`.
fn ids(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = value else { return Vec::new() };
    items.iter().filter_map(id_of).collect()
}

fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(map) => map.get("id").and_then(id_of),
        _ => None,
    }
}

/// `{id: reason}`, or an array of `{id, reason}` objects (any of `reason`, `error`, `message`),
/// of `[id, reason]` pairs, or of bare ids.
fn failures(value: Option<&Value>) -> Vec<(String, String)> {
    let text = |value: Option<&Value>| match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(map)) => map
            .get("message")
            .or_else(|| map.get("error_user_msg"))
            .and_then(Value::as_str)
            .map_or_else(|| Value::Object(map.clone()).to_string(), str::to_owned),
        Some(other) if !other.is_null() => other.to_string(),
        _ => "Meta gave no reason".to_owned(),
    };
    match value {
        Some(Value::Object(map)) => map.iter().map(|(id, why)| (id.clone(), text(Some(why)))).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::Object(map) => {
                    let why = map.get("reason").or_else(|| map.get("error")).or_else(|| map.get("message"));
                    map.get("id").and_then(id_of).map(|id| (id, text(why)))
                }
                Value::Array(pair) => pair.first().and_then(id_of).map(|id| (id, text(pair.get(1)))),
                other => id_of(other).map(|id| (id, text(None))),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Write endpoints answer `{"success": true}`; an explicit `false` is a failure.
fn expect_success(value: Value, call: &Call) -> Result<(), GraphError> {
    match value.get("success") {
        Some(Value::Bool(false)) => {
            Err(shape_error(call, "Graph answered {\"success\": false} without an error".into()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn failed_templates_are_read_in_every_shape_meta_might_send() {
        let map = json!({"111": "Template quality is RED", "112": {"message": "limit reached"}});
        assert_eq!(
            failures(Some(&map)),
            [
                ("111".to_owned(), "Template quality is RED".to_owned()),
                ("112".to_owned(), "limit reached".to_owned())
            ]
        );
        let list = json!([{"id": 113, "reason": "exists"}, ["114", "pending"], "115", {"no_id": 1}]);
        assert_eq!(
            failures(Some(&list)),
            [
                ("113".to_owned(), "exists".to_owned()),
                ("114".to_owned(), "pending".to_owned()),
                ("115".to_owned(), "Meta gave no reason".to_owned())
            ]
        );
        assert!(failures(Some(&json!("odd"))).is_empty());
        assert_eq!(ids(Some(&json!(["1", 2, {"id": "3"}, null]))), ["1", "2", "3"]);
        assert!(ids(None).is_empty());
    }
}
