//! What a channel records: its introduction, the `.guix-authorizations`
//! file, its `.guix-channel` metadata, channels files, and the
//! configuration recorded for it.

pub(crate) mod authorizations;
pub(crate) mod configuration;
pub(crate) mod files;
pub(crate) mod introduction;
pub(crate) mod metadata;
