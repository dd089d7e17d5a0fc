//! `.guix-authorizations` files come from untrusted repositories: parsing
//! any bytes must return, never panic, overflow the stack or hang.
#![no_main]

use git_authenticate::Authorizations;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = Authorizations::parse(data) {
        // What a caller does with a parsed set must hold up too.
        assert_eq!(set.len(), set.fingerprints().len());
        assert_eq!(set.is_empty(), set.fingerprints().is_empty());
        for fingerprint in set.fingerprints() {
            assert!(set.contains(fingerprint));
            let _ = fingerprint.to_string();
        }
        let both = set.intersection(&set);
        assert_eq!(both, set);
    }
});
