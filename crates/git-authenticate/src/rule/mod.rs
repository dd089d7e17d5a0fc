//! The rule applied to commits: the interrupt flag, what is remembered of
//! parents, the rule for one commit, the commits to check, the threads
//! that check them, what they tally, and the tally made exact.

pub(crate) mod commit;
pub(crate) mod interrupt;
pub(crate) mod memo;
pub(crate) mod pipeline;
pub(crate) mod settle;
pub(crate) mod tally;
pub(crate) mod walk;
