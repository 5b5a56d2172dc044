//! The L2's view of Bitcoin, through a validator's CometBFT RPC: the light client's tip and
//! headers (`abci_query` `/btc/tip`, `/btc/header`), and `RelayHeaders` broadcasts.

use std::time::Duration;

use base64::Engine as _;
use bevm_btc_light::{BlockHash, Header};
use bevm_primitives::native::NativeTx;
use serde_json::{json, Value};

use crate::RelayError;

/// CheckTx codes (the app's `mempool::code`): accepted, and a valid relay that adds nothing.
const CODE_OK: u64 = 0;
const CODE_ALL_KNOWN: u64 = 21;
/// `abci_query` code for "no such header" (the app's `abci::QUERY_NOT_FOUND`).
const QUERY_NOT_FOUND: u64 = 2;
/// `abci_query` code for a bridge question on a chain without a bridge (`QUERY_NO_BRIDGE`).
const QUERY_NO_BRIDGE: u64 = 3;

/// The light client's best tip on the L2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Tip {
    pub height: u32,
    pub hash: BlockHash,
}

/// What the relayer needs from the L2. [`CometL2`] is the real one.
pub trait L2Chain {
    fn tip(&self) -> Result<L2Tip, RelayError>;
    /// Whether the light client holds this block (best chain or a kept side branch).
    fn contains(&self, hash: &BlockHash) -> Result<bool, RelayError>;
    /// Whether its best chain has a block at `height` (nothing below its checkpoint).
    fn has_best_at(&self, height: u32) -> Result<bool, RelayError>;
    /// Sends headers (parents first) and returns once the mempool accepted them, or found
    /// them all known already.
    fn submit(&self, headers: &[Header]) -> Result<(), RelayError>;
}

/// A validator's CometBFT RPC, and optionally its Ethereum JSON-RPC (for the bridge's
/// deposit-address registrations, read from its event logs).
pub struct CometL2 {
    url: String,
    eth_url: Option<String>,
    agent: ureq::Agent,
}

impl CometL2 {
    pub fn new(url: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Self {
            url: url.trim_end_matches('/').to_owned(),
            eth_url: None,
            agent,
        }
    }

    /// Also reads registered deposit addresses from the node's Ethereum JSON-RPC at `url`.
    #[must_use]
    pub fn with_eth_rpc(mut self, url: &str) -> Self {
        self.eth_url = Some(url.trim_end_matches('/').to_owned());
        self
    }

    fn call(&self, method: &str, params: Value) -> Result<Value, RelayError> {
        self.call_at(&self.url, method, params)
    }

    fn call_at(&self, url: &str, method: &str, params: Value) -> Result<Value, RelayError> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let reply: Value = self
            .agent
            .post(url)
            .send_json(body)
            .map_err(|e| match e {
                ureq::Error::Status(code, _) => {
                    RelayError::L2(format!("{method}: {url} answered HTTP {code}"))
                }
                e => RelayError::L2(format!(
                    "{method}: no answer from {url} ({e}); is the node running?"
                )),
            })?
            .into_json()
            .map_err(|e| RelayError::L2(format!("{method}: {e}")))?;
        if !reply["error"].is_null() {
            let e = &reply["error"];
            return Err(RelayError::L2(format!(
                "{method}: {} {}",
                e["message"].as_str().unwrap_or_default(),
                e["data"].as_str().unwrap_or_default()
            )));
        }
        Ok(reply["result"].clone())
    }

    /// `abci_query`: `Ok(None)` when the answer is "not found" (no such header or deposit).
    fn query(&self, path: &str, data: &str) -> Result<Option<Value>, RelayError> {
        self.query_or(path, data, &[QUERY_NOT_FOUND])
    }

    /// `abci_query`: `Ok(None)` when the answer's code is one of `none_codes`.
    fn query_or(
        &self,
        path: &str,
        data: &str,
        none_codes: &[u64],
    ) -> Result<Option<Value>, RelayError> {
        let result = self.call(
            "abci_query",
            json!({ "path": path, "data": hex::encode(data) }),
        )?;
        let response = &result["response"];
        match response["code"].as_u64().unwrap_or(0) {
            0 => {}
            code if none_codes.contains(&code) => return Ok(None),
            _ => {
                let log = response["log"].as_str().unwrap_or_default();
                return Err(RelayError::L2(format!("query {path}: {log}")));
            }
        }
        let value = base64::engine::general_purpose::STANDARD
            .decode(response["value"].as_str().unwrap_or_default())
            .map_err(|e| RelayError::L2(format!("query {path}: value is not base64: {e}")))?;
        serde_json::from_slice(&value)
            .map(Some)
            .map_err(|e| RelayError::L2(format!("query {path}: value is not JSON: {e}")))
    }
}

impl L2Chain for CometL2 {
    fn tip(&self) -> Result<L2Tip, RelayError> {
        let tip = self
            .query("/btc/tip", "")?
            .ok_or_else(|| RelayError::L2("the light client has no tip".into()))?;
        let height = tip["height"].as_u64().and_then(|h| u32::try_from(h).ok());
        let hash = tip["hash"]
            .as_str()
            .and_then(|h| BlockHash::from_display_hex(h).ok());
        match (height, hash) {
            (Some(height), Some(hash)) => Ok(L2Tip { height, hash }),
            _ => Err(RelayError::L2(format!("unexpected /btc/tip answer {tip}"))),
        }
    }

