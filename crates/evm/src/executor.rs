//! Executes a block's transactions with revm and builds its Ethereum header and receipts.

use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction, TxType,
    EMPTY_OMMER_ROOT_HASH,
};
use alloy_eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{
    keccak256, map::HashMap, Address, Bloom, BloomInput, Bytes, Log, B256, B64, U256,
};
use alloy_trie::{root::ordered_trie_root_with_encoder, EMPTY_ROOT_HASH};
use bevm_primitives::{tx::EthTx, FEE_POOL_ADDRESS};
use bevm_store::Batch;
use revm::{
    context::{result::EVMError, Context},
    handler::{ExecuteEvm, MainBuilder, MainContext},
    DatabaseCommit,
};

use crate::{
    chain::{self, StoredBlock},
    env::{tx_env, BlockInput, ChainSpec},
    state::BlockState,
    EvmError,
};

/// What happened to one transaction of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    /// Executed and included in the Ethereum block (successful or reverted).
    Included { gas_used: u64, success: bool },
    /// Not executable in this block (nonce, balance, gas): left out of the Ethereum block,
    /// state untouched, reported to CometBFT with a non-zero code.
    Skipped(String),
}

/// A block after execution, before its roots are known.
#[derive(Debug)]
pub struct ExecutedBlock {
    /// Everything but the state, transactions and receipts roots and the logs bloom (see
    /// [`ExecutedBlock::seal`]).
    pub header: Header,
    pub txs: Vec<Bytes>,
    /// keccak256 of each of `txs`.
    pub tx_hashes: Vec<B256>,
    pub senders: Vec<alloy_primitives::Address>,
    /// The included transactions' receipts, without their blooms yet.
    pub receipts: Vec<(TxType, Receipt)>,
    /// One entry per input transaction, in input order.
    pub outcomes: Vec<TxOutcome>,
}

/// keccak256 of the log addresses and topics that go into a block's blooms, each computed
/// once: a block's logs repeat them (a token's address, an event's signature), and hashing
/// them was a fifth of sealing.
#[derive(Debug, Default)]
struct BloomHashes {
    addresses: HashMap<Address, B256>,
    topics: HashMap<B256, B256>,
}

impl BloomHashes {
    /// The bloom of a receipt with these logs.
    fn bloom(&mut self, logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            let address = self
                .addresses
                .entry(log.address)
                .or_insert_with(|| keccak256(log.address));
            bloom.accrue(BloomInput::Hash(*address));
            for topic in log.topics() {
                let hash = self
                    .topics
                    .entry(*topic)
                    .or_insert_with(|| keccak256(topic));
                bloom.accrue(BloomInput::Hash(*hash));
            }
        }
        bloom
    }
}

/// What sealing needs besides the state root: the transactions root, the receipts with their
/// blooms, their root and the block's bloom. The costly part of sealing, computed apart so it
/// can run alongside the state root.
#[derive(Debug)]
pub struct BlockRoots {
    pub transactions: B256,
    pub receipts_root: B256,
    pub logs_bloom: Bloom,
    /// The receipts and the transaction index, staged for the block's commit.
    pub staged: Batch,
}

impl ExecutedBlock {
    /// The transactions root (over the EIP-2718 bytes as received), the receipts and their
    /// root, and the logs bloom; the receipts and the transaction index staged. Takes the
    /// receipts out of the block (nothing after sealing needs them).
    pub fn roots(&mut self) -> BlockRoots {
        let mut bloom_hashes = BloomHashes::default();
        let mut logs_bloom = Bloom::ZERO;
        // Each receipt encoded once, for its root and for the store.
        let receipts: Vec<Bytes> = std::mem::take(&mut self.receipts)
            .into_iter()
            .map(|(ty, receipt)| {
                let bloom = bloom_hashes.bloom(&receipt.logs);
                logs_bloom.accrue_bloom(&bloom);
                let receipt = ReceiptWithBloom::new(receipt, bloom);
                ReceiptEnvelope::from_typed(ty, receipt)
                    .encoded_2718()
                    .into()
            })
            .collect();
        let mut staged = Batch::default();
        chain::stage_receipts(&mut staged, self.header.number, &receipts, &self.tx_hashes);
        // Both lists are already in their EIP-2718 form: the trie leaves take them verbatim.
        let verbatim = |raw: &Bytes, out: &mut Vec<u8>| out.extend_from_slice(raw);
        BlockRoots {
            transactions: ordered_trie_root_with_encoder(&self.txs, verbatim),
            receipts_root: ordered_trie_root_with_encoder(&receipts, verbatim),
            logs_bloom,
            staged,
        }
    }

