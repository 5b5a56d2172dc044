//! secp256k1 account keys: the same keys sign EVM transactions and, later, native transactions,
//! so one address is one account.

use alloy_consensus::{SignableTransaction, TxEnvelope};
use alloy_primitives::{keccak256, Address, Signature, B256, U256};
use k256::ecdsa::SigningKey;

/// A secret account key. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct AccountKey(SigningKey);

/// Why a secret key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    #[error("a secret key is 32 bytes of hex (with or without 0x); got {0} characters")]
    BadLength(usize),
    #[error("secret key is not hex")]
    NotHex,
    #[error("secret key is zero or not below the curve order")]
    OutOfRange,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKey({})", self.address())
    }
}

impl AccountKey {
    /// Builds a key from 32 secret bytes.
    ///
    /// # Errors
    /// [`KeyError::OutOfRange`] if the bytes are zero or not below the curve order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        SigningKey::from_bytes(bytes.into())
            .map(Self)
            .map_err(|_| KeyError::OutOfRange)
    }

    /// Parses a hex secret key, with or without `0x`.
    ///
    /// # Errors
    /// [`KeyError`] if it is not 64 hex digits of a valid key.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let s = s.strip_prefix("0x").unwrap_or(s);
        if s.len() != 64 {
            return Err(KeyError::BadLength(s.len()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| KeyError::NotHex)?;
        Self::from_bytes(&bytes)
    }

    /// A deterministic key for tests and devnets: keccak256 of `seed`.
    pub fn from_seed(seed: &[u8]) -> Self {
        let mut digest = keccak256(seed);
        loop {
            if let Ok(key) = Self::from_bytes(&digest.0) {
                return key;
            }
            digest = keccak256(digest);
        }
    }

    /// The secret as 0x-prefixed hex, for writing a key file. Handle with care.
    pub fn to_secret_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0.to_bytes()))
    }

    /// The Ethereum address of this key.
    pub fn address(&self) -> Address {
        Address::from_public_key(self.0.verifying_key())
    }

    /// Signs a 32-byte prehash, with a low-s signature and its recovery parity.
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let (sig, recid) = self
            .0
            .sign_prehash_recoverable(hash.as_slice())
            .expect("signing a 32-byte prehash with a valid key cannot fail");
        let bytes = sig.to_bytes();
        Signature::new(
            U256::from_be_slice(&bytes[..32]),
            U256::from_be_slice(&bytes[32..]),
            recid.is_y_odd(),
        )
    }

    /// Signs an Ethereum transaction into its envelope.
    pub fn sign_tx<T>(&self, tx: T) -> TxEnvelope
    where
        T: SignableTransaction<Signature>,
        TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        let sig = self.sign_hash(&tx.signature_hash());
        tx.into_signed(sig).into()
    }
}

/// The development accounts of a devnet genesis: derived from fixed public seeds, so every
/// devnet has the same ones and tools can print them. Never fund them anywhere real.
pub fn devnet_keys(n: u32) -> Vec<AccountKey> {
    (0..n)
        .map(|i| AccountKey::from_seed(format!("bevm devnet account {i}").as_bytes()))
        .collect()
}
