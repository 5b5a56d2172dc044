//! bevm-node: the ABCI application and the Ethereum JSON-RPC server, in one process.

mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: block execution allocates many small buffers that other
/// threads (the store's writer) free, where glibc spent a fifth of the time.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bevm-node",
    version,
    about = "bevm validator node: ABCI application for CometBFT plus Ethereum JSON-RPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the node. CometBFT (with the same home) connects to its ABCI address.
    Start {
        /// Validator home written by `bevm init` / `bevm testnet` (holds config/bevm.toml).
        #[arg(long, env = "BEVM_HOME")]
        home: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    bevm_store::memory::reexec_with_allocator_settings();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,jsonrpsee=warn,tower_abci=warn".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match Cli::parse().command {
        Command::Start { home } => run::start(&home),
    }
}
