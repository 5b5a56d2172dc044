// End-to-end check of bevm's JSON-RPC with ethers v6: EIP-1559 transfers, an ERC-20 deployed
// and used through a Contract, its logs through eth_getLogs, a revert reason, and a WebSocket
// newHeads subscription. Usage: node ethers-e2e.mjs <http-url> <ws-url> <private-key> <artifact>
import fs from "node:fs";
import { ethers } from "ethers";

const [httpUrl, wsUrl, key, artifactPath] = process.argv.slice(2);
const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
const provider = new ethers.JsonRpcProvider(httpUrl, undefined, { pollingInterval: 200 });
const wallet = new ethers.Wallet(key, provider);
const check = (cond, what) => {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
};

// newHeads over WebSocket: two consecutive heads.
const ws = new ethers.WebSocketProvider(wsUrl);
const heads = [];
const gotHeads = new Promise((resolve) => {
  ws.on("block", (n) => {
    heads.push(n);
    if (heads.length >= 2) resolve();
  });
});

const network = await provider.getNetwork();
check(network.chainId === 1337n, `chain id 1337 (got ${network.chainId})`);
const fee = await provider.getFeeData();
check(fee.maxFeePerGas > 0n && fee.maxPriorityFeePerGas !== null, "EIP-1559 fee data");

const to = ethers.Wallet.createRandom().address;
const value = ethers.parseEther("0.5");
const tx = await wallet.sendTransaction({ to, value, type: 2 });
const receipt = await tx.wait();
check(receipt.status === 1 && receipt.type === 2, "EIP-1559 transfer mined");
check((await provider.getBalance(to)) === value, "recipient balance");
const block = await provider.getBlock(receipt.blockNumber);
check(block.hash === receipt.blockHash && block.baseFeePerGas > 0n, "block hash and base fee");
const parent = await provider.getBlock(receipt.blockNumber - 1);
check(block.parentHash === parent.hash, "parent hash links");

const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
const token = await factory.deploy("Ethers", "ETH5", 1000000n);
await token.waitForDeployment();
const tokenAddress = await token.getAddress();
check((await provider.getCode(tokenAddress)).length > 2, "token deployed");
// eth_subscribe("logs") over WebSocket: the Transfer arrives as an event.
const wsToken = new ethers.Contract(tokenAddress, artifact.abi, ws);
const gotEvent = new Promise((resolve) => wsToken.once("Transfer", (from, toAddr, value) => resolve({ from, toAddr, value })));
const t = await token.transfer(to, 250n);
const tr = await t.wait();
check(tr.status === 1, "token transfer mined");
check((await token.balanceOf(to)) === 250n, "token balanceOf");
const events = await token.queryFilter(token.filters.Transfer(wallet.address, to), tr.blockNumber, tr.blockNumber);
check(events.length === 1 && events[0].args.value === 250n, "Transfer event via eth_getLogs");

const event = await Promise.race([gotEvent, new Promise((_, rej) => setTimeout(() => rej(new Error("no Transfer log over WebSocket within 30s")), 30000))]);
check(event.toAddr === to && event.value === 250n, "logs subscription delivers the Transfer");

let reason = null;
try {
  await token.transfer.estimateGas(to, 10n ** 30n);
} catch (e) {
  reason = e.reason ?? e.shortMessage;
}
check(reason === "Token: balance too low", `revert reason reaches ethers (${reason})`);

await Promise.race([gotHeads, new Promise((_, rej) => setTimeout(() => rej(new Error("no newHeads within 30s")), 30000))]);
const seen = heads.slice(0, 2);
check(seen.length === 2 && seen[1] === seen[0] + 1, `newHeads subscription (${seen})`);
await ws.destroy();
console.log("ethers e2e: all checks passed");
process.exit(0);
