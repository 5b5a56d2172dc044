//! CheckTx: the cheap checks a transaction passes before it enters CometBFT's mempool.
//!
//! A [`CheckState`] tracks, per sender, the next nonce and the funds already promised to
//! transactions waiting in the mempool, so one sender can have many transactions in flight.
//! It is reset at each Commit; CometBFT's re-check of the remaining mempool rebuilds it.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, U256};
use bevm_evm::{state_key::AccountRecord, ChainSpec, StateReader};
use bevm_primitives::tx::EthTx;
use bevm_store::Store;
use parking_lot::Mutex;

use bevm_primitives::native::is_native;

use crate::{
    bridge::BridgeModule,
    btc::{BtcModule, Overlay},
    native::NativeModules,
    senders::SenderCache,
};

/// The mempool side of the app, usable without the consensus lock: CheckTx reads committed
/// state only, so it never waits for a block being finalized.
#[derive(Debug)]
pub struct Mempool {
    store: Store,
    spec: OnceLock<ChainSpec>,
    modules: OnceLock<NativeModules>,
    next_base_fee: AtomicU64,
    head_time: AtomicU64,
    check: Mutex<CheckState>,
    /// Module changes of the relays admitted since the last commit, so a relay may
    /// build on one still in the mempool: a relayer sends its batches back to back and they
    /// land in one block. Cleared at commit; CometBFT's re-check rebuilds it in mempool order.
    native_pending: Mutex<Overlay>,
    pub(crate) senders: SenderCache,
}

impl Mempool {
    pub(crate) fn new(store: Store) -> Self {
        Self {
            store,
            spec: OnceLock::new(),
            modules: OnceLock::new(),
            next_base_fee: AtomicU64::new(0),
            head_time: AtomicU64::new(0),
            check: Mutex::default(),
            native_pending: Mutex::default(),
            senders: SenderCache::default(),
        }
    }

    pub(crate) fn set_spec(&self, spec: ChainSpec, modules: NativeModules) {
        let _ = self.spec.set(spec);
        let _ = self.modules.set(modules);
    }

    /// The native modules, once InitChain has run.
    pub fn modules(&self) -> Option<&NativeModules> {
        self.modules.get()
    }

    /// The light client's rules, once InitChain has run.
    pub fn btc(&self) -> Option<&BtcModule> {
        self.modules.get().map(|m| &m.btc)
    }

    /// The bridge, if genesis has one.
    pub fn bridge(&self) -> Option<&BridgeModule> {
        self.modules.get().and_then(|m| m.bridge.as_ref())
    }

    /// CheckTx of a native transaction against the committed state plus the relays already
    /// admitted: a relay must make progress (new headers, a deposit not yet recorded).
    fn check_native(&self, raw: &[u8]) -> Result<u64, CheckError> {
        let modules = self
            .modules()
            .ok_or_else(|| refuse(code::INTERNAL, "the chain is not initialized yet"))?;
        let now = self.head_time.load(Ordering::SeqCst);
        let mut pending = self.native_pending.lock();
        match modules.apply(raw, &self.store, &pending, now) {
            Ok(effect) => pending.extend(effect.writes),
            // Known only through the admitted relays: CometBFT may have dropped the one that
            // brought them (a full mempool), so it is admitted again against committed state.
            Err(e)
                if (e.code == code::BTC_KNOWN || e.code == code::DEPOSIT_KNOWN)
                    && !pending.is_empty() =>
            {
                modules.apply(raw, &self.store, &Overlay::new(), now)?;
            }
            Err(e) => return Err(e),
        }
        Ok(0)
    }

    /// After each commit: the next block's base fee, and a fresh per-sender view that
    /// CometBFT's re-check rebuilds.
    /// `head_time` (the last block's time) is the light client's "now" in CheckTx.
    pub(crate) fn after_commit(&self, next_base_fee: u64, head_time: u64) {
        self.next_base_fee.store(next_base_fee, Ordering::SeqCst);
        self.head_time.store(head_time, Ordering::SeqCst);
        self.check.lock().reset();
        self.native_pending.lock().clear();
    }

