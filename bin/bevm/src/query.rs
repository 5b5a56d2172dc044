//! `bevm query`: chain state through a node's Ethereum JSON-RPC, and the Bitcoin light
//! client through CometBFT's `abci_query`.

use alloy_primitives::{Address, U256};
use anyhow::Context as _;
use clap::Subcommand;
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};

#[derive(Subcommand)]
pub enum QueryCommand {
    /// Latest block number.
    Height {
        #[arg(long, env = "BEVM_RPC", default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// Balance of an account, in BTC and wei.
    Balance {
        address: Address,
        #[arg(long, env = "BEVM_RPC", default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// Next nonce of an account (counting its transactions in the mempool).
    Nonce {
        address: Address,
        #[arg(long, env = "BEVM_RPC", default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// A block as JSON (number or "latest").
    Block {
        #[arg(default_value = "latest")]
        number: String,
        #[arg(long, env = "BEVM_RPC", default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// The Bitcoin light client: best tip, or a header by height or hash.
    Btc {
        #[command(subcommand)]
        what: BtcQuery,
        #[command(flatten)]
        comet: CometRpc,
    },
    /// The BTC bridge: the vault, or a recorded deposit.
    Bridge {
        #[command(subcommand)]
        what: BridgeQuery,
        #[command(flatten)]
        comet: CometRpc,
    },
}

/// Where `abci_query` questions go.
#[derive(clap::Args)]
pub struct CometRpc {
    /// CometBFT RPC of a node (its `abci_query` serves the light client and the bridge).
    #[arg(
        long = "comet",
        global = true,
        env = "BEVM_COMET_RPC",
        default_value = "http://127.0.0.1:26657"
    )]
    url: String,
}

#[derive(Subcommand)]
pub enum BridgeQuery {
    /// The vault: Bitcoin address, descriptor, signers, deposit rules, BTC held.
    Vault,
    /// A deposit by outpoint (`<txid>:<vout>`): credited to whom, or why it was rejected.
    Deposit { outpoint: String },
}

#[derive(Subcommand)]
pub enum BtcQuery {
    /// The best chain's tip.
    Tip,
    /// A header by best-chain height, or by block hash (any kept branch).
    Header { height_or_hash: String },
}

fn tag(number: &str) -> anyhow::Result<String> {
    Ok(match number {
        "latest" | "earliest" | "pending" | "safe" | "finalized" => number.into(),
        n => format!(
            "0x{:x}",
            n.parse::<u64>().context("block is a number or a tag")?
        ),
    })
}

pub fn run(cmd: QueryCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let url = match &cmd {
            QueryCommand::Height { rpc } | QueryCommand::Balance { rpc, .. } => rpc,
            QueryCommand::Nonce { rpc, .. } | QueryCommand::Block { rpc, .. } => rpc,
            QueryCommand::Btc { comet, .. } | QueryCommand::Bridge { comet, .. } => &comet.url,
        };
        let client = HttpClientBuilder::default()
            .build(url)
            .with_context(|| format!("rpc url {url}"))?;
        let unreachable = || format!("no answer from {url}; is bevm-node running?");
        match &cmd {
            QueryCommand::Height { .. } => {
                let n: U256 = client
                    .request("eth_blockNumber", rpc_params![])
                    .await
                    .with_context(unreachable)?;
                println!("{n}");
            }
            QueryCommand::Balance { address, .. } => {
                let wei: U256 = client
                    .request("eth_getBalance", rpc_params![address, "latest"])
                    .await
                    .with_context(unreachable)?;
                match bevm_primitives::units::wei_to_sat(wei) {
                    Some((sat, _)) => println!("{} BTC ({wei} wei)", format_btc(sat)),
                    None => println!("{wei} wei"),
                }
            }
            QueryCommand::Nonce { address, .. } => {
                let n: U256 = client
                    .request("eth_getTransactionCount", rpc_params![address, "pending"])
                    .await
                    .with_context(unreachable)?;
                println!("{n}");
            }
            QueryCommand::Block { number, .. } => {
                let block: serde_json::Value = client
                    .request("eth_getBlockByNumber", rpc_params![tag(number)?, false])
                    .await
                    .with_context(unreachable)?;
                println!("{}", serde_json::to_string_pretty(&block)?);
            }
            QueryCommand::Btc { what, .. } => {
                let (path, data) = match what {
                    BtcQuery::Tip => ("/btc/tip", String::new()),
                    BtcQuery::Header { height_or_hash } => ("/btc/header", height_or_hash.clone()),
                };
                abci_query(&client, url, path, &data).await?;
            }
            QueryCommand::Bridge { what, .. } => {
                let (path, data) = match what {
                    BridgeQuery::Vault => ("/bridge/vault", String::new()),
                    BridgeQuery::Deposit { outpoint } => ("/bridge/deposit", outpoint.clone()),
                };
                abci_query(&client, url, path, &data).await?;
            }
        }
        Ok(())
    })
}

/// Prints the JSON answer of a node's `abci_query`, or fails with its log.
async fn abci_query(
    client: &jsonrpsee::http_client::HttpClient,
    url: &str,
    path: &str,
    data: &str,
) -> anyhow::Result<()> {
    let json = abci_value(client, url, path, data).await?;
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

async fn abci_value(
    client: &jsonrpsee::http_client::HttpClient,
    url: &str,
    path: &str,
    data: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut params = jsonrpsee::core::params::ObjectParams::new();
    params.insert("path", path)?;
    params.insert("data", hex::encode(data))?;
    let answer: serde_json::Value = client
        .request("abci_query", params)
        .await
        .with_context(|| format!("no answer from {url}; is cometbft running?"))?;
    let response = &answer["response"];
    if response["code"].as_u64().unwrap_or(0) != 0 {
        anyhow::bail!("{}", response["log"].as_str().unwrap_or("query failed"));
    }
    let value = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        response["value"].as_str().unwrap_or_default(),
    )
    .context("abci_query value is not base64")?;
    serde_json::from_slice(&value).context("abci_query value is not JSON")
}

fn format_btc(sat: u64) -> String {
    format!("{}.{:08}", sat / 100_000_000, sat % 100_000_000)
}
