//! The 80-byte Bitcoin block header and block hashes.

use core::fmt;

use sha2::{Digest, Sha256};

use crate::HeaderError;

/// Serialized size of a header.
pub const HEADER_SIZE: usize = 80;

/// A block hash (or txid) in internal byte order, the order used inside headers and for
/// hashing. [`fmt::Display`] shows the usual reversed ("display") hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockHash(pub [u8; 32]);

impl BlockHash {
    pub const ZERO: BlockHash = BlockHash([0; 32]);

    /// Parses display hex (64 characters, byte-reversed as block explorers show it).
    ///
    /// # Errors
    /// [`HeaderError::BadHex`] for anything else.
    pub fn from_display_hex(s: &str) -> Result<Self, HeaderError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(HeaderError::BadHex);
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(HeaderError::BadHex)?;
            let lo = hex_val(pair[1]).ok_or(HeaderError::BadHex)?;
            out[31 - i] = (hi << 4) | lo;
        }
        Ok(BlockHash(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().rev() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// SHA-256 applied twice, as Bitcoin hashes headers, transactions and merkle nodes.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    let once = Sha256::digest(data);
    Sha256::digest(once).into()
}

/// A block header, as found in blocks and `headers` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: i32,
    pub prev_hash: BlockHash,
    pub merkle_root: [u8; 32],
    pub time: u32,
    pub bits: u32,
    pub nonce: u32,
}

impl Header {
    /// Decodes the consensus serialization: exactly 80 bytes.
    ///
    /// # Errors
    /// [`HeaderError::BadLength`] for any other length.
    pub fn decode(bytes: &[u8]) -> Result<Header, HeaderError> {
        let b: &[u8; HEADER_SIZE] = bytes
            .try_into()
            .map_err(|_| HeaderError::BadLength(bytes.len()))?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut prev = [0u8; 32];
        prev.copy_from_slice(&b[4..36]);
        let mut merkle_root = [0u8; 32];
        merkle_root.copy_from_slice(&b[36..68]);
        Ok(Header {
            version: u32_at(0) as i32,
            prev_hash: BlockHash(prev),
            merkle_root,
            time: u32_at(68),
            bits: u32_at(72),
            nonce: u32_at(76),
        })
    }

    /// The consensus serialization.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_hash.0);
        out[36..68].copy_from_slice(&self.merkle_root);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// The block hash: double SHA-256 of the serialization.
    pub fn hash(&self) -> BlockHash {
        BlockHash(sha256d(&self.encode()))
    }
}
