use std::{path::PathBuf, process::Command};

use bevm_testkit::workspace_root;

pub fn e2e_dir() -> PathBuf {
    std::env::var_os("BEVM_E2E_DIR")
        .map_or_else(|| workspace_root().join("tests/e2e"), PathBuf::from)
}

fn tool(name: &str) -> PathBuf {
    let local = e2e_dir().join("node_modules/.bin").join(name);
    if local.exists() {
        local
    } else {
        name.into()
    }
}

/// Runs `cast <subcommand> --rpc-url <url> <args..>` and returns its stdout, or stderr on
/// failure. The URL goes before positional arguments, which would otherwise swallow it.
pub fn cast(url: &str, args: &[&str]) -> Result<String, String> {
    let (sub, rest) = args.split_first().expect("a cast subcommand");
    let out = Command::new(tool("cast"))
        .arg(sub)
        .args(["--rpc-url", url])
        .args(rest)
        .output()
        .map_err(|e| format!("cannot run cast ({e}); run `make tools`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    // cast 1.7 prints some server errors (a reverted eth_call) to stderr yet exits with 0.
    if out.status.success() && !stderr.contains("Error:") {
        Ok(stdout)
    } else {
        Err(format!("{stderr}\n{stdout}"))
    }
}

/// Deploys `bytecode` with `cast send --create` (constructor signature and arguments, and
/// any extra flags such as `--value`), checks the receipt, and returns the contract address.
pub fn cast_deploy(
    url: &str,
    key: &str,
    extra: &[&str],
    bytecode: &str,
    constructor: &[&str],
) -> String {
    let mut args = vec!["send", "--private-key", key, "--json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--create", bytecode]);
    args.extend_from_slice(constructor);
    let sent = cast(url, &args).expect("deploy");
    let receipt: serde_json::Value = serde_json::from_str(&sent).expect("receipt json");
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt["contractAddress"]
        .as_str()
        .expect("contract address")
        .to_owned()
}

/// Sends a transaction calling `to` with `cast send`, checks it succeeded, and returns the
/// receipt.
pub fn cast_send(url: &str, key: &str, to: &str, call: &[&str]) -> serde_json::Value {
    let mut args = vec!["send", "--private-key", key, "--json", to];
    args.extend_from_slice(call);
    let sent = cast(url, &args).expect("send");
    let receipt: serde_json::Value = serde_json::from_str(&sent).expect("receipt json");
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt
}

/// Compiles the test contracts with solc-js into a fresh directory and returns the token's
/// artifact path.
pub fn compile_contracts(out: &std::path::Path) -> PathBuf {
    let status = Command::new("node")
        .arg(e2e_dir().join("compile.mjs"))
        .arg(out)
        .status()
        .expect("node runs");
    assert!(status.success(), "solc-js compilation failed");
    out.join("Token.json")
}

/// Runs a node script from tests/e2e and asserts it succeeds.
pub fn node_script(script: &str, args: &[&str]) -> String {
    let out = Command::new("node")
        .arg(e2e_dir().join(script))
        .args(args)
        .current_dir(e2e_dir())
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

pub fn dev_key_hex(net: &bevm_testkit::devnet::Devnet, i: usize) -> String {
    net.keys[i].to_secret_hex()
}

/// The light client's tip through `abci_query` (`None` while unreachable).
pub fn btc_tip(comet: &bevm_testkit::rpc::Rpc) -> Option<serde_json::Value> {
    btc_query(comet, "/btc/tip", "")
}

/// An `abci_query` on a `/btc/...` path, decoded (`None` on error or unknown header).
pub fn btc_query(
    comet: &bevm_testkit::rpc::Rpc,
    path: &str,
    data: &str,
) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let answer = comet
        .call(
            "abci_query",
            serde_json::json!({ "path": path, "data": hex::encode(data) }),
        )
        .ok()?;
    let value = answer["response"]["value"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
