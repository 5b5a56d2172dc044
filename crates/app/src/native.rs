//! Native transactions: decoded once, then handed to the module that owns them. The one path
//! for CheckTx (committed state plus the mempool's admitted relays) and FinalizeBlock (the
//! block's earlier changes).

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use bevm_evm::bridge::SharedBridgeVault;
use bevm_primitives::{genesis::Genesis, native::NativeTx};
use bevm_store::{StateChange, Store};

use crate::{
    bridge::BridgeModule,
    btc::{BtcModule, Overlay},
    mempool::{code, CheckError},
    AppError,
};

/// The modules native transactions drive, with their genesis rules.
#[derive(Debug, Clone)]
pub struct NativeModules {
    pub btc: BtcModule,
    pub bridge: Option<BridgeModule>,
}

/// What a native transaction does: module state writes, and BTC minted to EVM accounts.
#[derive(Debug, Default)]
pub struct NativeEffect {
    pub writes: Vec<StateChange>,
    pub mints: Vec<(Address, U256)>,
}

impl NativeModules {
    /// # Errors
    /// A light-client or bridge section the modules refuse.
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, AppError> {
        let btc = BtcModule::from_genesis(&genesis.btc)?;
        let bridge = genesis
            .bridge
            .as_ref()
            .map(|b| BridgeModule::from_genesis(b, &btc))
            .transpose()?;
        Ok(Self { btc, bridge })
    }

    /// The vault the bridge precompile derives deposit addresses from.
    pub fn bridge_vault(&self) -> SharedBridgeVault {
        self.bridge.as_ref().map(|b| Arc::clone(&b.vault))
    }

    /// Applies `raw` on top of `store` + `overlay` at light-client time `now`.
    ///
    /// # Errors
    /// Undecodable ([`code::DECODE`]) or refused by its module.
    pub fn apply(
        &self,
        raw: &[u8],
        store: &Store,
        overlay: &Overlay,
        now: u64,
    ) -> Result<NativeEffect, CheckError> {
        let tx = NativeTx::decode(raw, self.btc.max_headers).map_err(|e| CheckError {
            code: code::DECODE,
            message: e.to_string(),
        })?;
        match tx {
            NativeTx::RelayHeaders(headers) => Ok(NativeEffect {
                writes: self.btc.relay_headers(&headers, store, overlay, now)?,
                mints: Vec::new(),
            }),
            NativeTx::RelayDeposit { tx, proof } => {
                let bridge = self.bridge.as_ref().ok_or_else(|| CheckError {
                    code: code::BRIDGE,
                    message: "this chain has no bridge (no bridge section in genesis)".into(),
                })?;
                bridge.relay_deposit(&self.btc, &tx, &proof, store, overlay)
            }
        }
    }
}
