//! Owns `wamig import`: a manifest written from live state, either keeping the numbers of some
//! WABAs where they are (`--waba`) or moving every number of source WABAs to destinations
//! (`--from`/`--to` pairs). It reads with `observe` (the same multi-id requests as `plan`),
//! decides which numbers cannot move with the planner's own checks, and leaves the YAML text to
//! `write`. It changes nothing live and never writes a secret: PINs are referenced as
//! `{ env: WAMIG_PIN }`.

pub mod write;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, ToDiagnostics};
use crate::graph::GraphClient;
use crate::journal::Journal;
use crate::manifest::check::{DEFAULT_LANGUAGE, is_digits};
use crate::manifest::{CodeMethod, DesiredDestination, DesiredNumber, DesiredState, PhoneNumber, SecretRef};
use crate::observe::{Access, NumberView, Snapshot, WabaView};
use crate::plan::{CheckStatus, Plan};
use crate::ui::Ui;
use crate::{Error, ExitStatus};

/// The environment variable the written manifest points PINs at.
pub const PIN_ENV: &str = "WAMIG_PIN";

/// Which WABAs to import and what the manifest must do with their numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `--waba`: keep these WABAs' numbers where they are.
    Keep(Vec<String>),
    /// `--from SOURCE --to DEST` pairs: move every number of each source to its destination.
    Move(Vec<(String, String)>),
}

impl Selection {
    /// Checks the command line's ids: digits, `--from` and `--to` paired in the order given, a
    /// source never its own destination nor the source of two pairs.
    pub fn from_args(wabas: &[String], from: &[String], to: &[String]) -> Result<Selection, ImportError> {
        let digits = |flag: &'static str, id: &String| {
            let id = id.trim();
            if is_digits(id) {
                Ok(id.to_owned())
            } else {
                Err(ImportError::NotAnId { flag, value: id.to_owned() })
            }
        };
        if from.is_empty() && to.is_empty() {
            let mut seen = BTreeSet::new();
            let mut ids = Vec::new();
            for id in wabas {
                let id = digits("--waba", id)?;
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            return if ids.is_empty() { Err(ImportError::NothingSelected) } else { Ok(Selection::Keep(ids)) };
        }
        if !wabas.is_empty() {
            return Err(ImportError::Mixed);
        }
        if from.len() != to.len() {
            return Err(ImportError::Unpaired { from: from.len(), to: to.len() });
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (source, destination) in from.iter().zip(to) {
            let (source, destination) = (digits("--from", source)?, digits("--to", destination)?);
            if source == destination {
                return Err(ImportError::SameWaba { waba: source });
            }
            if let Some((_, first)) = pairs.iter().find(|(s, _)| *s == source) {
                if *first == destination {
                    continue;
                }
                return Err(ImportError::SourceTwice {
                    waba: source,
                    first: first.clone(),
                    second: destination,
                });
            }
            pairs.push((source, destination));
        }
        Ok(Selection::Move(pairs))
    }

    /// Every WABA to read, in the order given, without repeats.
    pub fn wabas(&self) -> Vec<String> {
        let all: Vec<&String> = match self {
            Selection::Keep(ids) => ids.iter().collect(),
            Selection::Move(pairs) => pairs.iter().flat_map(|(s, d)| [s, d]).collect(),
        };
        let mut seen = BTreeSet::new();
        all.into_iter().filter(|id| seen.insert(id.as_str())).cloned().collect()
    }

    /// The command line that made this selection, for the manifest's header.
    pub fn command_line(&self) -> String {
        let mut line = "wamig import".to_owned();
        match self {
            Selection::Keep(ids) => ids.iter().for_each(|id| line.push_str(&format!(" --waba {id}"))),
            Selection::Move(pairs) => {
                pairs.iter().for_each(|(s, d)| line.push_str(&format!(" --from {s} --to {d}")))
            }
        }
        line
    }
}

/// Why a number is written commented out, and what would let it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub message: String,
    pub fix: String,
}

