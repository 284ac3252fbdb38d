//! Helpers for tests that need worlds and manifests beyond the example: manifests written from a
//! list of numbers, the example world with small edits, and generated worlds with many numbers,
//! templates and subscribed apps (to cross page boundaries and the Markdown size limit).

// Helpers are shared by several modules; not each module uses each one.
#![allow(dead_code)]

use std::fmt::Write as _;

use crate::support::{ACME_TOKEN, DESTINATION_WABA, SOURCE_WABA};

/// A manifest putting each `(phone, source_waba)` into `destination`, PIN from `WAMIG_PIN`.
pub fn manifest(destination: &str, numbers: &[(&str, Option<&str>)]) -> String {
    let mut text = format!(
        "version: 1\ndefaults:\n  pin: {{ env: WAMIG_PIN }}\ndestinations:\n  - waba: \"{destination}\"\n    numbers:\n"
    );
    for (phone, source) in numbers {
        let _ = writeln!(text, "      - phone: \"{phone}\"");
        if let Some(source) = source {
            let _ = writeln!(text, "        source_waba: \"{source}\"");
        }
    }
    text
}

/// One number of the example world's source WABA into its destination.
pub fn one_number(phone: &str) -> String {
    manifest(DESTINATION_WABA, &[(phone, Some(SOURCE_WABA))])
}

/// The example world with each `(from, to)` text replaced (each must occur).
pub fn example_world_with(edits: &[(&str, &str)]) -> String {
    let mut world = wamig::sandbox::EXAMPLE_WORLD.to_owned();
    for (from, to) in edits {
        assert!(world.contains(from), "the example world has no `{from}`");
        world = world.replacen(from, to, 1);
    }
    world
}

/// A generated world: one source WABA with `source_numbers` numbers and `templates` templates,
/// one destination with `unmanaged` numbers of its own and `apps` subscribed apps, both of one
/// business; `ACME_TOKEN` reads the source and manages the destination.
pub struct GenWorld {
    pub page_size: u32,
    pub source_numbers: usize,
    pub unmanaged: usize,
    pub apps: usize,
    pub templates: usize,
    pub app_secret: Option<&'static str>,
}

impl Default for GenWorld {
    fn default() -> Self {
        GenWorld { page_size: 25, source_numbers: 1, unmanaged: 0, apps: 1, templates: 0, app_secret: None }
    }
}

/// The `i`-th number of a generated source, as the manifest writes it.
pub fn gen_source_phone(i: usize) -> String {
    format!("+1 631-555-{:04}", 1000 + i)
}

pub fn gen_source_id(i: usize) -> String {
    format!("{}", 106_600_000_000_000u64 + i as u64)
}

pub fn gen_unmanaged_phone(i: usize) -> String {
    format!("+1 632-555-{:04}", 1000 + i)
}

impl GenWorld {
    pub fn yaml(&self) -> String {
        let mut w = String::new();
        let _ = writeln!(w, "options:\n  page_size: {}", self.page_size);
        let _ = writeln!(w, "app:\n  id: \"100000000000001\"\n  name: wamig sandbox app");
        if let Some(secret) = self.app_secret {
            let _ = writeln!(w, "  secret: \"{secret}\"");
        }
        let _ = writeln!(w, "businesses:\n  - id: \"111111111111111\"\n    name: Acme Retail Ltd");
        let _ = writeln!(w, "wabas:");
        let _ = writeln!(
            w,
            "  - id: \"{SOURCE_WABA}\"\n    name: gen-source\n    business: \"111111111111111\"\n    primary_funding_id: \"5550000000000001\""
        );
        if self.templates > 0 {
            let _ = writeln!(w, "    templates:");
            for i in 0..self.templates {
                let _ = writeln!(
                    w,
                    "      - {{ name: template_{i:03}, category: UTILITY, status: APPROVED, quality_score: GREEN }}"
                );
            }
        }
        if self.source_numbers > 0 {
            let _ = writeln!(w, "    phone_numbers:");
            for i in 0..self.source_numbers {
                let _ = writeln!(
                    w,
                    "      - {{ id: \"{}\", display_phone_number: \"{}\", verified_name: Acme {i} }}",
                    gen_source_id(i),
                    gen_source_phone(i)
                );
            }
        }
        let _ = writeln!(
            w,
            "  - id: \"{DESTINATION_WABA}\"\n    name: gen-destination\n    business: \"111111111111111\"\n    primary_funding_id: \"5550000000000002\""
        );
        if self.apps > 0 {
            let _ = writeln!(w, "    subscribed_apps:");
            for i in 0..self.apps {
                let _ =
                    writeln!(w, "      - {{ id: \"{}\", name: App {i} }}", 300_000_000_000_000u64 + i as u64);
            }
        }
        if self.unmanaged > 0 {
            let _ = writeln!(w, "    phone_numbers:");
            for i in 0..self.unmanaged {
                let _ = writeln!(
                    w,
                    "      - {{ id: \"{}\", display_phone_number: \"{}\", verified_name: Other {i} }}",
                    107_600_000_000_000u64 + i as u64,
                    gen_unmanaged_phone(i)
                );
            }
        }
        let _ = writeln!(
            w,
            "tokens:\n  - token: {ACME_TOKEN}\n    read: [\"{SOURCE_WABA}\"]\n    manage: [\"{DESTINATION_WABA}\"]"
        );
        w
    }
}
