//! Deposit discovery: scans the Bitcoin blocks the L2's light client holds, once they are deep
//! enough, for payments to the vault and to registered deposit addresses, and relays each
//! with a proof built from the raw block.
//!
//! No local state: after a restart it rescans `lookback` blocks below the confirmed tip, and
//! the L2 refuses what it has recorded already (code 23), which counts as done.

use std::{collections::HashSet, sync::Mutex};

use ::bitcoin::{
    consensus::{deserialize, serialize},
    hashes::Hash as _,
    Block,
};
use bevm_btc_light::{block::BlockTxids, BlockHash};
use tracing::{debug, info, warn};

use crate::{BitcoinSource, L2Chain, RelayError};

/// The bridge as the L2 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeInfo {
    pub vault_script: Vec<u8>,
    pub confirmations: u32,
}

/// What a deposit relay came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepositOutcome {
    Accepted,
    /// Every deposit of the transaction is recorded already.
    Known,
    /// Not proven by the L2's light client as it stands (its view moved): try again later.
    Unproven(String),
    /// Refused for good, with the L2's reason.
    Refused(String),
}

/// The bridge side of the L2.
pub trait L2Bridge {
    /// `None` when the chain has no bridge.
    fn bridge(&self) -> Result<Option<BridgeInfo>, RelayError>;
    /// The best-chain hash at `height` of the L2's light client, if it holds one.
    fn best_hash_at(&self, height: u32) -> Result<Option<BlockHash>, RelayError>;
    /// Deposit scripts registered in L2 blocks `from..`, and the L2 block to ask from next.
    fn registered_scripts(&self, from: u64) -> Result<(Vec<Vec<u8>>, u64), RelayError>;
    fn submit_deposit(&self, tx: &[u8], proof: &[u8]) -> Result<DepositOutcome, RelayError>;
}

/// Raw blocks from the Bitcoin node.
pub trait RawBlocks {
    fn raw_block(&self, hash: &BlockHash) -> Result<Vec<u8>, RelayError>;

    /// The block's bytes and its txids, checked against the hash asked for.
    ///
    /// # Errors
    /// The node failing, or serving a block that does not parse or match its header.
    fn checked_block(&self, hash: &BlockHash) -> Result<(Vec<u8>, BlockTxids), RelayError> {
        let raw = self.raw_block(hash)?;
        let txids = BlockTxids::parse(&raw)
            .map_err(|e| RelayError::Bitcoin(format!("block {hash}: {e}")))?;
        if txids.header.hash() != *hash {
            return Err(RelayError::Bitcoin(format!(
                "asked for block {hash}, got {}",
                txids.header.hash()
            )));
        }
        Ok((raw, txids))
    }
}

/// What one scan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanProgress {
    /// Blocks `from..=to` scanned; `relayed` deposit transactions accepted.
    Scanned { from: u32, to: u32, relayed: usize },
    /// Nothing deep enough to scan yet (or no bridge).
    Waiting,
}

#[derive(Debug, Default)]
struct ScanState {
    /// Read once: the vault and the confirmation depth come from genesis.
    bridge: Option<BridgeInfo>,
    next_height: Option<u32>,
    scripts: HashSet<Vec<u8>>,
    logs_from: u64,
}

/// Scans and relays deposits.
pub struct DepositScanner<B, L> {
    bitcoin: B,
    l2: L,
    /// Blocks below the confirmed tip rescanned after a start.
    lookback: u32,
    /// Most blocks scanned per step, so header relaying is not starved.
    max_blocks: u32,
    state: Mutex<ScanState>,
}

impl<B: BitcoinSource + RawBlocks, L: L2Chain + L2Bridge> DepositScanner<B, L> {
    pub fn new(bitcoin: B, l2: L, lookback: u32) -> Self {
        Self {
            bitcoin,
            l2,
            lookback,
            max_blocks: 100,
            state: Mutex::default(),
        }
    }

    /// Scans the next blocks that have the bridge's confirmation depth on the L2.
    ///
    /// # Errors
    /// The Bitcoin node or the L2 failing; a deposit refused as not proven (the L2's view
    /// moved: the same blocks are scanned again next time).
    pub fn step(&self) -> Result<ScanProgress, RelayError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| RelayError::L2("scanner state poisoned".into()))?;
        if state.bridge.is_none() {
            state.bridge = self.l2.bridge()?;
        }
        let Some(bridge) = state.bridge.clone() else {
            return Ok(ScanProgress::Waiting);
        };
        let (new_scripts, next_logs) = self.l2.registered_scripts(state.logs_from)?;
        // An address may be registered after a payment to it was scanned: scan the lookback
        // window again (deposits already recorded come back as known).
        if new_scripts.iter().any(|s| !state.scripts.contains(s)) {
            state.next_height = None;
        }
        state.scripts.extend(new_scripts);
        state.logs_from = next_logs;

        let tip = self.l2.tip()?.height;
        // A block at height h has tip - h + 1 confirmations.
        let Some(top) = (tip + 1).checked_sub(bridge.confirmations) else {
            return Ok(ScanProgress::Waiting);
        };
        let from = state
            .next_height
            .unwrap_or_else(|| top.saturating_sub(self.lookback));
        if from > top {
            return Ok(ScanProgress::Waiting);
        }
        let to = top.min(from.saturating_add(self.max_blocks - 1));
        let mut relayed = 0;
        for height in from..=to {
            if let Some(hash) = self.l2.best_hash_at(height)? {
                relayed += self.scan_block(&hash, height, &bridge, &state.scripts)?;
            }
            state.next_height = Some(height + 1);
        }
        Ok(ScanProgress::Scanned { from, to, relayed })
    }

    /// Relays every transaction of block `hash` that pays the bridge; the number accepted.
    fn scan_block(
        &self,
        hash: &BlockHash,
        height: u32,
        bridge: &BridgeInfo,
        scripts: &HashSet<Vec<u8>>,
    ) -> Result<usize, RelayError> {
        let (raw, txids) = self.bitcoin.checked_block(hash)?;
        let block: Block =
            deserialize(&raw).map_err(|e| RelayError::Bitcoin(format!("block {hash}: {e}")))?;
        let mut accepted = 0;
        for tx in &block.txdata {
            let pays_bridge = tx.output.iter().any(|o| {
                let script = o.script_pubkey.as_bytes();
                script == bridge.vault_script.as_slice() || scripts.contains(script)
            });
            if !pays_bridge {
                continue;
            }
            let txid = tx.compute_txid();
            let proof = txids.proof(&txid.to_byte_array()).ok_or_else(|| {
                RelayError::Bitcoin(format!("block {hash} does not prove {txid}"))
            })?;
            match self.l2.submit_deposit(&serialize(tx), &proof.encode())? {
                DepositOutcome::Accepted => {
                    info!(%txid, height, "relayed a deposit");
                    accepted += 1;
                }
                DepositOutcome::Known => {
                    debug!(%txid, "deposit already recorded");
                }
                // The L2's light client moved under us (a reorg): scan this block again.
                DepositOutcome::Unproven(why) => return Err(RelayError::Refused(why)),
                DepositOutcome::Refused(why) => {
                    warn!(%txid, reason = %why, "deposit refused");
                }
            }
        }
        Ok(accepted)
    }
}