    /// Decodes a transaction and recovers its sender, remembering it so the CheckTx that
    /// follows (through CometBFT) does not recover it again. Used by `eth_sendRawTransaction`.
    ///
    /// # Errors
    /// See [`bevm_primitives::tx::decode_eth_tx`]; also refuses everything before InitChain.
    pub fn decode(&self, raw: &[u8]) -> Result<EthTx, CheckError> {
        let spec = self
            .spec
            .get()
            .ok_or_else(|| refuse(code::INTERNAL, "the chain is not initialized yet"))?;
        self.senders
            .decode(raw, spec)
            .map_err(|e| refuse(code::DECODE, e.to_string()))
    }

    /// The next nonce of `sender` counting its transactions in the mempool, if it has any.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.check.lock().pending_nonce(sender)
    }

    /// CheckTx (new or re-check): the gas the transaction wants, or why it is refused.
    ///
    /// # Errors
    /// See [`CheckState::check`]; also refuses everything before InitChain.
    pub fn check_tx(&self, raw: &[u8]) -> Result<u64, CheckError> {
        if is_native(raw) {
            return self.check_native(raw);
        }
        let tx = self.decode(raw)?;
        let spec = self
            .spec
            .get()
            .ok_or_else(|| refuse(code::INTERNAL, "the chain is not initialized yet"))?;
        let reader = StateReader::latest(self.store.clone());
        let base_fee = self.next_base_fee.load(Ordering::SeqCst);
        let gas = tx.envelope.gas_limit();
        self.check.lock().check(spec, &reader, base_fee, &tx)?;
        Ok(gas)
    }
}
use revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx;

/// A transaction refused by CheckTx: an ABCI code and a geth-style message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CheckError {
    pub code: u32,
    pub message: String,
}

/// ABCI codes returned for refused transactions.
pub mod code {
    pub const DECODE: u32 = 1;
    pub const NONCE: u32 = 2;
    pub const FUNDS: u32 = 3;
    pub const FEE: u32 = 4;
    pub const GAS: u32 = 5;
    /// A relay refused by the light client.
    pub const BTC: u32 = 20;
    /// A valid relay whose headers are all known already (relayers take it as done).
    pub const BTC_KNOWN: u32 = 21;
    /// A deposit relay refused for good: malformed, paying the bridge nothing, no bridge.
    pub const BRIDGE: u32 = 22;
    /// A valid deposit relay whose deposits are all recorded already.
    pub const DEPOSIT_KNOWN: u32 = 23;
    /// A deposit the light client does not prove yet (too few confirmations, a block off its
    /// best chain): relayers try again later.
    pub const DEPOSIT_UNPROVEN: u32 = 24;
    /// The node could not read its own state (or found it corrupt). Never a verdict on the
    /// transaction: CheckTx refuses it, but FinalizeBlock stops the node rather than give a
    /// result a healthy peer would not (see [`super::unreadable_state`]).
    pub const INTERNAL: u32 = 100;
    /// Valid transaction that could not execute in its block (FinalizeBlock).
    pub const SKIPPED: u32 = 10;
}

fn refuse(code: u32, message: impl Into<String>) -> CheckError {
    CheckError {
        code,
        message: message.into(),
    }
}

/// Per-sender view of the mempool.
#[derive(Debug, Default)]
pub struct CheckState {
    pending: HashMap<Address, Pending>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    next_nonce: u64,
    committed_to: U256,
}

impl CheckState {
    /// Forgets everything (at Commit; the re-check rebuilds it).
    pub fn reset(&mut self) {
        self.pending.clear();
    }

