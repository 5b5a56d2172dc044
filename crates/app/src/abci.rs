//! The tower-abci adapter: the only place that knows ABCI wire types.
//!
//! Consensus requests do their work synchronously inside `call`, so they are applied in the
//! order CometBFT sends them. The app sits behind one mutex shared by the four connections;
//! mempool checks wait while a block is being finalized, as CometBFT itself locks the mempool
//! during Commit.

use std::{
    future::{ready, Ready},
    sync::Arc,
    task::{Context, Poll},
};

use alloy_primitives::{Address, B256};
use bytes::Bytes;
use parking_lot::Mutex;
use tendermint::{
    abci::{response as res, types::ExecTxResult, Code},
    v0_38::abci::{
        ConsensusRequest, ConsensusResponse, InfoRequest, InfoResponse, MempoolRequest,
        MempoolResponse, SnapshotRequest, SnapshotResponse,
    },
    AppHash,
};
use tokio::sync::broadcast;
use tower::Service;
use tower_abci::BoxError;

use crate::{mempool::Mempool, App, AppError, BlockRequest, CommittedBlock};

/// The application as tower services. Cheap to clone: every clone shares the same app.
#[derive(Clone)]
pub struct AbciApp {
    app: Arc<Mutex<App>>,
    mempool: Arc<Mempool>,
    committed: broadcast::Sender<CommittedBlock>,
}

impl AbciApp {
    /// Wraps `app`; each commit is announced on `committed` (RPC subscriptions, filters).
    pub fn new(app: Arc<Mutex<App>>, committed: broadcast::Sender<CommittedBlock>) -> Self {
        let mempool = app.lock().mempool();
        Self {
            app,
            mempool,
            committed,
        }
    }

    /// Serves ABCI on `addr` (e.g. `127.0.0.1:26658`) until the process ends.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn serve(self, addr: &str) -> Result<(), BoxError> {
        let server = tower_abci::v038::Server::builder()
            .consensus(self.clone())
            .mempool(self.clone())
            .info(self.clone())
            .snapshot(NoSnapshots)
            .finish()
            .ok_or("incomplete ABCI server")?;
        server.listen_tcp(addr).await
    }

    fn consensus(&self, req: ConsensusRequest) -> Result<ConsensusResponse, AppError> {
        let mut app = self.app.lock();
        Ok(match req {
            ConsensusRequest::InitChain(init) => {
                let time = unix_seconds(init.time);
                let hash = app.init_chain(&init.app_state_bytes, time)?;
                ConsensusResponse::InitChain(res::InitChain {
                    consensus_params: None,
                    validators: Vec::new(),
                    app_hash: app_hash(hash),
                })
            }
            ConsensusRequest::PrepareProposal(p) => {
                let max = u64::try_from(p.max_tx_bytes).unwrap_or(0);
                let txs = p.txs.into_iter().map(|t| t.to_vec().into()).collect();
                let txs = app
                    .prepare_proposal(txs, max)
                    .into_iter()
                    .map(|t| Bytes::from(t.to_vec()));
                ConsensusResponse::PrepareProposal(res::PrepareProposal { txs: txs.collect() })
            }
            ConsensusRequest::ProcessProposal(p) => {
                let txs: Vec<_> = p.txs.iter().map(|t| t.to_vec().into()).collect();
                ConsensusResponse::ProcessProposal(if app.process_proposal(&txs) {
                    res::ProcessProposal::Accept
                } else {
                    res::ProcessProposal::Reject
                })
            }
            ConsensusRequest::ExtendVote(_) => ConsensusResponse::ExtendVote(res::ExtendVote {
                vote_extension: Bytes::new(),
            }),
            ConsensusRequest::VerifyVoteExtension(_) => {
                ConsensusResponse::VerifyVoteExtension(res::VerifyVoteExtension::Accept)
            }
            ConsensusRequest::FinalizeBlock(b) => {
                let req = BlockRequest {
                    height: b.height.value(),
                    time: unix_seconds(b.time),
                    hash: B256::try_from(b.hash.as_bytes()).unwrap_or_default(),
                    txs: b.txs.iter().map(|t| t.to_vec().into()).collect(),
                };
                let (results, hash) = app.finalize_block(req)?;
                let tx_results = results
                    .into_iter()
                    .map(|r| ExecTxResult {
                        code: code(r.code),
                        log: r.log,
                        gas_wanted: i64::try_from(r.gas_wanted).unwrap_or(i64::MAX),
                        gas_used: i64::try_from(r.gas_used).unwrap_or(i64::MAX),
                        ..ExecTxResult::default()
                    })
                    .collect();
                ConsensusResponse::FinalizeBlock(res::FinalizeBlock {
                    events: Vec::new(),
                    tx_results,
                    validator_updates: Vec::new(),
                    consensus_param_updates: None,
                    app_hash: app_hash(hash),
                })
            }
            ConsensusRequest::Commit => {
                let block = app.commit()?;
                // Nobody listening is fine: subscriptions come and go.
                let _ = self.committed.send(block);
                ConsensusResponse::Commit(res::Commit {
                    data: Bytes::new(),
                    retain_height: 0u32.into(),
                })
            }
        })
    }
}

