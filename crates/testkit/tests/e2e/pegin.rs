//! Peg-in end to end: real btcd, cometbft, bevm-node and bevm-relayer. Deposits of both forms
//! are credited and visible with `cast balance`; the credited BTC pays gas for an ERC-20;
//! a second relay is refused; a deposit reorganised out before its depth and one below the
//! minimum are never credited.

use std::time::Duration;

use bevm_btc_light::spv::MerkleProof;
use bevm_custody::{memo_script, DevWallet};
use bevm_primitives::{keys::AccountKey, native::NativeTx};
use bevm_testkit::{
    btcd::Btcd,
    devnet::{bin_dir, Devnet},
    process::wait_for,
    relayer::Relayer,
    rpc::Rpc,
};
use bitcoin::{
    consensus::{deserialize, serialize},
    hashes::Hash as _,
    secp256k1::SecretKey,
    Address, Block, Network, OutPoint, ScriptBuf, Transaction,
};

use crate::helpers::{btc_query, cast, cast_deploy, cast_send, compile_contracts};

const CONFIRMATIONS: u32 = 3;
const MIN_SAT: u64 = 10_000;

/// A Bitcoin key that btcd mines to (P2PKH, so spending needs no segwit activation).
struct Funder(DevWallet);

impl Funder {
    fn new() -> Self {
        let secret = SecretKey::from_slice(&[0x5e; 32]).expect("key");
        Self(DevWallet::new(secret, Network::Regtest))
    }

    fn address(&self) -> &Address {
        &self.0.address
    }

    /// Spends the coinbase of block `height` to `outputs`, the rest back to itself.
    fn pay(&self, btcd: &Btcd, height: u32, outputs: Vec<(u64, ScriptBuf)>) -> Transaction {
        let raw = btcd
            .cli(&["getblock", &btcd.hash_at(height).expect("hash"), "0"])
            .expect("block");
        let block: Block = deserialize(&hex::decode(raw).expect("hex")).expect("block");
        let coinbase = &block.txdata[0];
        self.0
            .pay(
                OutPoint::new(coinbase.compute_txid(), 0),
                coinbase.output[0].value,
                outputs,
                10_000,
            )
            .expect("the coinbase covers the payment")
    }
}

fn wait_balance(url: &str, who: &str, wei: &str, secs: u64) {
    let held = wait_for(Duration::from_secs(secs), || {
        (cast(url, &["balance", who]).ok()? == wei).then_some(())
    });
    assert!(
        held.is_some(),
        "{who} never held {wei} wei (has {:?})",
        cast(url, &["balance", who])
    );
}

