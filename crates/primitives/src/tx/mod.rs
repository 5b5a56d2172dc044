//! Decoding of the Ethereum transactions carried in blocks, with sender recovery.
//!
//! Error messages follow geth's wording, so wallets and tools that match on them keep working.

use alloy_consensus::{
    crypto::RecoveryError, transaction::SignerRecoverable, Transaction, TxEnvelope,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Signature, B256};

/// A decoded, signature-checked Ethereum transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
    /// keccak256 of `raw`.
    pub hash: B256,
    /// The EIP-2718 encoding, exactly as received.
    pub raw: Bytes,
}

/// Why raw bytes are not an acceptable transaction.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    #[error("empty transaction")]
    Empty,
    #[error("oversized data: transaction size {size}, limit {max}")]
    Oversized { size: usize, max: usize },
    #[error("rlp: {0}")]
    Decode(String),
    #[error("rlp: input contains more than one value ({0} trailing bytes)")]
    TrailingBytes(usize),
    #[error("transaction type not supported: {0}")]
    TypeNotSupported(&'static str),
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    NotReplayProtected,
    #[error("invalid sender: {0}")]
    InvalidSignature(String),
    #[error("invalid chain id for signer: have {have} want {want}")]
    WrongChainId { have: u64, want: u64 },
}

/// Decodes an EIP-2718 transaction, checks its size, type and chain id, and recovers its sender.
///
/// # Errors
/// Returns [`TxError`] for empty, oversized or malformed input, unsupported types (EIP-4844 blob
/// and EIP-7702 set-code transactions), legacy transactions without EIP-155 replay protection,
/// a chain id other than `chain_id`, and signatures that do not recover (including high-s).
pub fn decode_eth_tx(raw: &[u8], chain_id: u64, max_bytes: usize) -> Result<EthTx, TxError> {
    check_size(raw, max_bytes)?;
    let raw = Bytes::copy_from_slice(raw);
    decode_eth_tx_with_sender(&raw, keccak256(&raw), chain_id, max_bytes, None)
}

/// [`decode_eth_tx`] for bytes whose keccak256 `hash` the caller already computed, with the
/// sender too if it is known from an earlier recovery of these exact bytes (keyed by that
/// hash), which skips the signature recovery.
///
/// # Errors
/// As [`decode_eth_tx`], except signature errors when `known_sender` is given.
pub fn decode_eth_tx_with_sender(
    raw: &Bytes,
    hash: B256,
    chain_id: u64,
    max_bytes: usize,
    known_sender: Option<Address>,
) -> Result<EthTx, TxError> {
    let tx = decode_eth_tx_unrecovered(raw, hash, chain_id, max_bytes)?;
    let sender = match known_sender {
        Some(sender) => sender,
        None => tx.envelope.recover_signer().map_err(invalid_signature)?,
    };
    Ok(tx.with_sender(sender))
}

/// A decoded transaction whose sender is still to be recovered, for recovering many at once
/// (a block's: see `bevm-ecrecover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrecoveredTx {
    envelope: TxEnvelope,
    hash: B256,
    raw: Bytes,
}

impl UnrecoveredTx {
    /// What recovering the sender takes: the signature hash and the signature.
    pub fn signing(&self) -> (B256, Signature) {
        (self.envelope.signature_hash(), *self.envelope.signature())
    }

    /// The transaction, with the sender recovered from [`UnrecoveredTx::signing`].
    pub fn with_sender(self, sender: Address) -> EthTx {
        EthTx {
            envelope: self.envelope,
            sender,
            hash: self.hash,
            raw: self.raw,
        }
    }
}

/// The error of a signature that does not recover.
pub fn invalid_signature(e: RecoveryError) -> TxError {
    TxError::InvalidSignature(e.to_string())
}

/// [`decode_eth_tx_with_sender`] up to, not including, the sender's recovery.
///
/// # Errors
/// As [`decode_eth_tx`], except signature errors.
pub fn decode_eth_tx_unrecovered(
    raw: &Bytes,
    hash: B256,
    chain_id: u64,
    max_bytes: usize,
) -> Result<UnrecoveredTx, TxError> {
    check_size(raw, max_bytes)?;
    let mut buf = raw.as_ref();
    let envelope = TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(TxError::TrailingBytes(buf.len()));
    }
    match &envelope {
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => {}
        TxEnvelope::Eip4844(_) => return Err(TxError::TypeNotSupported("EIP-4844 blob")),
        TxEnvelope::Eip7702(_) => return Err(TxError::TypeNotSupported("EIP-7702 set-code")),
    }
    match envelope.chain_id() {
        None => return Err(TxError::NotReplayProtected),
        Some(have) if have != chain_id => {
            return Err(TxError::WrongChainId {
                have,
                want: chain_id,
            })
        }
        Some(_) => {}
    }
    Ok(UnrecoveredTx {
        envelope,
        hash,
        raw: raw.clone(),
    })
}

fn check_size(raw: &[u8], max_bytes: usize) -> Result<(), TxError> {
    if raw.is_empty() {
        return Err(TxError::Empty);
    }
    if raw.len() > max_bytes {
        return Err(TxError::Oversized {
            size: raw.len(),
            max: max_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