    /// The next nonce of `sender` counting its transactions in the mempool, if it has any.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.pending.get(sender).map(|p| p.next_nonce)
    }

    /// Checks a decoded transaction against committed state plus the mempool and, if it
    /// passes, records it.
    ///
    /// # Errors
    /// [`CheckError`] with geth's message for each rule: block gas limit, intrinsic gas, fee
    /// cap below the base fee, nonce too low or too high (no gaps: CometBFT's mempool has no
    /// queue), insufficient funds. Decoding, chain id and signature are checked before.
    pub fn check(
        &mut self,
        spec: &ChainSpec,
        reader: &StateReader,
        base_fee: u64,
        tx: &EthTx,
    ) -> Result<(), CheckError> {
        let env = &tx.envelope;
        if env.gas_limit() > spec.params.block_gas_limit {
            return Err(refuse(code::GAS, "exceeds block gas limit"));
        }
        let intrinsic = intrinsic_gas(spec, tx);
        if env.gas_limit() < intrinsic {
            return Err(refuse(
                code::GAS,
                format!(
                    "intrinsic gas too low: gas {}, minimum needed {intrinsic}",
                    env.gas_limit()
                ),
            ));
        }
        if let Some(tip) = env.max_priority_fee_per_gas() {
            if tip > env.max_fee_per_gas() {
                return Err(refuse(
                    code::FEE,
                    "max priority fee per gas higher than max fee per gas",
                ));
            }
        }
        if env.max_fee_per_gas() < u128::from(base_fee) {
            return Err(refuse(
                code::FEE,
                format!(
                    "transaction underpriced: max fee per gas {} less than block base fee {base_fee}",
                    env.max_fee_per_gas()
                ),
            ));
        }
        let account = reader
            .account(&tx.sender)
            .map_err(unreadable_state)?
            .unwrap_or_default();
        let pending = self.pending.get(&tx.sender).copied().unwrap_or(Pending {
            next_nonce: account.nonce,
            committed_to: U256::ZERO,
        });
        check_nonce(tx, &account, pending.next_nonce)?;
        let cost = U256::from(env.gas_limit()) * U256::from(env.max_fee_per_gas()) + env.value();
        let available = account.balance.saturating_sub(pending.committed_to);
        if cost > available {
            return Err(refuse(
                code::FUNDS,
                format!(
                    "insufficient funds for gas * price + value: address {} have {available} want {cost}",
                    tx.sender
                ),
            ));
        }
        self.pending.insert(
            tx.sender,
            Pending {
                next_nonce: pending.next_nonce + 1,
                committed_to: pending.committed_to + cost,
            },
        );
        Ok(())
    }
}

fn check_nonce(tx: &EthTx, account: &AccountRecord, expected: u64) -> Result<(), CheckError> {
    let nonce = tx.envelope.nonce();
    if nonce < account.nonce {
        return Err(refuse(
            code::NONCE,
            format!(
                "nonce too low: address {}, tx: {nonce} state: {}",
                tx.sender, account.nonce
            ),
        ));
    }
    if nonce < expected {
        // Same nonce as a transaction already in the mempool: replacement is not supported.
        return Err(refuse(
            code::NONCE,
            format!(
                "replacement transaction underpriced: address {}, nonce {nonce} is already pending",
                tx.sender
            ),
        ));
    }
    if nonce > expected {
        return Err(refuse(
            code::NONCE,
            format!(
                "nonce too high: address {}, tx: {nonce} state: {expected} (gapped nonces are not queued; send nonce {expected} first)",
                tx.sender
            ),
        ));
    }
    Ok(())
}

/// Intrinsic gas of a transaction under the chain's rules (EIP-2028 calldata, EIP-2930 access
/// lists, EIP-3860 initcode, and EIP-7623's calldata floor).
fn intrinsic_gas(spec: &ChainSpec, tx: &EthTx) -> u64 {
    let gas = calculate_initial_tx_gas_for_tx(bevm_evm::env::tx_env(tx), spec.spec, None);
    gas.initial_total_gas().max(gas.floor_gas())
}

/// The state could not be read: [`code::INTERNAL`], the one way every module reports it.
pub(crate) fn unreadable_state(e: impl std::fmt::Display) -> CheckError {
    refuse(code::INTERNAL, format!("internal error reading state: {e}"))
}
