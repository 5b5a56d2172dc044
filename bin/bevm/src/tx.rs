//! `bevm tx`: transactions signed with a key from the keyring and sent through a node's
//! Ethereum JSON-RPC.

use std::path::PathBuf;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_sol_types::{SolCall, SolValue};
use anyhow::Context as _;
use bevm_primitives::bridge_abi::{IBridge, BRIDGE_ADDRESS};
use bevm_primitives::keys::AccountKey;
use clap::Subcommand;
use jsonrpsee::{core::client::ClientT, http_client::HttpClient, rpc_params};

#[derive(Subcommand)]
pub enum TxCommand {
    /// The BTC bridge.
    #[command(subcommand)]
    Bridge(BridgeTx),
}

#[derive(Subcommand)]
pub enum BridgeTx {
    /// Print an EVM address's Bitcoin deposit address; with --from, also register it on chain
    /// (paid by that key) so relayers credit payments to it. Anyone may register for anyone.
    DepositAddress {
        /// The EVM account deposits to this address credit.
        recipient: Address,
        /// Keyring name of the key that pays the registration's gas.
        #[arg(long)]
        from: Option<String>,
        #[arg(long, env = "BEVM_KEYRING", default_value_os_t = crate::keys::default_dir())]
        keyring: PathBuf,
        #[arg(long, env = "BEVM_RPC", default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
}

pub fn run(cmd: TxCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd {
            TxCommand::Bridge(BridgeTx::DepositAddress {
                recipient,
                from,
                keyring,
                rpc,
            }) => deposit_address(recipient, from, &keyring, &rpc).await,
        }
    })
}

async fn deposit_address(
    recipient: Address,
    from: Option<String>,
    keyring: &std::path::Path,
    rpc: &str,
) -> anyhow::Result<()> {
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(rpc)
        .with_context(|| format!("rpc url {rpc}"))?;
    let view = IBridge::depositAddressCall { recipient }.abi_encode();
    let out: Bytes = client
        .request(
            "eth_call",
            rpc_params![
                serde_json::json!({ "to": BRIDGE_ADDRESS, "data": Bytes::from(view) }),
                "latest"
            ],
        )
        .await
        .with_context(|| format!("eth_call to the bridge through {rpc} failed"))?;
    let (script, address) = <(Bytes, String)>::abi_decode_params(&out)
        .context("the bridge answered something else than (bytes, string)")?;
    println!("deposit address for {recipient}: {address}");
    println!("scriptPubKey: {}", hex::encode(&script));
    let Some(name) = from else {
        println!("not registered by this command; pass --from <key> to register it");
        return Ok(());
    };
    let key = crate::keys::load(keyring, &name)?;
    let call = IBridge::registerDepositAddressCall { recipient }.abi_encode();
    let hash = send(&client, &key, TxKind::Call(BRIDGE_ADDRESS), call.into()).await?;
    println!("registration sent: {hash}");
    Ok(())
}

/// Signs an EIP-1559 call with `key` (nonce, fees, gas and chain id from the node) and sends
/// it; returns the transaction hash.
async fn send(
    client: &HttpClient,
    key: &AccountKey,
    to: TxKind,
    input: Bytes,
) -> anyhow::Result<String> {
    let from = key.address();
    let chain_id: U256 = client.request("eth_chainId", rpc_params![]).await?;
    let nonce: U256 = client
        .request("eth_getTransactionCount", rpc_params![from, "pending"])
        .await?;
    let gas_price: U256 = client.request("eth_gasPrice", rpc_params![]).await?;
    let tip: U256 = client
        .request("eth_maxPriorityFeePerGas", rpc_params![])
        .await?;
    let request = serde_json::json!({ "from": from, "to": to.to(), "data": input });
    let gas: U256 = client
        .request("eth_estimateGas", rpc_params![request])
        .await
        .context("the node refused the call (eth_estimateGas)")?;
    let tx = alloy_consensus::TxEip1559 {
        chain_id: chain_id.to(),
        nonce: nonce.to(),
        gas_limit: gas.to::<u64>() * 5 / 4,
        max_fee_per_gas: gas_price.to::<u128>() * 2,
        max_priority_fee_per_gas: tip.to(),
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let raw = alloy_eips::eip2718::Encodable2718::encoded_2718(&key.sign_tx(tx));
    let hash: String = client
        .request("eth_sendRawTransaction", rpc_params![Bytes::from(raw)])
        .await
        .context("the node refused the transaction")?;
    Ok(hash)
}
