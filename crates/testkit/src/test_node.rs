//! The application driven in-process: blocks are finalized and committed directly, as
//! CometBFT would, with a deterministic clock.

use alloy_primitives::{Bytes, B256, U256};
use bevm_app::{mempool::CheckError, App, BlockRequest, TxResult};
use bevm_evm::StateReader;
use bevm_primitives::{genesis::Genesis, keys::AccountKey, units::btc_to_wei};
use bevm_store::Store;

/// Genesis time of test chains (2026-01-01T00:00:00Z).
pub const GENESIS_TIME: u64 = 1_767_225_600;

/// An app with its own store in a temporary directory.
pub struct TestNode {
    pub app: App,
    pub keys: Vec<AccountKey>,
    pub genesis: Genesis,
    time: u64,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// A devnet with `accounts` development keys holding 1000 BTC each.
    pub fn new(accounts: usize) -> Self {
        let keys: Vec<AccountKey> = (0..accounts)
            .map(|i| AccountKey::from_seed(format!("testnode {i}").as_bytes()))
            .collect();
        let genesis =
            Genesis::devnet_funded(1337, keys.iter().map(AccountKey::address), btc_to_wei(1000));
        Self::with_genesis(genesis, keys)
    }

    /// A node initialized with `genesis`.
    pub fn with_genesis(genesis: Genesis, keys: Vec<AccountKey>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(dir.path().join("db")).expect("open store");
        let mut app = App::open(store).expect("open app");
        let app_state = serde_json::to_vec(&genesis).expect("genesis serializes");
        app.init_chain(&app_state, GENESIS_TIME)
            .expect("init chain");
        Self {
            app,
            keys,
            genesis,
            time: GENESIS_TIME,
            _dir: dir,
        }
    }

    pub fn chain_id(&self) -> u64 {
        self.genesis.evm_chain_id
    }

    pub fn store(&self) -> &Store {
        self.app.store()
    }

    pub fn reader(&self) -> StateReader {
        StateReader::latest(self.store().clone())
    }

    pub fn height(&self) -> u64 {
        self.app.info().expect("info").height
    }

    /// Balance of an account in wei.
    pub fn balance(&self, address: &alloy_primitives::Address) -> U256 {
        self.reader()
            .account(address)
            .expect("read")
            .map_or(U256::ZERO, |a| a.balance)
    }

    /// Nonce of an account.
    pub fn nonce(&self, address: &alloy_primitives::Address) -> u64 {
        self.reader()
            .account(address)
            .expect("read")
            .map_or(0, |a| a.nonce)
    }

    /// CheckTx.
    pub fn check(&self, raw: &[u8]) -> Result<u64, CheckError> {
        self.app.check_tx(raw)
    }

    /// Finalizes and commits a block of `txs` one second after the previous one.
    pub fn block(&mut self, txs: Vec<Bytes>) -> (Vec<TxResult>, B256) {
        self.time += 1;
        let height = self.height() + 1;
        let req = BlockRequest {
            height,
            time: self.time,
            hash: alloy_primitives::keccak256(height.to_be_bytes()),
            txs,
        };
        let out = self.app.finalize_block(req).expect("finalize block");
        self.app.commit().expect("commit");
        out
    }
}
