//! Owns the checks that need meaning rather than structure (phone numbers, duplicates, ids,
//! languages, PIN references) and the resolution of defaults into the desired state every later
//! stage uses. Pure: it reads no file and no environment (a PIN reference is resolved by apply).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::decode::{PositionIndex, child_path};
use super::model::{CodeMethod, Manifest, SecretRef, TemplateSettings};
use super::phone::PhoneNumber;
use super::yaml::Mark;

pub const DEFAULT_LANGUAGE: &str = "en_US";

/// The manifest with defaults applied: what wamig must make true.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredState {
    pub api_version: Option<String>,
    pub destinations: Vec<DesiredDestination>,
    pub numbers: Vec<DesiredNumber>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredDestination {
    pub waba: String,
    pub name: Option<String>,
    /// Left out of the digest while it is the default, so manifests without `templates:` keep
    /// the digests their saved plans carry.
    #[serde(skip_serializing_if = "TemplatePolicy::is_default")]
    pub templates: TemplatePolicy,
}

/// A destination's `templates:` with `defaults.templates` applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TemplatePolicy {
    /// Every template Meta would migrate from the sources must exist in the destination.
    pub ensure: bool,
    /// Names left alone, sorted, without repeats.
    pub except: Vec<String>,
}

impl TemplatePolicy {
    pub fn is_default(&self) -> bool {
        *self == TemplatePolicy::default()
    }

    pub fn excepts(&self, name: &str) -> bool {
        self.except.iter().any(|n| n == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredNumber {
    pub phone: PhoneNumber,
    pub destination_waba: String,
    pub source_waba: Option<String>,
    pub code_method: CodeMethod,
    pub language: String,
    pub register: bool,
    /// Where the PIN lives; `file` paths are already relative to the manifest's directory.
    pub pin: Option<SecretRef>,
    /// Sent with register for a number with local storage.
    pub data_localization_region: Option<String>,
    /// Line of the number's entry in the manifest, for messages; not part of the digest, so
    /// moving an entry or adding a comment does not make a saved plan stale.
    #[serde(skip)]
    pub line: usize,
}

/// A meaning problem at a position (`related` names a second place, like a first listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemanticIssue {
    pub message: String,
    pub mark: Option<Mark>,
    pub related: Option<(String, Mark)>,
    pub hint: String,
    /// The value at `mark` is a secret: show the position but never the line.
    pub secret: bool,
}

struct Checker<'a> {
    index: &'a PositionIndex,
    issues: Vec<SemanticIssue>,
}

impl Checker<'_> {
    fn at(&self, path: &str) -> Option<Mark> {
        self.index.value(path).or_else(|| self.index.key(path))
    }

    fn report(&mut self, path: &str, message: String, hint: impl Into<String>) {
        let mark = self.at(path);
        self.issues.push(SemanticIssue { message, mark, related: None, hint: hint.into(), secret: false });
    }

    /// Reports at a key (`defaults:`) rather than at its value, for problems about a section.
    fn report_at_key(&mut self, path: &str, message: String, hint: impl Into<String>) {
        let mark = self.index.key(path).or_else(|| self.at(path));
        self.issues.push(SemanticIssue { message, mark, related: None, hint: hint.into(), secret: false });
    }
}

pub fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_api_version(text: &str) -> bool {
    text.strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".0"))
        .is_some_and(|major| is_digits(major) && major.len() <= 3)
}

/// `en`, `pt_BR`, `fil`: a lowercase ISO 639 code, optionally `_` and an uppercase region.
pub fn is_language(text: &str) -> bool {
    let (language, region) = match text.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (text, None),
    };
    let language_ok = (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()));
    language_ok && region_ok
}