/// One number as import writes it: an entry of the manifest, or a commented-out one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// E.164 when Graph's display number reads as one, else what Graph showed.
    pub phone: String,
    pub verified_name: Option<String>,
    pub source_waba: Option<String>,
    pub register: bool,
    /// Empty for a number written as an entry.
    pub left_out: Vec<Reason>,
}

impl Entry {
    pub fn is_written(&self) -> bool {
        self.left_out.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDestination {
    pub waba: String,
    /// The WABA's name in Graph, written as the destination's `name:` label.
    pub name: Option<String>,
    /// In E.164 order.
    pub entries: Vec<Entry>,
}

/// The manifest import writes, before it becomes text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub selection: Selection,
    /// Written under `graph:` when the version was chosen on the command line.
    pub api_version: Option<String>,
    /// Names of the source WABAs, for the header.
    pub source_names: Vec<(String, Option<String>)>,
    pub destinations: Vec<ImportedDestination>,
    /// What the next plan will block on though every number may move (a destination without a
    /// payment method, say): said on stderr, not written.
    pub warnings: Vec<String>,
}

impl Imported {
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.destinations.iter().flat_map(|d| d.entries.iter())
    }

    /// What most written numbers do, factored out under `defaults` (true on a tie).
    pub fn default_register(&self) -> bool {
        let (yes, no) = self
            .entries()
            .filter(|e| e.is_written())
            .fold((0, 0), |(yes, no), e| if e.register { (yes + 1, no) } else { (yes, no + 1) });
        yes >= no
    }

