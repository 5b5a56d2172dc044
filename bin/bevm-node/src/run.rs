//! Wiring: store, app, ABCI server and JSON-RPC server.

use std::{path::Path, sync::Arc};

use anyhow::Context as _;
use bevm_app::{abci::AbciApp, App};
use bevm_config::NodeConfig;
use bevm_evm::ChainSpec;
use bevm_primitives::genesis::Genesis;
use bevm_rpc::{Comet, EthApi, Filters, Limits, RpcContext, ServerSettings};
use bevm_store::Store;
use parking_lot::Mutex;

/// The chain rules, from CometBFT's genesis file in the home.
fn load_genesis(home: &Path) -> anyhow::Result<Genesis> {
    let path = home.join("config/genesis.json");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let app_state = serde_json::to_vec(&doc["app_state"])?;
    Genesis::from_json(&app_state).with_context(|| format!("app_state of {}", path.display()))
}

pub fn start(home: &Path) -> anyhow::Result<()> {
    let config_path = home.join("config/bevm.toml");
    let config = NodeConfig::load(&config_path)?;
    let genesis = load_genesis(home)?;
    let spec = ChainSpec::from_genesis(&genesis);
    let db_path = home.join(&config.db_path);
    let store = Store::open(&db_path)
        .with_context(|| format!("opening the database at {}", db_path.display()))?;
    let app = App::open(store.clone())?;
    let on_exit = store.clone();
    let committed = app.info()?;
    tracing::info!(
        target: "bevm::node",
        height = committed.height,
        app_hash = %committed.app_hash,
        chain_id = spec.chain_id,
        "store opened"
    );
    let mempool = app.mempool();
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let abci = AbciApp::new(Arc::new(Mutex::new(app)), events.clone());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let ctx = RpcContext {
            api: EthApi::new(
                store,
                spec,
                mempool,
                Limits {
                    max_logs_block_range: config.max_logs_block_range,
                    max_logs: 10_000,
                    gas_cap: 50_000_000,
                },
            ),
            comet: Comet::new(&config.cometbft_rpc)?,
            filters: Mutex::new(Filters::default()),
            committed: events,
        };
        let settings = ServerSettings {
            listen: config.eth_rpc_listen,
            max_batch_size: config.max_batch_size,
            max_connections: 1_000,
        };
        let (rpc, rpc_addr) = bevm_rpc::start(ctx, &settings)
            .await
            .with_context(|| format!("binding the JSON-RPC server to {}", config.eth_rpc_listen))?;
        tracing::info!(target: "bevm::node", %rpc_addr, "Ethereum JSON-RPC listening (HTTP and WebSocket)");
        let abci_addr = config.abci_listen.to_string();
        tracing::info!(target: "bevm::node", %abci_addr, "ABCI listening; waiting for CometBFT");
        let serve = abci.serve(&abci_addr);
        tokio::select! {
            r = serve => r.map_err(|e| anyhow::anyhow!("ABCI server on {abci_addr}: {e}"))?,
            _ = shutdown_signal() => tracing::info!(target: "bevm::node", "shutting down"),
        }
        let _ = rpc.stop();
        anyhow::Ok(())
    })?;
    // Blocks already committed to CometBFT would be replayed anyway; writing them now makes the
    // next start quicker.
    on_exit
        .flush()
        .context("writing the last committed blocks to disk")?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
