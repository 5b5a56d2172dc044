//! Vault derivation for large signer sets: BIP-327 KeyAgg of N keys, the N-key CHECKSIGADD
//! leaf, the Taproot tweak and the address; and a deposit address of an existing vault.

use bevm_custody::{aggregate_key, key_sort, SignerSet, Vault};
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
