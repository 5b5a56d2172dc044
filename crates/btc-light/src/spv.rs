//! SPV proofs: Bitcoin Core's `gettxoutproof` format (a block header and a partial merkle
//! tree), checked against the best chain.
//!
//! The 64-byte-transaction ambiguity (an inner node's 64-byte preimage passing for a
//! transaction when the claimed transaction count makes the tree deeper) is closed by
//! requiring the **coinbase (index 0) to be proven in the same tree**: all matched leaves sit
//! at the same depth, so faking a deeper tree would need a 64-byte preimage of the real
//! coinbase's txid. Callers that hold the raw transaction should also refuse 64-byte ones.

use alloc::vec::Vec;
use core::fmt;

use crate::{
    codec::{write_compact_size, CodecError, Reader},
    header::{sha256d, BlockHash, Header, HEADER_SIZE},
    Chain, HeaderError, HeaderStore,
};

/// Core's bound: a block cannot hold more transactions than its weight allows (4,000,000 /
/// 240, the weight of the smallest transaction).
pub const MAX_TRANSACTIONS: u32 = 16_666;

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The bytes end before the proof does, or a count is absurd.
    Truncated,
    /// Bytes left after the proof.
    TrailingBytes(usize),
    /// Zero transactions, or more than a block can hold.
    BadTransactionCount(u32),
    /// More hashes than transactions, or fewer flag bits than hashes.
    Malformed(&'static str),
    /// A node whose two children are equal (CVE-2012-2459: duplicated subtrees).
    DuplicateSubtree,
    /// The tree does not fold to the header's merkle root.
    RootMismatch,
    /// The proof's header is not the named block.
    WrongBlock {
        proof: BlockHash,
        expected: BlockHash,
    },
    /// The block is not on the best chain (unknown, stale or rolled back).
    NotOnBestChain(BlockHash),
    NotEnoughConfirmations {
        have: u32,
        need: u32,
    },
    /// The transaction is not among the proof's matched leaves.
    TxNotProven,
    /// The coinbase is not proven in the same tree (see the module docs).
    CoinbaseNotProven,
    Header(HeaderError),
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::Truncated => write!(f, "proof truncated"),
            ProofError::TrailingBytes(n) => write!(f, "{n} bytes after the proof"),
            ProofError::BadTransactionCount(n) => write!(f, "impossible transaction count {n}"),
            ProofError::Malformed(why) => write!(f, "malformed proof: {why}"),
            ProofError::DuplicateSubtree => {
                write!(f, "duplicated subtree in the proof (CVE-2012-2459)")
            }
            ProofError::RootMismatch => write!(f, "proof does not fold to the block's merkle root"),
            ProofError::WrongBlock { proof, expected } => {
                write!(f, "proof is for block {proof}, not {expected}")
            }
            ProofError::NotOnBestChain(h) => write!(f, "block {h} is not on the best chain"),
            ProofError::NotEnoughConfirmations { have, need } => {
                write!(f, "{have} confirmations, {need} required")
            }
            ProofError::TxNotProven => write!(f, "the transaction is not proven by this proof"),
            ProofError::CoinbaseNotProven => write!(
                f,
                "the proof must also match the coinbase (index 0), to fix the tree depth"
            ),
            ProofError::Header(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for ProofError {}

impl From<CodecError> for ProofError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Truncated => ProofError::Truncated,
            CodecError::NonCanonical => ProofError::Malformed("non-canonical count"),
            CodecError::Oversized => ProofError::Malformed("8-byte count"),
        }
    }
}

impl From<HeaderError> for ProofError {
    fn from(e: HeaderError) -> Self {
        ProofError::Header(e)
    }
}

/// A block header with a partial merkle tree over its transactions (Core's `CMerkleBlock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleProof {
    pub header: Header,
    pub tx_count: u32,
    hashes: Vec<[u8; 32]>,
    bits: Vec<bool>,
}

/// What a proof shows: the matched transactions with their index in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches {
    pub merkle_root: [u8; 32],
    /// (index in the block, txid in internal order), by index.
    pub txs: Vec<(u32, [u8; 32])>,
}

/// A transaction shown to be in a best-chain block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxInclusion {
    pub block_height: u32,
    pub index: u32,
    pub confirmations: u32,
}