    /// Some written number is registered, so the manifest needs a PIN reference.
    pub fn needs_pin(&self) -> bool {
        self.entries().any(|e| e.is_written() && e.register)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("`{flag} {value}` is not a WABA id")]
    NotAnId { flag: &'static str, value: String },
    #[error("import needs at least one --waba, or --from and --to pairs")]
    NothingSelected,
    #[error("--waba cannot be combined with --from/--to")]
    Mixed,
    #[error("{from} --from and {to} --to: they go in pairs")]
    Unpaired { from: usize, to: usize },
    #[error("--from {waba} --to {waba}: a number cannot move to the WABA it is in")]
    SameWaba { waba: String },
    #[error("WABA {waba} is the source of two pairs (--to {first} and --to {second})")]
    SourceTwice { waba: String, first: String, second: String },
    #[error("{} cannot be read by this token: {}", plural_wabas(wabas), describe(wabas))]
    Unreadable { wabas: Vec<(String, String)> },
    #[error("nothing to import: {}", what)]
    NothingToImport { what: String, left_out: Vec<String> },
    #[error("{} exists; wamig import does not overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write the manifest to {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The written text did not pass `wamig validate`: a bug in import, never written out.
    #[error("the manifest import wrote does not pass validation: {message}")]
    Invalid { message: String },
}

fn plural_wabas(wabas: &[(String, String)]) -> String {
    let ids: Vec<&str> = wabas.iter().map(|(id, _)| id.as_str()).collect();
    match ids.as_slice() {
        [one] => format!("WABA {one}"),
        many => format!("WABAs {}", many.join(", ")),
    }
}

fn describe(wabas: &[(String, String)]) -> String {
    match wabas {
        [(_, reason)] => reason.clone(),
        many => many.iter().map(|(id, reason)| format!("{id}: {reason}")).collect::<Vec<_>>().join("; "),
    }
}

impl ToDiagnostics for ImportError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let hint = match self {
            ImportError::NotAnId { .. } => {
                "give the WABA id in digits, as WhatsApp Manager or Business settings shows it".to_owned()
            }
            ImportError::NothingSelected | ImportError::Mixed => {
                "write `wamig import --waba ID` to keep numbers where they are, or `wamig import --from SOURCE --to DEST` to move them".to_owned()
            }
            ImportError::Unpaired { .. } => {
                "give each source its destination: `--from SOURCE --to DEST`, repeated per pair".to_owned()
            }
            ImportError::SameWaba { .. } => "give the destination WABA after --to".to_owned(),
            ImportError::SourceTwice { .. } => {
                "a number can live in one destination only: give each source WABA one --to".to_owned()
            }
            ImportError::Unreadable { wabas } => format!(
                "grant the token access to {}: in Business settings → Users → System users, assign the WABA to the system user, and make sure the token has whatsapp_business_management",
                plural_wabas(wabas)
            ),
            ImportError::NothingToImport { left_out, .. } if !left_out.is_empty() => {
                format!("every number is left out: {}", left_out.join("; "))
            }
            ImportError::NothingToImport { .. } => {
                "check the WABA ids: a manifest needs at least one number".to_owned()
            }
            ImportError::Exists { .. } => {
                "pass --force to replace it, or write to another file with -o".to_owned()
            }
            ImportError::Write { .. } => "check that the directory exists and is writable".to_owned(),
            ImportError::Invalid { .. } => {
                "this is a bug in wamig import: please report it with the WABAs' shape (never the token)".to_owned()
            }
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}

/// Decides what to write from the observed WABAs. Pure: the planner judges who can move.
pub fn build(
    selection: &Selection,
    snapshot: &Snapshot,
    api_version: Option<String>,
) -> Result<Imported, ImportError> {
    let unreadable: Vec<(String, String)> = selection
        .wabas()
        .into_iter()
        .filter_map(|id| {
            let reason = match snapshot.waba(&id) {
                None => "Graph returned nothing for it".to_owned(),
                Some(WabaView { access: Access::Unreadable { reason }, .. }) => reason.clone(),
                Some(waba) if waba.numbers.is_none() => "its phone numbers could not be listed".to_owned(),
                Some(_) => return None,
            };
            Some((id, reason))
        })
        .collect();
    if !unreadable.is_empty() {
        return Err(ImportError::Unreadable { wabas: unreadable });
    }
    let waba = |id: &str| snapshot.waba(id).cloned().unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut imported = Imported {
        selection: selection.clone(),
        api_version,
        source_names: Vec::new(),
        destinations: Vec::new(),
        warnings: Vec::new(),
    };
    match selection {
        Selection::Keep(ids) => {
            for id in ids {
                let view = waba(id);
                let entries = live_numbers(&view).map(|node| keep_entry(&view, node, &mut seen)).collect();
                imported.destinations.push(ImportedDestination {
                    waba: id.clone(),
                    name: label(&view),
                    entries,
                });
            }
        }
        Selection::Move(pairs) => {
            for (source, destination) in pairs {
                let view = waba(source);
                imported.source_names.push((source.clone(), label(&view)));
                let entries: Vec<Entry> =
                    live_numbers(&view).map(|node| move_entry(&view, node, &mut seen)).collect();
                match imported.destinations.iter_mut().find(|d| d.waba == *destination) {
                    Some(found) => found.entries.extend(entries),
                    None => imported.destinations.push(ImportedDestination {
                        waba: destination.clone(),
                        name: label(&waba(destination)),
                        entries,
                    }),
                }
            }
            judge_moves(&mut imported, snapshot);
        }
    }
    for destination in &mut imported.destinations {
        destination.entries.sort_by(|a, b| a.phone.cmp(&b.phone));
    }
    if !imported.entries().any(Entry::is_written) {
        let wabas = selection.wabas().iter().map(|id| format!("WABA {id}")).collect::<Vec<_>>();
        let left_out: Vec<String> = imported
            .entries()
            .map(|e| {
                let reasons: Vec<&str> = e.left_out.iter().map(|r| r.message.as_str()).collect();
                format!("{} ({})", e.phone, reasons.join(", "))
            })
            .collect();
        let what = if left_out.is_empty() {
            format!("{} list no phone numbers", wabas.join(", "))
        } else {
            format!("no number of {} can be written", wabas.join(", "))
        };
        return Err(ImportError::NothingToImport { what, left_out });
    }
    Ok(imported)
}

/// A WABA's name, when it has a usable one (the manifest refuses an empty `name`).
fn label(waba: &WabaView) -> Option<String> {
    waba.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned)
}

