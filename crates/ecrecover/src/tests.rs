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
const N: U256 = U256::from_be_bytes(alloy_primitives::hex!(
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
));

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

/// Whether the lanes run on this CPU (in the tests as in the node).
fn lanes_run_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    return lanes::available();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// How many items recovered, and how many of those the lanes settled themselves.
struct Agreed {
    recovered: usize,
    by_lanes: usize,
}

/// Asserts that every key the lanes settle themselves is libsecp256k1's, and that
/// [`recover_signers`] answers every item as libsecp256k1 does, both as given (groups of two
/// interleaved batches where more than one batch is left) and in slices of one batch.
fn agree(items: &[(B256, Signature)]) -> Agreed {
    let reference: Vec<_> = items
        .iter()
        .map(|(hash, sig)| recover_signer(sig, *hash))
        .collect();
    let by_lanes = settled_on_lanes(items);
    for (i, (lane, libsecp)) in by_lanes.iter().zip(&reference).enumerate() {
        if let Some(lane) = lane {
            assert_eq!(
                Some(lane),
                libsecp.as_ref().ok(),
                "item {i}: {:?}",
                items[i]
            );
        }
    }
    let whole = recover_signers(items);
    let sliced: Vec<_> = items.chunks(LANES).flat_map(recover_signers).collect();
    for (how, answers) in [("whole", whole), ("sliced", sliced)] {
        for (i, (a, b)) in answers.iter().zip(&reference).enumerate() {
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{how}, item {i}: {:?}", items[i]),
                (Err(_), Err(_)) => {}
                _ => panic!(
                    "{how}, item {i}: lanes {a:?}, libsecp256k1 {b:?}: {:?}",
                    items[i]
                ),
            }
        }
    }
    Agreed {
        recovered: reference.iter().filter(|r| r.is_ok()).count(),
        by_lanes: by_lanes.iter().filter(|k| k.is_some()).count(),
    }
}

/// Asserts the lanes settled every valid signature but the few of a last group too short for
/// them (see [`MIN_BATCH`]), where the CPU runs them.
fn lanes_settled_the_valid_ones(agreed: &Agreed) {
    if lanes_run_here() {
        assert!(
            agreed.by_lanes + MIN_BATCH > agreed.recovered,
            "the lanes settled {} of {} valid signatures",
            agreed.by_lanes,
            agreed.recovered
        );
    }
}

/// What the lanes settle themselves, for `B` full batches of eight.
#[cfg(target_arch = "x86_64")]
fn settled<const B: usize>(items: &[(B256, Signature)]) -> Vec<bool> {
    let input: Vec<lanes::Input> = items.iter().map(|(h, s)| lanes::Input::new(h, s)).collect();
    let batches: Vec<[lanes::Input; LANES]> = input
        .chunks(LANES)
        .map(|batch| batch.try_into().expect("eight items"))
        .collect();
    let batches: [[lanes::Input; LANES]; B] = batches.try_into().expect("B batches");
    lanes::recover_batches(&batches)
        .iter()
        .flatten()
        .map(Option::is_some)
        .collect()
}

