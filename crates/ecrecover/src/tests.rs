//! The lanes against libsecp256k1 (alloy's `recover_signer`), which is the definition: every
//! input must get the same answer, and the lanes must settle the valid signatures themselves.

use alloy_primitives::{Signature, B256, U256};
use k256::{
    ecdsa::SigningKey,
    elliptic_curve::{ops::Reduce, sec1::ToEncodedPoint, PrimeField},
    ProjectivePoint, Scalar,
};
use proptest::prelude::*;

use super::*;

/// The group order n.
const N: U256 = U256::from_be_bytes(hex32(
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
));

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

fn signed(seed: u64, hash: B256) -> (B256, Signature) {
    let mut secret = [0u8; 32];
    secret[..8].copy_from_slice(&seed.to_be_bytes());
    secret[31] = 1;
    let key = SigningKey::from_slice(&secret).expect("a valid scalar");
    let (sig, recid) = key
        .sign_prehash_recoverable(hash.as_slice())
        .expect("signs");
    let bytes = sig.to_bytes();
    let sig = Signature::new(
        U256::from_be_slice(&bytes[..32]),
        U256::from_be_slice(&bytes[32..]),
        recid.is_y_odd(),
    );
    (hash, sig)
}

/// Asserts both backends answer every item alike, and returns how many recovered.
fn agree(items: &[(B256, Signature)]) -> usize {
    let lanes = recover_signers_with(items, Backend::Ifma);
    let reference = recover_signers_with(items, Backend::Libsecp256k1);
    for (i, (a, b)) in lanes.iter().zip(&reference).enumerate() {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "item {i}: {:?}", items[i]),
            (Err(_), Err(_)) => {}
            _ => panic!("item {i}: lanes {a:?}, libsecp256k1 {b:?}: {:?}", items[i]),
        }
    }
    reference.iter().filter(|r| r.is_ok()).count()
}

/// What the lanes settle themselves, for a full batch of eight.
#[cfg(target_arch = "x86_64")]
fn settled(items: &[(B256, Signature)]) -> Vec<bool> {
    let input: Vec<lanes::Input> = items.iter().map(|(h, s)| lanes::Input::new(h, s)).collect();
    let input: [lanes::Input; LANES] = input.try_into().expect("eight items");
    lanes::recover8(&input)
        .iter()
        .map(Option::is_some)
        .collect()
}

#[test]
fn this_machine_runs_the_lanes() {
    // CI runs on a CPU with AVX-512 IFMA; elsewhere the lanes' tests would prove nothing.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512ifma") {
        assert_eq!(Backend::detect(), Backend::Ifma);
        return;
    }
    eprintln!("no AVX-512 IFMA here: only the libsecp256k1 path is tested");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn the_lanes_settle_valid_signatures_themselves() {
    if Backend::detect() != Backend::Ifma {
        return;
    }
    for round in 0..64u64 {
        let items: Vec<_> = (0..8)
            .map(|i| signed(round * 8 + i + 1, B256::repeat_byte((round + i) as u8)))
            .collect();
        assert!(settled(&items).iter().all(|&s| s), "round {round}");
        assert_eq!(agree(&items), 8);
    }
}

#[test]
fn invalid_and_edge_signatures_get_libsecp256k1s_answer() {
    let (hash, good) = signed(7, B256::repeat_byte(7));
    let with = |r: U256, s: U256| Signature::new(r, s, good.v());
    let one = U256::from(1);
    let half = alloy_consensus::crypto::SECP256K1N_HALF;
    let mut items = vec![
        (hash, good),
        (hash, with(U256::ZERO, good.s())),
        (hash, with(good.r(), U256::ZERO)),
        (hash, with(N, good.s())),
        (hash, with(good.r(), N)),
        (hash, with(N - one, good.s())),
        (hash, with(good.r(), half)),
        (hash, with(good.r(), half + one)), // high s: refused before any arithmetic
        (hash, with(U256::MAX, good.s())),
        (hash, with(one, one)),
        (B256::ZERO, good),
        (B256::from(N), good),
        (B256::repeat_byte(0xff), good),
        (hash, Signature::new(good.r(), good.s(), !good.v())),
    ];
    // An x with no point on the curve: x = 5 (5^3 + 7 = 132 is not a square mod p).
    items.push((hash, with(U256::from(5), good.s())));
    // A result at infinity: R = kG, z = s·k, so u1·G + u2·R = r⁻¹(s·k − z)·G = O.
    let k = Scalar::from(123_456_789u64);
    let point = (ProjectivePoint::GENERATOR * k)
        .to_affine()
        .to_encoded_point(false);
    let x = U256::from_be_slice(point.x().expect("not identity"));
    let y_odd = point.y().expect("not identity")[31] & 1 == 1;
    let s = Scalar::from(987_654_321u64);
    let z = s * k;
    assert!(x < N, "pick another k: r must be x itself");
    items.push((
        B256::from_slice(&z.to_repr()),
        Signature::new(x, U256::from(987_654_321u64), y_odd),
    ));
    let recovered = agree(&items);
    assert!(
        recovered >= 2,
        "the good signature recovers, with either hash: {recovered}"
    );
    assert!(
        recover_signers(&items[items.len() - 1..])[0].is_err(),
        "infinity is no key"
    );
}

