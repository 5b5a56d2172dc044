//! Method registration and the HTTP + WebSocket server.

use std::{
    net::SocketAddr,
    sync::{atomic::AtomicU64, Arc},
};

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use bevm_app::CommittedBlock;
use jsonrpsee::{
    core::{RegisterMethodError, SubscriptionResult},
    server::{BatchRequestConfig, IdProvider, Server, ServerConfig, ServerHandle},
    types::{ErrorObjectOwned, Params, SubscriptionId},
    PendingSubscriptionSink, RpcModule, SubscriptionMessage,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use crate::{api::EthApi, comet::Comet, logs::Filters, RpcError};

type Result<T> = std::result::Result<T, ErrorObjectOwned>;

/// Everything a method handler can reach.
pub struct RpcContext {
    pub api: EthApi,
    pub comet: Comet,
    pub filters: Mutex<Filters>,
    pub committed: broadcast::Sender<CommittedBlock>,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_batch_size: u32,
    pub max_connections: u32,
}

/// Subscription ids in geth's style: 0x-prefixed hex.
#[derive(Debug, Default)]
struct HexIds(AtomicU64);

impl IdProvider for HexIds {
    fn next_id(&self) -> SubscriptionId<'static> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        // Mixed so ids do not look sequential across restarts; not a secret either way
        // (subscriptions belong to their connection).
        let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64;
        SubscriptionId::Str(format!("0x{mixed:016x}{n:016x}").into())
    }
}

/// Starts the JSON-RPC server (HTTP and WebSocket on one port).
///
/// # Errors
/// If the address cannot be bound.
pub async fn start(
    ctx: RpcContext,
    settings: &ServerSettings,
) -> std::io::Result<(ServerHandle, SocketAddr)> {
    let config = ServerConfig::builder()
        .set_batch_request_config(BatchRequestConfig::Limit(settings.max_batch_size))
        .max_connections(settings.max_connections)
        .set_id_provider(HexIds::default())
        .build();
    let mempool = ctx.api.mempool.clone();
    let lanes = jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
        .layer_fn(move |service| crate::lanes::SenderLanes::new(service, mempool.clone()));
    let server = Server::builder()
        .set_config(config)
        .set_rpc_middleware(lanes)
        .build(settings.listen)
        .await?;
    let addr = server.local_addr()?;
    let module = module(ctx).map_err(std::io::Error::other)?;
    Ok((server.start(module), addr))
}

fn arg<T: DeserializeOwned>(params: &Params<'_>, index: usize) -> Result<T> {
    let mut seq = params.sequence();
    for _ in 0..index {
        seq.next::<serde_json::Value>()?;
    }
    seq.next()
}

fn opt_arg<T: DeserializeOwned>(params: &Params<'_>, index: usize) -> Result<Option<T>> {
    let mut seq = params.sequence();
    for _ in 0..index {
        if seq.optional_next::<serde_json::Value>()?.is_none() {
            return Ok(None);
        }
    }
    seq.optional_next()
}

fn ok<T>(r: std::result::Result<T, RpcError>) -> Result<T> {
    r.map_err(Into::into)
}