    fn contains(&self, hash: &BlockHash) -> Result<bool, RelayError> {
        Ok(self.query("/btc/header", &hash.to_string())?.is_some())
    }

    fn has_best_at(&self, height: u32) -> Result<bool, RelayError> {
        Ok(crate::deposits::L2Bridge::best_hash_at(self, height)?.is_some())
    }

    fn submit(&self, headers: &[Header]) -> Result<(), RelayError> {
        let tx = NativeTx::RelayHeaders(headers.iter().map(Header::encode).collect()).encode();
        let params = json!({ "tx": base64::engine::general_purpose::STANDARD.encode(tx) });
        match self.call("broadcast_tx_sync", params) {
            Ok(r) if matches!(r["code"].as_u64(), Some(CODE_OK | CODE_ALL_KNOWN)) => Ok(()),
            Ok(r) => Err(RelayError::Refused(
                r["log"].as_str().unwrap_or("no reason given").to_owned(),
            )),
            // Already in the mempool (sent before a restart, or by another relayer).
            Err(RelayError::L2(e)) if e.contains("already exists in cache") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// CheckTx codes of deposit relays (the app's `mempool::code`): every deposit recorded
/// already, and not proven by the light client yet.
const CODE_DEPOSIT_KNOWN: u64 = 23;
const CODE_DEPOSIT_UNPROVEN: u64 = 24;
/// L2 blocks asked for in one `eth_getLogs` (below the node's `max_logs_block_range`).
const LOG_RANGE: u64 = 5_000;

impl crate::deposits::L2Bridge for CometL2 {
    fn bridge(&self) -> Result<Option<crate::deposits::BridgeInfo>, RelayError> {
        let Some(v) = self.query_or("/bridge/vault", "", &[QUERY_NO_BRIDGE])? else {
            return Ok(None);
        };
        let script = v["script_pubkey"]
            .as_str()
            .and_then(|h| hex::decode(h).ok());
        let confirmations = v["confirmations"]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok());
        match (script, confirmations) {
            (Some(vault_script), Some(confirmations)) => Ok(Some(crate::deposits::BridgeInfo {
                vault_script,
                confirmations,
            })),
            _ => Err(RelayError::L2(format!(
                "unexpected /bridge/vault answer {v}"
            ))),
        }
    }

    fn best_hash_at(&self, height: u32) -> Result<Option<BlockHash>, RelayError> {
        let Some(v) = self.query("/btc/header", &height.to_string())? else {
            return Ok(None);
        };
        v["hash"]
            .as_str()
            .and_then(|h| BlockHash::from_display_hex(h).ok())
            .map(Some)
            .ok_or_else(|| RelayError::L2(format!("unexpected /btc/header answer {v}")))
    }

    fn registered_scripts(&self, from: u64) -> Result<(Vec<Vec<u8>>, u64), RelayError> {
        use alloy_sol_types::SolEvent as _;
        use bevm_primitives::bridge_abi::{IBridge, BRIDGE_ADDRESS};
        let Some(eth) = &self.eth_url else {
            return Ok((Vec::new(), from));
        };
        let latest = self.call_at(eth, "eth_blockNumber", json!([]))?;
        let latest = latest
            .as_str()
            .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| RelayError::L2(format!("eth_blockNumber: unexpected {latest}")))?;
        let mut scripts = Vec::new();
        let mut start = from;
        while start <= latest {
            let end = latest.min(start + LOG_RANGE - 1);
            let filter = json!({
                "address": BRIDGE_ADDRESS,
                "fromBlock": format!("0x{start:x}"),
                "toBlock": format!("0x{end:x}"),
                "topics": [IBridge::DepositAddressRegistered::SIGNATURE_HASH],
            });
            let logs = self.call_at(eth, "eth_getLogs", json!([filter]))?;
            for log in logs.as_array().into_iter().flatten() {
                let data = log["data"]
                    .as_str()
                    .and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
                    .unwrap_or_default();
                // Topics are not needed: the script is in the data.
                match IBridge::DepositAddressRegistered::abi_decode_data(&data) {
                    Ok((script, _)) => scripts.push(script.to_vec()),
                    Err(e) => {
                        return Err(RelayError::L2(format!("a registration log: {e}")));
                    }
                }
            }
            start = end + 1;
        }
        Ok((scripts, latest + 1))
    }

    fn submit_deposit(
        &self,
        tx: &[u8],
        proof: &[u8],
    ) -> Result<crate::deposits::DepositOutcome, RelayError> {
        use crate::deposits::DepositOutcome;
        let relay = NativeTx::RelayDeposit {
            tx: tx.to_vec(),
            proof: proof.to_vec(),
        }
        .encode();
        let params = json!({ "tx": base64::engine::general_purpose::STANDARD.encode(relay) });
        match self.call("broadcast_tx_sync", params) {
            Ok(r) => {
                let log = || r["log"].as_str().unwrap_or("no reason given").to_owned();
                Ok(match r["code"].as_u64() {
                    Some(CODE_OK) => DepositOutcome::Accepted,
                    Some(CODE_DEPOSIT_KNOWN) => DepositOutcome::Known,
                    Some(CODE_DEPOSIT_UNPROVEN) => DepositOutcome::Unproven(log()),
                    _ => DepositOutcome::Refused(log()),
                })
            }
            Err(RelayError::L2(e)) if e.contains("already exists in cache") => {
                Ok(DepositOutcome::Known)
            }
            Err(e) => Err(e),
        }
    }
}
