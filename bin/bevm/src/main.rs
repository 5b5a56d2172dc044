//! bevm: the command line of the bevm chain (genesis and configs, keys, queries,
//! transactions).

mod dev;
mod keys;
mod network;
mod query;
mod tx;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bevm",
    version,
    about = "bevm command line: genesis and configs, keys, queries"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a single-validator home: CometBFT config and keys, genesis, bevm.toml.
    Init(network::InitArgs),
    /// Write N validator homes on localhost with distinct ports, peered with each other.
    Testnet(network::TestnetArgs),
    /// Manage account keys (secp256k1; files are 0600).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Read chain state through a node's JSON-RPC.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Sign and send transactions (bridge deposit addresses).
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Devnet helpers: fund an account through a real regtest deposit.
    #[command(subcommand)]
    Dev(dev::DevCommand),
}

/// Errors are printed as one line of causes (no backtrace, even with `RUST_BACKTRACE` set):
/// they are for operators, not for debugging.
fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init(args) => network::init(&args),
        Command::Testnet(args) => network::testnet(&args),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Query(cmd) => query::run(cmd),
        Command::Tx(cmd) => tx::run(cmd),
        Command::Dev(cmd) => dev::run(cmd),
    }
}
