//! bevm-relayer: feeds the L2's Bitcoin light client from a Bitcoin node.
//!
//! Anyone may run one; the light client checks every header's proof of work, so a relayer
//! can delay the L2's view of Bitcoin but never falsify it.
//!
//! - [`BitcoinRpc`] reads a node (btcd or Bitcoin Core) over JSON-RPC.
//! - [`CometL2`] reads the light client and sends `RelayHeaders` through CometBFT.
//! - [`Syncer::step`] finds the common block, sends the next batch and waits for its commit;
//!   [`run()`] repeats it with backoff.
//! - [`DepositScanner::step`] finds deposits (payments to the vault or a registered deposit
//!   address) in blocks deep enough on the L2 and relays them with proofs from the raw blocks.
//! - [`proof_for`] builds an SPV proof from a raw block.

#![forbid(unsafe_code)]

mod bitcoin;
mod deposits;
mod l2;
mod run;
mod sync;

#[cfg(test)]
mod deposits_tests;
#[cfg(test)]
mod tests;

pub use bitcoin::{Auth, BitcoinRpc, BitcoinSource};
pub use deposits::{BridgeInfo, DepositOutcome, DepositScanner, L2Bridge, RawBlocks, ScanProgress};
pub use l2::{CometL2, L2Chain, L2Tip};
pub use run::{run, Pacing};
pub use sync::{Progress, Syncer};

use bevm_btc_light::{BlockHash, MerkleProof};

/// Why a relaying step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("bitcoin node: {0}")]
    Bitcoin(String),
    #[error("L2: {0}")]
    L2(String),
    /// CheckTx refused the relay (its log says why).
    #[error("L2 refused the relay: {0}")]
    Refused(String),
    #[error(
        "no block of the Bitcoin node's best chain (tip {bitcoin_tip}) is known to the L2 light \
         client (which starts at height {l2_floor}): the node is on another network, still \
         syncing below the L2's checkpoint, or forked below the pruning horizon"
    )]
    NoCommonBlock { bitcoin_tip: u32, l2_floor: u32 },
    /// The relayer was asked to stop while waiting.
    #[error("stopping")]
    Stopped,
}

/// The SPV proof that `txid` (internal byte order) is in block `block`, built from the raw
/// block, matching the coinbase too as the light client requires.
///
/// # Errors
/// The node failing, or the block not holding the transaction.
pub fn proof_for(
    bitcoin: &BitcoinRpc,
    txid: &[u8; 32],
    block: &BlockHash,
) -> Result<MerkleProof, RelayError> {
    bitcoin.block(block)?.proof(txid).ok_or_else(|| {
        let mut display = *txid;
        display.reverse();
        RelayError::Bitcoin(format!(
            "block {block} does not contain transaction {}",
            hex::encode(display)
        ))
    })
}
