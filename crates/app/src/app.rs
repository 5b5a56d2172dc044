//! The state machine behind the ABCI methods, free of tower-abci types: the adapter in
//! [`crate::abci`] converts requests and responses, this module decides.

use std::sync::Arc;

use alloy_consensus::{Header, Transaction};
use alloy_primitives::{Address, Bytes, B256, U256};
use bevm_evm::{
    chain::{self, StoredBlock},
    execute_block, BlockInput, BlockState, ChainSpec, StateReader, TxOutcome,
};
use bevm_primitives::genesis::Genesis;
use bevm_store::{Batch, Column, Committed, Store};

use bevm_primitives::native::{is_native, NativeTx};

use crate::{
    btc::Overlay,
    genesis::build_genesis_state,
    mempool::{code, CheckError, Mempool},
    native::NativeModules,
    AppError,
};

const META_GENESIS: &[u8] = b"genesis_app_state";

/// Result of one transaction in FinalizeBlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    pub code: u32,
    pub log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
}

/// What CometBFT tells the app about a block to finalize.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub height: u64,
    /// Unix seconds of the CometBFT block time.
    pub time: u64,
    /// CometBFT's block hash (source of prevrandao).
    pub hash: B256,
    pub txs: Vec<Bytes>,
}

/// A finalized block waiting for Commit.
#[derive(Debug)]
struct Pending {
    batch: Batch,
    committed: Committed,
    block: StoredBlock,
    hash: B256,
}

/// A block that was just committed, for subscribers (RPC newHeads, logs).
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    pub number: u64,
    pub hash: B256,
}

/// The bevm application.
pub struct App {
    store: Store,
    spec: Option<ChainSpec>,
    mempool: Arc<Mempool>,
    pending: Option<Pending>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field("spec", &self.spec)
            .finish()
    }
}

