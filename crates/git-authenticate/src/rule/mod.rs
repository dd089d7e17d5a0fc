//! The rule applied to commits: the interrupt flag, what is remembered of parents, the rule for one commit, the commits to check and the threads that check them.

pub(crate) mod commit;
pub(crate) mod interrupt;
pub(crate) mod memo;
pub(crate) mod pipeline;
pub(crate) mod walk;
