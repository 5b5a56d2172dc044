#!/usr/bin/env bash
# Single-validator devnet in the foreground: bevm-node + cometbft, data in .devnet/.
# Ctrl-C or SIGTERM stops every process this script started. `make clean-devnet` resets it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${BEVM_DEVNET_HOME:-$ROOT/.devnet}"
BIN="${CARGO_TARGET_DIR:-$HOME/.cache/bevm/target}/release"
COMETBFT="${BEVM_TOOLS_BIN:-$ROOT/.tools/bin}/cometbft"
BEVM="$BIN/bevm"
NODE="$BIN/bevm-node"

for exe in "$BEVM" "$NODE" "$COMETBFT"; do
  [[ -x "$exe" ]] || { echo "missing $exe: run 'make build tools' first" >&2; exit 1; }
done

if [[ ! -f "$HOME_DIR/config/genesis.json" ]]; then
  echo ">> creating a devnet home in $HOME_DIR"
  "$BEVM" init --home "$HOME_DIR" --timeout-commit-ms 1000 >/dev/null
fi

RPC_PORT="$(sed -n 's/^eth_rpc_listen = "[^:]*:\([0-9]*\)"/\1/p' "$HOME_DIR/config/bevm.toml")"
ABCI_PORT="$(sed -n 's/^abci_listen = "[^:]*:\([0-9]*\)"/\1/p' "$HOME_DIR/config/bevm.toml")"

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo ">> stopping devnet (pids ${PIDS[*]:-none})"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup INT TERM EXIT

"$NODE" start --home "$HOME_DIR" >>"$HOME_DIR/node.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ABCI_PORT") 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { echo "bevm-node exited; see $HOME_DIR/node.log" >&2; tail -20 "$HOME_DIR/node.log" >&2; exit 1; }
  sleep 0.1
done
"$COMETBFT" start --home "$HOME_DIR" >>"$HOME_DIR/cometbft.log" 2>&1 &
PIDS+=($!)

DEV_KEY="$(sed -n 's/.*"private_key": "\(0x[0-9a-f]*\)".*/\1/p' "$HOME_DIR/dev-keys.json" | head -1)"
DEV_ADDR="$(sed -n 's/.*"address": "\(0x[0-9a-fA-F]*\)".*/\1/p' "$HOME_DIR/dev-keys.json" | head -1)"
cat <<INFO

  bevm devnet is running (chain id 1337, BTC as gas, 18 decimals)
  JSON-RPC (HTTP + WebSocket):  http://127.0.0.1:$RPC_PORT   ws://127.0.0.1:$RPC_PORT
  funded dev account (DEVNET ONLY): $DEV_ADDR
  private key:                      $DEV_KEY
  all dev keys:                     $HOME_DIR/dev-keys.json
  logs:                             $HOME_DIR/node.log  $HOME_DIR/cometbft.log

  try: cast balance $DEV_ADDR --rpc-url http://127.0.0.1:$RPC_PORT
  Ctrl-C stops the devnet.

INFO

# Exit (and clean up) as soon as either process dies.
wait -n "${PIDS[@]}"
echo "a devnet process exited; see the logs in $HOME_DIR" >&2
exit 1