/// Builds the module with every method.
///
/// # Errors
/// Only if a method name is registered twice (a programming error).
pub fn module(ctx: RpcContext) -> std::result::Result<RpcModule<RpcContext>, RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    m.register_method("web3_clientVersion", |_, _, _| -> Result<String> {
        Ok(format!("bevm/v{}", env!("CARGO_PKG_VERSION")))
    })?;
    m.register_method("net_version", |_, c, _| -> Result<String> {
        Ok(c.api.spec.chain_id.to_string())
    })?;
    m.register_method("net_listening", |_, _, _| -> Result<bool> { Ok(true) })?;
    m.register_async_method("net_peerCount", |_, c, _| async move {
        ok(c.comet.peer_count().await.map(U64::from))
    })?;
    m.register_method("eth_chainId", |_, c, _| -> Result<U64> {
        Ok(U64::from(c.api.spec.chain_id))
    })?;
    m.register_async_method("eth_syncing", |_, c, _| async move {
        let (catching_up, highest) = c.comet.sync_status().await.unwrap_or((false, 0));
        let current = ok(c.api.latest())?;
        Ok::<_, ErrorObjectOwned>(if catching_up {
            serde_json::json!({ "startingBlock": "0x0", "currentBlock": U64::from(current), "highestBlock": U64::from(highest.max(current)) })
        } else {
            serde_json::Value::Bool(false)
        })
    })?;
    m.register_method("eth_blockNumber", |_, c, _| {
        ok(c.api.latest().map(U64::from))
    })?;
    m.register_method("eth_gasPrice", |_, c, _| {
        ok(c.api.gas_price().map(U256::from))
    })?;
    m.register_method("eth_maxPriorityFeePerGas", |_, c, _| -> Result<U256> {
        Ok(U256::from(c.api.max_priority_fee()))
    })?;
    m.register_method("eth_feeHistory", |p, c, _| {
        let count: U64 = arg(&p, 0)?;
        let newest: BlockNumberOrTag = arg(&p, 1)?;
        let percentiles: Option<Vec<f64>> = opt_arg(&p, 2)?;
        ok(c.api.fee_history(count.to(), newest, percentiles))
    })?;
    m.register_method("eth_accounts", |_, _, _| -> Result<Vec<Address>> {
        Ok(Vec::new())
    })?;

    // state
    m.register_method("eth_getBalance", |p, c, _| {
        let address: Address = arg(&p, 0)?;
        let block: Option<BlockId> = opt_arg(&p, 1)?;
        ok(c.api
            .reader(block)
            .and_then(|r| Ok(r.account(&address)?.map_or(U256::ZERO, |a| a.balance))))
    })?;
    m.register_method("eth_getTransactionCount", |p, c, _| {
        let address: Address = arg(&p, 0)?;
        let block: Option<BlockId> = opt_arg(&p, 1)?;
        ok(c.api.nonce(address, block).map(U64::from))
    })?;
    m.register_method("eth_getCode", |p, c, _| {
        let address: Address = arg(&p, 0)?;
        let block: Option<BlockId> = opt_arg(&p, 1)?;
        ok(c.api.reader(block).and_then(|r| Ok(r.code_of(&address)?)))
    })?;
    m.register_method("eth_getStorageAt", |p, c, _| {
        let address: Address = arg(&p, 0)?;
        let slot: U256 = arg(&p, 1)?;
        let block: Option<BlockId> = opt_arg(&p, 2)?;
        ok(c.api
            .reader(block)
            .and_then(|r| Ok(B256::from(r.slot(&address, &slot)?))))
    })?;
    m.register_blocking_method("eth_call", |p, c, _| {
        let req: TransactionRequest = arg(&p, 0)?;
        let block: Option<BlockId> = opt_arg(&p, 1)?;
        ok(c.api.call(&req, block))
    })?;
    m.register_blocking_method("eth_estimateGas", |p, c, _| {
        let req: TransactionRequest = arg(&p, 0)?;
        let block: Option<BlockId> = opt_arg(&p, 1)?;
        ok(c.api.estimate_gas(&req, block).map(U64::from))
    })?;
    m.register_async_method("eth_sendRawTransaction", |p, c, _| async move {
        let raw: Bytes = arg(&p, 0)?;
        // Decode here first: malformed input gets its error without a round trip, and the
        // recovered sender is remembered for CheckTx.
        let tx = c
            .api
            .mempool
            .decode(&raw)
            .map_err(|e| ErrorObjectOwned::from(RpcError::Rejected(e.message)))?;
        ok(c.comet.broadcast(&raw).await)?;
        Ok::<_, ErrorObjectOwned>(tx.hash)
    })?;

    // blocks and transactions
    m.register_method("eth_getBlockByNumber", |p, c, _| {
        let tag: BlockNumberOrTag = arg(&p, 0)?;
        let full: bool = opt_arg(&p, 1)?.unwrap_or(false);
        match c.api.number_of(tag) {
            Ok(n) => ok(c.api.block(n, full)),
            Err(RpcError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })?;
    m.register_method("eth_getBlockByHash", |p, c, _| {
        let hash: B256 = arg(&p, 0)?;
        let full: bool = opt_arg(&p, 1)?.unwrap_or(false);
        match ok(c.api.number_by_hash(&hash))? {
            Some(n) => ok(c.api.block(n, full)),
            None => Ok(None),
        }
    })?;
    m.register_method("eth_getBlockTransactionCountByNumber", |p, c, _| {
        let tag: BlockNumberOrTag = arg(&p, 0)?;
        match c.api.number_of(tag) {
            Ok(n) => ok(c.api.tx_count(n).map(|o| o.map(U64::from))),
            Err(_) => Ok(None),
        }
    })?;
    m.register_method("eth_getBlockTransactionCountByHash", |p, c, _| {
        let hash: B256 = arg(&p, 0)?;
        match ok(c.api.number_by_hash(&hash))? {
            Some(n) => ok(c.api.tx_count(n).map(|o| o.map(U64::from))),
            None => Ok(None),
        }
    })?;
    m.register_method("eth_getTransactionByHash", |p, c, _| {
        let hash: B256 = arg(&p, 0)?;
        ok(c.api.tx_by_hash(&hash))
    })?;
    m.register_method("eth_getTransactionByBlockHashAndIndex", |p, c, _| {
        let hash: B256 = arg(&p, 0)?;
        let index: U64 = arg(&p, 1)?;
        match ok(c.api.number_by_hash(&hash))? {
            Some(n) => ok(c.api.tx_by_index(n, index.to())),
            None => Ok(None),
        }
    })?;
    m.register_method("eth_getTransactionByBlockNumberAndIndex", |p, c, _| {
        let tag: BlockNumberOrTag = arg(&p, 0)?;
        let index: U64 = arg(&p, 1)?;
        match c.api.number_of(tag) {
            Ok(n) => ok(c.api.tx_by_index(n, index.to())),
            Err(_) => Ok(None),
        }
    })?;
    m.register_method("eth_getTransactionReceipt", |p, c, _| {
        let hash: B256 = arg(&p, 0)?;
        ok(c.api.receipt(&hash))
    })?;
    m.register_method("eth_getBlockReceipts", |p, c, _| {
        let id: BlockId = arg(&p, 0)?;
        match c.api.resolve(id) {
            Ok(n) => ok(c.api.block_receipts(n)),
            Err(RpcError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })?;

    // logs and filters
    m.register_blocking_method("eth_getLogs", |p, c, _| {
        let filter: Filter = arg(&p, 0)?;
        ok(c.api.get_logs(&filter))
    })?;
    m.register_method("eth_newFilter", |p, c, _| {
        let filter: Filter = arg(&p, 0)?;
        let latest = ok(c.api.latest())?;
        ok(c.filters.lock().new_log_filter(filter, latest))
    })?;
    m.register_method("eth_newBlockFilter", |_, c, _| {
        let latest = ok(c.api.latest())?;
        ok(c.filters.lock().new_block_filter(latest))
    })?;
    m.register_blocking_method("eth_getFilterChanges", |p, c, _| {
        let id: U256 = arg(&p, 0)?;
        ok(c.filters.lock().changes(&c.api, id))
    })?;
    m.register_blocking_method("eth_getFilterLogs", |p, c, _| {
        let id: U256 = arg(&p, 0)?;
        ok(c.filters.lock().logs(&c.api, id))
    })?;
    m.register_method("eth_uninstallFilter", |p, c, _| {
        let id: U256 = arg(&p, 0)?;
        Ok::<_, ErrorObjectOwned>(c.filters.lock().uninstall(id))
    })?;

    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        subscribe,
    )?;
    Ok(m)
}

/// eth_subscribe: `newHeads` and `logs` (with an optional filter), fed by commits.
async fn subscribe(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<RpcContext>,
    _: jsonrpsee::Extensions,
) -> SubscriptionResult {
    let kind: String = arg(&params, 0)?;
    let filter = match kind.as_str() {
        "newHeads" => None,
        "logs" => Some(opt_arg::<Filter>(&params, 1)?.unwrap_or_default()),
        other => {
            pending
                .reject(ErrorObjectOwned::from(RpcError::InvalidParams(format!(
                    "unsupported subscription {other:?}; supported: newHeads, logs"
                ))))
                .await;
            return Ok(());
        }
    };
    let mut blocks = ctx.committed.subscribe();
    let sink = pending.accept().await?;
    loop {
        let block = tokio::select! {
            _ = sink.closed() => return Ok(()),
            b = blocks.recv() => match b {
                Ok(b) => b,
                // A slow client missed blocks: it is told by the gap in numbers; keep going.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        };
        let id = sink.subscription_id();
        match &filter {
            None => {
                let Some(full) = ok(ctx.api.block(block.number, false))? else {
                    continue;
                };
                let msg = SubscriptionMessage::new("eth_subscription", id, &full.header)?;
                if sink.send(msg).await.is_err() {
                    return Ok(());
                }
            }
            Some(filter) => {
                for log in ok(ctx.api.block_logs(filter, block.number))? {
                    let msg = SubscriptionMessage::new("eth_subscription", id.clone(), &log)?;
                    if sink.send(msg).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}
