//! OpenPGP as Guix reads it: armor, packets, fingerprints, keyrings,
//! signatures, the arithmetic that checks them, and the strict policy.

pub(crate) mod armor;
pub(crate) mod budget;
pub(crate) mod crypto;
#[cfg(feature = "fast-verify")]
pub(crate) mod dsa;
#[cfg(feature = "fast-verify")]
pub(crate) mod ed25519;
pub(crate) mod fingerprint;
pub(crate) mod keyring;
#[cfg(feature = "fast-verify")]
mod montgomery;
pub(crate) mod packet;
pub(crate) mod policy;
#[cfg(feature = "fast-verify")]
mod rsa;
pub(crate) mod signature;
pub(crate) mod verify;
