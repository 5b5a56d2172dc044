//! The node's client of CometBFT's RPC: broadcasting transactions and reading peer/sync status.

use base64::Engine as _;
use jsonrpsee::{
    core::{client::ClientT, params::ObjectParams},
    http_client::{HttpClient, HttpClientBuilder},
};
use serde::Deserialize;

use crate::RpcError;

/// A CometBFT RPC client.
#[derive(Clone, Debug)]
pub struct Comet {
    client: HttpClient,
}

#[derive(Deserialize)]
struct BroadcastResult {
    code: u32,
    log: String,
}

impl Comet {
    /// A client of CometBFT's RPC at `url` (e.g. `http://127.0.0.1:26657`).
    ///
    /// # Errors
    /// If `url` is not a valid HTTP URL.
    pub fn new(url: &str) -> Result<Self, RpcError> {
        let client = HttpClientBuilder::default()
            .build(url)
            .map_err(|e| RpcError::Internal(format!("cometbft rpc url {url}: {e}")))?;
        Ok(Self { client })
    }

    /// Submits a transaction to the mempool and returns once CheckTx has answered.
    ///
    /// # Errors
    /// [`RpcError::Rejected`] with CheckTx's message when the mempool refuses it.
    pub async fn broadcast(&self, raw: &[u8]) -> Result<(), RpcError> {
        let mut params = ObjectParams::new();
        params
            .insert("tx", base64::engine::general_purpose::STANDARD.encode(raw))
            .map_err(RpcError::internal)?;
        let result: Result<BroadcastResult, _> =
            self.client.request("broadcast_tx_sync", params).await;
        match result {
            Ok(r) if r.code == 0 => Ok(()),
            Ok(r) => Err(RpcError::Rejected(r.log)),
            Err(jsonrpsee::core::ClientError::Call(e)) => {
                let detail = e.data().map(|d| d.get().to_string()).unwrap_or_default();
                if detail.contains("already exists in cache") {
                    Err(RpcError::Rejected("already known".into()))
                } else if detail.contains("mempool is full") {
                    Err(RpcError::Rejected("txpool is full".into()))
                } else {
                    Err(RpcError::Rejected(format!("{} {detail}", e.message())))
                }
            }
            Err(e) => Err(RpcError::internal(format!("cometbft unreachable: {e}"))),
        }
    }

    async fn get(&self, method: &str) -> Result<serde_json::Value, RpcError> {
        self.client
            .request(method, ObjectParams::new())
            .await
            .map_err(|e| RpcError::internal(format!("cometbft {method}: {e}")))
    }

    /// Number of connected peers.
    ///
    /// # Errors
    /// If CometBFT does not answer.
    pub async fn peer_count(&self) -> Result<u64, RpcError> {
        let v = self.get("net_info").await?;
        Ok(v["n_peers"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Whether CometBFT is catching up, and the height it has seen.
    ///
    /// # Errors
    /// If CometBFT does not answer.
    pub async fn sync_status(&self) -> Result<(bool, u64), RpcError> {
        let v = self.get("status").await?;
        let info = &v["sync_info"];
        let catching_up = info["catching_up"].as_bool().unwrap_or(false);
        let height = info["latest_block_height"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((catching_up, height))
    }
}
