//! A Bitcoin node's JSON-RPC, as btcd and Bitcoin Core both serve it. Only calls both have
//! are used: `getblockcount`, `getblockhash`, `getblockheader <hash> false` and
//! `getblock <hash> 0`; proofs are built from raw blocks because btcd has no `gettxoutproof`.

use std::{path::PathBuf, time::Duration};

use base64::Engine as _;
use bevm_btc_light::{BlockHash, BlockTxids, Header};
use serde_json::{json, Value};

use crate::RelayError;

/// How the relayer reads Bitcoin. [`BitcoinRpc`] is the real one; tests drive the sync logic
/// with an in-memory chain too.
pub trait BitcoinSource {
    /// Height of the node's best chain.
    fn best_height(&self) -> Result<u32, RelayError>;
    /// Hash of the node's best-chain block at `height`.
    fn hash_at(&self, height: u32) -> Result<BlockHash, RelayError>;
    /// The header of a block.
    fn header(&self, hash: &BlockHash) -> Result<Header, RelayError>;
}

/// Credentials for the node's RPC.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `rpcuser` / `rpcpassword` (btcd, or Core with those set).
    UserPass(String, String),
    /// Bitcoin Core's `.cookie` file, read anew on each call because Core rewrites it on
    /// every restart.
    Cookie(PathBuf),
    None,
}

/// A JSON-RPC client of a Bitcoin node.
pub struct BitcoinRpc {
    url: String,
    auth: Auth,
    agent: ureq::Agent,
}

impl BitcoinRpc {
    pub fn new(url: &str, auth: Auth) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Self {
            url: url.to_owned(),
            auth,
            agent,
        }
    }

    fn authorization(&self) -> Result<Option<String>, RelayError> {
        let pair = match &self.auth {
            Auth::None => return Ok(None),
            Auth::UserPass(user, pass) => format!("{user}:{pass}"),
            Auth::Cookie(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    RelayError::Config(format!("bitcoin cookie file {}: {e}", path.display()))
                })?
                .trim()
                .to_owned(),
        };
        Ok(Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )))
    }

    /// One JSON-RPC 1.0 call (what both nodes speak), with the node's error made readable.
    ///
    /// # Errors
    /// [`RelayError::Bitcoin`] when the node is unreachable, refuses the credentials or
    /// answers with an error.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RelayError> {
        let unreachable = |why: String| RelayError::Bitcoin(format!("{method}: {why}"));
        let mut request = self.agent.post(&self.url);
        if let Some(auth) = self.authorization()? {
            request = request.set("Authorization", &auth);
        }
        let body = json!({ "jsonrpc": "1.0", "id": 1, "method": method, "params": params });
        let reply: Value = match request.send_json(body) {
            Ok(r) => r.into_json().map_err(|e| unreachable(e.to_string()))?,
            Err(ureq::Error::Status(401, _)) => {
                return Err(RelayError::Config(format!(
                    "the Bitcoin node at {} refused our credentials: check bitcoin_rpc_user and \
                     bitcoin_rpc_password (or bitcoin_rpc_cookie)",
                    self.url
                )))
            }
            // Core answers RPC errors with HTTP 500 and the error in the body.
            Err(ureq::Error::Status(code, r)) => r
                .into_json()
                .map_err(|_| unreachable(format!("HTTP {code}")))?,
            Err(e) => {
                return Err(unreachable(format!(
                    "no answer from {} ({e}); is the Bitcoin node running?",
                    self.url
                )))
            }
        };
        match &reply["error"] {
            Value::Null => Ok(reply["result"].clone()),
            e => Err(RelayError::Bitcoin(format!(
                "{method}: {}",
                e["message"].as_str().unwrap_or(&e.to_string())
            ))),
        }
    }

    fn hex_result(&self, method: &str, params: Value) -> Result<Vec<u8>, RelayError> {
        let v = self.call(method, params)?;
        let text = v
            .as_str()
            .ok_or_else(|| RelayError::Bitcoin(format!("{method}: answer is not a string")))?;
        hex::decode(text).map_err(|e| RelayError::Bitcoin(format!("{method}: not hex: {e}")))
    }

    /// A full block, parsed into its txids and checked against its header.
    ///
    /// # Errors
    /// The node failing, or serving a block that does not parse or match its header.
    pub fn block(&self, hash: &BlockHash) -> Result<BlockTxids, RelayError> {
        let raw = self.hex_result("getblock", json!([hash.to_string(), 0]))?;
        let block = BlockTxids::parse(&raw)
            .map_err(|e| RelayError::Bitcoin(format!("block {hash}: {e}")))?;
        if block.header.hash() != *hash {
            return Err(RelayError::Bitcoin(format!(
                "asked for block {hash}, got {}",
                block.header.hash()
            )));
        }
        Ok(block)
    }
}

impl BitcoinSource for BitcoinRpc {
    fn best_height(&self) -> Result<u32, RelayError> {
        let v = self.call("getblockcount", json!([]))?;
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| RelayError::Bitcoin(format!("getblockcount: unexpected {v}")))
    }

    fn hash_at(&self, height: u32) -> Result<BlockHash, RelayError> {
        let v = self.call("getblockhash", json!([height]))?;
        v.as_str()
            .and_then(|s| BlockHash::from_display_hex(s).ok())
            .ok_or_else(|| RelayError::Bitcoin(format!("getblockhash: unexpected {v}")))
    }

    fn header(&self, hash: &BlockHash) -> Result<Header, RelayError> {
        let raw = self.hex_result("getblockheader", json!([hash.to_string(), false]))?;
        let header =
            Header::decode(&raw).map_err(|e| RelayError::Bitcoin(format!("header {hash}: {e}")))?;
        if header.hash() != *hash {
            return Err(RelayError::Bitcoin(format!(
                "asked for header {hash}, got {}",
                header.hash()
            )));
        }
        Ok(header)
    }
}
