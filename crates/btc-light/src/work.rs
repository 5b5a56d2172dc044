//! Targets, their compact `bits` encoding and the work they represent, exactly as Bitcoin
//! Core's `arith_uint256` computes them.

/// 256-bit unsigned integer for targets and chain work.
pub type U256 = ruint::aliases::U256;

/// Decodes compact `bits` (Core's `SetCompact`). `None` for the encodings Core flags as
/// negative or overflowing; zero is returned as zero (and refused by the callers).
pub fn target_from_bits(bits: u32) -> Option<U256> {
    let size = bits >> 24;
    let mut word = bits & 0x007f_ffff;
    let negative = word != 0 && bits & 0x0080_0000 != 0;
    let overflow =
        word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
    if negative || overflow {
        return None;
    }
    let target = if size <= 3 {
        word >>= 8 * (3 - size);
        U256::from(word)
    } else {
        U256::from(word) << (8 * (size - 3) as usize)
    };
    Some(target)
}

/// Encodes a target as compact `bits` (Core's `GetCompact`), normalising it the same way.
pub fn bits_from_target(target: U256) -> u32 {
    let mut size = target.bit_len().div_ceil(8) as u32;
    let mut compact: u32 = if size <= 3 {
        let low: u64 = target.as_limbs()[0];
        (low << (8 * (3 - size))) as u32
    } else {
        let shifted = target >> (8 * (size - 3) as usize);
        shifted.as_limbs()[0] as u32
    };
    // The sign bit is set: move a byte into the exponent instead.
    if compact & 0x0080_0000 != 0 {
        compact >>= 8;
        size += 1;
    }
    compact | (size << 24)
}

/// Expected number of hashes to find a block at `target`: `2^256 / (target + 1)`, computed as
/// `~target / (target + 1) + 1` so that it fits in 256 bits.
pub fn work_from_target(target: U256) -> U256 {
    if target == U256::MAX {
        return U256::from(1u8);
    }
    (!target / (target + U256::from(1u8))) + U256::from(1u8)
}

/// Whether a block hash (internal byte order, a little-endian number) meets `target`.
pub fn hash_meets_target(hash: &[u8; 32], target: U256) -> bool {
    U256::from_le_bytes(*hash) <= target
}
