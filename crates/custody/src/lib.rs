//! Custody: the Taproot vault that holds the bridged BTC.
//!
//! - [`SignerSet`]: validators' signer keys in BIP-327 KeySort order, threshold M (default
//!   ceil(2N/3)), at most [`MAX_SIGNERS`] keys (what one BIP-342 leaf can hold; the validator
//!   set is capped accordingly).
//! - [`Vault`]: internal key = MuSig2 KeyAgg of all N keys (key path: every signer), a
//!   `multi_a` CHECKSIGADD leaf (script path: any M), an optional timelocked recovery leaf;
//!   per-recipient deposit outputs; addresses and descriptors.
//! - [`TapTree`] / [`TaprootOutput`]: BIP-341 trees, output keys and control blocks.
//! - [`find_deposits`]: the outputs of a Bitcoin transaction that pay the bridge (memo or
//!   deposit address), each with its recipient or the reason it is not credited.
//! - [`KeyPathSession`]: MuSig2 signing of a key-path spend (nonces usable once by type).
//! - [`key_path_sighash`], [`leaf_sighash`], [`sign_leaf`]: what signers sign, and a leaf
//!   key holder's signature for the fallback or recovery witness.
//!
//! - [`DevWallet`]: a one-key P2PKH wallet that pays deposits on devnets and in tests.
//!
//! Pure: no I/O, no clock, no randomness.

#![forbid(unsafe_code)]

mod deposit;
mod musig;
mod sighash;
mod signers;
mod taptree;
mod vault;
mod wallet;

#[cfg(test)]
mod bip327_tests;
#[cfg(test)]
mod bip340_tests;
#[cfg(test)]
mod bip341_sighash_tests;
#[cfg(test)]
mod deposit_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use deposit::{find_deposits, memo_script, Deposit, DepositForm, Rejection, MEMO_DATA_LEN};
pub use musig::{AggregateNonce, KeyPathSession, PublicNonce, SecretNonce};
pub use sighash::{key_path_sighash, leaf_sighash, sign_leaf};
pub use signers::{default_threshold, key_sort, SignerSet, MAX_SIGNERS};
pub use taptree::{TapTree, TaprootOutput};
pub use vault::{aggregate_key, Recovery, Vault, DEPOSIT_TAG};
pub use wallet::DevWallet;

/// Why a vault cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    #[error("a vault needs at least one signer")]
    NoSigners,
    #[error(
        "{0} signers: one CHECKSIGADD leaf holds at most 999 keys (BIP-342's 1,000 stack \
         elements); cap the validator set"
    )]
    TooManySigners(usize),
    #[error("signer key with x coordinate {0} appears twice (the leaf holds x-only keys)")]
    DuplicateSigner(String),
    #[error("threshold {threshold} of {signers} signers: must be between 1 and {signers}")]
    BadThreshold { threshold: usize, signers: usize },
    #[error("recovery leaf: {0}")]
    BadRecovery(String),
    #[error("key aggregation: {0}")]
    KeyAgg(String),
    #[error("signing: {0}")]
    Signing(String),
    #[error("{prevouts} previous outputs for {inputs} inputs: a sighash commits to every input's")]
    PrevoutCount { prevouts: usize, inputs: usize },
    /// An input index out of range, or a transaction the sighash cannot be computed for.
    #[error("sighash: {0}")]
    Sighash(String),
    /// A signature this process made does not verify: a fault, never to be sent.
    #[error("our own leaf signature does not verify; not sending it")]
    OwnSignatureInvalid,
    /// The signer at this index (KeySort order) sent an invalid partial signature.
    #[error("signer #{0} sent an invalid partial signature")]
    BadPartialSignature(usize),
}
