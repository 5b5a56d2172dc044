//! The consensus checks of one header against its parent, and what its own children will need.

use crate::{
    header::{BlockHash, Header},
    params::{Params, MAX_FUTURE_BLOCK_TIME, MAX_TIMEWARP, RETARGET_INTERVAL},
    work::{bits_from_target, hash_meets_target, target_from_bits, work_from_target, U256},
    HeaderError,
};

/// Number of past times the median-time-past rule looks at.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// A header accepted into the chain, with everything validating a child needs, so that no
/// ancestor has to be looked up: the recent times for median-time-past, the period's first
/// block for the retarget, and testnet's walk-back result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredHeader {
    pub header: Header,
    pub hash: BlockHash,
    pub height: u32,
    /// Total work of the chain ending here.
    pub chain_work: U256,
    /// Times of the last `recent_len` headers ending with this one, oldest first.
    pub recent_times: [u32; MEDIAN_TIME_SPAN],
    pub recent_len: u8,
    /// Time and bits of the first header of this header's retarget period.
    pub period_first_time: u32,
    pub period_first_bits: u32,
    /// What Core's min-difficulty walk-back returns from here: the bits of the closest
    /// ancestor-or-self that is a period start or not a min-difficulty block.
    pub last_real_bits: u32,
}

impl StoredHeader {
    /// The root of a chain: a header trusted without its parent (genesis or a checkpoint).
    /// `prev_times` are the times of up to 10 headers before it, oldest first.
    ///
    /// # Errors
    /// [`HeaderError::BadCheckpoint`] if the header's own proof of work or the times are off.
    pub fn root(
        params: &Params,
        header: Header,
        height: u32,
        chain_work: U256,
        prev_times: &[u32],
    ) -> Result<StoredHeader, HeaderError> {
        if prev_times.len() >= MEDIAN_TIME_SPAN {
            return Err(HeaderError::BadCheckpoint("at most 10 previous times"));
        }
        if !height.is_multiple_of(RETARGET_INTERVAL) && !params.no_retargeting {
            return Err(HeaderError::BadCheckpoint(
                "must be the first block of a retarget period (height divisible by 2016)",
            ));
        }
        let target = valid_target(params, header.bits)?;
        let hash = header.hash();
        if !hash_meets_target(&hash.0, target) {
            return Err(HeaderError::BadCheckpoint(
                "header does not meet its target",
            ));
        }
        if chain_work < work_from_target(target) {
            return Err(HeaderError::BadCheckpoint(
                "chain work below the header's own work",
            ));
        }
        let mut recent_times = [0u32; MEDIAN_TIME_SPAN];
        recent_times[..prev_times.len()].copy_from_slice(prev_times);
        recent_times[prev_times.len()] = header.time;
        Ok(StoredHeader {
            header,
            hash,
            height,
            chain_work,
            recent_times,
            recent_len: (prev_times.len() + 1) as u8,
            period_first_time: header.time,
            period_first_bits: header.bits,
            last_real_bits: header.bits,
        })
    }

    /// Size of [`StoredHeader::encode`]'s output.
    pub const ENCODED_SIZE: usize = 80 + 4 + 32 + 1 + 4 * MEDIAN_TIME_SPAN + 12;

    /// A fixed-size encoding for stores: header, height, chain work (big-endian), the recent
    /// times, the period's first time and bits, the walk-back bits (integers little-endian).
    pub fn encode(&self) -> [u8; Self::ENCODED_SIZE] {
        let mut out = [0u8; Self::ENCODED_SIZE];
        out[..80].copy_from_slice(&self.header.encode());
        out[80..84].copy_from_slice(&self.height.to_le_bytes());
        out[84..116].copy_from_slice(&self.chain_work.to_be_bytes::<32>());
        out[116] = self.recent_len;
        for (i, t) in self.recent_times.iter().enumerate() {
            out[117 + 4 * i..121 + 4 * i].copy_from_slice(&t.to_le_bytes());
        }
        let rest = 117 + 4 * MEDIAN_TIME_SPAN;
        out[rest..rest + 4].copy_from_slice(&self.period_first_time.to_le_bytes());
        out[rest + 4..rest + 8].copy_from_slice(&self.period_first_bits.to_le_bytes());
        out[rest + 8..rest + 12].copy_from_slice(&self.last_real_bits.to_le_bytes());
        out
    }

    /// Decodes [`StoredHeader::encode`]'s output.
    ///
    /// # Errors
    /// [`HeaderError::Storage`] for anything else.
    pub fn decode(bytes: &[u8]) -> Result<StoredHeader, HeaderError> {
        let corrupt = || HeaderError::Storage(alloc::string::String::from("corrupt stored header"));
        if bytes.len() != Self::ENCODED_SIZE {
            return Err(corrupt());
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let header = Header::decode(&bytes[..80])?;
        let recent_len = bytes[116];
        if recent_len == 0 || usize::from(recent_len) > MEDIAN_TIME_SPAN {
            return Err(corrupt());
        }
        let mut recent_times = [0u32; MEDIAN_TIME_SPAN];
        for (i, t) in recent_times.iter_mut().enumerate() {
            *t = u32_at(117 + 4 * i);
        }
        let rest = 117 + 4 * MEDIAN_TIME_SPAN;
        Ok(StoredHeader {
            header,
            hash: header.hash(),
            height: u32_at(80),
            chain_work: U256::from_be_slice(&bytes[84..116]),
            recent_times,
            recent_len,
            period_first_time: u32_at(rest),
            period_first_bits: u32_at(rest + 4),
            last_real_bits: u32_at(rest + 8),
        })
    }

    fn recent(&self) -> &[u32] {
        &self.recent_times[..usize::from(self.recent_len)]
    }

    /// Median of the last 11 times ending here (Core's `GetMedianTimePast`).
    pub fn median_time_past(&self) -> u32 {
        let mut times = [0u32; MEDIAN_TIME_SPAN];
        let recent = self.recent();
        times[..recent.len()].copy_from_slice(recent);
        let times = &mut times[..recent.len()];
        times.sort_unstable();
        times[times.len() / 2]
    }
}

/// Work memo: consecutive headers mostly share their bits, and the division is the costly part.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorkMemo {
    bits: u32,
    work: U256,
}

