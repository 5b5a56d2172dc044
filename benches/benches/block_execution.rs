//! Block execution through FinalizeBlock + Commit against RocksDB, and where the time goes:
//! signature recovery, EVM execution, Merkle commitment, the disk write.
//!
//! `make bench` (or `cargo bench -p bevm-benches --bench block_execution`).

use std::time::{Duration, Instant};

use alloy_primitives::keccak256;
use bevm_benches::Erc20Fixture;
use bevm_evm::{execute_block, BlockInput, BlockState, ChainSpec, StateReader};
use bevm_primitives::tx::{decode_eth_tx, decode_eth_tx_unrecovered};
use criterion::{criterion_group, Criterion, Throughput};

/// The allocator bevm-node runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TXS: usize = 2000;
const SENDERS: usize = 2000;

fn bench(c: &mut Criterion) {
    // `RUST_LOG=bevm::app=debug,bevm::store=debug` prints the per-block split of the node.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut fx = Erc20Fixture::new(SENDERS);
    let spec: ChainSpec = fx.node.app.spec().expect("initialized").clone();
    let mut group = c.benchmark_group("evm");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(TXS as u64));

    let sample = fx.next_block(TXS, u64::MAX);
    // The sample is only ever executed uncommitted: the committed blocks start at nonce 0 again.
    fx.nonces.fill(0);
    group.bench_function(format!("recover_senders/txs={TXS}"), |b| {
        b.iter(|| {
            sample
                .iter()
                .map(|raw| decode_eth_tx(raw, 1337, 1 << 20).expect("valid"))
                .collect::<Vec<_>>()
        })
    });

    // The same signatures sixteen at a time where the CPU has AVX-512 IFMA (as FinalizeBlock
    // recovers the senders it did not see at CheckTx), decoding included.
    group.bench_function(format!("recover_senders_batched/txs={TXS}"), |b| {
        b.iter(|| {
            let signing: Vec<_> = sample
                .iter()
                .map(|raw| {
                    decode_eth_tx_unrecovered(raw, keccak256(raw), 1337, 1 << 20)
                        .expect("valid")
                        .signing()
                })
                .collect();
            let senders = bevm_ecrecover::recover_signers(&signing);
            assert!(senders.iter().all(Result::is_ok));
            senders
        })
    });

    let decoded: Vec<_> = sample
        .iter()
        .map(|raw| decode_eth_tx(raw, 1337, 1 << 20).expect("valid"))
        .collect();
    let head = bevm_evm::chain::block(fx.node.store(), fx.node.height())
        .expect("read")
        .expect("head")
        .header;
    let input = BlockInput {
        number: head.number + 1,
        timestamp: head.timestamp + 1,
        parent_hash: head.hash_slow(),
        prevrandao: Default::default(),
        base_fee: spec.next_base_fee(&head),
        bitcoin: None,
        bridge: None,
    };
    group.bench_function(format!("execute_erc20_block/txs={TXS}"), |b| {
        b.iter(|| {
            let reader = StateReader::latest(fx.node.store().clone());
            let mut state = BlockState::with_capacity(reader, decoded.len());
            let out = execute_block(&spec, &mut state, &input, &decoded).expect("executes");
            assert!(out
                .outcomes
                .iter()
                .all(|o| matches!(o, bevm_evm::TxOutcome::Included { success: true, .. })));
            state
        })
    });

    let mut state = BlockState::new(StateReader::latest(fx.node.store().clone()));
    execute_block(&spec, &mut state, &input, &decoded).expect("executes");
    let diff = state.into_diff();
    let version = head.number + 1;
    group.bench_function(format!("merkle_commitment/txs={TXS}"), |b| {
        b.iter(|| {
            fx.node
                .store()
                .prepare_state(diff.changes.clone(), version)
                .expect("prepares")
                .root
        })
    });

    // Split of the full path: FinalizeBlock (everything computed, nothing written) vs Commit
    // (the RocksDB write of the block's batch).
    let mut salt = 1_000_000u64;
    for (name, commit_only) in [("finalize_only", false), ("commit_only", true)] {
        group.bench_function(format!("{name}/txs={TXS}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    salt += 1;
                    let txs = fx.next_block(TXS, salt);
                    let height = fx.node.height() + 1;
                    let req = bevm_app::BlockRequest {
                        height,
                        time: 1_800_000_000 + height,
                        hash: Default::default(),
                        txs,
                    };
                    let start = Instant::now();
                    fx.node.app.finalize_block(req).expect("finalize");
                    let finalized = start.elapsed();
                    let start = Instant::now();
                    fx.node.app.commit().expect("commit");
                    total += if commit_only {
                        start.elapsed()
                    } else {
                        finalized
                    };
                }
                total
            })
        });
    }

    // The whole path, sustained: `iters` blocks back to back, timed until the last one is on
    // disk (Commit returns before the disk write; the next block executes meanwhile). First
    // with the senders recovered inside FinalizeBlock (transactions first seen in the block),
    // then as on a validator whose CheckTx already recovered them. The blocks are signed
    // before the clock starts.
    for (name, checked_first) in [
        ("finalize_and_commit_erc20_block", false),
        ("finalize_and_commit_after_checktx", true),
    ] {
        group.bench_function(format!("{name}/txs={TXS}"), |b| {
            b.iter_custom(|iters| {
                let blocks: Vec<_> = (0..iters)
                    .map(|_| {
                        salt += 1;
                        fx.next_block(TXS, salt)
                    })
                    .collect();
                if checked_first {
                    for raw in blocks.iter().flatten() {
                        fx.node.check(raw).expect("valid transaction");
                    }
                }
                fx.node.store().flush().expect("flush");
                let start = Instant::now();
                for block in blocks {
                    bevm_benches::timed_block(&mut fx.node, block);
                }
                fx.node.store().flush().expect("flush");
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    // With the node's allocator settings too: the bench executes itself again once, before
    // criterion starts anything.
    bevm_store::memory::reexec_with_allocator_settings();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
