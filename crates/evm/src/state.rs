//! Reading committed state, and the overlay a block (or a call) executes against.

use std::collections::BTreeMap;

use alloy_primitives::{map::HashMap, Address, Bytes, B256, U256};
use bevm_store::{Column, StateChange, Store};
use revm::{
    bytecode::Bytecode,
    primitives::{StorageKey, StorageValue, KECCAK_EMPTY},
    state::{AccountInfo, EvmState},
    Database,
};

use crate::{chain, state_key, state_key::AccountRecord, EvmError};

/// Reads committed state: the latest, or as it was after a given height.
#[derive(Debug, Clone)]
pub struct StateReader {
    store: Store,
    version: Option<u64>,
}

impl StateReader {
    /// Reads the latest committed state.
    pub fn latest(store: Store) -> Self {
        Self {
            store,
            version: None,
        }
    }

    /// Reads the state as committed at `height`.
    pub fn at(store: Store, height: u64) -> Self {
        Self {
            store,
            version: Some(height),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EvmError> {
        Ok(match self.version {
            None => self.store.get_latest(key)?,
            Some(v) => self.store.get_at(key, v)?,
        })
    }

    /// An account's record, `None` if it does not exist.
    ///
    /// # Errors
    /// Storage failures and corrupt records.
    pub fn account(&self, address: &Address) -> Result<Option<AccountRecord>, EvmError> {
        match self.get(&state_key::account(address))? {
            None => Ok(None),
            Some(bytes) => AccountRecord::decode(&bytes)
                .map(Some)
                .ok_or(EvmError::Corrupt {
                    what: "account record",
                }),
        }
    }

    /// A storage slot's value (zero when never written).
    ///
    /// # Errors
    /// Storage failures and corrupt records.
    pub fn slot(&self, address: &Address, slot: &U256) -> Result<U256, EvmError> {
        match self.get(&state_key::storage(address, slot))? {
            None => Ok(U256::ZERO),
            Some(bytes) => state_key::decode_slot(&bytes).ok_or(EvmError::Corrupt {
                what: "storage slot",
            }),
        }
    }

    /// Contract code by hash (empty for the empty-code hash).
    ///
    /// # Errors
    /// Storage failures.
    pub fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, EvmError> {
        if *code_hash == KECCAK_EMPTY {
            return Ok(Some(Bytes::new()));
        }
        Ok(self
            .store
            .get_aux(Column::Code, code_hash.as_slice())?
            .map(Bytes::from))
    }

    /// An account's code (empty for accounts without code).
    ///
    /// # Errors
    /// Storage failures and corrupt records.
    pub fn code_of(&self, address: &Address) -> Result<Bytes, EvmError> {
        let Some(account) = self.account(address)? else {
            return Ok(Bytes::new());
        };
        self.code(&account.code_hash)?.ok_or(EvmError::Corrupt {
            what: "missing contract code",
        })
    }
}

/// State as a block (or a simulated call) sees it: committed state plus the writes of the
/// transactions executed so far. Written keys are sorted and deduplicated in
/// [`BlockState::into_diff`], and the hash maps are only looked up, never iterated, so the
/// changes handed to the Merkle tree never depend on hash-map order.
#[derive(Debug)]
pub struct BlockState {
    reader: StateReader,
    accounts: HashMap<Address, Option<AccountRecord>>,
    slots: HashMap<(Address, U256), U256>,
    code: HashMap<B256, Bytecode>,
    /// Written accounts and slots, repeats included: sorted and deduplicated once, in
    /// [`BlockState::into_diff`], instead of kept sorted on every write.
    dirty_accounts: Vec<Address>,
    dirty_slots: Vec<(Address, U256)>,
    new_code: BTreeMap<B256, Bytes>,
}

/// The writes of a block: state changes for the tree and new contract code.
#[derive(Debug, Default)]
pub struct StateDiff {
    pub changes: Vec<StateChange>,
    pub code: Vec<(B256, Bytes)>,
}

impl BlockState {
    pub fn new(reader: StateReader) -> Self {
        Self::with_capacity(reader, 0)
    }

    /// A state for a block of about `txs` transactions: its maps start with room for a few
    /// accounts and slots per transaction, so they do not rehash as the block runs.
    pub fn with_capacity(reader: StateReader, txs: usize) -> Self {
        Self {
            reader,
            accounts: HashMap::with_capacity_and_hasher(3 * txs, Default::default()),
            slots: HashMap::with_capacity_and_hasher(3 * txs, Default::default()),
            code: HashMap::default(),
            dirty_accounts: Vec::with_capacity(4 * txs),
            dirty_slots: Vec::with_capacity(4 * txs),
            new_code: BTreeMap::new(),
        }
    }

    pub fn reader(&self) -> &StateReader {
        &self.reader
    }

    /// The account as of the last applied transaction.
    ///
    /// # Errors
    /// Storage failures and corrupt records.
    pub fn account(&mut self, address: Address) -> Result<Option<AccountRecord>, EvmError> {
        if let Some(cached) = self.accounts.get(&address) {
            return Ok(*cached);
        }
        let loaded = self.reader.account(&address)?;
        self.accounts.insert(address, loaded);
        Ok(loaded)
    }

    /// Sets an account outright (genesis allocation, fee credits).
    pub fn set_account(&mut self, address: Address, record: Option<AccountRecord>) {
        self.accounts.insert(address, record);
        self.dirty_accounts.push(address);
    }

    /// Sets a storage slot outright (genesis allocation).
    pub fn set_slot(&mut self, address: Address, slot: U256, value: U256) {
        self.slots.insert((address, slot), value);
        self.dirty_slots.push((address, slot));
    }

    /// Registers contract code and returns its hash.
    pub fn insert_code(&mut self, code: Bytes) -> B256 {
        let bytecode = Bytecode::new_raw(code.clone());
        let hash = bytecode.hash_slow();
        if hash != KECCAK_EMPTY {
            self.new_code.entry(hash).or_insert(code);
            self.code.insert(hash, bytecode);
        }
        hash
    }

    /// Adds `amount` wei to an account, creating it if needed.
    ///
    /// # Errors
    /// Storage failures; [`EvmError::Revm`] if the balance would overflow (impossible with a
    /// supply backed by 21M BTC, checked anyway).
    pub fn credit(&mut self, address: Address, amount: U256) -> Result<(), EvmError> {
        if amount.is_zero() {
            return Ok(());
        }
        let mut record = self.account(address)?.unwrap_or_default();
        record.balance = record
            .balance
            .checked_add(amount)
            .ok_or_else(|| EvmError::Revm("balance overflow".into()))?;
        self.set_account(address, Some(record));
        Ok(())
    }

    /// Applies the state changes of one executed transaction.
    pub fn apply(&mut self, state: EvmState) {
        for (address, account) in state {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() {
                // Since EIP-6780 only accounts created in the same transaction self-destruct,
                // so their storage is exactly the slots this transaction wrote.
                for slot in account.storage.keys() {
                    self.set_slot(address, *slot, U256::ZERO);
                }
                self.set_account(address, None);
                continue;
            }
            for (slot, value) in account.changed_storage_slots() {
                self.set_slot(address, *slot, value.present_value());
            }
            if let Some(code) = &account.info.code {
                if account.info.code_hash != KECCAK_EMPTY
                    && !self.code.contains_key(&account.info.code_hash)
                {
                    self.new_code
                        .insert(account.info.code_hash, code.original_bytes());
                    self.code.insert(account.info.code_hash, code.clone());
                }
            }
            // EIP-161: touched accounts left empty are removed.
            let record = (!account.is_empty()).then_some(AccountRecord {
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
            });
            self.set_account(address, record);
        }
    }

    /// The block's writes, in a deterministic order.
    pub fn into_diff(mut self) -> StateDiff {
        self.dirty_accounts.sort_unstable();
        self.dirty_accounts.dedup();
        self.dirty_slots.sort_unstable();
        self.dirty_slots.dedup();
        let mut changes = Vec::with_capacity(self.dirty_accounts.len() + self.dirty_slots.len());
        for address in &self.dirty_accounts {
            let record = self.accounts.get(address).copied().flatten();
            changes.push((state_key::account(address), record.map(|r| r.encode())));
        }
        for key @ (address, slot) in &self.dirty_slots {
            let value = self.slots.get(key).copied().unwrap_or_default();
            let encoded = (!value.is_zero()).then(|| value.to_be_bytes::<32>().to_vec());
            changes.push((state_key::storage(address, slot), encoded));
        }
        StateDiff {
            changes,
            code: self.new_code.into_iter().collect(),
        }
    }

    fn load_code(&mut self, code_hash: B256) -> Result<Bytecode, EvmError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.code.get(&code_hash) {
            return Ok(code.clone());
        }
        let bytes = self.reader.code(&code_hash)?.ok_or(EvmError::Corrupt {
            what: "missing contract code",
        })?;
        let code = Bytecode::new_raw(bytes);
        self.code.insert(code_hash, code.clone());
        Ok(code)
    }
}

impl Database for BlockState {
    type Error = EvmError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, EvmError> {
        let Some(record) = self.account(address)? else {
            return Ok(None);
        };
        let code = self.load_code(record.code_hash)?;
        Ok(Some(AccountInfo::new(
            record.balance,
            record.nonce,
            record.code_hash,
            code,
        )))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, EvmError> {
        self.load_code(code_hash)
    }

    fn storage(&mut self, address: Address, index: StorageKey) -> Result<StorageValue, EvmError> {
        if let Some(value) = self.slots.get(&(address, index)) {
            return Ok(*value);
        }
        let value = self.reader.slot(&address, &index)?;
        self.slots.insert((address, index), value);
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, EvmError> {
        Ok(chain::block_hash(self.reader.store(), number)?.unwrap_or_default())
    }
}
