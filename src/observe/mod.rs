//! Owns observation: reading the live state of every WABA and number the manifest names into one
//! [`Snapshot`], with as few round trips as Graph allows. It decides nothing about migrations.

pub mod snapshot;

pub use snapshot::{
    Access, AppRef, BusinessRef, NumberView, Presence, Snapshot, TemplateView, TokenView, WabaView,
};