    /// Completes the header with its roots (the state root is the app hash) and returns the
    /// block to store, its hash, keccak256(rlp(header)), and everything the block writes
    /// besides the state (the block, its receipts, the transaction index), staged.
    pub fn seal(self, state_root: B256, roots: BlockRoots) -> (StoredBlock, B256, Batch) {
        let mut header = self.header;
        header.state_root = state_root;
        header.transactions_root = roots.transactions;
        header.receipts_root = roots.receipts_root;
        header.logs_bloom = roots.logs_bloom;
        let hash = header.hash_slow();
        let block = StoredBlock {
            header,
            txs: self.txs,
            senders: self.senders,
        };
        let mut staged = roots.staged;
        chain::stage_block(&mut staged, &block, hash);
        (block, hash, staged)
    }
}

/// Executes `txs` in order on top of `state`.
///
/// Base fee and tips go to the fee pool account (revm credits the tip to the beneficiary, which
/// is the fee pool; the base fee revm would burn is credited here). A transaction that cannot
/// run (nonce, balance, fee below the base fee, or no room left under the block gas limit) is
/// skipped and changes nothing.
///
/// # Errors
/// Only storage failures: everything a transaction can get wrong is a [`TxOutcome`].
pub fn execute_block(
    spec: &ChainSpec,
    state: &mut BlockState,
    input: &BlockInput,
    txs: &[EthTx],
) -> Result<ExecutedBlock, EvmError> {
    let gas_limit = spec.params.block_gas_limit;
    let mut evm = Context::mainnet()
        .with_db(&mut *state)
        .with_cfg(spec.cfg_env())
        .with_block(input.block_env(spec))
        .build_mainnet()
        .with_precompiles(input.precompiles(spec));

    let mut cumulative_gas = 0u64;
    let mut included = Vec::with_capacity(txs.len());
    let mut receipts = Vec::with_capacity(txs.len());
    let mut outcomes = Vec::with_capacity(txs.len());

    for tx in txs {
        let tx_gas_limit = tx.envelope.gas_limit();
        if cumulative_gas.saturating_add(tx_gas_limit) > gas_limit {
            outcomes.push(TxOutcome::Skipped(format!(
                "gas limit reached: block has {} gas left, tx wants {tx_gas_limit}",
                gas_limit - cumulative_gas
            )));
            continue;
        }
        let result = match evm.transact(tx_env(tx)) {
            Ok(result) => result,
            Err(EVMError::Database(e)) => return Err(e),
            Err(e) => {
                outcomes.push(TxOutcome::Skipped(crate::errors::geth_message(&e)));
                continue;
            }
        };
        let gas_used = result.result.tx_gas_used();
        let success = result.result.is_success();
        let logs = result.result.into_logs();
        let db = &mut evm.ctx.journaled_state.database;
        db.commit(result.state);
        // revm burns the base fee; on bevm it goes to the fee pool (supply stays backed).
        db.credit(
            FEE_POOL_ADDRESS,
            U256::from(input.base_fee) * U256::from(gas_used),
        )?;

        cumulative_gas += gas_used;
        let receipt = Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: cumulative_gas,
            logs,
        };
        receipts.push((tx.envelope.tx_type(), receipt));
        included.push(tx);
        outcomes.push(TxOutcome::Included { gas_used, success });
    }

    let header = Header {
        parent_hash: input.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: FEE_POOL_ADDRESS,
        state_root: B256::ZERO,
        difficulty: U256::ZERO,
        number: input.number,
        gas_limit,
        gas_used: cumulative_gas,
        timestamp: input.timestamp,
        extra_data: Bytes::new(),
        mix_hash: input.prevrandao,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(input.base_fee),
        ..prague_header_fields()
    };
    Ok(ExecutedBlock {
        header,
        txs: included.iter().map(|t| t.raw.clone()).collect(),
        tx_hashes: included.iter().map(|t| t.hash).collect(),
        senders: included.iter().map(|t| t.sender).collect(),
        receipts,
        outcomes,
    })
}

