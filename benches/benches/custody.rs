//! Vault derivation for large signer sets: BIP-327 KeyAgg of N keys, the N-key CHECKSIGADD
//! leaf, the Taproot tweak and the address; a deposit address of an existing vault; and one
//! whole MuSig2 signing round of the largest vault in one process.

use bevm_custody::{
    aggregate_key, key_sort, testing::run_round, KeyPathSession, SignerSet, TaprootOutput, Vault,
};
use bitcoin::{
    key::Secp256k1,
    secp256k1::{PublicKey, SecretKey},
    Network,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn keys(n: usize) -> Vec<PublicKey> {
    let secp = Secp256k1::signing_only();
    let mut keys: Vec<PublicKey> = (0..n)
        .map(|i| {
            let mut b = [7u8; 32];
            b[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            SecretKey::from_slice(&b).expect("scalar").public_key(&secp)
        })
        .collect();
    key_sort(&mut keys);
    keys
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("custody");
    g.sample_size(20);
    let thousand = keys(1000);
    g.bench_function(BenchmarkId::new("key_agg", 1000), |b| {
        b.iter(|| aggregate_key(&thousand).expect("aggregates"))
    });
    // What a 1,000-key set can have: a key-path-only output (no single leaf holds 1,000
    // keys; such a set is refused as a vault, see ARCHITECTURE.md, custody).
    g.bench_function(
        BenchmarkId::new("key_path_only_output_and_address", 1000),
        |b| {
            b.iter(|| {
                let internal = aggregate_key(&thousand).expect("aggregates");
                TaprootOutput::new(&Secp256k1::verification_only(), internal, None)
                    .address(Network::Bitcoin)
            })
        },
    );
    let set = keys(999);
    g.bench_function(BenchmarkId::new("vault_with_leaf_and_address", 999), |b| {
        b.iter(|| {
            let signers = SignerSet::new(set.clone(), None).expect("set");
            let vault = Vault::new(signers, None).expect("vault");
            vault.address(Network::Bitcoin)
        })
    });
    let vault = Vault::new(SignerSet::new(set.clone(), None).expect("set"), None).expect("vault");
    g.bench_function(BenchmarkId::new("deposit_address", 999), |b| {
        b.iter(|| vault.deposit_address([0x42; 20], Network::Bitcoin))
    });
    g.bench_function(BenchmarkId::new("descriptor", 999), |b| {
        b.iter(|| vault.descriptor())
    });
    // One MuSig2 round in one process: session (KeyAgg with the Taproot tweak), every
    // signer's nonce, one aggregate nonce, every partial signature, each verified, aggregated.
    // At 999 for the largest vault (with its fallback leaf), and at 1,000 for a key-path-only
    // set (no single leaf can hold 1,000 keys).
    let secrets = secrets(1000);
    let secp = Secp256k1::signing_only();
    let mut holders: Vec<(PublicKey, SecretKey)> =
        secrets.iter().map(|s| (s.public_key(&secp), *s)).collect();
    holders.sort_by_key(|(p, _)| p.serialize());
    let ordered: Vec<SecretKey> = holders.iter().map(|(_, s)| *s).collect();
    let largest_vault = &holders[..999];
    let vault = Vault::new(
        SignerSet::new(largest_vault.iter().map(|(p, _)| *p).collect(), None).expect("set"),
        None,
    )
    .expect("vault");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("musig2_round", 999), |b| {
        b.iter(|| {
            let session = KeyPathSession::new(&vault, [0x5a; 32]).expect("session");
            run_round(&session, &ordered[..999], [0x33; 32])
        })
    });
    let all: Vec<PublicKey> = holders.iter().map(|(p, _)| *p).collect();
    g.bench_function(BenchmarkId::new("musig2_round_key_path_only", 1000), |b| {
        b.iter(|| {
            let session = KeyPathSession::for_keys(&all, None, [0x5a; 32]).expect("session");
            run_round(&session, &ordered, [0x33; 32])
        })
    });
    g.finish();
}

fn secrets(n: usize) -> Vec<SecretKey> {
    (0..n)
        .map(|i| {
            let mut b = [9u8; 32];
            b[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            SecretKey::from_slice(&b).expect("scalar")
        })
        .collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
