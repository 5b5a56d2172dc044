//! bevm-relayer: follows a Bitcoin node and feeds its headers to the L2's light client.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use bevm_btc_light::BlockHash;
use bevm_config::RelayerConfig;
use bevm_relay::{
    Auth, BitcoinRpc, BitcoinSource, CometL2, DepositScanner, L2Chain, Pacing, Syncer,
};
use clap::{Parser, Subcommand};
use tracing::info;

#[derive(Parser)]
#[command(
    name = "bevm-relayer",
    version,
    about = "Follows a Bitcoin node (btcd or Bitcoin Core) and relays its headers to bevm's \
             light client, and deposits to the bridge with their proofs. Anyone may run one: \
             the L2 checks every header's proof of work and every deposit's proof."
)]
struct Cli {
    /// The relayer's config file (write one with `bevm-relayer init`).
    #[arg(
        long,
        global = true,
        env = "BEVM_RELAYER_CONFIG",
        default_value = "relayer.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented config file (0600: it may hold the Bitcoin RPC password).
    Init {
        #[arg(long, default_value = "http://127.0.0.1:18334")]
        bitcoin_rpc: String,
        #[arg(long, default_value = "bevm")]
        bitcoin_rpc_user: String,
        /// Better passed in the environment than on the command line, where `ps` shows it.
        #[arg(
            long,
            env = "BEVM_BITCOIN_RPC_PASSWORD",
            default_value = "bevm",
            hide_env_values = true
        )]
        bitcoin_rpc_password: String,
        #[arg(long, default_value = "http://127.0.0.1:26657")]
        cometbft_rpc: String,
        /// The node's Ethereum JSON-RPC (registered deposit addresses); "" for memo deposits only.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        eth_rpc: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Relay headers and deposits until stopped (SIGINT or SIGTERM), retrying on errors.
    Run,
    /// Print the Bitcoin node's tip and the light client's, once.
    Status,
    /// Print the SPV proof (hex, `gettxoutproof` format, coinbase matched too) that a
    /// transaction is in a block, built from the raw block: works with btcd and Core.
    Proof {
        /// Transaction id, display hex.
        txid: String,
        /// Hash of the block holding it, display hex.
        block: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Init {
            bitcoin_rpc,
            bitcoin_rpc_user,
            bitcoin_rpc_password,
            cometbft_rpc,
            eth_rpc,
            force,
        } => {
            anyhow::ensure!(
                force || !cli.config.exists(),
                "{} already exists; pass --force to overwrite it",
                cli.config.display()
            );
            let cfg = RelayerConfig {
                bitcoin_rpc,
                bitcoin_rpc_user,
                bitcoin_rpc_password,
                cometbft_rpc,
                eth_rpc,
                ..RelayerConfig::default()
            };
            cfg.write(&cli.config)?;
            println!("wrote {}", cli.config.display());
            Ok(())
        }
        Command::Run => run(&load(&cli.config)?),
        Command::Status => status(&load(&cli.config)?),
        Command::Proof { txid, block } => proof(&load(&cli.config)?, &txid, &block),
    }
}

fn load(path: &Path) -> anyhow::Result<RelayerConfig> {
    RelayerConfig::load(path).with_context(|| {
        format!(
            "cannot use the relayer config; write one with `bevm-relayer init --config {}`",
            path.display()
        )
    })
}

fn bitcoin(cfg: &RelayerConfig) -> BitcoinRpc {
    let auth = if !cfg.bitcoin_rpc_user.is_empty() {
        Auth::UserPass(
            cfg.bitcoin_rpc_user.clone(),
            cfg.bitcoin_rpc_password.clone(),
        )
    } else if !cfg.bitcoin_rpc_cookie.is_empty() {
        Auth::Cookie(cfg.bitcoin_rpc_cookie.clone().into())
    } else {
        Auth::None
    };
    BitcoinRpc::new(&cfg.bitcoin_rpc, auth)
}

fn run(cfg: &RelayerConfig) -> anyhow::Result<()> {
    let mut syncer = Syncer::new(
        bitcoin(cfg),
        CometL2::new(&cfg.cometbft_rpc),
        cfg.batch_size,
        cfg.max_batches_in_flight,
    );
    syncer.commit_timeout = Duration::from_secs(cfg.commit_timeout_secs);
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&syncer.stop))?;
    }
    let pacing = Pacing {
        poll_interval: Duration::from_millis(cfg.poll_interval_ms),
        min_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(cfg.max_backoff_secs),
    };
    info!(
        bitcoin = %cfg.bitcoin_rpc,
        l2 = %cfg.cometbft_rpc,
        batch = cfg.batch_size,
        in_flight = cfg.max_batches_in_flight,
        "relayer starting"
    );
    let mut l2 = CometL2::new(&cfg.cometbft_rpc);
    if !cfg.eth_rpc.is_empty() {
        l2 = l2.with_eth_rpc(&cfg.eth_rpc);
    }
    let deposits = DepositScanner::new(bitcoin(cfg), l2, cfg.deposit_lookback);
    bevm_relay::run(&syncer, &deposits, pacing);
    info!("relayer stopped");
    Ok(())
}

fn status(cfg: &RelayerConfig) -> anyhow::Result<()> {
    let bitcoin_tip = bitcoin(cfg).best_height()?;
    let l2 = CometL2::new(&cfg.cometbft_rpc).tip()?;
    println!("bitcoin node tip:  {bitcoin_tip}");
    println!("L2 light client:   {} {}", l2.height, l2.hash);
    println!(
        "behind:            {}",
        bitcoin_tip.saturating_sub(l2.height)
    );
    Ok(())
}

fn proof(cfg: &RelayerConfig, txid: &str, block: &str) -> anyhow::Result<()> {
    let mut id: [u8; 32] = hex::decode(txid.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("txid must be 64 hex digits")?;
    id.reverse(); // display order → internal order
    let block = BlockHash::from_display_hex(block.trim_start_matches("0x"))
        .map_err(|_| anyhow::anyhow!("block must be a 64-hex block hash"))?;
    let proof = bevm_relay::proof_for(&bitcoin(cfg), &id, &block)?;
    println!("{}", hex::encode(proof.encode()));
    Ok(())
}