/// Checks `header` as the child of `parent` at time `now` (the L2 block time) and returns it
/// as a stored header.
///
/// # Errors
/// The first rule it breaks.
pub fn connect(
    params: &Params,
    parent: &StoredHeader,
    header: &Header,
    hash: BlockHash,
    now: u32,
    memo: &mut WorkMemo,
) -> Result<StoredHeader, HeaderError> {
    let height = parent.height + 1;
    let expected = expected_bits(params, parent, header);
    if header.bits != expected {
        return Err(HeaderError::WrongBits {
            expected,
            got: header.bits,
        });
    }
    let target = valid_target(params, header.bits)?;
    if !hash_meets_target(&hash.0, target) {
        return Err(HeaderError::InsufficientWork(hash));
    }
    let median = parent.median_time_past();
    if header.time <= median {
        return Err(HeaderError::TimeTooOld {
            time: header.time,
            median,
        });
    }
    let max = now.saturating_add(MAX_FUTURE_BLOCK_TIME);
    if header.time > max {
        return Err(HeaderError::TimeTooNew {
            time: header.time,
            max,
        });
    }
    let period_start = height.is_multiple_of(RETARGET_INTERVAL);
    if params.enforce_bip94 && period_start {
        let min = parent.header.time.saturating_sub(MAX_TIMEWARP);
        if header.time < min {
            return Err(HeaderError::TimeWarp {
                time: header.time,
                min,
            });
        }
    }
    let min = params.min_version(height);
    if header.version < min {
        return Err(HeaderError::BadVersion {
            version: header.version,
            min,
            height,
        });
    }

    if memo.bits != header.bits || memo.work.is_zero() {
        *memo = WorkMemo {
            bits: header.bits,
            work: work_from_target(target),
        };
    }
    let mut recent_times = parent.recent_times;
    let mut recent_len = usize::from(parent.recent_len);
    if recent_len == MEDIAN_TIME_SPAN {
        recent_times.copy_within(1.., 0);
        recent_len -= 1;
    }
    recent_times[recent_len] = header.time;
    let (period_first_time, period_first_bits) = if period_start {
        (header.time, header.bits)
    } else {
        (parent.period_first_time, parent.period_first_bits)
    };
    let last_real_bits = if period_start || header.bits != params.pow_limit_bits {
        header.bits
    } else {
        parent.last_real_bits
    };
    Ok(StoredHeader {
        header: *header,
        hash,
        height,
        chain_work: parent.chain_work.saturating_add(memo.work),
        recent_times,
        recent_len: (recent_len + 1) as u8,
        period_first_time,
        period_first_bits,
        last_real_bits,
    })
}

/// The bits a child of `parent` must carry (Core's `GetNextWorkRequired`).
pub fn expected_bits(params: &Params, parent: &StoredHeader, header: &Header) -> u32 {
    let height = parent.height + 1;
    if !height.is_multiple_of(RETARGET_INTERVAL) {
        if params.allow_min_difficulty {
            // testnet: a block more than 20 minutes after its parent may be min-difficulty;
            // otherwise the last bits not set by that exception apply.
            let late = i64::from(header.time)
                > i64::from(parent.header.time) + 2 * i64::from(params.target_spacing);
            return if late {
                params.pow_limit_bits
            } else {
                parent.last_real_bits
            };
        }
        return parent.header.bits;
    }
    if params.no_retargeting {
        return parent.header.bits;
    }
    // Core's off-by-one: the timespan runs from the period's first block to its last, 2015
    // intervals, not 2016.
    let timespan = i64::from(params.target_timespan);
    let actual = (i64::from(parent.header.time) - i64::from(parent.period_first_time))
        .clamp(timespan / 4, timespan * 4);
    // BIP-94 retargets from the period's first block, which cannot use the min-difficulty
    // exception; everyone else from the last block.
    let base_bits = if params.enforce_bip94 {
        parent.period_first_bits
    } else {
        parent.header.bits
    };
    let base = target_from_bits(base_bits).unwrap_or(params.pow_limit);
    // actual is positive and at most 4 × two weeks; base is at most the pow limit (< 2^255),
    // so the product is computed as Core does, modulo 2^256.
    let mut next = base.wrapping_mul(U256::from(actual as u64)) / U256::from(timespan as u64);
    if next > params.pow_limit {
        next = params.pow_limit;
    }
    bits_from_target(next)
}

/// The target of `bits` if Core's `CheckProofOfWork` accepts it as a target.
fn valid_target(params: &Params, bits: u32) -> Result<U256, HeaderError> {
    match target_from_bits(bits) {
        Some(t) if !t.is_zero() && t <= params.pow_limit => Ok(t),
        _ => Err(HeaderError::BadTarget(bits)),
    }
}
