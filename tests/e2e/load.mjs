// End-to-end throughput: pre-signed ERC-20 transfers sent with eth_sendRawTransaction batches,
// timed from the first send to the receipt of the last transfer of every sender.
// Usage: node load.mjs <http-url> <funder-private-key> <artifact> [transfers=10000] [senders=200]
// LOAD_STREAMS (default 32) batches are in flight at once, each for its own senders.
// Prints one JSON line: {"transfers": N, "seconds": s, "tps": x, "blocks": b}.
import fs from "node:fs";
import { ethers } from "ethers";

const [url, funderKey, artifactPath, nArg, sArg] = process.argv.slice(2);
const transfers = Number(nArg ?? 10000);
const senderCount = Number(sArg ?? 200);
const perSender = Math.ceil(transfers / senderCount);
const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
const provider = new ethers.JsonRpcProvider(url, undefined, { pollingInterval: 250, batchMaxCount: 100 });
const funder = new ethers.NonceManager(new ethers.Wallet(funderKey, provider));
const { chainId } = await provider.getNetwork();

async function rpcBatch(calls) {
  const body = calls.map(([method, params], id) => ({ jsonrpc: "2.0", id, method, params }));
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return res.json();
}

// Setup (not timed): deploy the token, fund senders with BTC for gas and with tokens.
const token = await new ethers.ContractFactory(artifact.abi, artifact.bytecode, funder).deploy("Load", "LOAD", 10n ** 30n);
await token.waitForDeployment();
const tokenAddress = await token.getAddress();
const senders = Array.from({ length: senderCount }, (_, i) => new ethers.Wallet(ethers.id(`load sender ${i}`)));
const setup = [];
for (const s of senders) {
  setup.push(await funder.sendTransaction({ to: s.address, value: ethers.parseEther("0.1") }));
  setup.push(await token.transfer(s.address, 10n ** 24n));
}
await Promise.all(setup.map((t) => t.wait()));

// Sign every transfer offline, into STREAMS streams of disjoint senders, each in nonce order.
const STREAMS = Number(process.env.LOAD_STREAMS ?? 32);
const fee = await provider.getFeeData();
const iface = new ethers.Interface(artifact.abi);
const streams = Array.from({ length: STREAMS }, () => []);
const lastHashes = [];
let total = 0;
for (const [i, s] of senders.entries()) {
  for (let n = 0; n < perSender && total < transfers; n++, total++) {
    const to = ethers.getAddress(ethers.zeroPadValue(ethers.toBeHex(i * perSender + n + 1), 20));
    const raw = await s.signTransaction({
      type: 2, chainId, nonce: n, to: tokenAddress, gasLimit: 60000n,
      maxFeePerGas: fee.maxFeePerGas * 4n, maxPriorityFeePerGas: fee.maxPriorityFeePerGas ?? 1n,
      data: iface.encodeFunctionData("transfer", [to, 1n]),
    });
    streams[i % STREAMS].push([n, i, raw]);
    if (n === perSender - 1 || total === transfers - 1) lastHashes.push(ethers.keccak256(raw));
  }
}
// Within a stream, round n of every sender goes before round n+1.
for (const st of streams) st.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
const signed = streams.flat();

const startBlock = await provider.getBlockNumber();
const started = performance.now();
// Streams run concurrently; each sends batches of 200 in order (a batch is executed in order).
const BATCH = 200;
let errors = 0;
await Promise.all(streams.map(async (st) => {
  for (let i = 0; i < st.length; i += BATCH) {
    const answers = await rpcBatch(st.slice(i, i + BATCH).map(([, , raw]) => ["eth_sendRawTransaction", [raw]]));
    for (const a of answers) if (a.error) { errors++; if (errors < 5) console.error(a.error.message); }
  }
}));
const sent = performance.now();
// Wait for the last transaction of every sender.
for (const h of lastHashes) {
  for (;;) {
    const r = await provider.getTransactionReceipt(h);
    if (r) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}
const done = performance.now();
const endBlock = await provider.getBlockNumber();
const seconds = (done - started) / 1000;
console.log(JSON.stringify({ transfers: signed.length, errors, send_seconds: +((sent - started) / 1000).toFixed(2), seconds: +seconds.toFixed(2), tps: Math.round(signed.length / seconds), blocks: endBlock - startBlock }));
process.exit(errors > 0 ? 1 : 0);