impl App {
    /// Opens the app over `store`, picking up the genesis stored by an earlier InitChain.
    ///
    /// # Errors
    /// Storage failures; a stored genesis that no longer parses.
    pub fn open(store: Store) -> Result<Self, AppError> {
        let genesis = match store.get_aux(Column::Meta, META_GENESIS)? {
            Some(bytes) => Some(Genesis::from_json(&bytes)?),
            None => None,
        };
        let spec = genesis.as_ref().map(ChainSpec::from_genesis);
        let mempool = Arc::new(Mempool::new(store.clone()));
        let app = Self {
            store,
            spec,
            mempool,
            pending: None,
        };
        if let (Some(spec), Some(genesis)) = (&app.spec, &genesis) {
            app.mempool
                .set_spec(spec.clone(), NativeModules::from_genesis(genesis)?);
            app.mempool
                .after_commit(app.next_base_fee()?, app.head()?.timestamp);
        }
        Ok(app)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The chain rules, once InitChain has run.
    pub fn spec(&self) -> Option<&ChainSpec> {
        self.spec.as_ref()
    }

    /// The mempool side (CheckTx, pending nonces), usable without locking the app.
    pub fn mempool(&self) -> Arc<Mempool> {
        self.mempool.clone()
    }

    /// Last committed height and app hash (Info). A fresh store reports height 0.
    ///
    /// # Errors
    /// Storage failures.
    pub fn info(&self) -> Result<Committed, AppError> {
        Ok(self.store.committed()?.unwrap_or(Committed {
            height: 0,
            app_hash: B256::ZERO,
        }))
    }

    /// InitChain: builds and commits the genesis state (height 0) and block 0. Idempotent: if
    /// the same genesis is already committed (a restart before block 1), returns its app hash.
    ///
    /// # Errors
    /// An invalid genesis, a different genesis than the committed one, storage failures.
    pub fn init_chain(&mut self, app_state: &[u8], genesis_time: u64) -> Result<B256, AppError> {
        let genesis = Genesis::from_json(app_state)?;
        if let Some(committed) = self.store.committed()? {
            // Compared as genesis, not as bytes: after a restart CometBFT sends the app state
            // it re-encoded into its state database, not the genesis file's text.
            let stored = self.store.get_aux(Column::Meta, META_GENESIS)?;
            let same = stored.is_some_and(|s| Genesis::from_json(&s).is_ok_and(|g| g == genesis));
            if committed.height == 0 && same {
                return Ok(committed.app_hash);
            }
            return Err(AppError::AlreadyInitialized {
                height: committed.height,
            });
        }
        let spec = ChainSpec::from_genesis(&genesis);
        let mut batch = Batch::default();
        let mut diff = build_genesis_state(&genesis, StateReader::latest(self.store.clone()));
        let modules = NativeModules::from_genesis(&genesis)?;
        diff.changes
            .extend(modules.btc.genesis_state(&genesis.btc)?);
        for (hash, code) in &diff.code {
            batch.put(Column::Code, hash.as_slice(), code);
        }
        let prepared = self.store.prepare_state(diff.changes, 0)?;
        let root = prepared.root;
        prepared.stage(&mut batch);
        let header = bevm_evm::executor::genesis_header(&spec, genesis_time, root);
        let hash = header.hash_slow();
        let block = StoredBlock {
            header,
            txs: Vec::new(),
            senders: Vec::new(),
        };
        chain::stage_block(&mut batch, &block, hash);
        chain::stage_receipts(&mut batch, 0, &[], &[]);
        batch.put(Column::Meta, META_GENESIS, app_state);
        self.store.write(
            batch,
            Committed {
                height: 0,
                app_hash: root,
            },
        )?;
        tracing::info!(target: "bevm::app", chain_id = spec.chain_id, app_hash = %root, "genesis committed");
        self.mempool.set_spec(spec.clone(), modules);
        self.spec = Some(spec);
        self.mempool
            .after_commit(self.next_base_fee()?, genesis_time);
        Ok(root)
    }

    fn spec_or_err(&self) -> Result<&ChainSpec, AppError> {
        self.spec.as_ref().ok_or(AppError::NotInitialized)
    }

    /// The header of the last committed block.
    fn head(&self) -> Result<Header, AppError> {
        let height = self.info()?.height;
        chain::header(&self.store, height)?.ok_or(AppError::MissingBlock(height))
    }

    /// The base fee the next block will have.
    ///
    /// # Errors
    /// Before InitChain; storage failures.
    pub fn next_base_fee(&self) -> Result<u64, AppError> {
        Ok(self.spec_or_err()?.next_base_fee(&self.head()?))
    }

    /// CheckTx (new or re-check); see [`Mempool::check_tx`].
    ///
    /// # Errors
    /// The reason the transaction is refused.
    pub fn check_tx(&self, raw: &[u8]) -> Result<u64, CheckError> {
        self.mempool.check_tx(raw)
    }

    /// PrepareProposal: keeps the mempool's order (per-sender nonce order is preserved, since
    /// CheckTx admits only the next nonce) and stops at the block gas limit or `max_bytes`.
    pub fn prepare_proposal(&self, txs: Vec<Bytes>, max_bytes: u64) -> Vec<Bytes> {
        let Some(spec) = self.spec.as_ref() else {
            return Vec::new();
        };
        let (mut gas, mut bytes) = (0u64, 0u64);
        let mut out = Vec::with_capacity(txs.len());
        for raw in txs {
            if is_native(&raw) {
                if bytes + raw.len() as u64 > max_bytes {
                    break;
                }
                bytes += raw.len() as u64;
                out.push(raw);
                continue;
            }
            // Decoding recovers the signature; cheap enough next to execution, and it keeps
            // transactions that went bad in the mempool out of the proposal.
            let Ok(tx) = self.mempool.senders.decode(&raw, spec) else {
                continue;
            };
            let tx_gas = tx.envelope.gas_limit();
            if gas + tx_gas > spec.params.block_gas_limit {
                continue;
            }
            if bytes + raw.len() as u64 > max_bytes {
                break;
            }
            gas += tx_gas;
            bytes += raw.len() as u64;
            out.push(raw);
        }
        out
    }

    /// ProcessProposal: a proposal is acceptable if every transaction decodes and the sum of
    /// gas limits fits in a block (what an honest PrepareProposal guarantees).
    pub fn process_proposal(&self, txs: &[Bytes]) -> bool {
        let Some(spec) = self.spec.as_ref() else {
            return false;
        };
        let max_headers = self.mempool.btc().map_or(0, |b| b.max_headers);
        let (native, eth): (Vec<Bytes>, Vec<Bytes>) =
            txs.iter().cloned().partition(|raw| is_native(raw));
        if native
            .iter()
            .any(|raw| NativeTx::decode(raw, max_headers).is_err())
        {
            return false;
        }
        let mut gas = 0u64;
        for tx in self.mempool.senders.decode_all(&eth, spec) {
            match tx {
                Ok(tx) => gas = gas.saturating_add(tx.envelope.gas_limit()),
                Err(_) => return false,
            }
        }
        gas <= spec.params.block_gas_limit
    }

    /// FinalizeBlock: executes the block and computes its app hash. Nothing is written until
    /// [`App::commit`].
    ///
    /// # Errors
    /// Storage failures, or a height that does not follow the committed one: both fatal.
    pub fn finalize_block(&mut self, req: BlockRequest) -> Result<(Vec<TxResult>, B256), AppError> {
        let spec = self.spec_or_err()?.clone();
        let parent = self.head()?;
        if req.height != parent.number + 1 {
            return Err(AppError::HeightMismatch {
                got: req.height,
                committed: parent.number,
            });
        }
        let started = std::time::Instant::now();
        // Native transactions (Bitcoin relays) run first, in block order, so that the EVM
        // transactions of the same block already see the headers they bring.
        let mut native_changes = Overlay::new();
        let mut mints = Vec::new();
        let native_results: Vec<TxResult> = req
            .txs
            .iter()
            .filter(|raw| is_native(raw))
            .map(|raw| self.apply_native(raw, &mut native_changes, &mut mints, req.time))
            .collect::<Result<_, _>>()?;
        let eth_txs: Vec<Bytes> = req
            .txs
            .iter()
            .filter(|raw| !is_native(raw))
            .cloned()
            .collect();
        let decoded = self.mempool.senders.decode_included(&eth_txs, &spec);
        let decoded_at = started.elapsed();
        let valid: Vec<_> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect();
        let input = BlockInput {
            number: req.height,
            timestamp: req.time,
            parent_hash: parent.hash_slow(),
            prevrandao: req.hash,
            base_fee: spec.next_base_fee(&parent),
            bitcoin: self
                .mempool
                .btc()
                .map(|b| b.reader(&self.store, native_changes.clone())),
            bridge: self.mempool.modules().and_then(NativeModules::bridge_vault),
        };
        let mut state =
            BlockState::with_capacity(StateReader::latest(self.store.clone()), valid.len());
        // Deposits credited by this block's relays, before its EVM transactions run.
        for (to, amount) in mints {
            state.credit(to, amount)?;
        }
        let mut executed = execute_block(&spec, &mut state, &input, &valid)?;
        let executed_at = started.elapsed();
        let mut outcomes = std::mem::take(&mut executed.outcomes).into_iter();
        let eth_results: Vec<TxResult> = decoded
            .iter()
            .map(|d| match d {
                Err(e) => TxResult {
                    code: code::DECODE,
                    log: e.to_string(),
                    gas_wanted: 0,
                    gas_used: 0,
                },
                Ok(tx) => {
                    let gas_wanted = tx.envelope.gas_limit();
                    match outcomes.next() {
                        Some(TxOutcome::Included { gas_used, success }) => TxResult {
                            code: 0,
                            log: if success {
                                String::new()
                            } else {
                                "execution reverted".into()
                            },
                            gas_wanted,
                            gas_used,
                        },
                        Some(TxOutcome::Skipped(why)) => TxResult {
                            code: code::SKIPPED,
                            log: why,
                            gas_wanted,
                            gas_used: 0,
                        },
                        None => TxResult {
                            code: code::INTERNAL,
                            log: "no outcome".into(),
                            gas_wanted,
                            gas_used: 0,
                        },
                    }
                }
            })
            .collect();
        let (mut native_results, mut eth_results) =
            (native_results.into_iter(), eth_results.into_iter());
        let results = req
            .txs
            .iter()
            .filter_map(|raw| {
                if is_native(raw) {
                    native_results.next()
                } else {
                    eth_results.next()
                }
            })
            .collect();

        let mut diff = state.into_diff();
        diff.changes.extend(native_changes);
        let mut batch = Batch::default();
        for (hash, code) in &diff.code {
            batch.put(Column::Code, hash.as_slice(), code);
        }
        // The transactions and receipts roots take the second core while this one computes
        // the state root.
        let (prepared, roots) = std::thread::scope(|s| {
            let roots = s.spawn(|| executed.roots());
            let prepared = self.store.prepare_state(diff.changes, req.height);
            let roots = roots
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (prepared, roots)
        });
        let prepared = prepared?;
        let root = prepared.root;
        let rooted_at = started.elapsed();
        prepared.stage(&mut batch);
        let (block, hash, staged) = executed.seal(root, roots);
        batch.append(staged);
        tracing::debug!(
            target: "bevm::app",
            height = req.height,
            txs = req.txs.len(),
            decode = ?decoded_at,
            execute = ?(executed_at - decoded_at),
            state_root = ?(rooted_at - executed_at),
            staging = ?(started.elapsed() - rooted_at),
            total = ?started.elapsed(),
            "finalized"
        );
        self.pending = Some(Pending {
            batch,
            committed: Committed {
                height: req.height,
                app_hash: root,
            },
            block,
            hash,
        });
        Ok((results, root))
    }

    /// Applies one native transaction of the block being finalized on top of `changes`,
    /// collecting the BTC it mints.
    ///
    /// # Errors
    /// [`AppError::NativeState`] when the state cannot be read ([`code::INTERNAL`]): fatal,
    /// never a transaction result.
    fn apply_native(
        &self,
        raw: &[u8],
        changes: &mut Overlay,
        mints: &mut Vec<(Address, U256)>,
        now: u64,
    ) -> Result<TxResult, AppError> {
        let outcome = match self.mempool.modules() {
            Some(modules) => modules.apply(raw, &self.store, changes, now),
            None => Err(CheckError {
                code: code::INTERNAL,
                message: "the chain is not initialized".into(),
            }),
        };
        let (code, log) = match outcome {
            Ok(effect) => {
                changes.extend(effect.writes);
                mints.extend(effect.mints);
                (0, String::new())
            }
            Err(e) if e.code == code::INTERNAL => return Err(AppError::NativeState(e.message)),
            Err(e) => (e.code, e.message),
        };
        Ok(TxResult {
            code,
            log,
            gas_wanted: 0,
            gas_used: 0,
        })
    }

    /// Commit: writes the finalized block atomically and resets the mempool view.
    ///
    /// # Errors
    /// No finalized block to commit; storage failures. Both fatal.
    pub fn commit(&mut self) -> Result<CommittedBlock, AppError> {
        let pending = self.pending.take().ok_or(AppError::NothingToCommit)?;
        let started = std::time::Instant::now();
        self.store.write(pending.batch, pending.committed)?;
        let queued = started.elapsed();
        let spec = self.spec_or_err()?;
        self.mempool.after_commit(
            spec.next_base_fee(&pending.block.header),
            pending.block.header.timestamp,
        );
        tracing::debug!(
            target: "bevm::app",
            height = pending.committed.height,
            txs = pending.block.txs.len(),
            gas = pending.block.header.gas_used,
            app_hash = %pending.committed.app_hash,
            queued = ?queued,
            "committed"
        );
        Ok(CommittedBlock {
            number: pending.committed.height,
            hash: pending.hash,
        })
    }
}
