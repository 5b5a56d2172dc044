//! `bevm dev`: devnet helpers. `deposit` pays the bridge vault from a regtest key that
//! btcd mines to, so a devnet's BTC comes from a real Bitcoin deposit, not from genesis.

use alloy_primitives::Address;
use anyhow::{bail, Context as _};
use bevm_custody::{memo_script, DevWallet};
use bevm_relay::{Auth, BitcoinRpc, CometL2, L2Bridge as _};
use bitcoin::{
    consensus::{deserialize, serialize},
    secp256k1::SecretKey,
    Block, Network, OutPoint, ScriptBuf,
};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Subcommand)]
pub enum DevCommand {
    /// Print the regtest P2PKH address of a Bitcoin key (to mine to).
    BtcAddress {
        #[command(flatten)]
        key: BtcKey,
    },
    /// Pay the bridge vault from a mature coinbase of the key, with a memo crediting `to`.
    /// Prints the Bitcoin txid; mine the bridge's confirmation depth for the credit.
    Deposit {
        /// EVM account to credit.
        #[arg(long)]
        to: Address,
        /// Amount in sat.
        #[arg(long)]
        sat: u64,
        #[command(flatten)]
        key: BtcKey,
        #[arg(long, default_value = "http://127.0.0.1:18334")]
        bitcoin_rpc: String,
        #[arg(long, default_value = "bevm")]
        bitcoin_rpc_user: String,
        #[arg(
            long,
            env = "BEVM_BITCOIN_RPC_PASSWORD",
            default_value = "bevm",
            hide_env_values = true
        )]
        bitcoin_rpc_password: String,
        /// CometBFT RPC of a node (the vault's script comes from its `/bridge/vault`).
        #[arg(long, env = "BEVM_COMET_RPC", default_value = "http://127.0.0.1:26657")]
        comet: String,
    },
}

#[derive(Args)]
pub struct BtcKey {
    /// Regtest secret key, 64 hex digits (DEVNET ONLY: it is passed in the clear).
    #[arg(long, env = "BEVM_DEV_BTC_KEY", hide_env_values = true)]
    btc_key: String,
}

impl BtcKey {
    fn wallet(&self) -> anyhow::Result<DevWallet> {
        let bytes = hex::decode(self.btc_key.trim().trim_start_matches("0x"))
            .context("--btc-key is not hex")?;
        let secret = SecretKey::from_slice(&bytes).context("--btc-key is not a secret key")?;
        Ok(DevWallet::new(secret, Network::Regtest))
    }
}

pub fn run(cmd: DevCommand) -> anyhow::Result<()> {
    match cmd {
        DevCommand::BtcAddress { key } => {
            println!("{}", key.wallet()?.address);
            Ok(())
        }
        DevCommand::Deposit {
            to,
            sat,
            key,
            bitcoin_rpc,
            bitcoin_rpc_user,
            bitcoin_rpc_password,
            comet,
        } => {
            let wallet = key.wallet()?;
            let script = CometL2::new(&comet)
                .bridge()?
                .context("the node's chain has no bridge (no bridge section in its genesis)")?
                .vault_script;
            let btc = BitcoinRpc::new(
                &bitcoin_rpc,
                Auth::UserPass(bitcoin_rpc_user, bitcoin_rpc_password),
            );
            let (coin, value) = spendable_coinbase(&btc, &wallet)?;
            let tx = wallet.pay(
                coin,
                value,
                vec![
                    (sat, ScriptBuf::from_bytes(script)),
                    (0, memo_script(to.into_array())),
                ],
                10_000,
            )?;
            btc.call("sendrawtransaction", json!([hex::encode(serialize(&tx))]))?;
            println!("{}", tx.compute_txid());
            Ok(())
        }
    }
}

/// The first mature, unspent coinbase output paying `wallet`.
fn spendable_coinbase(
    btc: &BitcoinRpc,
    wallet: &DevWallet,
) -> anyhow::Result<(OutPoint, bitcoin::Amount)> {
    let tip = btc
        .call("getblockcount", json!([]))?
        .as_u64()
        .context("getblockcount")?;
    let script = wallet.address.script_pubkey();
    // Coinbases mature after 100 blocks.
    for height in 1..=tip.saturating_sub(100) {
        let hash = btc.call("getblockhash", json!([height]))?;
        let raw = btc.call("getblock", json!([hash, 0]))?;
        let block: Block =
            deserialize(&hex::decode(raw.as_str().context("getblock")?).context("getblock hex")?)
                .context("getblock: not a block")?;
        let coinbase = &block.txdata[0];
        let Some(out) = coinbase.output.first() else {
            continue;
        };
        if out.script_pubkey != script {
            continue;
        }
        let txid = coinbase.compute_txid();
        // gettxout counts the mempool too, so a coin spent by a pending deposit is skipped.
        if !btc
            .call("gettxout", json!([txid.to_string(), 0, true]))?
            .is_null()
        {
            return Ok((OutPoint::new(txid, 0), out.value));
        }
    }
    bail!(
        "no mature unspent coinbase pays {} (mine to it, then 100 more blocks)",
        wallet.address
    )
}