impl MerkleProof {
    /// Decodes `gettxoutproof` bytes.
    ///
    /// # Errors
    /// [`ProofError`] for truncated, oversized or trailing input.
    pub fn decode(bytes: &[u8]) -> Result<MerkleProof, ProofError> {
        let mut r = Reader::new(bytes);
        let header = Header::decode(r.take(HEADER_SIZE)?)?;
        let tx_count = r.u32_le()?;
        if tx_count == 0 || tx_count > MAX_TRANSACTIONS {
            return Err(ProofError::BadTransactionCount(tx_count));
        }
        let n_hashes = r.compact_size()?;
        if n_hashes > u64::from(tx_count) {
            return Err(ProofError::Malformed("more hashes than transactions"));
        }
        let mut hashes = Vec::with_capacity(n_hashes as usize);
        for _ in 0..n_hashes {
            let mut h = [0u8; 32];
            h.copy_from_slice(r.take(32)?);
            hashes.push(h);
        }
        let n_bytes = r.compact_size()?;
        // A tree over tx_count leaves has fewer than 2 * tx_count nodes, one flag bit each.
        if n_bytes > u64::from(tx_count) / 4 + 1 {
            return Err(ProofError::Malformed(
                "more flag bytes than the tree has nodes",
            ));
        }
        let flag_bytes = r.take(n_bytes as usize)?;
        let bits = flag_bytes
            .iter()
            .flat_map(|b| (0..8).map(move |i| b & (1 << i) != 0))
            .collect();
        if r.remaining() != 0 {
            return Err(ProofError::TrailingBytes(r.remaining()));
        }
        Ok(MerkleProof {
            header,
            tx_count,
            hashes,
            bits,
        })
    }

    /// Builds the proof of the transactions `matched` (same length as `txids`, the block's
    /// txids in order) for `header`, as Core's `CPartialMerkleTree` does.
    pub fn build(header: Header, txids: &[[u8; 32]], matched: &[bool]) -> MerkleProof {
        let mut proof = MerkleProof {
            header,
            tx_count: txids.len() as u32,
            hashes: Vec::new(),
            bits: Vec::new(),
        };
        let height = tree_height(proof.tx_count);
        proof.build_node(height, 0, txids, matched);
        proof
    }

    fn build_node(&mut self, height: u32, pos: u32, txids: &[[u8; 32]], matched: &[bool]) {
        let start = (pos as usize) << height;
        let end = (((pos + 1) as usize) << height).min(txids.len());
        let parent_of_match = matched[start..end].iter().any(|m| *m);
        self.bits.push(parent_of_match);
        if height == 0 || !parent_of_match {
            self.hashes.push(subtree_hash(height, pos, txids));
        } else {
            self.build_node(height - 1, pos * 2, txids, matched);
            if pos * 2 + 1 < width(self.tx_count, height - 1) {
                self.build_node(height - 1, pos * 2 + 1, txids, matched);
            }
        }
    }

    /// The `gettxoutproof` serialization.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_SIZE + 4 + 9 + 32 * self.hashes.len() + 9);
        out.extend_from_slice(&self.header.encode());
        out.extend_from_slice(&self.tx_count.to_le_bytes());
        write_compact_size(&mut out, self.hashes.len() as u64);
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        let mut flags = alloc::vec![0u8; self.bits.len().div_ceil(8)];
        for (i, bit) in self.bits.iter().enumerate() {
            flags[i / 8] |= u8::from(*bit) << (i % 8);
        }
        write_compact_size(&mut out, flags.len() as u64);
        out.extend_from_slice(&flags);
        out
    }

    /// Walks the tree: its root and the matched leaves (Core's `ExtractMatches`), refusing
    /// duplicated subtrees and unused hashes or bits. Checks the root against the header.
    ///
    /// # Errors
    /// [`ProofError`] for any inconsistency.
    pub fn extract(&self) -> Result<Matches, ProofError> {
        if self.bits.len() < self.hashes.len() {
            return Err(ProofError::Malformed("fewer flag bits than hashes"));
        }
        let mut walk = Walk {
            proof: self,
            bits_used: 0,
            hashes_used: 0,
            txs: Vec::new(),
        };
        let root = walk.node(tree_height(self.tx_count), 0)?;
        // Every hash used, and no whole byte of flags left over.
        if walk.bits_used.div_ceil(8) != self.bits.len().div_ceil(8)
            || walk.hashes_used != self.hashes.len()
        {
            return Err(ProofError::Malformed("unused hashes or flag bits"));
        }
        if root != self.header.merkle_root {
            return Err(ProofError::RootMismatch);
        }
        Ok(Matches {
            merkle_root: root,
            txs: walk.txs,
        })
    }
}

struct Walk<'a> {
    proof: &'a MerkleProof,
    bits_used: usize,
    hashes_used: usize,
    txs: Vec<(u32, [u8; 32])>,
}

