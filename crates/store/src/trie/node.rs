//! Nodes of the state trie, their hashes and their encoding on disk.

use alloy_primitives::B256;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Domain tags: a leaf's hash can never be mistaken for a branch's.
const LEAF_TAG: u8 = 0;
const BRANCH_TAG: u8 = 1;

/// A prefix of a key hash, in nibbles (4 bits): the position of a node in the trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Nibbles {
    len: u8,
    /// Packed high nibble first; nibbles at `len` and beyond are zero.
    bytes: [u8; 32],
}

impl Nibbles {
    /// The root's position.
    pub const ROOT: Nibbles = Nibbles {
        len: 0,
        bytes: [0; 32],
    };

    /// Depth of the position: its number of nibbles.
    pub fn depth(&self) -> usize {
        usize::from(self.len)
    }

    /// The position of child `nibble` under this one.
    pub fn child(&self, nibble: u8) -> Nibbles {
        debug_assert!(nibble < 16 && self.len < 64);
        let mut next = *self;
        let i = self.depth();
        next.bytes[i / 2] |= if i.is_multiple_of(2) {
            nibble << 4
        } else {
            nibble
        };
        next.len += 1;
        next
    }

    /// The position above this one (the root is its own parent).
    pub fn parent(&self) -> Nibbles {
        let mut up = *self;
        if let Some(last) = self.depth().checked_sub(1) {
            up.bytes[last / 2] &= if last.is_multiple_of(2) { 0x0f } else { 0xf0 };
            up.len -= 1;
        }
        up
    }

    /// The nibbles read as a base-16 number (up to 16 of them; deeper ones are ignored).
    pub fn prefix_value(&self) -> u64 {
        (0..self.depth().min(16)).fold(0, |v, i| {
            let byte = self.bytes[i / 2];
            let nibble = if i.is_multiple_of(2) {
                byte >> 4
            } else {
                byte & 0x0f
            };
            v << 4 | u64::from(nibble)
        })
    }

    /// The last nibble of the position (0 for the root).
    pub fn last_nibble(&self) -> u8 {
        match self.depth().checked_sub(1) {
            Some(last) => nibble_at(&B256::from(self.bytes), last),
            None => 0,
        }
    }

    /// Decodes [`Nibbles::encode`]'s output.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for anything else.
    pub fn decode(bytes: &[u8]) -> Result<Nibbles, StoreError> {
        const BAD: StoreError = StoreError::Corrupt("trie position");
        let (&len, packed) = bytes.split_first().ok_or(BAD)?;
        if len > 64 || packed.len() != usize::from(len).div_ceil(2) {
            return Err(BAD);
        }
        let mut at = Nibbles {
            len,
            bytes: [0; 32],
        };
        at.bytes[..packed.len()].copy_from_slice(packed);
        if len % 2 == 1 && at.bytes[packed.len() - 1] & 0x0f != 0 {
            return Err(BAD);
        }
        Ok(at)
    }

    /// Key bytes in the `Nodes` column: length, then the packed nibbles.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.depth().div_ceil(2));
        out.push(self.len);
        out.extend_from_slice(&self.bytes[..self.depth().div_ceil(2)]);
        out
    }
}

/// Nibble `depth` (0 = the high nibble of the first byte) of a key hash.
pub fn nibble_at(key: &B256, depth: usize) -> u8 {
    let byte = key[depth / 2];
    if depth.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// The only key under its position: the key hash and the hash of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    pub key: B256,
    pub value_hash: B256,
}

/// Two or more keys under this position, split by their next nibble. `children` holds the
/// hashes of the present children in nibble order; bit `n` of `bitmap` says child `n` exists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Branch {
    pub bitmap: u16,
    pub children: Vec<B256>,
}

/// A trie node. The trie is canonical: the node at a position is a leaf when exactly one key
/// has that prefix and a branch when two or more do, so the root depends only on the key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(Leaf),
    Branch(Branch),
}

impl Leaf {
    pub fn hash(&self) -> B256 {
        let mut h = Sha256::new();
        h.update([LEAF_TAG]);
        h.update(self.key);
        h.update(self.value_hash);
        B256::from(<[u8; 32]>::from(h.finalize()))
    }
}

impl Branch {
    pub fn has(&self, nibble: u8) -> bool {
        self.bitmap & (1 << nibble) != 0
    }

    fn index(&self, nibble: u8) -> usize {
        (self.bitmap & ((1u16 << nibble) - 1)).count_ones() as usize
    }

    /// Sets (or with `None` removes) child `nibble`.
    pub fn set(&mut self, nibble: u8, hash: Option<B256>) {
        let i = self.index(nibble);
        match (self.has(nibble), hash) {
            (true, Some(h)) => self.children[i] = h,
            (true, None) => {
                self.children.remove(i);
                self.bitmap &= !(1 << nibble);
            }
            (false, Some(h)) => {
                self.children.insert(i, h);
                self.bitmap |= 1 << nibble;
            }
            (false, None) => {}
        }
    }

    /// The nibble of the only child, if there is exactly one.
    pub fn only_child(&self) -> Option<u8> {
        (self.bitmap.count_ones() == 1).then(|| self.bitmap.trailing_zeros() as u8)
    }

    pub fn hash(&self) -> B256 {
        let mut h = Sha256::new();
        h.update([BRANCH_TAG]);
        h.update(self.bitmap.to_be_bytes());
        for child in &self.children {
            h.update(child);
        }
        B256::from(<[u8; 32]>::from(h.finalize()))
    }
}

impl Node {
    pub fn hash(&self) -> B256 {
        match self {
            Node::Leaf(l) => l.hash(),
            Node::Branch(b) => b.hash(),
        }
    }

    /// Value bytes in the `Nodes` column: the tag, then the leaf's key and value hash, or the
    /// branch's bitmap (big-endian) and child hashes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Node::Leaf(l) => {
                let mut out = Vec::with_capacity(65);
                out.push(LEAF_TAG);
                out.extend_from_slice(l.key.as_slice());
                out.extend_from_slice(l.value_hash.as_slice());
                out
            }
            Node::Branch(b) => {
                let mut out = Vec::with_capacity(3 + 32 * b.children.len());
                out.push(BRANCH_TAG);
                out.extend_from_slice(&b.bitmap.to_be_bytes());
                for child in &b.children {
                    out.extend_from_slice(child.as_slice());
                }
                out
            }
        }
    }

    /// Decodes [`Node::encode`]'s output.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for anything else.
    pub fn decode(bytes: &[u8]) -> Result<Node, StoreError> {
        const BAD: StoreError = StoreError::Corrupt("trie node");
        match bytes.split_first() {
            Some((&LEAF_TAG, rest)) if rest.len() == 64 => Ok(Node::Leaf(Leaf {
                key: B256::from_slice(&rest[..32]),
                value_hash: B256::from_slice(&rest[32..]),
            })),
            Some((&BRANCH_TAG, rest)) if rest.len() >= 2 => {
                let bitmap = u16::from_be_bytes([rest[0], rest[1]]);
                let hashes = &rest[2..];
                if bitmap.count_ones() < 1 || hashes.len() != 32 * bitmap.count_ones() as usize {
                    return Err(BAD);
                }
                Ok(Node::Branch(Branch {
                    bitmap,
                    children: hashes.chunks_exact(32).map(B256::from_slice).collect(),
                }))
            }
            _ => Err(BAD),
        }
    }
}