fn unix_seconds(time: tendermint::Time) -> u64 {
    u64::try_from(time.unix_timestamp()).unwrap_or(0)
}

fn app_hash(hash: B256) -> AppHash {
    AppHash::try_from(hash.to_vec()).expect("32 bytes are a valid app hash")
}

fn code(c: u32) -> Code {
    if c == 0 {
        Code::Ok
    } else {
        Code::from(c)
    }
}

impl Service<ConsensusRequest> for AbciApp {
    type Response = ConsensusResponse;
    type Error = BoxError;
    type Future = Ready<Result<ConsensusResponse, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ConsensusRequest) -> Self::Future {
        match self.consensus(req) {
            Ok(response) => ready(Ok(response)),
            Err(e) => {
                // Fatal by design: answering a consensus request differently from the other
                // validators would fork the node. Stop; CometBFT replays on restart.
                tracing::error!(target: "bevm::abci", error = %e, "consensus request failed; stopping the node");
                std::process::exit(70);
            }
        }
    }
}

impl Service<MempoolRequest> for AbciApp {
    type Response = MempoolResponse;
    type Error = BoxError;
    type Future = Ready<Result<MempoolResponse, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: MempoolRequest) -> Self::Future {
        let MempoolRequest::CheckTx(check) = req;
        // Not under the app lock: CheckTx reads committed state and never waits for a block.
        let response = match self.mempool.check_tx(&check.tx) {
            Ok(gas_wanted) => res::CheckTx {
                gas_wanted: i64::try_from(gas_wanted).unwrap_or(i64::MAX),
                ..res::CheckTx::default()
            },
            Err(e) => res::CheckTx {
                code: code(e.code),
                log: e.message,
                ..res::CheckTx::default()
            },
        };
        ready(Ok(MempoolResponse::CheckTx(response)))
    }
}

impl Service<InfoRequest> for AbciApp {
    type Response = InfoResponse;
    type Error = BoxError;
    type Future = Ready<Result<InfoResponse, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: InfoRequest) -> Self::Future {
        let app = self.app.lock();
        let response = match req {
            InfoRequest::Info(_) => match app.info() {
                Ok(c) => InfoResponse::Info(res::Info {
                    data: "bevm".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    app_version: 1,
                    last_block_height: c.height.try_into().unwrap_or_default(),
                    // Height 0 is "no block yet" to CometBFT: it then calls InitChain.
                    last_block_app_hash: if c.height == 0 {
                        AppHash::default()
                    } else {
                        app_hash(c.app_hash)
                    },
                }),
                Err(e) => return ready(Err(e.into())),
            },
            InfoRequest::Query(q) => InfoResponse::Query(query(&app, &q.path, &q.data)),
            InfoRequest::Echo(e) => InfoResponse::Echo(res::Echo { message: e.message }),
        };
        ready(Ok(response))
    }
}

/// ABCI queries: `/height`, `/account` (data = 20-byte address), `/btc/tip`, `/btc/header`,
/// `/bridge/vault`, `/bridge/deposit` (data = `txid:vout`).
pub fn query(app: &App, path: &str, data: &[u8]) -> res::Query {
    let fail = |log: String| res::Query {
        code: Code::from(1),
        log,
        ..res::Query::default()
    };
    let height = match app.info() {
        Ok(c) => c.height,
        Err(e) => return fail(e.to_string()),
    };
    let value = match path {
        "/height" => serde_json::json!({ "height": height }),
        "/account" => {
            let Ok(address) = Address::try_from(data) else {
                return fail("data must be a 20-byte address".into());
            };
            let reader = bevm_evm::StateReader::latest(app.store().clone());
            match reader.account(&address) {
                Ok(a) => {
                    let a = a.unwrap_or_default();
                    serde_json::json!({ "address": address, "nonce": a.nonce, "balance": a.balance.to_string(), "code_hash": a.code_hash })
                }
                Err(e) => return fail(e.to_string()),
            }
        }
        "/bridge/vault" | "/bridge/deposit" if app.mempool().bridge().is_none() => {
            return res::Query {
                code: Code::from(QUERY_NO_BRIDGE),
                log: "this chain has no bridge (no bridge section in genesis)".into(),
                ..res::Query::default()
            }
        }
        "/btc/tip" | "/btc/header" | "/bridge/vault" | "/bridge/deposit" => {
            let (answer, missing) = if path.starts_with("/btc/") {
                (btc_query(app, path, data), "no such header")
            } else {
                (
                    bridge_query(app, path, data),
                    "no deposit recorded for this outpoint",
                )
            };
            match answer {
                Ok(Some(v)) => v,
                Ok(None) => {
                    return res::Query {
                        code: Code::from(QUERY_NOT_FOUND),
                        log: missing.into(),
                        ..res::Query::default()
                    }
                }
                Err(e) => return fail(e),
            }
        }
        other => {
            return fail(format!(
                "unknown query path {other:?}; known: /height, /account, /btc/tip, \
                 /btc/header, /bridge/vault, /bridge/deposit"
            ))
        }
    };
    res::Query {
        value: Bytes::from(value.to_string()),
        height: height.try_into().unwrap_or_default(),
        ..res::Query::default()
    }
}

