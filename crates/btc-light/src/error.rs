//! Why a header, a submission or a proof is refused.

use alloc::string::String;
use core::fmt;

use crate::header::BlockHash;

/// A header that does not fit the chain, or a chain that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Not 80 bytes.
    BadLength(usize),
    /// Not 64 hex characters.
    BadHex,
    /// Its parent is not known (not relayed yet, or pruned).
    UnknownParent(BlockHash),
    /// `bits` differs from what the retarget rules require at this height.
    WrongBits { expected: u32, got: u32 },
    /// `bits` decodes to a negative, overflowing, zero or too easy target.
    BadTarget(u32),
    /// The hash does not meet the target.
    InsufficientWork(BlockHash),
    /// Time not above the median of the previous 11 headers.
    TimeTooOld { time: u32, median: u32 },
    /// Time more than two hours ahead of the caller's clock.
    TimeTooNew { time: u32, max: u32 },
    /// BIP-94: a period's first block dated more than 600 s before its parent.
    TimeWarp { time: u32, min: u32 },
    /// Version below what BIP-34/66/65 require at this height.
    BadVersion { version: i32, min: i32, height: u32 },
    /// The header would fork the best chain deeper than the pruning horizon allows.
    ForkBelowHorizon { fork_height: u32, lowest: u32 },
    /// The starting checkpoint is unusable.
    BadCheckpoint(&'static str),
    /// The chain's storage failed; nothing was changed.
    Storage(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BadLength(n) => write!(f, "a header is 80 bytes, got {n}"),
            HeaderError::BadHex => write!(f, "a block hash is 64 hex characters"),
            HeaderError::UnknownParent(h) => {
                write!(f, "unknown parent {h}: relay the headers before it first")
            }
            HeaderError::WrongBits { expected, got } => {
                write!(f, "wrong bits {got:#010x}: the retarget rules require {expected:#010x}")
            }
            HeaderError::BadTarget(bits) => {
                write!(f, "bits {bits:#010x} is not a valid target for this network")
            }
            HeaderError::InsufficientWork(h) => {
                write!(f, "insufficient proof of work: hash {h} is above its target")
            }
            HeaderError::TimeTooOld { time, median } => write!(
                f,
                "time {time} is not above the median time {median} of the previous 11 blocks"
            ),
            HeaderError::TimeTooNew { time, max } => {
                write!(f, "time {time} is more than 2 hours in the future (max {max})")
            }
            HeaderError::TimeWarp { time, min } => write!(
                f,
                "time {time} of a period's first block is more than 600 s before its parent (min {min})"
            ),
            HeaderError::BadVersion {
                version,
                min,
                height,
            } => write!(f, "version {version} is below {min}, required at height {height}"),
            HeaderError::ForkBelowHorizon { fork_height, lowest } => write!(
                f,
                "fork at height {fork_height} is below the pruning horizon (lowest {lowest})"
            ),
            HeaderError::BadCheckpoint(why) => write!(f, "bad checkpoint: {why}"),
            HeaderError::Storage(why) => write!(f, "header storage failed: {why}"),
        }
    }
}

impl core::error::Error for HeaderError {}

/// A refused submission: the first bad header and why. Nothing of the submission is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitError {
    /// Position of the bad header in the submission.
    pub index: usize,
    pub error: HeaderError,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "header #{}: {}", self.index, self.error)
    }
}

impl core::error::Error for SubmitError {}