/// Numbers living in the WABA: a MIGRATED listing only remembers one that left.
fn live_numbers(waba: &WabaView) -> impl Iterator<Item = &NumberView> {
    waba.numbers.iter().flatten().filter(|node| !node.is_migrated_away())
}

/// The entry for a listed number, or a reason it cannot be written at all.
fn entry(waba: &WabaView, node: &NumberView, seen: &mut BTreeSet<String>) -> Entry {
    let shown = node.display_phone_number.clone().unwrap_or_else(|| format!("+{}", node.digits));
    let mut entry = Entry {
        phone: shown.clone(),
        verified_name: node.verified_name.clone(),
        source_waba: None,
        register: crate::migration::is_registered(node),
        left_out: Vec::new(),
    };
    match PhoneNumber::from_digits(&node.digits) {
        Ok(phone) => entry.phone = phone.e164(),
        Err(error) => {
            entry.left_out.push(Reason {
                message: format!(
                    "WABA {} lists {shown} (id {}), which is not an E.164 number: {error}",
                    waba.id, node.id
                ),
                fix: format!("write it by hand with `cc:` if Graph's number is right: {}", error.hint()),
            });
            return entry;
        }
    }
    if !seen.insert(entry.phone.clone()) {
        entry.left_out.push(Reason {
            message: format!(
                "{} is listed by more than one of the WABAs read; WABA {} lists it too",
                entry.phone, waba.id
            ),
            fix: "keep the entry where the number lives (WhatsApp Manager shows it) and remove the other"
                .into(),
        });
    }
    entry
}

fn not_verified(waba: &WabaView, node: &NumberView, e164: &str) -> Reason {
    Reason {
        message: format!(
            "{e164} is listed by WABA {} but not verified there (code_verification_status {}): a migration into that WABA has started and not finished",
            waba.id,
            node.code_verification_status.as_ref().map_or("unknown", |s| s.as_str())
        ),
        fix: "finish that migration (a manifest naming its source, then `wamig apply`) or let it lapse, then import again".into(),
    }
}

fn keep_entry(waba: &WabaView, node: &NumberView, seen: &mut BTreeSet<String>) -> Entry {
    let mut entry = entry(waba, node, seen);
    if entry.is_written() && !node.is_verified() {
        entry.left_out.push(not_verified(waba, node, &entry.phone));
    }
    entry
}

fn move_entry(source: &WabaView, node: &NumberView, seen: &mut BTreeSet<String>) -> Entry {
    let mut entry = entry(source, node, seen);
    entry.source_waba = Some(source.id.clone());
    if entry.is_written() && !node.is_verified() {
        entry.left_out.push(not_verified(source, node, &entry.phone));
    }
    entry
}

/// Plans the moves as the manifest will state them and comments out every number a number
/// check fails for (test number, WhatsApp Business app, two-step verification, display name),
/// with the planner's own message and hint. Checks of the WABAs do not take a number out: the
/// plan shows them, and import warns.
fn judge_moves(imported: &mut Imported, snapshot: &Snapshot) {
    let plan = plan_of(imported, snapshot);
    let mut warnings = BTreeSet::new();
    for destination in &mut imported.destinations {
        for entry in destination.entries.iter_mut().filter(|e| e.is_written()) {
            let Some(number) = plan.number(&entry.phone) else { continue };
            for check in number.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
                let hint = check.hint.clone().unwrap_or_default();
                if check.id.starts_with("number.") && check.id != "number.in_source" {
                    entry.left_out.push(Reason { message: check.message.clone(), fix: hint });
                } else {
                    warnings.insert(format!("{}: {}; hint: {hint}", check.id, check.message));
                }
            }
        }
    }
    imported.warnings = warnings.into_iter().collect();
}

/// The plan of what `imported` writes (its written numbers), against the same snapshot.
pub fn plan_of(imported: &Imported, snapshot: &Snapshot) -> Plan {
    let desired = desired_state(imported);
    crate::plan::plan(&desired, "", snapshot, &Journal::new(), jiff::Timestamp::UNIX_EPOCH)
}

