//! Blocks, transactions, receipts and logs in their JSON-RPC shapes, built from what the chain
//! stored at commit time (never recomputed from state).

use alloy_consensus::{transaction::Recovered, ReceiptEnvelope, Transaction as _, TxEnvelope};
use alloy_eips::{eip2718::Decodable2718, eip4895::Withdrawals};
use alloy_primitives::{Bytes, B256, U256};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};
use bevm_evm::chain::{self, StoredBlock};

use crate::{api::EthApi, RpcError};

pub type RpcReceipt = TransactionReceipt<ReceiptEnvelope<Log>>;

fn decode_tx(raw: &Bytes) -> Result<TxEnvelope, RpcError> {
    TxEnvelope::decode_2718(&mut raw.as_ref())
        .map_err(|_| RpcError::internal("stored transaction does not decode"))
}

impl EthApi {
    pub(crate) fn stored_block(
        &self,
        number: u64,
    ) -> Result<Option<(StoredBlock, B256)>, RpcError> {
        let Some(block) = chain::block(&self.store, number)? else {
            return Ok(None);
        };
        let hash =
            chain::block_hash(&self.store, number)?.unwrap_or_else(|| block.header.hash_slow());
        Ok(Some((block, hash)))
    }

    fn rpc_tx(
        block: &StoredBlock,
        hash: B256,
        index: usize,
    ) -> Result<Option<Transaction>, RpcError> {
        let (Some(raw), Some(sender)) = (block.txs.get(index), block.senders.get(index)) else {
            return Ok(None);
        };
        let envelope = decode_tx(raw)?;
        let effective_gas_price = envelope.effective_gas_price(block.header.base_fee_per_gas);
        Ok(Some(Transaction {
            inner: Recovered::new_unchecked(envelope, *sender),
            block_hash: Some(hash),
            block_number: Some(block.header.number),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(effective_gas_price),
            block_timestamp: Some(block.header.timestamp),
        }))
    }

    /// A block with full transactions or their hashes.
    pub(crate) fn block(&self, number: u64, full: bool) -> Result<Option<Block>, RpcError> {
        let Some((stored, hash)) = self.stored_block(number)? else {
            return Ok(None);
        };
        let transactions = if full {
            let txs = (0..stored.txs.len())
                .filter_map(|i| Self::rpc_tx(&stored, hash, i).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            BlockTransactions::Full(txs)
        } else {
            BlockTransactions::Hashes(stored.txs.iter().map(alloy_primitives::keccak256).collect())
        };
        let size = stored.length() as u64;
        Ok(Some(Block {
            header: Header {
                hash,
                inner: stored.header,
                total_difficulty: Some(U256::ZERO),
                size: Some(U256::from(size)),
            },
            uncles: Vec::new(),
            transactions,
            withdrawals: Some(Withdrawals::default()),
        }))
    }

    /// A block's header and hash, without its transactions.
    pub(crate) fn header(
        &self,
        number: u64,
    ) -> Result<Option<(alloy_consensus::Header, B256)>, RpcError> {
        let Some(header) = chain::header(&self.store, number)? else {
            return Ok(None);
        };
        let hash = chain::block_hash(&self.store, number)?.unwrap_or_else(|| header.hash_slow());
        Ok(Some((header, hash)))
    }

    pub(crate) fn tx_count(&self, number: u64) -> Result<Option<u64>, RpcError> {
        Ok(self.stored_block(number)?.map(|(b, _)| b.txs.len() as u64))
    }

    pub(crate) fn tx_by_index(
        &self,
        number: u64,
        index: u64,
    ) -> Result<Option<Transaction>, RpcError> {
        let Some((stored, hash)) = self.stored_block(number)? else {
            return Ok(None);
        };
        let Ok(index) = usize::try_from(index) else {
            return Ok(None);
        };
        Self::rpc_tx(&stored, hash, index)
    }

    pub(crate) fn tx_by_hash(&self, tx_hash: &B256) -> Result<Option<Transaction>, RpcError> {
        let Some(loc) = chain::tx_location(&self.store, tx_hash)? else {
            return Ok(None);
        };
        self.tx_by_index(loc.block, u64::from(loc.index))
    }

    /// All receipts of a block.
    pub(crate) fn block_receipts(&self, number: u64) -> Result<Option<Vec<RpcReceipt>>, RpcError> {
        self.receipts_of(number, None)
    }

    /// Receipts of block `number`: all of them, or only the one at `only` (the others are
    /// not built, though their logs are counted for the log index).
    fn receipts_of(
        &self,
        number: u64,
        only: Option<usize>,
    ) -> Result<Option<Vec<RpcReceipt>>, RpcError> {
        let Some((stored, hash)) = self.stored_block(number)? else {
            return Ok(None);
        };
        let receipts = chain::receipts(&self.store, number)?.unwrap_or_default();
        let mut out = Vec::with_capacity(if only.is_some() { 1 } else { receipts.len() });
        let mut log_index = 0u64;
        let mut previous_gas = 0u64;
        for (i, receipt) in receipts.into_iter().enumerate() {
            let gas_used = receipt.cumulative_gas_used() - previous_gas;
            previous_gas = receipt.cumulative_gas_used();
            if only.is_some_and(|o| o != i) {
                log_index += receipt.logs().len() as u64;
                continue;
            }
            let raw = stored
                .txs
                .get(i)
                .ok_or_else(|| RpcError::internal("receipt without tx"))?;
            let sender = *stored
                .senders
                .get(i)
                .ok_or_else(|| RpcError::internal("tx without sender"))?;
            let envelope = decode_tx(raw)?;
            let tx_hash = alloy_primitives::keccak256(raw);
            let inner = receipt.map_logs(|log| {
                let rpc = Log {
                    inner: log,
                    block_hash: Some(hash),
                    block_number: Some(stored.header.number),
                    block_timestamp: Some(stored.header.timestamp),
                    transaction_hash: Some(tx_hash),
                    transaction_index: Some(i as u64),
                    log_index: Some(log_index),
                    removed: false,
                };
                log_index += 1;
                rpc
            });
            out.push(TransactionReceipt {
                inner,
                transaction_hash: tx_hash,
                transaction_index: Some(i as u64),
                block_hash: Some(hash),
                block_number: Some(stored.header.number),
                gas_used,
                effective_gas_price: envelope.effective_gas_price(stored.header.base_fee_per_gas),
                blob_gas_used: None,
                blob_gas_price: None,
                from: sender,
                to: envelope.to(),
                contract_address: envelope
                    .kind()
                    .is_create()
                    .then(|| sender.create(envelope.nonce())),
            });
        }
        Ok(Some(out))
    }

    pub(crate) fn receipt(&self, tx_hash: &B256) -> Result<Option<RpcReceipt>, RpcError> {
        let Some(loc) = chain::tx_location(&self.store, tx_hash)? else {
            return Ok(None);
        };
        let receipts = self
            .receipts_of(loc.block, Some(loc.index as usize))?
            .unwrap_or_default();
        Ok(receipts.into_iter().next())
    }
}