fn is_env_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks meaning and resolves defaults. Returns the desired state built from everything that
/// was valid, and the problems found.
pub fn check(
    manifest: &Manifest,
    index: &PositionIndex,
    base_dir: &Path,
) -> (DesiredState, Vec<SemanticIssue>) {
    let mut checker = Checker { index, issues: Vec::new() };
    let api_version = manifest.graph.as_ref().and_then(|g| g.api_version.clone());
    if let Some(version) = &api_version
        && !is_api_version(version)
    {
        checker.report(
            "graph.api_version",
            format!("`{version}` is not a Graph API version"),
            "write it like `v23.0` (a `v`, the major version, `.0`)",
        );
    }
    let defaults = manifest.defaults.clone().unwrap_or_default();
    check_language(&mut checker, "defaults.language", defaults.language.as_deref());
    check_region(
        &mut checker,
        "defaults.data_localization_region",
        defaults.data_localization_region.as_deref(),
    );
    check_pin(&mut checker, "defaults.pin", defaults.pin.as_ref());
    check_templates(&mut checker, "defaults.templates", defaults.templates.as_ref());

    if index.written_len("destinations").unwrap_or(manifest.destinations.len()) == 0 {
        checker.report(
            "destinations",
            "the manifest lists no destinations".into(),
            "add at least one entry under `destinations:` with a `waba:` and its `numbers:`",
        );
    }

    let mut destinations = Vec::new();
    let mut numbers = Vec::new();
    let mut seen_wabas: HashMap<&str, String> = HashMap::new();
    let mut seen_numbers: HashMap<PhoneNumber, String> = HashMap::new();
    let mut unpinned: Vec<PhoneNumber> = Vec::new();
    for (d, destination) in manifest.destinations.iter().enumerate() {
        let dest_path = index.item("destinations", d);
        let waba_path = child_path(&dest_path, "waba");
        let waba_ok = check_id(&mut checker, &waba_path, &destination.waba, "destination WABA id");
        if waba_ok {
            if let Some(first) = seen_wabas.get(destination.waba.as_str()) {
                let first_mark = checker.at(first);
                checker.issues.push(SemanticIssue {
                    message: format!("destination WABA {} is listed twice", destination.waba),
                    mark: checker.at(&waba_path),
                    related: first_mark.map(|m| ("first listed".to_owned(), m)),
                    hint: "list each destination WABA once and put all of its numbers under it".into(),
                    secret: false,
                });
            } else {
                seen_wabas.insert(&destination.waba, waba_path.clone());
            }
        }
        if destination.name.as_deref().is_some_and(|name| name.trim().is_empty()) {
            checker.report(
                &child_path(&dest_path, "name"),
                "the destination's `name` is empty".into(),
                "give it a label such as `acme-prod`, or remove the key",
            );
        }
        let templates_path = child_path(&dest_path, "templates");
        check_templates(&mut checker, &templates_path, destination.templates.as_ref());
        destinations.push(DesiredDestination {
            waba: destination.waba.clone(),
            name: destination.name.clone(),
            templates: template_policy(destination.templates.as_ref(), defaults.templates.as_ref()),
        });

        for (n, spec) in destination.numbers.iter().enumerate() {
            let number_path = index.item(&child_path(&dest_path, "numbers"), n);
            let phone_path = child_path(&number_path, "phone");
            let cc_path = child_path(&number_path, "cc");
            let mut cc_ok = true;
            if let Some(cc) = &spec.cc
                && !(is_digits(cc) && cc.len() <= 3)
            {
                checker.report(
                    &cc_path,
                    format!("`cc: {cc}` is not a country calling code"),
                    "write 1 to 3 digits without `+`, e.g. `cc: \"1\"`, or remove `cc` to derive it from the number",
                );
                cc_ok = false;
            }
            let phone = match (&spec.cc, cc_ok) {
                (Some(cc), true) => PhoneNumber::parse_with_cc(&spec.phone, cc),
                _ => PhoneNumber::parse(&spec.phone),
            };
            let phone = match phone {
                Ok(phone) => Some(phone),
                Err(error) => {
                    checker.report(&phone_path, error.to_string(), error.hint());
                    None
                }
            };
            if let Some(phone) = &phone {
                if let Some(first) = seen_numbers.get(phone) {
                    let first_mark = checker.at(first);
                    checker.issues.push(SemanticIssue {
                        message: format!("number {phone} is listed twice"),
                        mark: checker.at(&phone_path),
                        related: first_mark.map(|m| ("first listed".to_owned(), m)),
                        hint: "a number can live in one destination only: remove one of the two entries"
                            .into(),
                        secret: false,
                    });
                } else {
                    seen_numbers.insert(phone.clone(), phone_path.clone());
                }
            }
            let source_path = child_path(&number_path, "source_waba");
            if let Some(source) = &spec.source_waba
                && check_id(&mut checker, &source_path, source, "source WABA id")
                && *source == destination.waba
            {
                checker.report(
                    &source_path,
                    format!(
                        "number {} has source_waba {source}, the same WABA as its destination",
                        display_phone(&phone, &spec.phone)
                    ),
                    "a migration moves a number between two WABAs: fix `source_waba`, or remove the number if it is already where it belongs",
                );
            }
            let language_path = child_path(&number_path, "language");
            check_language(&mut checker, &language_path, spec.language.as_deref());
            let region_path = child_path(&number_path, "data_localization_region");
            check_region(&mut checker, &region_path, spec.data_localization_region.as_deref());
            let pin_path = child_path(&number_path, "pin");
            check_pin(&mut checker, &pin_path, spec.pin.as_ref());

            let register = spec.register.or(defaults.register).unwrap_or(true);
            let pin = spec.pin.clone().or_else(|| defaults.pin.clone());
            if register && pin.is_none() && spec.pin.is_none() && index.key(&pin_path).is_none() {
                if spec.register == Some(true) {
                    checker.report(
                        &phone_path,
                        format!("number {} has `register: true` but no `pin`", display_phone(&phone, &spec.phone)),
                        "add `pin: { env: WAMIG_PIN }` to this number or under `defaults:`, or set `register: false`",
                    );
                } else if let Some(phone) = &phone
                    && !unpinned.contains(phone)
                {
                    unpinned.push(phone.clone());
                }
            }
            let Some(phone) = phone else { continue };
            numbers.push(DesiredNumber {
                phone,
                destination_waba: destination.waba.clone(),
                source_waba: spec.source_waba.clone(),
                code_method: spec.code_method.or(defaults.code_method).unwrap_or(CodeMethod::Sms),
                language: spec
                    .language
                    .clone()
                    .or_else(|| defaults.language.clone())
                    .unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned()),
                register,
                pin: pin.map(|pin| match pin {
                    SecretRef::File { file } if file.is_relative() => {
                        SecretRef::File { file: base_dir.join(file) }
                    }
                    other => other,
                }),
                data_localization_region: spec
                    .data_localization_region
                    .clone()
                    .or_else(|| defaults.data_localization_region.clone()),
                line: checker.at(&number_path).map(|m| m.line).unwrap_or(0),
            });
        }
    }
    // One problem for all numbers that inherit `register: true` without a PIN: the fix is one
    // line under `defaults`, and a hundred identical errors would bury the others.
    if !unpinned.is_empty() && index.key("defaults.pin").is_none() {
        let shown: Vec<String> = unpinned.iter().take(3).map(PhoneNumber::e164).collect();
        let more = unpinned.len().saturating_sub(shown.len());
        let path = if index.key("defaults").is_some() { "defaults" } else { "destinations" };
        checker.report_at_key(
            path,
            format!(
                "{} number{} will be registered (`register` defaults to true) but no `pin` is set: {}{}",
                unpinned.len(),
                if unpinned.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ),
            "add `pin: { env: WAMIG_PIN }` under `defaults:`, or set `register: false` where a number must not be registered",
        );
    }
    let written_destinations = index.written_len("destinations").unwrap_or(0);
    let written_numbers: usize = (0..written_destinations)
        .filter_map(|d| index.written_len(&format!("destinations[{d}].numbers")))
        .sum();
    if written_destinations > 0 && written_numbers == 0 {
        checker.report(
            "destinations",
            "the manifest lists no numbers".into(),
            "add the numbers to migrate under a destination's `numbers:`, e.g. `- phone: \"+16315555555\"`",
        );
    }
    (DesiredState { api_version, destinations, numbers }, checker.issues)
}