fn desired_state(imported: &Imported) -> DesiredState {
    let destinations = imported
        .destinations
        .iter()
        .map(|d| DesiredDestination {
            waba: d.waba.clone(),
            name: d.name.clone(),
            templates: Default::default(),
        })
        .collect();
    let numbers = imported
        .destinations
        .iter()
        .flat_map(|d| d.entries.iter().filter(|e| e.is_written()).map(move |e| (d, e)))
        .filter_map(|(d, e)| {
            Some(DesiredNumber {
                phone: PhoneNumber::parse(&e.phone).ok()?,
                destination_waba: d.waba.clone(),
                source_waba: e.source_waba.clone(),
                code_method: CodeMethod::Sms,
                language: DEFAULT_LANGUAGE.to_owned(),
                register: e.register,
                pin: e.register.then(|| SecretRef::Env { env: PIN_ENV.to_owned() }),
                data_localization_region: None,
                line: 0,
            })
        })
        .collect();
    DesiredState { api_version: imported.api_version.clone(), destinations, numbers }
}

pub struct ImportOptions {
    pub selection: Selection,
    /// `-o FILE`; stdout when absent.
    pub output: Option<PathBuf>,
    pub force: bool,
    /// `--api-version` when given, pinned in the manifest.
    pub api_version: Option<String>,
}

/// `wamig import`: observe the WABAs, decide, write the manifest, say what was left out.
pub async fn run(client: &GraphClient, options: &ImportOptions, ui: &Ui) -> Result<ExitStatus, Error> {
    // Refused before any request: a manifest under review must not be replaced by accident.
    if let Some(path) = &options.output
        && !options.force
        && path.exists()
    {
        return Err(ImportError::Exists { path: path.clone() }.into());
    }
    let snapshot = crate::observe::observe_wabas(client, &options.selection.wabas(), ui).await?;
    let imported = build(&options.selection, &snapshot, options.api_version.clone())?;
    let text = write::render(&imported);
    let path = options.output.clone().unwrap_or_else(|| PathBuf::from("wamig.yaml"));
    crate::manifest::parse(&text, &path).map_err(|error| ImportError::Invalid {
        message: error.diagnostics().iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; "),
    })?;
    for warning in &imported.warnings {
        ui.warn("import_blocked", &format!("the next plan will block on {warning}"));
    }
    match &options.output {
        None => ui.out(&text),
        Some(path) => save(path, &text, options.force)?,
    }
    let written = imported.entries().filter(|e| e.is_written()).count();
    let left_out = imported.entries().filter(|e| !e.is_written()).count();
    let mut summary = format!(
        "{written} number{} written into {} destination{}",
        if written == 1 { "" } else { "s" },
        imported.destinations.len(),
        if imported.destinations.len() == 1 { "" } else { "s" }
    );
    if left_out > 0 {
        summary.push_str(&format!("; {left_out} commented out with the reason and the fix"));
    }
    if let Some(path) = &options.output {
        summary.push_str(&format!(
            "; wrote {}: check it with `wamig plan -f {}`",
            path.display(),
            path.display()
        ));
    }
    ui.info("imported", &summary);
    Ok(ExitStatus::Success)
}

/// Writes the file whole or not at all; without `force`, never over a file that appeared since.
fn save(path: &Path, text: &str, force: bool) -> Result<(), ImportError> {
    let failed = |source| ImportError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".wamig-import");
    // A manifest is committed and read by CI, not a private file like the journal.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut file = builder.tempfile_in(&dir).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    let persisted = if force { file.persist(path) } else { file.persist_noclobber(path) };
    persisted.map(|_| ()).map_err(|error| {
        if error.error.kind() == std::io::ErrorKind::AlreadyExists {
            ImportError::Exists { path: path.to_path_buf() }
        } else {
            failed(error.error)
        }
    })
}

#[cfg(test)]
mod tests;
