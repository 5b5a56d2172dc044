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

    /// Best-chain hashes at `from..=to` (one round trip where the node allows it).
    fn hashes(&self, from: u32, to: u32) -> Result<Vec<BlockHash>, RelayError> {
        (from..=to).map(|h| self.hash_at(h)).collect()
    }

    /// The headers of `hashes`, in order.
    fn headers(&self, hashes: &[BlockHash]) -> Result<Vec<Header>, RelayError> {
        hashes.iter().map(|h| self.header(h)).collect()
    }
}

/// Credentials for the node's RPC.
#[derive(Clone)]
pub enum Auth {
    /// `rpcuser` / `rpcpassword` (btcd, or Core with those set).
    UserPass(String, String),
    /// Bitcoin Core's `.cookie` file, read anew on each call because Core rewrites it on
    /// every restart.
    Cookie(PathBuf),
    None,
}

impl std::fmt::Debug for Auth {
    /// Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::UserPass(user, _) => write!(f, "UserPass({user:?}, <redacted>)"),
            Auth::Cookie(path) => write!(f, "Cookie({path:?})"),
            Auth::None => write!(f, "None"),
        }
    }
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
                // Core deletes its cookie while it restarts: retried like any outage.
                .map_err(|e| RelayError::Bitcoin(format!("cookie file {}: {e}", path.display())))?
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
        let body = json!({ "jsonrpc": "1.0", "id": 1, "method": method, "params": params });
        Self::result(method, &self.post(method, body)?)
    }

    /// Posts a request (or a batch) and returns the decoded answer.
    fn post(&self, method: &str, body: Value) -> Result<Value, RelayError> {
        let unreachable = |why: String| RelayError::Bitcoin(format!("{method}: {why}"));
        let mut request = self.agent.post(&self.url);
        if let Some(auth) = self.authorization()? {
            request = request.set("Authorization", &auth);
        }
        match request.send_json(body) {
            Ok(r) => r.into_json().map_err(|e| unreachable(e.to_string())),
            Err(ureq::Error::Status(401, _)) => Err(RelayError::Bitcoin(format!(
                "the Bitcoin node at {} refused our credentials: check bitcoin_rpc_user and \
                 bitcoin_rpc_password (or bitcoin_rpc_cookie)",
                self.url
            ))),
            // Core answers RPC errors with HTTP 500 and the error in the body.
            Err(ureq::Error::Status(code, r)) => match r.into_json::<Value>() {
                Ok(body) if !body["error"].is_null() || body.is_array() => Ok(body),
                _ => Err(unreachable(format!("HTTP {code}"))),
            },
            Err(e) => Err(unreachable(format!(
                "no answer from {} ({e}); is the Bitcoin node running?",
                self.url
            ))),
        }
    }

    /// Many calls of one method in one JSON-RPC batch (btcd and Core both take batches), the
    /// results in the order of `params`.
    ///
    /// # Errors
    /// As [`BitcoinRpc::call`], for the batch or any call in it.
    pub fn batch(&self, method: &str, params: &[Value]) -> Result<Vec<Value>, RelayError> {
        let body: Vec<Value> = params
            .iter()
            .enumerate()
            .map(|(id, p)| json!({ "jsonrpc": "1.0", "id": id, "method": method, "params": p }))
            .collect();
        let replies = self.post(method, Value::Array(body))?;
        let replies = replies
            .as_array()
            .filter(|r| r.len() == params.len())
            .ok_or_else(|| {
                RelayError::Bitcoin(format!("{method}: batch answer of the wrong shape"))
            })?;
        let mut results: Vec<Option<Value>> = vec![None; params.len()];
        for reply in replies {
            let slot = reply["id"]
                .as_u64()
                .and_then(|i| results.get_mut(usize::try_from(i).ok()?))
                .filter(|slot| slot.is_none())
                .ok_or_else(|| {
                    RelayError::Bitcoin(format!("{method}: batch answer with a bad or repeated id"))
                })?;
            *slot = Some(Self::result(method, reply)?);
        }
        // Every slot is filled: as many answers as requests, each id once.
        Ok(results.into_iter().flatten().collect())
    }

    fn result(method: &str, reply: &Value) -> Result<Value, RelayError> {
        match &reply["error"] {
            Value::Null => Ok(reply["result"].clone()),
            e => Err(RelayError::Bitcoin(format!(
                "{method}: {}",
                e["message"].as_str().unwrap_or(&e.to_string())
            ))),
        }
    }

    fn hex_result(&self, method: &str, params: Value) -> Result<Vec<u8>, RelayError> {
        hex_of(method, &self.call(method, params)?)
    }

    /// A full block, parsed into its txids and checked against its header.
    ///
    /// # Errors
    /// The node failing, or serving a block that does not parse or match its header.
    pub fn block(&self, hash: &BlockHash) -> Result<BlockTxids, RelayError> {
        crate::deposits::RawBlocks::checked_block(self, hash).map(|(_, txids)| txids)
    }
}

impl crate::deposits::RawBlocks for BitcoinRpc {
    fn raw_block(&self, hash: &BlockHash) -> Result<Vec<u8>, RelayError> {
        self.hex_result("getblock", json!([hash.to_string(), 0]))
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
        checked_header(hash, &raw)
    }

    fn hashes(&self, from: u32, to: u32) -> Result<Vec<BlockHash>, RelayError> {
        let params: Vec<Value> = (from..=to).map(|h| json!([h])).collect();
        self.batch("getblockhash", &params)?
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| BlockHash::from_display_hex(s).ok())
                    .ok_or_else(|| RelayError::Bitcoin(format!("getblockhash: unexpected {v}")))
            })
            .collect()
    }

    fn headers(&self, hashes: &[BlockHash]) -> Result<Vec<Header>, RelayError> {
        let params: Vec<Value> = hashes
            .iter()
            .map(|h| json!([h.to_string(), false]))
            .collect();
        self.batch("getblockheader", &params)?
            .iter()
            .zip(hashes)
            .map(|(v, hash)| checked_header(hash, &hex_of("getblockheader", v)?))
            .collect()
    }
}

fn hex_of(method: &str, v: &Value) -> Result<Vec<u8>, RelayError> {
    let text = v
        .as_str()
        .ok_or_else(|| RelayError::Bitcoin(format!("{method}: answer is not a string")))?;
    hex::decode(text).map_err(|e| RelayError::Bitcoin(format!("{method}: not hex: {e}")))
}

/// A header the node served for `hash`, refused unless it hashes to it.
fn checked_header(hash: &BlockHash, raw: &[u8]) -> Result<Header, RelayError> {
    let header =
        Header::decode(raw).map_err(|e| RelayError::Bitcoin(format!("header {hash}: {e}")))?;
    if header.hash() != *hash {
        return Err(RelayError::Bitcoin(format!(
            "asked for header {hash}, got {}",
            header.hash()
        )));
    }
    Ok(header)
}
