//! The caller's interrupt flag, as every long loop of a run checks it.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::verdict::error::Error;

/// A flag the caller sets to stop a run; checked between commits, so that
/// a run stops within milliseconds.
#[derive(Clone, Copy)]
pub(crate) struct Interrupt<'a>(&'a AtomicBool);

/// The flag of a caller that never interrupts.
static NEVER: AtomicBool = AtomicBool::new(false);

impl<'a> Interrupt<'a> {
    pub fn new(flag: Option<&'a AtomicBool>) -> Self {
        Interrupt(flag.unwrap_or(&NEVER))
    }

    /// [`Error::Interrupted`] once the caller has set the flag.
    pub fn check(self) -> Result<(), Error> {
        match self.0.load(Ordering::Relaxed) {
            true => Err(Error::Interrupted),
            false => Ok(()),
        }
    }
}
