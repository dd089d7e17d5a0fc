//! The memory budget of a keyring's fixed-base tables (DSA's in
//! `openpgp::dsa`, Ed25519's in `openpgp::ed25519`), and when a key earns
//! them: apart so that the keyring, the verification and the tables all
//! use it.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::OnceLock;

/// The memory the tables of one keyring may take together: keys past it
/// verify without tables, so that a keyring of many keys (a hostile one
/// has up to [`crate::openpgp::keyring::MAX_KEYS`]) cannot grow memory
/// without bound.
#[derive(Debug)]
#[cfg_attr(not(feature = "fast-verify"), allow(dead_code))]
pub(crate) struct TableBudget {
    used: std::sync::atomic::AtomicUsize,
    cap: usize,
    /// Tables built, for tests and figures.
    built: std::sync::atomic::AtomicUsize,
}

/// [`TableBudget`]'s cap by default: 32 MiB, the tables of 13 DSA-3072
/// keys, 18 DSA-2048 keys or 49 Ed25519 keys (in GNU Guix, 3 DSA keys
/// earn tables, 4.6 MiB, and 5 Ed25519 keys, 3.2 MiB).
pub(crate) const TABLE_BUDGET: usize = 32 << 20;

impl Default for TableBudget {
    fn default() -> Self {
        TableBudget::new(TABLE_BUDGET)
    }
}

#[cfg_attr(not(feature = "fast-verify"), allow(dead_code))]
impl TableBudget {
    pub(crate) fn new(cap: usize) -> Self {
        TableBudget {
            used: Default::default(),
            cap,
            built: Default::default(),
        }
    }

    /// Takes `bytes` from the budget, if that many are left.
    fn reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Relaxed, Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.cap)
            })
            .is_ok()
    }

    /// Tables of `bytes` made by `compute`, if the budget has room for
    /// them: `None` (nothing taken) when it has not, or `compute` fails.
    pub(crate) fn build<T>(&self, bytes: usize, compute: impl FnOnce() -> Option<T>) -> Option<T> {
        if !self.reserve(bytes) {
            return None;
        }
        let tables = compute();
        match &tables {
            Some(_) => self.built.fetch_add(1, Relaxed),
            None => self.used.fetch_sub(bytes, Relaxed),
        };
        tables
    }

    /// Bytes taken by the tables built so far.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// How many keys have tables.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn tables_built(&self) -> usize {
        self.built.load(Relaxed)
    }
}

/// Tables a key earns by use: built once, by the verification that brings
/// the signatures the reference implementation accepted to a threshold,
/// so that a key gets tables only once the reference has shown it takes
/// the key. Meanwhile other threads verify without them, or wait for
/// them if they reach the threshold too.
#[derive(Debug)]
#[cfg_attr(not(feature = "fast-verify"), allow(dead_code))]
pub(crate) struct Earned<T> {
    /// Signatures accepted, up to about the threshold: counting stops
    /// once the tables are decided.
    uses: AtomicU32,
    /// `None` inside when the budget was spent or the build failed.
    tables: OnceLock<Option<T>>,
}

#[cfg_attr(not(feature = "fast-verify"), allow(dead_code))]
impl<T> Earned<T> {
    pub(crate) fn new() -> Self {
        Earned {
            uses: AtomicU32::new(0),
            tables: OnceLock::new(),
        }
    }

    /// The tables, once built.
    pub(crate) fn get(&self) -> Option<&T> {
        self.tables.get()?.as_ref()
    }

    /// Counts a signature the reference accepted; the one that reaches
    /// `threshold` builds the tables with `build`.
    pub(crate) fn count(&self, threshold: u32, build: impl FnOnce() -> Option<T>) {
        if self.tables.get().is_some() {
            return;
        }
        if self.uses.fetch_add(1, Relaxed) + 1 >= threshold {
            self.tables.get_or_init(build);
        }
    }
}
