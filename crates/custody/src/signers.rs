//! The signer set: validators' signer keys in BIP-327 KeySort order, and the threshold of
//! the script-path fallback.

use bitcoin::secp256k1::PublicKey;

use crate::CustodyError;

/// Most keys one CHECKSIGADD leaf can hold: BIP-342 allows 1,000 stack elements, and
/// spending the leaf puts one signature (or empty element) per key plus the script on it.
pub const MAX_SIGNERS: usize = 999;

/// A set of distinct signer keys, sorted per BIP-327 KeySort, with the number of signatures
/// the fallback leaf requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerSet {
    keys: Vec<PublicKey>,
    threshold: usize,
}

/// BIP-327 KeySort: plain (33-byte compressed) keys in lexicographic order.
pub fn key_sort(keys: &mut [PublicKey]) {
    keys.sort_by_key(PublicKey::serialize);
}

/// The default threshold: more than two thirds, ceil(2N/3), as BFT consensus requires.
pub fn default_threshold(n: usize) -> usize {
    (2 * n).div_ceil(3)
}

impl SignerSet {
    /// # Errors
    /// An empty set, a repeated key (or two keys with the same x coordinate), more than
    /// [`MAX_SIGNERS`] keys (a single leaf cannot hold them: the validator set must be
    /// capped), or a threshold outside `1..=N`.
    pub fn new(mut keys: Vec<PublicKey>, threshold: Option<usize>) -> Result<Self, CustodyError> {
        if keys.is_empty() {
            return Err(CustodyError::NoSigners);
        }
        if keys.len() > MAX_SIGNERS {
            return Err(CustodyError::TooManySigners(keys.len()));
        }
        key_sort(&mut keys);
        // The leaf holds x-only keys, so P and -P (same x) would be one key twice.
        let mut xonly: Vec<[u8; 32]> = keys
            .iter()
            .map(|k| k.x_only_public_key().0.serialize())
            .collect();
        xonly.sort_unstable();
        if let Some(pair) = xonly.windows(2).find(|w| w[0] == w[1]) {
            return Err(CustodyError::DuplicateSigner(hex::encode(pair[0])));
        }
        let threshold = threshold.unwrap_or_else(|| default_threshold(keys.len()));
        if threshold == 0 || threshold > keys.len() {
            return Err(CustodyError::BadThreshold {
                threshold,
                signers: keys.len(),
            });
        }
        Ok(Self { keys, threshold })
    }

    /// The keys, in KeySort order (also the order of the fallback leaf and its witness).
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }
}
