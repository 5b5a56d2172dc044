//! The bridge module: the vault, the deposits it has recorded, and the vault's UTXO set, fed
//! by RelayDeposit transactions.
//!
//! State keys (all under `bridge/`, so the app hash commits to them):
//! - `bridge/d ‖ txid ‖ vout (4 BE)` → [`DepositRecord`]: every deposit ever recorded,
//!   credited or rejected. An outpoint is recorded once, so it is never credited twice.
//! - `bridge/u ‖ txid ‖ vout` → value in sat (8 BE): the vault UTXOs backing L2 BTC.
//! - `bridge/supply` → sat (8 BE): the sum of those UTXOs, equal to the BTC minted on L2
//!   for deposits (the supply invariant).
//!
//! Rejected deposits (below the minimum, no or a malformed memo) stay in the vault's keys'
//! control but outside the UTXO set and the supply: they are held for refund
//! (see docs/BRIDGE.md).

use std::sync::Arc;

use alloy_primitives::Address;
use bevm_btc_light::{spv, Chain, HeaderError};
use bevm_custody::{find_deposits, Deposit, Rejection, SignerSet, Vault};
use bevm_evm::{
    bridge::{registered_recipient, BridgeVault},
    StateReader,
};
use bevm_primitives::{genesis::BridgeGenesis, units::sat_to_wei};
use bevm_store::Store;
use bitcoin::{
    consensus::deserialize,
    hashes::Hash as _,
    secp256k1::{PublicKey, XOnlyPublicKey},
    Transaction,
};

use crate::{
    btc::{BtcModule, BtcState, Overlay},
    mempool::{code, unreadable_state, CheckError},
    native::NativeEffect,
    AppError,
};

const DEPOSIT: &[u8] = b"bridge/d";
const UTXO: &[u8] = b"bridge/u";
const SUPPLY: &[u8] = b"bridge/supply";

/// The vault and the deposit rules, from genesis.
#[derive(Debug, Clone)]
pub struct BridgeModule {
    /// Shared with the bridge precompile.
    pub vault: Arc<BridgeVault>,
    pub min_deposit_sat: u64,
    pub confirmations: u32,
}

/// One recorded deposit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DepositRecord {
    pub value_sat: u64,
    /// The Bitcoin block height it was proven in.
    pub btc_height: u32,
    /// The credited EVM account; `None` when rejected.
    pub recipient: Option<Address>,
    /// Why it was not credited.
    pub rejected: Option<String>,
}

impl DepositRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33);
        out.extend_from_slice(&self.value_sat.to_be_bytes());
        out.extend_from_slice(&self.btc_height.to_be_bytes());
        match (&self.recipient, &self.rejected) {
            (Some(r), _) => {
                out.push(1);
                out.extend_from_slice(r.as_slice());
            }
            (None, reason) => {
                out.push(0);
                out.extend_from_slice(reason.as_deref().unwrap_or_default().as_bytes());
            }
        }
        out
    }

    /// `None` for bytes this module did not write.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let value_sat = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let btc_height = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
        let rest = bytes.get(13..)?;
        match bytes.get(12)? {
            1 if rest.len() == 20 => Some(Self {
                value_sat,
                btc_height,
                recipient: Some(Address::from_slice(rest)),
                rejected: None,
            }),
            0 => Some(Self {
                value_sat,
                btc_height,
                recipient: None,
                rejected: Some(String::from_utf8_lossy(rest).into_owned()),
            }),
            _ => None,
        }
    }
}

fn outpoint_key(prefix: &[u8], txid: &[u8; 32], vout: u32) -> Vec<u8> {
    [prefix, txid, &vout.to_be_bytes()].concat()
}

