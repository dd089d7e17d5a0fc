//! Every scenario of `test-repos/scenarios/`: a real repository is built on
//! disk, signed by sequoia or by the real gpg, then authenticated through
//! the library. Each scenario states its introduction and the outcome;
//! the outcome must be the same stopping at the first failure or checking
//! everything, on one thread or several.

use crate::support;

use support::build_scenario;
use support::expect::check_built;

/// Builds a scenario file and checks what its expectation lines say.
fn check(name: &str) {
    check_built(name, &build_scenario(name));
}

macro_rules! scenarios {
    ($($test:ident => $file:literal,)*) => {
        $( #[test] fn $test() { check($file); } )*

        /// Every scenario file is run by a test above.
        #[test]
        fn every_scenario_file_has_a_test() {
            let listed = [$($file),*];
            for name in support::scenario_names() {
                assert!(listed.contains(&name.as_str()), "add `{name}` to tests/scenarios.rs");
            }
        }
    };
}

scenarios! {
    attack_authorizations_key_id => "attack-authorizations-key-id",
    attack_authorizations_not_utf8 => "attack-authorizations-not-utf8",
    attack_authorizations_truncated_fingerprint => "attack-authorizations-truncated-fingerprint",
    attack_end_unrelated => "attack-end-unrelated",
    attack_gpg_introduction_wrong_signer => "attack-gpg-introduction-wrong-signer",
    attack_gpg_key_not_in_keyring => "attack-gpg-key-not-in-keyring",
    attack_gpg_merge_one_side => "attack-gpg-merge-one-side",
    attack_gpg_tampered => "attack-gpg-tampered",
    attack_keyring_duplicate_key => "attack-keyring-duplicate-key",
    attack_keyring_empty => "attack-keyring-empty",
    attack_keyring_flood => "attack-keyring-flood",
    attack_keyring_truncated_armor => "attack-keyring-truncated-armor",
    attack_keyring_truncated => "attack-keyring-truncated",
    attack_keyring_unbound_subkey => "attack-keyring-unbound-subkey",
    attack_octopus_merge_authorized => "attack-octopus-merge-authorized",
    attack_octopus_merge => "attack-octopus-merge",
    attack_x509_signed => "attack-x509-signed",
    authorizations_directory => "authorizations-directory",
    authorizations_emptied => "authorizations-emptied",
    authorizations_removed => "authorizations-removed",
    authorizations_symlink => "authorizations-symlink",
    authorized_merge => "authorized-merge",
    end_not_descendant => "end-not-descendant",
    failure_newest_first => "failure-newest-first",
    failure_order => "failure-order",
    gpg_dsa => "gpg-dsa",
    gpg_linear => "gpg-linear",
    gpg_merge => "gpg-merge",
    gpg_sha1 => "gpg-sha1",
    gpg_subkey => "gpg-subkey",
    gpg_unauthorized => "gpg-unauthorized",
    historical_authorizations => "historical-authorizations",
    historical_unauthorized => "historical-unauthorized",
    introduction_unsigned => "introduction-unsigned",
    introduction_valid => "introduction-valid",
    introduction_wrong_signer => "introduction-wrong-signer",
    key_not_in_keyring => "key-not-in-keyring",
    keyring_formats => "keyring-formats",
    keyring_missing => "keyring-missing",
    keyring_on_master => "keyring-on-master",
    keyring_remote_tracking => "keyring-remote-tracking",
    malformed_authorizations => "malformed-authorizations",
    malformed_key => "malformed-key",
    md5_signature => "md5-signature",
    merge_authorized_one_side => "merge-authorized-one-side",
    multiple_signers => "multiple-signers",
    primary_only_listed => "primary-only-listed",
    sha1_signature_historical => "sha1-signature-historical",
    sha1_introduction => "sha1-introduction",
    sha1_signature => "sha1-signature",
    ssh_signed => "ssh-signed",
    subkey_listed => "subkey-listed",
    tampered_commit => "tampered-commit",
    unauthorized_merge => "unauthorized-merge",
    unauthorized_signer => "unauthorized-signer",
    unsigned_commits => "unsigned-commits",
    wrong_version_authorizations => "wrong-version-authorizations",
}
