//! Owns Meta's rate-limit usage headers: parsing `X-Business-Use-Case-Usage` (per business
//! object, i.e. per WABA) and `X-App-Usage`, and the last values seen, so callers can slow down
//! before Meta throttles them. Parsing never fails loudly: a header wamig cannot read is ignored.
//! It must not decide about retries (that is `retry.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub const BUC_HEADER: &str = "x-business-use-case-usage";

/// Meta's hourly budget of a WABA without a registered number (WhatsApp Business Management
/// API), calls per hour.
pub const WABA_CALLS_PER_HOUR: u64 = 200;
/// The same for a WABA with at least one registered number.
pub const ACTIVE_WABA_CALLS_PER_HOUR: u64 = 5_000;
pub const APP_USAGE_HEADER: &str = "x-app-usage";

/// One entry of `X-Business-Use-Case-Usage` for one business object. Percentages are whole
/// numbers of the rolling-hour allowance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BucEntry {
    /// `whatsapp_business_management`, `whatsapp`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub call_count: Option<u64>,
    pub total_cputime: Option<u64>,
    pub total_time: Option<u64>,
    /// Minutes until calls are allowed again; 0 when not throttled.
    pub estimated_time_to_regain_access: Option<u64>,
}

impl BucEntry {
    /// The highest of the three percentages.
    pub fn max_percent(&self) -> u64 {
        [self.call_count, self.total_cputime, self.total_time].into_iter().flatten().max().unwrap_or(0)
    }
}

/// `X-App-Usage` (platform rate limit of the app).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppUsage {
    pub call_count: Option<u64>,
    pub total_cputime: Option<u64>,
    pub total_time: Option<u64>,
}

impl AppUsage {
    pub fn max_percent(&self) -> u64 {
        [self.call_count, self.total_cputime, self.total_time].into_iter().flatten().max().unwrap_or(0)
    }
}

/// The last usage values seen by one client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub app: Option<AppUsage>,
    /// Keyed by business object id (a WABA id for WhatsApp calls).
    pub business: BTreeMap<String, Vec<BucEntry>>,
}

impl Usage {
    /// The highest percentage of any allowance seen, app or business.
    pub fn max_percent(&self) -> u64 {
        let business = self.business.values().flatten().map(BucEntry::max_percent).max().unwrap_or(0);
        business.max(self.app.as_ref().map_or(0, AppUsage::max_percent))
    }

    /// The last entries seen for one WABA.
    pub fn for_object(&self, id: &str) -> &[BucEntry] {
        self.business.get(id).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn merge(&mut self, app: Option<AppUsage>, business: BusinessUsage) {
        if app.is_some() {
            self.app = app;
        }
        self.business.extend(business);
    }
}

pub type BusinessUsage = BTreeMap<String, Vec<BucEntry>>;

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn entry(value: &Value) -> Option<BucEntry> {
    let object = value.as_object()?;
    let get = |key: &str| object.get(key).and_then(number);
    Some(BucEntry {
        kind: object.get("type").and_then(Value::as_str).map(str::to_owned),
        call_count: get("call_count"),
        total_cputime: get("total_cputime"),
        total_time: get("total_time"),
        estimated_time_to_regain_access: get("estimated_time_to_regain_access"),
    })
}

/// Parses `X-Business-Use-Case-Usage`: `{"<id>":[{"type":..,"call_count":..,...}]}`. An object
/// instead of an array for one id is accepted too.
pub fn parse_buc(header: &str) -> Option<BusinessUsage> {
    let value: Value = serde_json::from_str(header).ok()?;
    let mut out = BTreeMap::new();
    for (id, entries) in value.as_object()? {
        let list: Vec<BucEntry> = match entries {
            Value::Array(items) => items.iter().filter_map(entry).collect(),
            Value::Object(_) => entry(entries).into_iter().collect(),
            _ => continue,
        };
        out.insert(id.clone(), list);
    }
    Some(out)
}

/// Parses `X-App-Usage`: `{"call_count":28,"total_time":25,"total_cputime":25}`.
pub fn parse_app_usage(header: &str) -> Option<AppUsage> {
    let value: Value = serde_json::from_str(header).ok()?;
    let object = value.as_object()?;
    let get = |key: &str| object.get(key).and_then(number);
    Some(AppUsage {
        call_count: get("call_count"),
        total_cputime: get("total_cputime"),
        total_time: get("total_time"),
    })
}

/// The longest `estimated_time_to_regain_access` in a BUC header, as a wait.
pub fn regain_wait(business: &BusinessUsage) -> Option<Duration> {
    business
        .values()
        .flatten()
        .filter_map(|e| e.estimated_time_to_regain_access)
        .max()
        .filter(|m| *m > 0)
        .map(|minutes| Duration::from_secs(minutes.saturating_mul(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buc_header_from_metas_openapi_example() {
        let header = r#"{"102290129340398":[{"type":"whatsapp_business_management","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0},{"type":"whatsapp","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#;
        let parsed = parse_buc(header).unwrap();
        let entries = &parsed["102290129340398"];
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].kind.as_deref(), Some("whatsapp_business_management"));
        assert_eq!(entries[0].call_count, Some(1));
        assert_eq!(regain_wait(&parsed), None);
    }

    #[test]
    fn throttled_buc_header_gives_the_longest_wait() {
        let header = r#"{"1":[{"type":"whatsapp_business_management","call_count":100,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":3}],
                         "2":[{"type":"whatsapp_business_management","call_count":"50","estimated_time_to_regain_access":7}]}"#;
        let parsed = parse_buc(header).unwrap();
        assert_eq!(regain_wait(&parsed), Some(Duration::from_secs(420)));
        let mut usage = Usage::default();
        usage.merge(None, parsed);
        assert_eq!(usage.max_percent(), 100);
        assert_eq!(usage.for_object("2")[0].call_count, Some(50));
        assert!(usage.for_object("3").is_empty());
    }

    #[test]
    fn app_usage_and_garbage() {
        let app = parse_app_usage(r#"{"call_count":28,"total_time":25,"total_cputime":25}"#).unwrap();
        assert_eq!(app.call_count, Some(28));
        assert_eq!(app.max_percent(), 28);
        assert!(parse_app_usage("nope").is_none());
        assert!(parse_buc("[1,2]").is_none());
        assert!(parse_buc("{\"1\": 5}").unwrap().is_empty());
        let odd = parse_buc(r#"{"1":{"call_count":12.5}}"#).unwrap();
        assert_eq!(odd["1"][0].call_count, Some(13));
    }
}
