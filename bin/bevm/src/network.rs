//! `bevm init` and `bevm testnet`.

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use anyhow::Context as _;
use bevm_config::{generate_network, write_private, NetworkSpec, Ports};
use bevm_primitives::{
    genesis::{BridgeGenesis, Genesis, GenesisAccount, Network},
    keys::{devnet_keys, AccountKey},
    units::btc_to_wei,
};
use clap::Args;

#[derive(Args)]
pub struct ChainArgs {
    /// CometBFT chain id.
    #[arg(long, default_value = "bevm-devnet")]
    chain_id: String,
    /// EIP-155 chain id of the EVM.
    #[arg(long, default_value_t = 1337)]
    evm_chain_id: u64,
    /// Network kind; only a devnet may prefund accounts.
    #[arg(long, default_value = "devnet", value_parser = ["devnet", "testnet", "mainnet"])]
    network: String,
    /// Bitcoin network the light client follows and deposit addresses are encoded for
    /// (`mainnet`, `testnet4`, `testnet3`, `signet`, `regtest`). Default: regtest on a devnet,
    /// testnet4 on a testnet, mainnet on mainnet. Regtest is refused outside a devnet, and
    /// a mainnet follows Bitcoin mainnet only.
    #[arg(long, value_parser = ["mainnet", "testnet4", "testnet3", "signet", "regtest"])]
    btc_network: Option<String>,
    /// DEVNET ONLY: number of development accounts funded at genesis (keys in dev-keys.json).
    #[arg(long, default_value_t = 10)]
    dev_accounts: u32,
    /// BTC minted at genesis for each development account; 0 mints nothing (fund them with
    /// real regtest deposits, as `make run` does).
    #[arg(long, default_value_t = 1000)]
    dev_balance_btc: u64,
    /// Bitcoin blocks (the deposit's own included) a deposit needs before it is credited.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    btc_confirmations: u32,
    /// Smallest deposit credited, in sat; smaller ones are recorded as rejected.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    min_deposit_sat: u64,
    /// Pause after each block, in milliseconds (CometBFT's timeout_commit).
    #[arg(long, default_value_t = 1000)]
    timeout_commit_ms: u64,
    /// Overwrite existing homes (deletes their data).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct InitArgs {
    /// Directory of the validator home to create.
    #[arg(long)]
    home: PathBuf,
    #[command(flatten)]
    chain: ChainArgs,
    /// First of four consecutive ports: p2p, CometBFT RPC, ABCI, Ethereum JSON-RPC.
    /// Default: 26656, 26657, 26658 and 8545.
    #[arg(long)]
    base_port: Option<u16>,
}

#[derive(Args)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=100))]
    validators: u16,
    /// Directory receiving validator-<i>/ homes.
    #[arg(long)]
    output: PathBuf,
    #[command(flatten)]
    chain: ChainArgs,
    /// Validator i uses ports base+4i .. base+4i+3 (p2p, CometBFT RPC, ABCI, JSON-RPC).
    /// Default: 26656+10i, 26657+10i, 26658+10i and 8545+i.
    #[arg(long)]
    base_port: Option<u16>,
}

fn ports_from(base: u16, i: u16) -> anyhow::Result<Ports> {
    let first = base
        .checked_add(4 * i)
        .filter(|p| p.checked_add(3).is_some())
        .context("ports above 65535")?;
    Ok(Ports {
        p2p: first,
        rpc: first + 1,
        abci: first + 2,
        eth_rpc: first + 3,
    })
}

fn genesis(args: &ChainArgs) -> anyhow::Result<(Genesis, Vec<AccountKey>)> {
    let mut genesis = Genesis::devnet(args.evm_chain_id);
    genesis.network = match args.network.as_str() {
        "testnet" => Network::Testnet,
        "mainnet" => Network::Mainnet,
        _ => Network::Devnet,
    };
    genesis.btc.network = match (&args.btc_network, genesis.network) {
        (Some(name), _) => name.clone(),
        (None, Network::Devnet) => "regtest".into(),
        (None, Network::Testnet) => "testnet4".into(),
        (None, Network::Mainnet) => "mainnet".into(),
    };
    let keys = if genesis.network == Network::Devnet {
        devnet_keys(args.dev_accounts)
    } else {
        Vec::new()
    };
    // The signers are the validators: their keys are filled in as the homes are generated.
    genesis.bridge = Some(BridgeGenesis {
        confirmations: args.btc_confirmations,
        min_deposit_sat: args.min_deposit_sat,
        ..BridgeGenesis::with_signers(Vec::new())
    });
    let balance: U256 = btc_to_wei(args.dev_balance_btc);
    for key in keys.iter().filter(|_| !balance.is_zero()) {
        genesis.devnet_alloc.insert(
            key.address(),
            GenesisAccount {
                balance,
                ..Default::default()
            },
        );
    }
    genesis.validate()?;
    Ok((genesis, keys))
}

fn write_dev_keys(dir: &Path, keys: &[AccountKey]) -> anyhow::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let list: Vec<_> = keys
        .iter()
        .map(|k| serde_json::json!({ "address": k.address(), "private_key": k.to_secret_hex() }))
        .collect();
    let path = dir.join("dev-keys.json");
    write_private(&path, serde_json::to_string_pretty(&list)?.as_bytes())?;
    println!(
        "devnet accounts: {}, keys in {} (DEVNET ONLY)",
        keys.len(),
        path.display()
    );
    Ok(())
}

pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    let (genesis, keys) = genesis(&args.chain)?;
    let ports = match args.base_port {
        Some(base) => ports_from(base, 0)?,
        None => Ports::standard(0),
    };
    let spec = NetworkSpec {
        chain_id: args.chain.chain_id.clone(),
        genesis,
        ports: vec![ports],
        output: args.home.clone(),
        timeout_commit_ms: args.chain.timeout_commit_ms,
        force: args.chain.force,
        single_home: true,
    };
    let homes = generate_network(&spec)?;
    for h in &homes {
        println!(
            "validator home {} (JSON-RPC http://127.0.0.1:{})",
            h.home.display(),
            h.ports.eth_rpc
        );
    }
    write_dev_keys(&args.home, &keys)
}

pub fn testnet(args: &TestnetArgs) -> anyhow::Result<()> {
    let (genesis, keys) = genesis(&args.chain)?;
    let ports = (0..args.validators)
        .map(|i| match args.base_port {
            Some(base) => ports_from(base, i),
            None => Ok(Ports::standard(i)),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = NetworkSpec {
        chain_id: args.chain.chain_id.clone(),
        genesis,
        ports,
        output: args.output.clone(),
        timeout_commit_ms: args.chain.timeout_commit_ms,
        force: args.chain.force,
        single_home: false,
    };
    for h in generate_network(&spec)? {
        println!(
            "{}  node {}  p2p {}  cometbft rpc {}  abci {}  json-rpc {}",
            h.home.display(),
            h.node_id,
            h.ports.p2p,
            h.ports.rpc,
            h.ports.abci,
            h.ports.eth_rpc
        );
    }
    write_dev_keys(&args.output, &keys)
}