fn display_phone(phone: &Option<PhoneNumber>, written: &str) -> String {
    phone.as_ref().map(PhoneNumber::e164).unwrap_or_else(|| written.trim().to_owned())
}

fn check_id(checker: &mut Checker<'_>, path: &str, id: &str, what: &str) -> bool {
    if is_digits(id) {
        return true;
    }
    checker.report(
        path,
        format!("{what} `{id}` is not made of digits"),
        "copy the id from WhatsApp Manager or Business Settings (digits only, quoted: \"104996122399160\")",
    );
    false
}

fn check_language(checker: &mut Checker<'_>, path: &str, language: Option<&str>) {
    if let Some(language) = language
        && !is_language(language)
    {
        checker.report(
            path,
            format!("`{language}` is not a language code"),
            "write a language like `en_US`, `pt_BR` or `es` (lowercase language, optional `_` and uppercase region)",
        );
    }
}

fn check_region(checker: &mut Checker<'_>, path: &str, region: Option<&str>) {
    if let Some(region) = region
        && !(region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase()))
    {
        checker.report(
            path,
            format!("`{region}` is not a data localization region"),
            "write the 2-letter country code of the local storage in capitals, like `IN` or `DE` (Meta lists the supported ones in its registration guide)",
        );
    }
}

/// Each key of a destination's `templates:` overrides the same key of `defaults.templates`.
fn template_policy(own: Option<&TemplateSettings>, defaults: Option<&TemplateSettings>) -> TemplatePolicy {
    let ensure = own.and_then(|t| t.ensure).or(defaults.and_then(|t| t.ensure)).unwrap_or(false);
    let mut except: Vec<String> = own
        .and_then(|t| t.except.clone())
        .or_else(|| defaults.and_then(|t| t.except.clone()))
        .unwrap_or_default();
    except.sort();
    except.dedup();
    TemplatePolicy { ensure, except }
}

