//! The memory budget of a keyring's DSA tables (`openpgp::dsa`), apart
//! so that the keyring, the verification and the tables all use it.

/// The memory the DSA tables of one keyring may take together: keys past
/// it verify through OpenSSL, so that a keyring of many DSA keys (a hostile
/// one has up to [`crate::openpgp::keyring::MAX_KEYS`]) cannot grow memory
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
/// keys or 18 DSA-2048 keys (3 of GNU Guix's keys earn tables: 4.6 MiB).
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
    pub(crate) fn reserve(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.used
            .fetch_update(Relaxed, Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.cap)
            })
            .is_ok()
    }

    /// Gives back what [`TableBudget::reserve`] took, for tables not built.
    pub(crate) fn release(&self, bytes: usize) {
        self.used
            .fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts tables built.
    pub(crate) fn built(&self) {
        self.built
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes taken by the tables built so far.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many keys have tables.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn tables_built(&self) -> usize {
        self.built.load(std::sync::atomic::Ordering::Relaxed)
    }
}