/// The genesis block's header: number 0, no transactions, the genesis state root.
pub fn genesis_header(spec: &ChainSpec, timestamp: u64, state_root: B256) -> Header {
    Header {
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: FEE_POOL_ADDRESS,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        gas_limit: spec.params.block_gas_limit,
        timestamp,
        base_fee_per_gas: Some(spec.params.initial_base_fee),
        ..prague_header_fields()
    }
}

/// The header fields later forks added, with this chain's constant values: no withdrawals,
/// no blobs, no beacon root, no execution-layer requests.
fn prague_header_fields() -> Header {
    Header {
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Header::default()
    }
}

#[cfg(test)]
mod tests {
    use alloy_consensus::proofs::calculate_receipt_root;
    use alloy_primitives::LogData;
    use bevm_store::{Committed, Store};

    use super::*;

    /// Receipts whose logs repeat some addresses and topics and not others, of every type.
    fn receipts() -> Vec<(TxType, Receipt)> {
        let types = [
            TxType::Legacy,
            TxType::Eip2930,
            TxType::Eip1559,
            TxType::Eip7702,
        ];
        (0..40u8)
            .map(|i| {
                let logs = (0..i % 4)
                    .map(|j| {
                        let topics = (0..=j)
                            .map(|k| B256::repeat_byte(if k == 0 { 0xdd } else { i ^ k }))
                            .collect();
                        let address = Address::repeat_byte(1 + i % 3);
                        Log {
                            address,
                            data: LogData::new_unchecked(topics, Bytes::from(vec![i, j])),
                        }
                    })
                    .collect();
                let receipt = Receipt {
                    status: Eip658Value::Eip658(i % 5 != 0),
                    cumulative_gas_used: 21_000 * u64::from(i + 1),
                    logs,
                };
                (types[usize::from(i) % types.len()], receipt)
            })
            .collect()
    }

    #[test]
    fn roots_and_stored_receipts_match_alloys_receipts_with_blooms() {
        let expected: Vec<ReceiptEnvelope> = receipts()
            .into_iter()
            .map(|(ty, r)| ReceiptEnvelope::from_typed(ty, r.with_bloom()))
            .collect();
        assert!(expected.iter().any(|r| r.logs().len() == 3));
        let mut block = ExecutedBlock {
            header: Header {
                number: 9,
                ..Header::default()
            },
            txs: vec![Bytes::from_static(b"tx")],
            tx_hashes: vec![B256::repeat_byte(0x77)],
            senders: Vec::new(),
            receipts: receipts(),
            outcomes: Vec::new(),
        };
        let roots = block.roots();
        assert_eq!(roots.receipts_root, calculate_receipt_root(&expected));
        let mut bloom = Bloom::ZERO;
        for r in &expected {
            bloom.accrue_bloom(r.logs_bloom());
        }
        assert_ne!(bloom, Bloom::ZERO);
        assert_eq!(roots.logs_bloom, bloom);

        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let committed = Committed {
            height: 9,
            app_hash: B256::ZERO,
        };
        store.write(roots.staged, committed).expect("write");
        assert_eq!(chain::receipts(&store, 9).expect("read"), Some(expected));
    }
}