impl Walk<'_> {
    fn node(&mut self, height: u32, pos: u32) -> Result<[u8; 32], ProofError> {
        let parent_of_match = *self
            .proof
            .bits
            .get(self.bits_used)
            .ok_or(ProofError::Malformed("ran out of flag bits"))?;
        self.bits_used += 1;
        if height == 0 || !parent_of_match {
            let hash = *self
                .proof
                .hashes
                .get(self.hashes_used)
                .ok_or(ProofError::Malformed("ran out of hashes"))?;
            self.hashes_used += 1;
            if height == 0 && parent_of_match {
                self.txs.push((pos, hash));
            }
            return Ok(hash);
        }
        let left = self.node(height - 1, pos * 2)?;
        let right = if pos * 2 + 1 < width(self.proof.tx_count, height - 1) {
            let right = self.node(height - 1, pos * 2 + 1)?;
            if right == left {
                return Err(ProofError::DuplicateSubtree);
            }
            right
        } else {
            left
        };
        Ok(hash_pair(&left, &right))
    }
}

/// Checks that transaction `txid` (internal order) is in block `block_hash`, which is on
/// `chain`'s best chain with at least `min_confirmations`, using a `gettxoutproof` proof
/// that also matches the coinbase.
///
/// # Errors
/// [`ProofError`] naming the first check that fails.
pub fn verify_tx_inclusion<S: HeaderStore + ?Sized>(
    chain: &Chain<'_, S>,
    txid: &[u8; 32],
    block_hash: &BlockHash,
    proof: &[u8],
    min_confirmations: u32,
) -> Result<TxInclusion, ProofError> {
    let proof = MerkleProof::decode(proof)?;
    let proof_block = proof.header.hash();
    if proof_block != *block_hash {
        return Err(ProofError::WrongBlock {
            proof: proof_block,
            expected: *block_hash,
        });
    }
    verify_decoded(chain, txid, &proof, min_confirmations)
}

/// As [`verify_tx_inclusion`], for whatever block the proof's header names (the caller does
/// not know the block in advance, as with a relayed deposit).
///
/// # Errors
/// [`ProofError`] naming the first check that fails.
pub fn verify_tx_proof<S: HeaderStore + ?Sized>(
    chain: &Chain<'_, S>,
    txid: &[u8; 32],
    proof: &[u8],
    min_confirmations: u32,
) -> Result<TxInclusion, ProofError> {
    verify_decoded(chain, txid, &MerkleProof::decode(proof)?, min_confirmations)
}

fn verify_decoded<S: HeaderStore + ?Sized>(
    chain: &Chain<'_, S>,
    txid: &[u8; 32],
    proof: &MerkleProof,
    min_confirmations: u32,
) -> Result<TxInclusion, ProofError> {
    let block_hash = &proof.header.hash();
    let block_height = chain
        .best_height_of(block_hash)?
        .ok_or(ProofError::NotOnBestChain(*block_hash))?;
    let confirmations = chain.confirmations(block_hash)?;
    if confirmations < min_confirmations {
        return Err(ProofError::NotEnoughConfirmations {
            have: confirmations,
            need: min_confirmations,
        });
    }
    let matches = proof.extract()?;
    if !matches.txs.iter().any(|(i, _)| *i == 0) {
        return Err(ProofError::CoinbaseNotProven);
    }
    let index = matches
        .txs
        .iter()
        .find(|(_, t)| t == txid)
        .map(|(i, _)| *i)
        .ok_or(ProofError::TxNotProven)?;
    Ok(TxInclusion {
        block_height,
        index,
        confirmations,
    })
}

/// The merkle root of a block's txids (Core's `ComputeMerkleRoot`; the last hash of an odd
/// level is paired with itself).
pub fn merkle_root(txids: &[[u8; 32]]) -> [u8; 32] {
    if txids.is_empty() {
        return [0; 32];
    }
    subtree_hash(tree_height(txids.len() as u32), 0, txids)
}

fn subtree_hash(height: u32, pos: u32, txids: &[[u8; 32]]) -> [u8; 32] {
    if height == 0 {
        return txids[pos as usize];
    }
    let left = subtree_hash(height - 1, pos * 2, txids);
    let right = if pos * 2 + 1 < width(txids.len() as u32, height - 1) {
        subtree_hash(height - 1, pos * 2 + 1, txids)
    } else {
        left
    };
    hash_pair(&left, &right)
}

fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(left);
    both[32..].copy_from_slice(right);
    sha256d(&both)
}

/// Nodes at `height` in a tree over `tx_count` leaves.
fn width(tx_count: u32, height: u32) -> u32 {
    ((u64::from(tx_count) + (1u64 << height) - 1) >> height) as u32
}

fn tree_height(tx_count: u32) -> u32 {
    let mut height = 0;
    while width(tx_count, height) > 1 {
        height += 1;
    }
    height
}

#[cfg(test)]
#[path = "spv_tests.rs"]
mod tests;
