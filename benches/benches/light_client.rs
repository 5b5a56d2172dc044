//! Header validation by the pure light client with an in-memory store (the 10,236 real
//! mainnet headers after genesis, submitted in batches of 2,016), and regtest headers relayed
//! through the app: RelayHeaders transactions in FinalizeBlock + Commit against RocksDB.
//!
//! `cargo bench -p bevm-benches --bench light_client` (part of `make bench`).

use std::time::Duration;

use bevm_btc_light::{
    work::{target_from_bits, work_from_target},
    Chain, Header, MemStore, Network, StoredHeader,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MAINNET: &[u8] = include_bytes!("../../crates/btc-light/testdata/mainnet_0-10236.bin");

fn bench(c: &mut Criterion) {
    let params = Network::Mainnet.params();
    let headers: Vec<Header> = MAINNET
        .chunks_exact(80)
        .map(|b| Header::decode(b).expect("80 bytes"))
        .collect();
    let genesis = headers[0];
    let work = work_from_target(target_from_bits(genesis.bits).expect("bits"));
    let root = StoredHeader::root(&params, genesis, 0, work, &[]).expect("genesis");
    let run = &headers[1..];

    let mut group = c.benchmark_group("btc_light");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(run.len() as u64));
    group.bench_function(format!("validate_mainnet_headers/n={}", run.len()), |b| {
        b.iter(|| {
            let mut store = MemStore::default();
            store.apply(&Chain::<MemStore>::init(root));
            for batch in run.chunks(2016) {
                let changes = Chain::new(&params, &store, 1000)
                    .submit(batch, u32::MAX - 10_000)
                    .expect("valid");
                store.apply(&changes);
            }
            store
        })
    });
    group.bench_function(format!("double_sha256_only/n={}", run.len()), |b| {
        b.iter(|| run.iter().map(|h| h.hash().0[0]).fold(0u8, |a, x| a ^ x))
    });

    // Through the chain: blocks of 10 relays of 1,000 regtest headers each.
    const PER_TX: usize = 1000;
    const TXS: usize = 10;
    let mut node = bevm_testkit::TestNode::new(1);
    let mut parent = Network::Regtest.params().genesis;
    group.throughput(Throughput::Elements((PER_TX * TXS) as u64));
    group.sample_size(10);
    group.bench_function(
        format!("relay_headers_through_app/headers={}", PER_TX * TXS),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let headers = bevm_testkit::btc::mine_regtest(
                        parent.hash(),
                        parent.time,
                        PER_TX * TXS,
                        0,
                    );
                    parent = *headers.last().expect("mined");
                    let txs = headers
                        .chunks(PER_TX)
                        .map(bevm_testkit::btc::relay_tx)
                        .collect();
                    total += bevm_benches::timed_block(&mut node, txs);
                }
                total
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
