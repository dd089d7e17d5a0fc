//! The integration tests: one crate, a module per area (as ripgrep's
//! `tests/tests.rs`), sharing the repository builder and the fixed test keys
//! of `support`. Run one area with `cargo test --test integration attacks::`.

mod support;

mod attacks;
mod audit;
#[cfg(feature = "fast-verify")]
mod bench_generator;
mod cache_security;
mod channel;
mod ci_templates;
mod cli;
mod cli_security;
mod docs;
mod doctor;
mod fingerprint_characters;
mod finish;
mod gate;
mod github_encodings;
mod guile_reader;
mod guix_differential;
mod guix_signatures;
mod hooks;
mod hostile_files;
mod hostile_output;
mod layers;
mod library_api;
mod policy;
mod properties;
mod pull_api;
mod real_channels;
mod rule_citations;
mod scenario_builder;
mod scenarios;
mod servers;
