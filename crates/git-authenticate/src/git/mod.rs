//! What git stores, read as a hostile server may have written it: every
//! object verified, files opened without following links, git's
//! substitutions refused or named.

pub(crate) mod commit;
pub(crate) mod input;
pub(crate) mod objects;
pub(crate) mod open;
pub(crate) mod replace;
pub(crate) mod settings;