/// Meta's template names: lower-case letters, digits and underscores, at most 512 characters.
pub fn is_template_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 512
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_templates(checker: &mut Checker<'_>, path: &str, templates: Option<&TemplateSettings>) {
    let Some(except) = templates.and_then(|t| t.except.as_ref()) else { return };
    let except_path = child_path(path, "except");
    for (i, name) in except.iter().enumerate() {
        if !is_template_name(name) {
            let item = checker.index.item(&except_path, i);
            checker.report(
                &item,
                format!("`{name}` is not a template name"),
                "write the name as WhatsApp Manager shows it: lower-case letters, digits and `_`, like `winback_offer`",
            );
        }
    }
}

fn check_pin(checker: &mut Checker<'_>, path: &str, pin: Option<&SecretRef>) {
    match pin {
        Some(SecretRef::Env { env }) if !is_env_name(env) => {
            let mark = checker.at(path);
            checker.issues.push(SemanticIssue {
                message: "the PIN's environment variable name is not valid".into(),
                mark,
                related: None,
                hint: "name the variable with letters, digits and `_` only, e.g. `pin: { env: WAMIG_PIN }`"
                    .into(),
                secret: true,
            });
        }
        Some(SecretRef::File { file }) if file.as_os_str().is_empty() => {
            checker.report(path, "the PIN's file path is empty".into(), "write `pin: { file: path/to/pin }`");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_language_formats() {
        assert!(is_api_version("v23.0"));
        assert!(!is_api_version("23.0"));
        assert!(!is_api_version("v23.1"));
        assert!(!is_api_version("v.0"));
        assert!(is_language("en_US"));
        assert!(is_language("es"));
        assert!(is_language("fil"));
        assert!(!is_language("en-US"));
        assert!(!is_language("EN_us"));
        assert!(!is_language("english"));
    }
}
