//! bevm: the command line of the bevm chain (genesis and configs, keys, queries).

mod keys;
mod network;
mod query;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Init(args) => network::init(&args),
        Command::Testnet(args) => network::testnet(&args),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Query(cmd) => query::run(cmd),
    }
}