impl BridgeModule {
    /// # Errors
    /// Signer or recovery keys that do not parse, or a set custody refuses.
    pub fn from_genesis(g: &BridgeGenesis, btc: &BtcModule) -> Result<Self, AppError> {
        let bad = |why: String| AppError::BridgeGenesis(why);
        let keys = g
            .signers
            .iter()
            .map(|k| parse_key(k, "signer", |b| PublicKey::from_slice(b).ok()))
            .collect::<Result<Vec<_>, _>>()?;
        let threshold = g.threshold.map(|t| t as usize);
        let signers = SignerSet::new(keys, threshold).map_err(|e| bad(e.to_string()))?;
        let recovery = match &g.recovery {
            None => None,
            Some(r) => Some(bevm_custody::Recovery {
                keys: r
                    .keys
                    .iter()
                    .map(|k| parse_key(k, "recovery", |b| XOnlyPublicKey::from_slice(b).ok()))
                    .collect::<Result<Vec<_>, _>>()?,
                threshold: r.threshold as usize,
                after_blocks: r.after_blocks,
            }),
        };
        let vault = Vault::new(signers, recovery).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            vault: Arc::new(BridgeVault {
                vault,
                network: bitcoin_network(btc.params.network),
            }),
            min_deposit_sat: g.min_deposit_sat,
            confirmations: g.confirmations,
        })
    }

    /// Applies a RelayDeposit on top of `store` + `overlay`: checks the proof against the
    /// light client at the confirmation depth, then records every deposit of the transaction
    /// not recorded yet, crediting those that qualify.
    ///
    /// # Errors
    /// A transaction that does not parse or pays the bridge nothing ([`code::BRIDGE`]), a
    /// proof the light client does not accept ([`code::DEPOSIT_UNPROVEN`]), deposits all
    /// recorded already ([`code::DEPOSIT_KNOWN`]).
    pub fn relay_deposit(
        &self,
        btc: &BtcModule,
        raw_tx: &[u8],
        proof: &[u8],
        store: &Store,
        overlay: &Overlay,
    ) -> Result<NativeEffect, CheckError> {
        let refuse = |code, message: String| CheckError { code, message };
        let tx: Transaction = deserialize(raw_tx)
            .map_err(|e| refuse(code::BRIDGE, format!("not a Bitcoin transaction: {e}")))?;
        let txid = tx.compute_txid().to_byte_array();
        let view = BtcState::new(Some(store), overlay);
        let chain = Chain::new(&btc.params, &view, btc.horizon);
        let inclusion = spv::verify_tx_proof(&chain, &txid, proof, self.confirmations).map_err(
            |e| match e {
                spv::ProofError::Header(HeaderError::Storage(message)) => unreadable_state(message),
                e => refuse(code::DEPOSIT_UNPROVEN, format!("deposit not proven: {e}")),
            },
        )?;

        let reader = StateReader::latest(store.clone());
        let deposits = find_deposits(
            &self.vault.vault,
            &tx,
            |script| {
                registered_recipient(&reader, script.as_bytes()).map(|r| r.map(Address::into_array))
            },
            self.min_deposit_sat,
        )
        .map_err(unreadable_state)?;
        if deposits.is_empty() {
            return Err(refuse(
                code::BRIDGE,
                "the transaction pays neither the vault nor a registered deposit address".into(),
            ));
        }
        let mut effect = NativeEffect::default();
        let mut supply = self.supply(&view).map_err(unreadable_state)?;
        for Deposit {
            vout,
            value_sat,
            recipient,
            ..
        } in deposits
        {
            let key = outpoint_key(DEPOSIT, &txid, vout);
            let known = view_get(&view, &key).map_err(unreadable_state)?;
            if known.is_some() {
                continue;
            }
            let record = DepositRecord {
                value_sat,
                btc_height: inclusion.block_height,
                recipient: recipient.as_ref().ok().map(|r| Address::from(*r)),
                rejected: recipient.as_ref().err().map(Rejection::to_string),
            };
            if let Some(to) = record.recipient {
                supply = supply
                    .checked_add(value_sat)
                    .ok_or_else(|| unreadable_state("the stored vault value overflows 64 bits"))?;
                effect.writes.push((
                    outpoint_key(UTXO, &txid, vout),
                    Some(value_sat.to_be_bytes().to_vec()),
                ));
                effect.mints.push((to, sat_to_wei(value_sat)));
            }
            effect.writes.push((key, Some(record.encode())));
        }
        if effect.writes.is_empty() {
            return Err(refuse(
                code::DEPOSIT_KNOWN,
                "every deposit of this transaction is recorded already".into(),
            ));
        }
        effect
            .writes
            .push((SUPPLY.to_vec(), Some(supply.to_be_bytes().to_vec())));
        Ok(effect)
    }

    /// Sat in the vault's UTXO set (= BTC minted for deposits).
    ///
    /// # Errors
    /// Storage failures, a corrupt value.
    pub fn supply(&self, view: &BtcState<'_>) -> Result<u64, String> {
        match view_get(view, SUPPLY)? {
            None => Ok(0),
            Some(b) => b
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| "corrupt bridge supply".to_string()),
        }
    }

    /// The value of a vault UTXO, if the outpoint is in the set.
    ///
    /// # Errors
    /// Storage failures, a corrupt value.
    pub fn utxo(
        &self,
        view: &BtcState<'_>,
        txid: &[u8; 32],
        vout: u32,
    ) -> Result<Option<u64>, String> {
        view_get(view, &outpoint_key(UTXO, txid, vout))?
            .map(|b| {
                b.try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| "corrupt vault UTXO".to_string())
            })
            .transpose()
    }

    /// A recorded deposit.
    ///
    /// # Errors
    /// Storage failures.
    pub fn deposit(
        &self,
        view: &BtcState<'_>,
        txid: &[u8; 32],
        vout: u32,
    ) -> Result<Option<DepositRecord>, String> {
        Ok(view_get(view, &outpoint_key(DEPOSIT, txid, vout))?
            .as_deref()
            .and_then(DepositRecord::decode))
    }
}

