//! Owns the client's migration writes: start a migration, request and verify a code, register.
//! Each is sent once: it is never retried here (the caller re-reads live state and decides).

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

/// Write endpoints answer `{"success": true}`; an explicit `false` is a failure.
fn expect_success(value: Value, call: &Call) -> Result<(), GraphError> {
    match value.get("success") {
        Some(Value::Bool(false)) => {
            Err(shape_error(call, "Graph answered {\"success\": false} without an error".into()))
        }
        _ => Ok(()),
    }
}
