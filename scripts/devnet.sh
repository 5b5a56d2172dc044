#!/usr/bin/env bash
# Single-validator devnet in the foreground: bevm-node + cometbft, a btcd regtest node with a
# block every BEVM_BTC_BLOCK_SECS seconds (default 30; 0 = mine by hand), and bevm-relayer
# feeding btcd's headers and deposits to the chain. The development account's BTC comes from
# a real regtest deposit to the bridge vault (genesis mints nothing). Data in .devnet/.
# Ctrl-C or SIGTERM stops every process this script started. `make clean-devnet` resets it.
# Environment: BEVM_DEVNET_HOME (data), BEVM_DEVNET_BASE_PORT (first of the four chain ports,
# default 26656/26657/26658/8545; read only when the home is created), BEVM_BTC_RPC_PORT,
# BEVM_BTC_P2P_PORT, BEVM_BTC_BLOCK_SECS, BEVM_DEV_DEPOSIT_SAT, BEVM_BIN_DIR (the release
# binaries).
set -euo pipefail
# Children in their own process groups: Ctrl-C reaches this script only, and cleanup stops
# them in order.
set -m

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="${BEVM_DEVNET_HOME:-$ROOT/.devnet}"
BIN="${BEVM_BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/bevm/target}/release}"
COMETBFT="${BEVM_TOOLS_BIN:-$ROOT/.tools/bin}/cometbft"
BEVM="$BIN/bevm"
NODE="$BIN/bevm-node"
RELAYER="$BIN/bevm-relayer"
BTCD="${BEVM_TOOLS_BIN:-$ROOT/.tools/bin}/btcd"
BTCCTL="${BEVM_TOOLS_BIN:-$ROOT/.tools/bin}/btcctl"
BTC_RPC_PORT="${BEVM_BTC_RPC_PORT:-18334}"
BTC_P2P_PORT="${BEVM_BTC_P2P_PORT:-18444}"
BTC_BLOCK_SECS="${BEVM_BTC_BLOCK_SECS:-30}"
# btcd's login is local to this devnet (RPC bound to 127.0.0.1).
BTC_AUTH=(--regtest --configfile=/dev/null --notls --rpcuser=bevm --rpcpass=bevm)
# DEVNET ONLY: the regtest key btcd mines to; its coinbases fund the deposit below.
export BEVM_DEV_BTC_KEY="${BEVM_DEV_BTC_KEY:-6465766e65742d6f6e6c792d726567746573742d6b65792d6265766d2d303031}"
DEPOSIT_SAT="${BEVM_DEV_DEPOSIT_SAT:-1000000000}"
CONFIRMATIONS=2

for exe in "$BEVM" "$NODE" "$RELAYER" "$COMETBFT" "$BTCD" "$BTCCTL"; do
  [[ -x "$exe" ]] || { echo "missing $exe: run 'make build tools' first" >&2; exit 1; }
done

if [[ ! -f "$HOME_DIR/config/genesis.json" ]]; then
  echo ">> creating a devnet home in $HOME_DIR"
  "$BEVM" init --home "$HOME_DIR" --timeout-commit-ms 1000 --dev-balance-btc 0 \
    --btc-confirmations "$CONFIRMATIONS" ${BEVM_DEVNET_BASE_PORT:+--base-port "$BEVM_DEVNET_BASE_PORT"} >/dev/null
fi

RPC_PORT="$(sed -n 's/^eth_rpc_listen = "[^:]*:\([0-9]*\)"/\1/p' "$HOME_DIR/config/bevm.toml")"
COMET_RPC="$(sed -n 's/^cometbft_rpc = "\(.*\)"/\1/p' "$HOME_DIR/config/bevm.toml")"
ABCI_PORT="$(sed -n 's/^abci_listen = "[^:]*:\([0-9]*\)"/\1/p' "$HOME_DIR/config/bevm.toml")"

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo ">> stopping devnet (pids ${PIDS[*]:-none})"
  # Newest first: the relayer and miner go before the chain they talk to.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pkill -TERM -P "${PIDS[i]}" 2>/dev/null || true
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

"$NODE" start --home "$HOME_DIR" >>"$HOME_DIR/node.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ABCI_PORT") 2>/dev/null && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { echo "bevm-node exited; see $HOME_DIR/node.log" >&2; tail -20 "$HOME_DIR/node.log" >&2; exit 1; }
  sleep 0.1
done
"$COMETBFT" start --home "$HOME_DIR" >>"$HOME_DIR/cometbft.log" 2>&1 &
PIDS+=($!)

# Bitcoin: btcd in regtest, mining to the devnet's Bitcoin key (BEVM_DEV_BTC_KEY), whose
# coinbases pay the development account's deposit.
mkdir -p "$HOME_DIR/btcd"
"$BTCD" "${BTC_AUTH[@]}" --datadir="$HOME_DIR/btcd/data" --logdir="$HOME_DIR/btcd/log" \
  --rpclisten="127.0.0.1:$BTC_RPC_PORT" --listen="127.0.0.1:$BTC_P2P_PORT" \
  --miningaddr="$("$BEVM" dev btc-address)" >>"$HOME_DIR/btcd.log" 2>&1 &
