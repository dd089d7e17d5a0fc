//! What a run concludes and how it is told: failures, reports, errors, and
//! the explanations that go with them.

pub(crate) mod error;
pub(crate) mod explain;
pub(crate) mod failure;
pub(crate) mod report;