#[test]
fn this_machine_runs_the_lanes() {
    // Where the CPU lacks AVX-512 IFMA the lanes never run, in the tests or in the node, so
    // there is nothing of theirs to test; where it has it, they must be the backend.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512ifma") {
        assert!(lanes_run_here());
        return;
    }
    eprintln!("no AVX-512 IFMA here: only the libsecp256k1 path is tested");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn the_lanes_settle_valid_signatures_themselves() {
    if !lanes_run_here() {
        return;
    }
    for round in 0..32u64 {
        let items: Vec<_> = (0..16)
            .map(|i| signed(round * 16 + i + 1, B256::repeat_byte((round + i) as u8)))
            .collect();
        assert!(settled::<2>(&items).iter().all(|&s| s), "round {round}");
        for batch in items.chunks(LANES) {
            assert!(settled::<1>(batch).iter().all(|&s| s), "round {round}");
        }
        let agreed = agree(&items);
        assert_eq!(
            (agreed.recovered, agreed.by_lanes),
            (16, 16),
            "round {round}"
        );
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
    let recovered = agree(&items).recovered;
    assert!(
        recovered >= 2,
        "the good signature recovers, with either hash: {recovered}"
    );
    let infinity = items[items.len() - 1];
    assert!(
        recover_signers(&[infinity])[0].is_err(),
        "infinity is no key"
    );
    #[cfg(target_arch = "x86_64")]
    if lanes_run_here() {
        assert!(
            settled::<1>(&[infinity; LANES]).iter().all(|&s| !s),
            "the lanes hand infinity back"
        );
    }
}

#[test]
fn a_short_batch_and_a_batch_with_invalid_lanes_agree() {
    for len in [1, 2, 3, 7, 8, 9, 10, 15, 16, 17, 19, 24, 25, 33] {
        let mut items: Vec<_> = (0..len)
            .map(|i| signed(1000 + i as u64, B256::repeat_byte(i as u8)))
            .collect();
        if len > 4 {
            items[2].1 = Signature::new(U256::ZERO, items[2].1.s(), false);
            items[4].0 = B256::ZERO;
        }
        lanes_settled_the_valid_ones(&agree(&items));
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
        seeds in prop::collection::vec((1u64.., any::<[u8; 32]>()), 1..40)
    ) {
        let items: Vec<_> = seeds.iter().map(|(k, h)| signed(*k, B256::from(*h))).collect();
        let agreed = agree(&items);
        prop_assert_eq!(agreed.recovered, items.len());
        lanes_settled_the_valid_ones(&agreed);
    }

    /// Random signatures (most do not recover; some do, to a random key).
    #[test]
    fn random_signatures_get_libsecp256k1s_answer(
        raw in prop::collection::vec((any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>(), any::<bool>()), 8..40)
    ) {
        let items: Vec<_> = raw
            .iter()
            // Mostly low s (the lanes' share), with high-s ones scattered among them.
            .map(|(h, r, s, v)| {
                let s = if s[31] % 4 == 0 { reduced(*s) } else { reduced(*s) >> 1 };
                (B256::from(*h), Signature::new(reduced(*r), s, *v))
            })
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

/// A deterministic stream of pseudo-random numbers (xorshift64).
#[cfg(target_arch = "x86_64")]
struct Xorshift(u64);

#[cfg(target_arch = "x86_64")]
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn scalar(&mut self) -> Scalar {
        let bytes: [u8; 32] = core::array::from_fn(|_| (self.next() >> 24) as u8);
        <Scalar as Reduce<k256::U256>>::reduce_bytes(&bytes.into())
    }
}

#[cfg(target_arch = "x86_64")]
fn lambda() -> Scalar {
    <Scalar as Reduce<k256::U256>>::reduce(lanes::glv::LAMBDA)
}

/// The GLV split recombines to the scalar and gives halves below 2^128, on edge scalars and
/// 20,000 random ones; and β is λ's partner: λ·G = (β·x(G), y(G)).
#[test]
#[cfg(target_arch = "x86_64")]
fn the_glv_split_is_exact_and_short() {
    use lanes::glv;
    let lambda = lambda();
    assert_eq!(lambda * lambda * lambda, Scalar::ONE);
    assert_ne!(lambda, Scalar::ONE);
    let affine = |k: Scalar| {
        let point = (ProjectivePoint::GENERATOR * k)
            .to_affine()
            .to_encoded_point(false);
        (
            k256::U256::from_be_slice(point.x().expect("not identity")),
            k256::U256::from_be_slice(point.y().expect("not identity")),
        )
    };
    let ((gx, gy), (lgx, lgy)) = (affine(Scalar::ONE), affine(lambda));
    assert_eq!(glv::beta_times(&gx), lgx);
    assert_eq!(gy, lgy);

    let mut edges = vec![
        Scalar::ZERO,
        Scalar::ONE,
        -Scalar::ONE,
        lambda,
        -lambda,
        lambda * lambda,
    ];
    let two_128 = Scalar::from(u128::MAX) + Scalar::ONE;
    let half_n = -Scalar::ONE * Scalar::from(2u64).invert().expect("2 is invertible");
    for d in (0..4u64).map(Scalar::from) {
        edges.extend([two_128 + d, two_128 - d, half_n + d, half_n - d]);
    }
    for j in (1..=8u64).map(Scalar::from) {
        for base in [j * lambda, -j * lambda] {
            for d in 0..4u64 {
                // Near small multiples of λ, with small offsets and offsets near 2^127.
                let far = Scalar::from((1u128 << 127) + u128::from(d));
                let d = Scalar::from(d);
                edges.extend([base + d, base - d, base + far, base - far]);
            }
        }
    }
    let mut rng = Xorshift(0x61f5_eed0_5eed);
    let random: Vec<Scalar> = (0..20_000).map(|_| rng.scalar()).collect();
    for k in edges.iter().chain(&random) {
        let (first, second) = glv::split(k);
        assert_eq!(first + second * lambda, *k, "{k:?}");
        for x in [first, second] {
            let half = glv::short(&x).unwrap_or_else(|| panic!("not short: {x:?} of {k:?}"));
            let [low, high] = half.magnitude;
            let magnitude = Scalar::from((u128::from(high) << 64) | u128::from(low));
            let value = if half.negative { -magnitude } else { magnitude };
            assert_eq!(value, x, "{k:?}");
        }
    }
}

/// A low-s signature whose recovery, in window `window` of the curve side's loop, finds the
/// running sum equal to +T (−T if `minus`) for the point T it is about to add from table
/// `table` (0: R, 1: λR, 2: G, 3: λG, the order of the additions); `None` if this u1 and u2
/// allow none. Sums are tracked as a·R + b·G, with R = c·G for the c to be solved for.
#[cfg(target_arch = "x86_64")]
fn exceptional_at(
    u1: Scalar,
    u2: Scalar,
    table: usize,
    window: usize,
    minus: bool,
) -> Option<(B256, Signature)> {
    let halves = lanes::glv::halves(&u1, &u2)?;
    let lambda = lambda();
    // None: the sum is still the point at infinity.
    let mut sum: Option<(Scalar, Scalar)> = None;
    for w in (window..32).rev() {
        sum = sum.map(|(a, b)| (a * Scalar::from(16u64), b * Scalar::from(16u64)));
        for (h, half) in halves.iter().enumerate() {
            let digit = (half.magnitude[w / 16] >> (4 * (w % 16))) & 15;
            let signed = if half.negative {
                -Scalar::from(digit)
            } else {
                Scalar::from(digit)
            };
            let point = match h {
                0 => (signed, Scalar::ZERO),
                1 => (signed * lambda, Scalar::ZERO),
                2 => (Scalar::ZERO, signed),
                _ => (Scalar::ZERO, signed * lambda),
            };
            if (w, h) == (window, table) {
                let (a, b) = sum.filter(|_| digit != 0)?;
                let (ta, tb) = if minus { (-point.0, -point.1) } else { point };
                // a·c + b = ta·c + tb.
                let c = (tb - b) * Option::<Scalar>::from((a - ta).invert())?;
                let item = crafted(c, u1, u2).filter(|_| !bool::from(c.is_zero()))?;
                return (item.1.s() <= alloy_consensus::crypto::SECP256K1N_HALF).then_some(item);
            }
            if digit != 0 {
                sum = Some(sum.map_or(point, |(a, b)| (a + point.0, b + point.1)));
            }
        }
    }
    None
}

/// Signatures built so that one addition of the curve side's loop adds ± the running sum to
/// itself: an exceptional addition, which the formulas get wrong. For each table, sign and
/// window (the last, the first, a random one), eight of them; the lanes must hand every one
/// back, in single batches and in interleaved pairs.
#[test]
#[cfg(target_arch = "x86_64")]
fn exceptional_additions_are_handed_back() {
    if !lanes_run_here() {
        return;
    }
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut targets = Vec::new();
    for table in 0..4 {
        for window in [0, 31, 32] {
            // In window 31 the sum before R's or λR's addition is a small multiple of R, like
            // the point: they never meet (λ is no ratio of small numbers).
            if window == 31 && table < 2 {
                continue;
            }
            targets.extend([(table, window, false), (table, window, true)]);
        }
    }
    let mut items = Vec::new();
    for &(table, window, minus) in targets.iter().cycle().take(8 * targets.len()) {
        let window = if window == 32 {
            1 + (rng.next() % 30) as usize
        } else {
            window
        };
        let item = (0..1000)
            .find_map(|_| exceptional_at(rng.scalar(), rng.scalar(), table, window, minus));
        items.push(item.unwrap_or_else(|| panic!("no signature for {table} {window} {minus}")));
    }
    for batch in items.chunks(LANES) {
        assert!(settled::<1>(batch).iter().all(|&s| !s), "{batch:?}");
    }
    for group in items.chunks(2 * LANES) {
        assert!(settled::<2>(group).iter().all(|&s| !s), "{group:?}");
    }
    let agreed = agree(&items);
    assert_eq!(
        agreed.by_lanes, 0,
        "every exceptional addition is handed back"
    );
    let recovered = agreed.recovered;
    assert!(
        4 * recovered >= 3 * items.len(),
        "most are valid signatures the lanes would otherwise settle: {recovered} of {}",
        items.len()
    );
}
