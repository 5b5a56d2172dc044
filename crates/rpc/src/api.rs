//! The read side shared by every method: block resolution and state readers.

use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256};
use bevm_app::mempool::Mempool;
use bevm_evm::{chain, ChainSpec, StateReader};
use bevm_store::Store;

use crate::RpcError;

/// Limits on what one request may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most blocks one eth_getLogs may scan.
    pub max_logs_block_range: u64,
    /// Most logs one eth_getLogs may return.
    pub max_logs: usize,
    /// Gas given to eth_call / eth_estimateGas when the request names none.
    pub gas_cap: u64,
}

/// What the Ethereum methods read: the store, the chain rules and the mempool's nonces.
#[derive(Clone)]
pub struct EthApi {
    pub(crate) store: Store,
    pub(crate) spec: ChainSpec,
    pub(crate) mempool: Arc<Mempool>,
    pub(crate) limits: Limits,
}

impl EthApi {
    pub fn new(store: Store, spec: ChainSpec, mempool: Arc<Mempool>, limits: Limits) -> Self {
        Self {
            store,
            spec,
            mempool,
            limits,
        }
    }

    /// The latest committed block number.
    pub(crate) fn latest(&self) -> Result<u64, RpcError> {
        Ok(self
            .store
            .committed()
            .map_err(RpcError::internal)?
            .map_or(0, |c| c.height))
    }

    /// The number a tag stands for. With CometBFT's instant finality, safe, finalized and
    /// latest are the same block; pending state is the latest state.
    pub(crate) fn number_of(&self, tag: BlockNumberOrTag) -> Result<u64, RpcError> {
        let latest = self.latest()?;
        match tag {
            BlockNumberOrTag::Earliest => Ok(0),
            BlockNumberOrTag::Number(n) if n <= latest => Ok(n),
            BlockNumberOrTag::Number(_) => Err(RpcError::NotFound("header not found".into())),
            _ => Ok(latest),
        }
    }

    /// The number of the block a [`BlockId`] names.
    pub(crate) fn resolve(&self, id: BlockId) -> Result<u64, RpcError> {
        match id {
            BlockId::Number(tag) => self.number_of(tag),
            BlockId::Hash(h) => self
                .number_by_hash(&h.block_hash)?
                .ok_or_else(|| RpcError::NotFound(format!("block {} not found", h.block_hash))),
        }
    }

    pub(crate) fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, RpcError> {
        Ok(chain::block_number(&self.store, hash)?)
    }

    /// State as of the block `id` names (latest when omitted).
    pub(crate) fn reader(&self, id: Option<BlockId>) -> Result<StateReader, RpcError> {
        let id = id.unwrap_or_default();
        let number = self.resolve(id)?;
        if matches!(
            id,
            BlockId::Number(BlockNumberOrTag::Number(_) | BlockNumberOrTag::Earliest)
        ) || matches!(id, BlockId::Hash(_))
        {
            return Ok(StateReader::at(self.store.clone(), number));
        }
        Ok(StateReader::latest(self.store.clone()))
    }

    /// The next nonce of `address`: with `pending`, counting its transactions in the mempool.
    pub(crate) fn nonce(&self, address: Address, id: Option<BlockId>) -> Result<u64, RpcError> {
        let committed = self.reader(id)?.account(&address)?.map_or(0, |a| a.nonce);
        if id == Some(BlockId::Number(BlockNumberOrTag::Pending)) {
            if let Some(pending) = self.mempool.pending_nonce(&address) {
                return Ok(pending.max(committed));
            }
        }
        Ok(committed)
    }
}