#[test]
fn deposits_of_both_forms_are_credited_once_and_pay_gas() {
    let net = Devnet::start_with(1, 300, |g| {
        g.bridge = Some(bevm_primitives::genesis::BridgeGenesis {
            confirmations: CONFIRMATIONS,
            min_deposit_sat: MIN_SAT,
            ..bevm_primitives::genesis::BridgeGenesis::with_signers(Vec::new())
        });
    })
    .expect("devnet");
    let comet = Rpc::new(net.validators[0].ports.rpc);
    let eth = format!("http://127.0.0.1:{}", net.validators[0].ports.eth_rpc);
    let vault = btc_query(&comet, "/bridge/vault", "").expect("the devnet has a bridge");
    let vault_script = ScriptBuf::from_bytes(
        hex::decode(vault["script_pubkey"].as_str().expect("script")).expect("hex"),
    );
    assert!(vault["address"]
        .as_str()
        .expect("address")
        .starts_with("bcrt1p"));

    let funder = Funder::new();
    let a = Btcd::start_mining_to(&funder.address().to_string()).expect("btcd a");
    let b = Btcd::start_peer_of(&a).expect("btcd b");
    a.generate(110).expect("mines");
    let dir = tempfile::tempdir().expect("tmp");
    let relayer =
        Relayer::start(dir.path(), &a, &comet.url(), &eth, 1000, 10).expect("relayer starts");

    // Form 1: pay the vault with a memo naming Alice.
    let alice = AccountKey::from_seed(b"alice");
    let alice_addr = alice.address().to_string();
    let memo_deposit = funder.pay(
        &a,
        1,
        vec![
            (100_000_000, vault_script.clone()),
            (0, memo_script(alice.address().into_array())),
        ],
    );
    a.send_raw_transaction(&serialize(&memo_deposit))
        .expect("btcd accepts the deposit");
    a.generate(CONFIRMATIONS).expect("mines");
    wait_balance(&eth, &alice_addr, "1000000000000000000", 90);

    // Form 2: Bob's deposit address, printed and registered with the CLI, then paid.
    let bob = AccountKey::from_seed(b"bob").address().to_string();
    let keyring = dir.path().join("keys");
    let import = std::process::Command::new(bin_dir().join("bevm"))
        .args(["keys", "import", "payer", "--keyring"])
        .arg(&keyring)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(net.keys[0].to_secret_hex().as_bytes())?;
            child.wait_with_output()
        })
        .expect("bevm keys import");
    assert!(import.status.success());
    let out = std::process::Command::new(bin_dir().join("bevm"))
        .args([
            "tx",
            "bridge",
            "deposit-address",
            &bob,
            "--from",
            "payer",
            "--rpc",
            &eth,
        ])
        .arg("--keyring")
        .arg(&keyring)
        .output()
        .expect("bevm tx bridge deposit-address");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob_address = printed
        .split_whitespace()
        .find(|w| w.starts_with("bcrt1p"))
        .expect("a regtest Taproot address")
        .to_owned();
    let bob_script = bob_address
        .parse::<Address<_>>()
        .expect("address")
        .require_network(Network::Regtest)
        .expect("regtest")
        .script_pubkey();
    assert_ne!(bob_script, vault_script);
    let address_deposit = funder.pay(&a, 2, vec![(50_000_000, bob_script)]);
    a.send_raw_transaction(&serialize(&address_deposit))
        .expect("btcd accepts");
    a.generate(CONFIRMATIONS).expect("mines");
    wait_balance(&eth, &bob, "500000000000000000", 90);

    // Alice's credited BTC pays the gas of deploying and calling an ERC-20.
    let alice_key = alice.to_secret_hex();
    let artifact = compile_contracts(dir.path());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&artifact).expect("artifact")).expect("json");
    let token = cast_deploy(
        &eth,
        &alice_key,
        &[],
        json["bytecode"].as_str().expect("bytecode"),
        &["constructor(string,string,uint256)", "Peg", "PEG", "1000"],
    );
    cast_send(
        &eth,
        &alice_key,
        &token,
        &["transfer(address,uint256)", &bob, "7"],
    );
    assert_eq!(
        cast(&eth, &["call", &token, "balanceOf(address)(uint256)", &bob]).expect("call"),
        "7"
    );

    // The same deposit relayed again is refused (code 23: recorded already). CometBFT's
    // mempool cache would drop the relayer's identical bytes before the app sees them, so
    // the app's own answer is asked through `check_tx`.
    let block_111 = a.cli(&["getblockhash", "111"]).expect("hash");
    let answer = check_relay(&comet, &a, &block_111, &memo_deposit);
    assert_eq!(answer["code"], 23, "{answer}");

    // Below the minimum: recorded with its reason, not credited.
    let dave = AccountKey::from_seed(b"dave").address();
    let small = funder.pay(
        &a,
        3,
        vec![
            (MIN_SAT - 1, vault_script.clone()),
            (0, memo_script(dave.into_array())),
        ],
    );
    a.send_raw_transaction(&serialize(&small))
        .expect("btcd accepts");
    a.generate(CONFIRMATIONS).expect("mines");
    let outpoint = format!("{}:0", small.compute_txid());
    let record = wait_for(Duration::from_secs(90), || {
        btc_query(&comet, "/bridge/deposit", &outpoint)
    })
    .expect("the small deposit is recorded");
    assert!(record["recipient"].is_null(), "{record}");
    assert!(
        record["rejected"]
            .as_str()
            .expect("reason")
            .contains("below the minimum"),
        "{record}"
    );
    assert_eq!(
        cast(&eth, &["balance", &dave.to_string()]).expect("balance"),
        "0"
    );

    // Reorganised out before its depth: Carol's deposit is mined on a, while b (cut off)
    // mines a longer branch holding a conflicting spend of the same coin.
    let carol = AccountKey::from_seed(b"carol").address();
    b.partition(&a).expect("partition");
    let doomed = funder.pay(
        &a,
        4,
        vec![
            (20_000_000, vault_script.clone()),
            (0, memo_script(carol.into_array())),
        ],
    );
    let conflict = funder.pay(&b, 4, vec![(20_000_000, funder.address().script_pubkey())]);
    a.send_raw_transaction(&serialize(&doomed))
        .expect("a accepts");
    let doomed_height = a.height().expect("height") + 1;
    a.generate(CONFIRMATIONS - 1)
        .expect("one block short of the depth");
    let doomed_block = a.hash_at(doomed_height).expect("hash");
    // The L2 sees Carol's block one confirmation short, and the relayer has a scan to relay
    // it too early if the depth rule were broken.
    let short_tip = a.hash_at(a.height().expect("height")).expect("hash");
    wait_for(Duration::from_secs(60), || {
        (btc_query(&comet, "/btc/tip", "")?["hash"].as_str()? == short_tip).then_some(())
    })
    .expect("the light client holds Carol's block");
    // The chain itself refuses the relay one block short, whatever a relayer does.
    let answer = check_relay(&comet, &a, &doomed_block, &doomed);
    assert_eq!(answer["code"], 24, "{answer}");
    assert!(
        answer["log"]
            .as_str()
            .is_some_and(|l| l.contains("confirmations")),
        "{answer}"
    );
    std::thread::sleep(Duration::from_secs(3));
    b.send_raw_transaction(&serialize(&conflict))
        .expect("b accepts");
    b.generate(CONFIRMATIONS + 2).expect("b's longer branch");
    b.rejoin(&a).expect("rejoin");
    let b_tip = b.hash_at(b.height().expect("height")).expect("hash");
    wait_for(Duration::from_secs(60), || {
        (a.hash_at(b.height().ok()?).ok()? == b_tip).then_some(())
    })
    .expect("a reorganises onto b's branch");
    a.generate(CONFIRMATIONS + 1).expect("buries the fork");
    let top = a.hash_at(a.height().expect("height")).expect("hash");
    wait_for(Duration::from_secs(90), || {
        (btc_query(&comet, "/btc/tip", "")?["hash"].as_str()? == top).then_some(())
    })
    .expect("the light client follows the reorg");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        cast(&eth, &["balance", &carol.to_string()]).expect("balance"),
        "0"
    );
    // Its block is off the best chain now, deep or not: the relay is refused for good.
    let answer = check_relay(&comet, &a, &doomed_block, &doomed);
    assert_eq!(answer["code"], 24, "{answer}");
    assert!(
        answer["log"]
            .as_str()
            .is_some_and(|l| l.contains("not on the best chain")),
        "{answer}"
    );
    let doomed_outpoint = format!("{}:0", doomed.compute_txid());
    let answer = comet
        .call(
            "abci_query",
            serde_json::json!({ "path": "/bridge/deposit", "data": hex::encode(&doomed_outpoint) }),
        )
        .expect("abci_query");
    assert_eq!(
        answer["response"]["code"],
        bevm_app::abci::QUERY_NOT_FOUND,
        "never recorded: {answer}"
    );
    let vault_now = btc_query(&comet, "/bridge/vault", "").expect("vault");
    assert_eq!(vault_now["supply_sat"], 150_000_000, "{vault_now}");
    drop(relayer);
}

/// The app's CheckTx answer to a `RelayDeposit` of `tx` with its proof from `block` (raw,
/// from `btcd`, which keeps blocks of abandoned branches too).
fn check_relay(comet: &Rpc, btcd: &Btcd, block: &str, tx: &Transaction) -> serde_json::Value {
    use base64::Engine as _;
    let raw = hex::decode(btcd.cli(&["getblock", block, "0"]).expect("block")).expect("hex");
    let txids = bevm_btc_light::block::BlockTxids::parse(&raw).expect("parse");
    let proof: MerkleProof = txids
        .proof(&tx.compute_txid().to_byte_array())
        .expect("the transaction is in the block");
    let relay = NativeTx::RelayDeposit {
        tx: serialize(tx),
        proof: proof.encode(),
    }
    .encode();
    comet
        .call(
            "check_tx",
            serde_json::json!({ "tx": base64::engine::general_purpose::STANDARD.encode(relay) }),
        )
        .expect("check_tx")
}