impl BridgeModule {
    /// The vault as operators and wallets see it (`/bridge/vault`).
    ///
    /// # Errors
    /// Storage failures.
    pub fn describe(&self, view: &BtcState<'_>) -> Result<serde_json::Value, String> {
        let v = &self.vault.vault;
        Ok(serde_json::json!({
            "address": v.address(self.vault.network).to_string(),
            "script_pubkey": hex::encode(v.output().script_pubkey().as_bytes()),
            "descriptor": v.descriptor(),
            "internal_key": v.internal_key().to_string(),
            "signers": v.signers().keys().len(),
            "threshold": v.signers().threshold(),
            "min_deposit_sat": self.min_deposit_sat,
            "confirmations": self.confirmations,
            "supply_sat": self.supply(view)?,
        }))
    }
}

/// Parses `txid:vout` (txid in display hex, as explorers show it).
///
/// # Errors
/// Anything else, with the expected form.
pub fn parse_outpoint(s: &str) -> Result<([u8; 32], u32), String> {
    let bad = || format!("{s:?}: expected <txid>:<vout>, txid as 64 hex digits");
    let (txid, vout) = s.trim().split_once(':').ok_or_else(bad)?;
    let mut txid: [u8; 32] = hex::decode(txid)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    txid.reverse();
    Ok((txid, vout.parse().map_err(|_| bad())?))
}

/// A genesis key in hex (with or without `0x`), parsed by `parse` (compressed signer keys,
/// x-only recovery keys).
fn parse_key<K>(
    hex_key: &str,
    role: &str,
    parse: impl Fn(&[u8]) -> Option<K>,
) -> Result<K, AppError> {
    hex::decode(hex_key.trim_start_matches("0x"))
        .ok()
        .and_then(|b| parse(&b))
        .ok_or_else(|| {
            AppError::BridgeGenesis(format!(
                "{role} key {hex_key:?} is not a valid key (signers: 33-byte compressed, \
                 recovery: 32-byte x-only, hex)"
            ))
        })
}

fn view_get(view: &BtcState<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    view.get(key).map_err(|e| e.0)
}

fn bitcoin_network(n: bevm_btc_light::Network) -> bitcoin::Network {
    use bevm_btc_light::Network as N;
    match n {
        N::Mainnet => bitcoin::Network::Bitcoin,
        N::Testnet3 => bitcoin::Network::Testnet,
        N::Testnet4 => bitcoin::Network::Testnet4,
        N::Signet => bitcoin::Network::Signet,
        N::Regtest => bitcoin::Network::Regtest,
    }
}