/// Query code for a well-formed question with no answer (an unknown header), so clients need
/// not parse the log.
pub const QUERY_NOT_FOUND: u32 = 2;

/// Query code for a `/bridge/...` question on a chain whose genesis has no bridge.
pub const QUERY_NO_BRIDGE: u32 = 3;

/// `/bridge/vault`, and `/bridge/deposit` with data = `txid:vout` (`None`: never recorded).
fn bridge_query(app: &App, path: &str, data: &[u8]) -> Result<Option<serde_json::Value>, String> {
    let mempool = app.mempool();
    let bridge = mempool
        .bridge()
        .ok_or("this chain has no bridge (no bridge section in genesis)")?;
    let overlay = crate::btc::Overlay::new();
    let view = crate::btc::BtcState::new(Some(app.store()), &overlay);
    if path == "/bridge/vault" {
        return bridge.describe(&view).map(Some);
    }
    let (txid, vout) = crate::bridge::parse_outpoint(&String::from_utf8_lossy(data))?;
    Ok(bridge
        .deposit(&view, &txid, vout)?
        .map(|r| serde_json::json!(r)))
}

/// `/btc/tip`, and `/btc/header` with data = a height (decimal) or a block hash (display hex).
/// `None` when there is no such header.
fn btc_query(app: &App, path: &str, data: &[u8]) -> Result<Option<serde_json::Value>, String> {
    let mempool = app.mempool();
    let module = mempool.btc().ok_or("the chain is not initialized")?;
    let reader = module.reader(app.store(), Default::default());
    let chain = reader.chain();
    let found = if path == "/btc/tip" {
        chain.tip()
    } else {
        let arg = std::str::from_utf8(data)
            .map_err(|_| "data must be text")?
            .trim();
        match arg.parse::<u32>() {
            Ok(height) => chain.header_at(height),
            Err(_) => {
                let hash = bevm_btc_light::BlockHash::from_display_hex(arg)
                    .map_err(|_| "data must be a height or a 64-hex block hash")?;
                chain.header(&hash)
            }
        }
    };
    let Some(header) = found.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let confirmations = chain
        .confirmations(&header.hash)
        .map_err(|e| e.to_string())?;
    Ok(Some(serde_json::json!({
        "height": header.height,
        "hash": header.hash.to_string(),
        "prev_hash": header.header.prev_hash.to_string(),
        "time": header.header.time,
        "bits": format!("{:#010x}", header.header.bits),
        "chain_work": format!("{:#x}", header.chain_work),
        "confirmations": confirmations,
        "header": hex::encode(header.header.encode()),
    })))
}

/// State sync is not offered yet: every request gets the empty answer.
#[derive(Clone, Copy, Debug)]
pub struct NoSnapshots;

impl Service<SnapshotRequest> for NoSnapshots {
    type Response = SnapshotResponse;
    type Error = BoxError;
    type Future = Ready<Result<SnapshotResponse, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: SnapshotRequest) -> Self::Future {
        ready(Ok(match req {
            SnapshotRequest::ListSnapshots => SnapshotResponse::ListSnapshots(Default::default()),
            SnapshotRequest::OfferSnapshot(_) => {
                SnapshotResponse::OfferSnapshot(Default::default())
            }
            SnapshotRequest::LoadSnapshotChunk(_) => {
                SnapshotResponse::LoadSnapshotChunk(Default::default())
            }
            SnapshotRequest::ApplySnapshotChunk(_) => {
                SnapshotResponse::ApplySnapshotChunk(Default::default())
            }
        }))
    }
}