PIDS+=($!)
btcctl() { "$BTCCTL" "${BTC_AUTH[@]}" --rpcserver="127.0.0.1:$BTC_RPC_PORT" "$@"; }
for _ in $(seq 1 100); do
  btcctl getblockcount >/dev/null 2>&1 && break
  sleep 0.2
done
btcctl getblockcount >/dev/null || { echo "btcd does not answer; see $HOME_DIR/btcd.log" >&2; exit 1; }
# 101 blocks: the first coinbase matures and can pay the deposit.
if (( $(btcctl getblockcount) < 101 )); then btcctl generate 101 >/dev/null; fi
if (( BTC_BLOCK_SECS > 0 )); then
  ( while sleep "$BTC_BLOCK_SECS"; do btcctl generate 1 >/dev/null 2>&1 || true; done ) &
  PIDS+=($!)
fi

if [[ ! -f "$HOME_DIR/relayer.toml" ]]; then
  "$RELAYER" init --config "$HOME_DIR/relayer.toml" --bitcoin-rpc "http://127.0.0.1:$BTC_RPC_PORT" \
    --cometbft-rpc "$COMET_RPC" \
    --eth-rpc "http://127.0.0.1:$RPC_PORT" >/dev/null
fi
"$RELAYER" run --config "$HOME_DIR/relayer.toml" >>"$HOME_DIR/relayer.log" 2>&1 &
PIDS+=($!)

DEV_KEY="$(sed -n 's/.*"private_key": "\(0x[0-9a-f]*\)".*/\1/p' "$HOME_DIR/dev-keys.json" | head -1)"
DEV_ADDR="$(sed -n 's/.*"address": "\(0x[0-9a-fA-F]*\)".*/\1/p' "$HOME_DIR/dev-keys.json" | head -1)"

# Fund the development account the way users are funded: a regtest deposit to the vault,
# relayed with its proof once it has its confirmations.
balance() { "$BEVM" query balance "$DEV_ADDR" --rpc "http://127.0.0.1:$RPC_PORT" 2>/dev/null || true; }
for _ in $(seq 1 100); do [[ -n "$(balance)" ]] && break; sleep 0.2; done
if [[ "$(balance)" == 0.00000000\ BTC* ]]; then
  echo ">> funding $DEV_ADDR with a regtest deposit of $DEPOSIT_SAT sat"
  for _ in $(seq 1 50); do
    TXID="$("$BEVM" dev deposit --to "$DEV_ADDR" --sat "$DEPOSIT_SAT" --comet "$COMET_RPC" \
      --bitcoin-rpc "http://127.0.0.1:$BTC_RPC_PORT" 2>>"$HOME_DIR/deposit.log")" && break
    sleep 0.5 # the node may not serve /bridge/vault yet
  done
  [[ -n "${TXID:-}" ]] || { echo "the deposit failed; see $HOME_DIR/deposit.log" >&2; exit 1; }
  echo "   bitcoin txid $TXID; mining $CONFIRMATIONS blocks"
  btcctl generate "$CONFIRMATIONS" >/dev/null
  for _ in $(seq 1 120); do [[ "$(balance)" != 0.00000000\ BTC* ]] && break; sleep 0.5; done
  [[ "$(balance)" != 0.00000000\ BTC* ]] || { echo "the deposit was not credited; see $HOME_DIR/relayer.log" >&2; exit 1; }
fi
cat <<INFO

  bevm devnet is running (chain id 1337, BTC as gas, 18 decimals)
  JSON-RPC (HTTP + WebSocket):  http://127.0.0.1:$RPC_PORT   ws://127.0.0.1:$RPC_PORT
  dev account (DEVNET ONLY):        $DEV_ADDR  $(balance), from a regtest deposit
  private key:                      $DEV_KEY
  all dev keys:                     $HOME_DIR/dev-keys.json
  logs:                             $HOME_DIR/{node,cometbft,btcd,relayer}.log

  Bitcoin regtest (btcd) RPC:       http://127.0.0.1:$BTC_RPC_PORT  (user bevm, password bevm)
  a block every ${BTC_BLOCK_SECS}s; mine more: $BTCCTL ${BTC_AUTH[*]} --rpcserver=127.0.0.1:$BTC_RPC_PORT generate 1
  the light client's view:          $BEVM query btc tip --comet $COMET_RPC
  the bridge vault:                 $BEVM query bridge vault --comet $COMET_RPC
  deposit more:                     $BEVM dev deposit --to <address> --sat <n> --comet $COMET_RPC --bitcoin-rpc http://127.0.0.1:$BTC_RPC_PORT, then mine $CONFIRMATIONS blocks

  try: cast balance $DEV_ADDR --rpc-url http://127.0.0.1:$RPC_PORT
  Ctrl-C stops the devnet.

INFO

# Exit (and clean up) as soon as either process dies.
wait -n "${PIDS[@]}" || true
echo "a devnet process exited; see the logs in $HOME_DIR" >&2
exit 1