#[test]
fn a_short_batch_and_a_batch_with_invalid_lanes_agree() {
    for len in [1, 2, 3, 7, 8, 9, 17] {
        let mut items: Vec<_> = (0..len)
            .map(|i| signed(1000 + i as u64, B256::repeat_byte(i as u8)))
            .collect();
        if len > 4 {
            items[2].1 = Signature::new(U256::ZERO, items[2].1.s(), false);
            items[4].0 = B256::ZERO;
        }
        agree(&items);
    }
}

/// A scalar from 32 random bytes, reduced as libsecp256k1 reduces a message hash.
fn reduced(bytes: [u8; 32]) -> U256 {
    let s = <Scalar as Reduce<k256::U256>>::reduce_bytes(&bytes.into());
    U256::from_be_slice(&s.to_repr())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        ..bevm_primitives::testing::proptest_config("ecrecover")
    })]

    /// Valid signatures of random keys over random hashes, in batches of any length.
    #[test]
    fn valid_signatures_recover_as_libsecp256k1_does(
        seeds in prop::collection::vec((1u64.., any::<[u8; 32]>()), 1..24)
    ) {
        let items: Vec<_> = seeds.iter().map(|(k, h)| signed(*k, B256::from(*h))).collect();
        prop_assert_eq!(agree(&items), items.len());
    }

    /// Random signatures (most do not recover; some do, to a random key).
    #[test]
    fn random_signatures_get_libsecp256k1s_answer(
        raw in prop::collection::vec((any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>(), any::<bool>()), 8..24)
    ) {
        let items: Vec<_> = raw
            .iter()
            .map(|(h, r, s, v)| (B256::from(*h), Signature::new(reduced(*r), reduced(*s) >> 1, *v)))
            .collect();
        agree(&items);
    }
}

/// A signature whose recovery computes u1·G + u2·R with R = c·G for the given scalars
/// (s = u2·r, z = −u1·r), or `None` if x(R) ≥ n.
#[cfg(target_arch = "x86_64")]
fn crafted(c: Scalar, u1: Scalar, u2: Scalar) -> Option<(B256, Signature)> {
    let point = (ProjectivePoint::GENERATOR * c)
        .to_affine()
        .to_encoded_point(false);
    let x: [u8; 32] = point.x()?[..].try_into().ok()?;
    let r = Option::<Scalar>::from(Scalar::from_repr(x.into()))?;
    let odd = point.y()?[31] & 1 == 1;
    let s = U256::from_be_slice(&(u2 * r).to_repr());
    Some((
        B256::from_slice(&(-(u1 * r)).to_repr()),
        Signature::new(U256::from_be_bytes(x), s, odd),
    ))
}

/// A scalar from its hexadecimal digits, most significant first.
#[cfg(target_arch = "x86_64")]
fn from_digits(digits: &[u8]) -> Scalar {
    digits.iter().fold(Scalar::ZERO, |v, &d| {
        v * Scalar::from(16u64) + Scalar::from(u64::from(d))
    })
}

/// Signatures built so that, after the first `j` windows, the running sum equals ± the
/// table point about to be added (of R's table or G's): an exceptional addition, which the
/// formulas get wrong. The lanes must hand every one back.
#[test]
#[cfg(target_arch = "x86_64")]
fn exceptional_additions_are_handed_back() {
    if Backend::detect() != Backend::Ifma {
        return;
    }
    let mut items = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let sixteen = Scalar::from(16u64);
    while items.len() < 8 * 24 {
        let j = [0, 63, (next() % 64) as usize][items.len() % 3];
        // The top j + 1 digits of u2 and u1; the last one (this window's) is not zero.
        let mut d2: Vec<u8> = (0..=j).map(|_| (next() % 16) as u8).collect();
        let mut d1: Vec<u8> = (0..=j).map(|_| (next() % 16) as u8).collect();
        d2[j] = d2[j].max(1);
        d1[j] = d1[j].max(1);
        let (p2, p1) = (from_digits(&d2[..j]), from_digits(&d1[..j]));
        let (e2, e1) = (
            Scalar::from(u64::from(d2[j])),
            Scalar::from(u64::from(d1[j])),
        );
        // Before R's addition the sum is 16(c·p2 + p1)·G, before G's (c(16·p2 + e2) + 16·p1)·G.
        let (num, den) = match next() % 4 {
            0 => (e1 - sixteen * p1, sixteen * p2 + e2),  // = +e1·G
            1 => (-e1 - sixteen * p1, sixteen * p2 + e2), // = −e1·G
            2 => (-(sixteen * p1), sixteen * p2 - e2),    // = +e2·R
            _ => (-(sixteen * p1), sixteen * p2 + e2),    // = −e2·R
        };
        let Some(inv) = Option::<Scalar>::from(den.invert()) else {
            continue;
        };
        let c = num * inv;
        // u2 and u1 with those top digits, the rest zero.
        let full = |d: &[u8]| {
            let mut all = d.to_vec();
            all.resize(64, 0);
            from_digits(&all)
        };
        let (u2, u1) = (full(&d2), full(&d1));
        if bool::from(c.is_zero()) || bool::from(u2.is_zero()) {
            continue;
        }
        if let Some(item) = crafted(c, u1, u2) {
            items.push(item);
        }
    }
    for batch in items.chunks(8) {
        assert!(settled(batch).iter().all(|&s| !s), "{batch:?}");
    }
    agree(&items);
}
