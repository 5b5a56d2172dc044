//! Full blocks as nodes serve them (`getblock <hash> 0`): the header and every txid, so a
//! proof can be built for any transaction without `gettxoutproof`, which btcd lacks.
//!
//! This reads blocks a node has already validated; it is not block validation. It checks
//! that the transactions hash to the header's merkle root, which is what a proof needs, and
//! leaves to the node what only full validation decides: witness commitments, a segwit flag
//! with all witnesses empty, and duplicated trailing transactions (CVE-2012-2459, same root).

use alloc::vec::Vec;
use core::fmt;

use crate::{
    codec::{CodecError, Reader},
    header::{sha256d, Header, HEADER_SIZE},
    spv::{merkle_root, MerkleProof, MAX_TRANSACTIONS},
    HeaderError,
};

/// Why block bytes are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// The bytes end early, or a length is not canonical or absurd.
    Malformed(&'static str),
    /// Zero transactions, or more than a block can hold.
    BadTransactionCount(u64),
    /// A segwit marker followed by a flag other than 1.
    UnknownTxFlag(u8),
    TrailingBytes(usize),
    /// The transactions do not hash to the header's merkle root.
    MerkleRootMismatch,
    Header(HeaderError),
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::Malformed(why) => write!(f, "malformed block: {why}"),
            BlockError::BadTransactionCount(n) => write!(f, "impossible transaction count {n}"),
            BlockError::UnknownTxFlag(flag) => write!(f, "unknown transaction flag {flag:#04x}"),
            BlockError::TrailingBytes(n) => write!(f, "{n} bytes after the block"),
            BlockError::MerkleRootMismatch => {
                write!(f, "transactions do not hash to the header's merkle root")
            }
            BlockError::Header(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for BlockError {}

impl From<CodecError> for BlockError {
    fn from(e: CodecError) -> Self {
        BlockError::Malformed(match e {
            CodecError::Truncated => "truncated",
            CodecError::NonCanonical => "non-canonical length",
            CodecError::Oversized => "8-byte length",
        })
    }
}

/// A block reduced to what proofs need: its header and its txids (internal order), checked
/// against the header's merkle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTxids {
    pub header: Header,
    pub txids: Vec<[u8; 32]>,
}

impl BlockTxids {
    /// Parses a serialized block (with or without witnesses).
    ///
    /// # Errors
    /// [`BlockError`] for malformed bytes or a merkle root that does not match.
    pub fn parse(raw: &[u8]) -> Result<BlockTxids, BlockError> {
        let mut r = Reader::new(raw);
        let header = Header::decode(r.take(HEADER_SIZE)?).map_err(BlockError::Header)?;
        let count = r.compact_size()?;
        if count == 0 || count > u64::from(MAX_TRANSACTIONS) {
            return Err(BlockError::BadTransactionCount(count));
        }
        let mut txids = Vec::with_capacity(count as usize);
        for _ in 0..count {
            txids.push(read_txid(&mut r)?);
        }
        if r.remaining() != 0 {
            return Err(BlockError::TrailingBytes(r.remaining()));
        }
        if merkle_root(&txids) != header.merkle_root {
            return Err(BlockError::MerkleRootMismatch);
        }
        Ok(BlockTxids { header, txids })
    }

    /// The proof that `txid` is in this block, matching the coinbase too, as
    /// [`crate::verify_tx_inclusion`] requires. `None` if the block does not hold `txid`.
    pub fn proof(&self, txid: &[u8; 32]) -> Option<MerkleProof> {
        let index = self.txids.iter().position(|t| t == txid)?;
        let matched: Vec<bool> = (0..self.txids.len())
            .map(|i| i == 0 || i == index)
            .collect();
        Some(MerkleProof::build(self.header, &self.txids, &matched))
    }
}

/// The txid of one serialized transaction (witness data excluded, as consensus defines it).
///
/// # Errors
/// [`BlockError`] for malformed or trailing bytes.
pub fn txid(raw_tx: &[u8]) -> Result<[u8; 32], BlockError> {
    let mut r = Reader::new(raw_tx);
    let id = read_txid(&mut r)?;
    if r.remaining() != 0 {
        return Err(BlockError::TrailingBytes(r.remaining()));
    }
    Ok(id)
}

/// Reads one transaction and hashes its witness-free serialization: version, inputs,
/// outputs, lock time.
fn read_txid(r: &mut Reader<'_>) -> Result<[u8; 32], BlockError> {
    let version = r.take(4)?;
    let segwit = match r.peek(2) {
        Some([0, 1]) => true,
        Some([0, flag]) if *flag != 0 => return Err(BlockError::UnknownTxFlag(*flag)),
        _ => false,
    };
    if segwit {
        r.take(2)?;
    }
    let body_start = r.position();
    let inputs = r.compact_size()?;
    for _ in 0..inputs {
        r.take(36)?; // previous output
        r.var_bytes()?; // script
        r.take(4)?; // sequence
    }
    let outputs = r.compact_size()?;
    for _ in 0..outputs {
        r.take(8)?; // value
        r.var_bytes()?; // script
    }
    let body_end = r.position();
    if segwit {
        for _ in 0..inputs {
            let items = r.compact_size()?;
            for _ in 0..items {
                r.var_bytes()?;
            }
        }
    }
    let lock_time = r.take(4)?;
    let body = r.slice(body_start, body_end);
    let mut bytes = Vec::with_capacity(8 + body.len());
    bytes.extend_from_slice(version);
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(lock_time);
    Ok(sha256d(&bytes))
}
