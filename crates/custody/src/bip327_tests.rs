//! Official BIP-327 vectors (NonceGen, NonceAgg, Sign/Verify, tweaks, SigAgg, DeterministicSign) run against the musig2 crate.

use bitcoin::{
    hashes::{sha256, Hash, HashEngine},
    secp256k1::{schnorr, Message, Secp256k1, XOnlyPublicKey},
};
use musig2::{
    errors::{SigningError, VerifyError},
    secp::{MaybeScalar, Point, Scalar},
    AggNonce, KeyAggContext, LiftedSignature, PartialSignature, PubNonce, SecNonce,
};
use serde_json::Value;

const NONCE_GEN: &str = include_str!("../testdata/nonce_gen_vectors.json");
const NONCE_AGG: &str = include_str!("../testdata/nonce_agg_vectors.json");
const SIGN_VERIFY: &str = include_str!("../testdata/sign_verify_vectors.json");
const TWEAK: &str = include_str!("../testdata/tweak_vectors.json");
const SIG_AGG: &str = include_str!("../testdata/sig_agg_vectors.json");
const DET_SIGN: &str = include_str!("../testdata/det_sign_vectors.json");

// The BIP's messages for its `"type": "value"` errors.
const NOT_A_SIGNER: &str = "The signer's pubkey must be included in the list of pubkeys.";
const TWEAK_OUT_OF_RANGE: &str = "The tweak must be less than n.";
const SECNONCE_OUT_OF_RANGE: &str = "first secnonce value is out of range.";

/// Why an operation refused its inputs, in the vectors' terms: a named bad contribution (with
/// the culprit's position, when one signer is to blame) or a plain bad value.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Contribution {
        signer: Option<usize>,
        contrib: &'static str,
    },
    Value(&'static str),
}

fn blame(signer: usize, contrib: &'static str) -> Refusal {
    Refusal::Contribution {
        signer: Some(signer),
        contrib,
    }
}

/// The refusal a vector's `error` object names.
fn expected_refusal(error: &Value) -> Refusal {
    match error["type"].as_str() {
        Some("invalid_contribution") => Refusal::Contribution {
            signer: error["signer"].as_u64().map(|s| s as usize),
            contrib: match error["contrib"].as_str() {
                Some("pubkey") => "pubkey",
                Some("pubnonce") => "pubnonce",
                Some("aggnonce") => "aggnonce",
                Some("aggothernonce") => "aggothernonce",
                Some("psig") => "psig",
                other => panic!("unknown contribution {other:?}"),
            },
        },
        Some("value") => Refusal::Value(match error["message"].as_str() {
            Some(NOT_A_SIGNER) => NOT_A_SIGNER,
            Some(TWEAK_OUT_OF_RANGE) => TWEAK_OUT_OF_RANGE,
            Some(SECNONCE_OUT_OF_RANGE) => SECNONCE_OUT_OF_RANGE,
            other => panic!("unknown message {other:?}"),
        }),
        other => panic!("unknown error type {other:?}"),
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("vector JSON")
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

/// `null` is an absent optional argument.
fn optional(v: &Value) -> Option<Vec<u8>> {
    (!v.is_null()).then(|| bytes(v))
}

fn array32(v: &Value) -> [u8; 32] {
    bytes(v).try_into().expect("32 bytes")
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("index list")
        .iter()
        .map(|i| i.as_u64().expect("index") as usize)
        .collect()
}

fn cases<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().expect("test cases")
}

fn scalar(v: &Value) -> Scalar {
    Scalar::from_slice(&bytes(v)).expect("valid scalar")
}

/// The items of `list` at `at`, parsed; a parse failure blames its position in `at`.
fn parse_at<T, E>(
    list: &Value,
    at: &[usize],
    parse: impl Fn(&[u8]) -> Result<T, E>,
    contrib: &'static str,
) -> Result<Vec<T>, Refusal> {
    at.iter()
        .enumerate()
        .map(|(pos, &i)| parse(&bytes(&list[i])).map_err(|_| blame(pos, contrib)))
        .collect()
}

fn keys_at(list: &Value, at: &[usize]) -> Result<Vec<Point>, Refusal> {
    parse_at(list, at, Point::from_slice, "pubkey")
}

fn pubnonces_at(list: &Value, at: &[usize]) -> Result<Vec<PubNonce>, Refusal> {
    parse_at(list, at, PubNonce::from_bytes, "pubnonce")
}

/// KeyAgg of `keys`, then each tweak in order.
fn key_agg(
    keys: Vec<Point>,
    tweaks: &[Vec<u8>],
    is_xonly: &Value,
) -> Result<KeyAggContext, Refusal> {
    let xonly = is_xonly.as_array().expect("is_xonly");
    assert_eq!(tweaks.len(), xonly.len());
    let mut ctx = KeyAggContext::new(keys).expect("KeyAgg");
    for (tweak, x) in tweaks.iter().zip(xonly) {
        let tweak = Scalar::from_slice(tweak).map_err(|_| Refusal::Value(TWEAK_OUT_OF_RANGE))?;
        ctx = ctx
            .with_tweak(tweak, x.as_bool().expect("bool"))
            .expect("tweak applies");
    }
    Ok(ctx)
}

/// A BIP-340 tagged hash.
fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let tag = sha256::Hash::hash(tag.as_bytes());
    let mut engine = sha256::Hash::engine();
    engine.input(tag.as_ref());
    engine.input(tag.as_ref());
    for part in parts {
        engine.input(part);
    }
    sha256::Hash::from_engine(engine).to_byte_array()
}

fn xor(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

#[test]
fn nonce_gen() {
    let v = json(NONCE_GEN);
    let cases = cases(&v, "test_cases");
    assert_eq!(cases.len(), 4);
    for (n, case) in cases.iter().enumerate() {
        let rand = array32(&case["rand_"]);
        let pk = Point::from_slice(&bytes(&case["pk"])).expect("pk");
        let aggpk = optional(&case["aggpk"])
            .map(|x| Point::lift_x(x.try_into().expect("32 bytes")).expect("an x coordinate"));
        let msg = optional(&case["msg"]);
        // An absent extra_in is hashed as empty, with its 4-byte length; musig2 writes that
        // length only when given an extra input, so it always gets one.
        let extra_in = optional(&case["extra_in"]).unwrap_or_default();
        let seckey = match optional(&case["sk"]) {
            Some(sk) => {
                let sk = Scalar::from_slice(&sk).expect("sk");
                assert_eq!(sk.base_point_mul(), pk, "case {n}: pk is sk's");
                sk
            }
            // Without sk, BIP-327 hashes rand' itself; musig2 0.3 still hashes
            // hash_MuSig/aux(rand') XOR 32 zero bytes, so its sk-less nonces differ from the
            // BIP's. Passing rand' XOR hash_MuSig/aux(rand') as the "key" makes the crate hash
            // rand' as the BIP does (pk is then set explicitly below), which checks the rest of
            // its NonceGen.
            None => Scalar::from_slice(&xor(rand, tagged_hash("MuSig/aux", &[&rand])))
                .expect("valid scalar"),
        };
        let mut builder = SecNonce::build(rand)
            .with_seckey(seckey)
            .with_pubkey(pk)
            .with_extra_input(&extra_in);
        if let Some(aggpk) = aggpk {
            builder = builder.with_aggregated_pubkey(aggpk);
        }
        if let Some(msg) = &msg {
            builder = builder.with_message(msg);
        }
        let secnonce = builder.build();
        let expected = bytes(&case["expected_secnonce"]);
        // musig2's secret nonce is k1 || k2; the BIP's 97 bytes append pk.
        assert_eq!(secnonce.serialize()[..], expected[..64], "case {n}");
        assert_eq!(expected[64..], pk.serialize(), "case {n}");
        assert_eq!(
            secnonce.public_nonce().serialize()[..],
            bytes(&case["expected_pubnonce"])[..],
            "case {n}"
        );
    }
}

#[test]
fn nonce_agg() {
    let v = json(NONCE_AGG);
    let all = &v["pnonces"];
    for case in cases(&v, "valid_test_cases") {
        let nonces = pubnonces_at(all, &indices(&case["pnonce_indices"])).expect("valid nonces");
        let expected = bytes(&case["expected"]);
        let agg = AggNonce::sum(&nonces);
        assert_eq!(agg.serialize()[..], expected[..]);
        assert_eq!(AggNonce::from_bytes(&expected).expect("parses"), agg);
    }
    let errors = cases(&v, "error_test_cases");
    assert_eq!(errors.len(), 3);
    for case in errors {
        let refused = pubnonces_at(all, &indices(&case["pnonce_indices"])).err();
        assert_eq!(
            refused,
            Some(expected_refusal(&case["error"])),
            "{}",
            case["comment"]
        );
    }
}

/// The sign/verify vectors' shared inputs.
struct SignVerify {
    v: Value,
    sk: Scalar,
}

impl SignVerify {
    fn new() -> Self {
        let v = json(SIGN_VERIFY);
        let sk = scalar(&v["sk"]);
        Self { v, sk }
    }

    fn msg(&self, case: &Value) -> Vec<u8> {
        bytes(&self.v["msgs"][case["msg_index"].as_u64().expect("index") as usize])
    }

    fn indexed<'a>(&'a self, list: &str, case: &Value, index: &str) -> &'a Value {
        &self.v[list][case[index].as_u64().expect("index") as usize]
    }

    fn sign(&self, case: &Value) -> Result<PartialSignature, Refusal> {
        let keys = keys_at(&self.v["pubkeys"], &indices(&case["key_indices"]))?;
        let agg = AggNonce::from_bytes(&bytes(self.indexed("aggnonces", case, "aggnonce_index")))
            .map_err(|_| Refusal::Contribution {
            signer: None,
            contrib: "aggnonce",
        })?;
        let secnonce =
            SecNonce::from_bytes(&bytes(self.indexed("secnonces", case, "secnonce_index")))
                .map_err(|_| Refusal::Value(SECNONCE_OUT_OF_RANGE))?;
        let ctx = KeyAggContext::new(keys).expect("KeyAgg");
        musig2::sign_partial(&ctx, self.sk, secnonce, &agg, self.msg(case)).map_err(|e| {
            assert_eq!(e, SigningError::UnknownKey);
            Refusal::Value(NOT_A_SIGNER)
        })
    }

    /// PartialSigVerify of the vectors' signature bytes: whether they verify.
    fn verify(&self, case: &Value, sig: &[u8]) -> Result<bool, Refusal> {
        let keys = keys_at(&self.v["pubkeys"], &indices(&case["key_indices"]))?;
        let nonces = pubnonces_at(&self.v["pnonces"], &indices(&case["nonce_indices"]))?;
        let signer = case["signer_index"].as_u64().expect("signer") as usize;
        // 32 bytes not below n are no partial signature.
        let Ok(psig) = MaybeScalar::from_slice(sig) else {
            return Ok(false);
        };
        let ctx = KeyAggContext::new(keys.clone()).expect("KeyAgg");
        let agg = AggNonce::sum(&nonces);
        match musig2::verify_partial(
            &ctx,
            psig,
            &agg,
            keys[signer],
            &nonces[signer],
            self.msg(case),
        ) {
            Ok(()) => Ok(true),
            Err(e) => {
                assert_eq!(e, VerifyError::BadSignature);
                Ok(false)
            }
        }
    }
}

#[test]
fn sign_verify() {
    let t = SignVerify::new();
    let v = &t.v;
    let secnonce = bytes(&v["secnonces"][0]);
    assert_eq!(secnonce[64..], t.sk.base_point_mul().serialize());
    for case in cases(v, "valid_test_cases") {
        let signer = case["signer_index"].as_u64().expect("signer") as usize;
        let keys = keys_at(&v["pubkeys"], &indices(&case["key_indices"])).expect("keys");
        assert_eq!(keys[signer], t.sk.base_point_mul());
        let nonces = pubnonces_at(&v["pnonces"], &indices(&case["nonce_indices"])).expect("nonces");
        let agg = AggNonce::from_bytes(&bytes(t.indexed("aggnonces", case, "aggnonce_index")))
            .expect("aggnonce");
        assert_eq!(AggNonce::sum(&nonces), agg);
        let ctx = KeyAggContext::new(keys.clone()).expect("KeyAgg");
        let secnonce = SecNonce::from_bytes(&secnonce).expect("secnonce");
        let psig: PartialSignature =
            musig2::sign_partial(&ctx, t.sk, secnonce, &agg, t.msg(case)).expect("signs");
        let expected = bytes(&case["expected"]);
        assert_eq!(psig.serialize()[..], expected[..], "{}", case["comment"]);
        assert_eq!(t.verify(case, &expected), Ok(true));
    }
    let errors = cases(v, "sign_error_test_cases");
    assert_eq!(errors.len(), 6);
    for case in errors {
        assert_eq!(
            t.sign(case).err(),
            Some(expected_refusal(&case["error"])),
            "{}",
            case["comment"]
        );
    }
    let fails = cases(v, "verify_fail_test_cases");
    assert_eq!(fails.len(), 3);
    for case in fails {
        assert_eq!(
            t.verify(case, &bytes(&case["sig"])),
            Ok(false),
            "{}",
            case["comment"]
        );
    }
    let errors = cases(v, "verify_error_test_cases");
    assert_eq!(errors.len(), 2);
    for case in errors {
        assert_eq!(
            t.verify(case, &bytes(&case["sig"])).err(),
            Some(expected_refusal(&case["error"])),
            "{}",
            case["comment"]
        );
    }
}

/// The tweaks a case picks from the file's list.
fn tweaks_at(v: &Value, case: &Value) -> Vec<Vec<u8>> {
    indices(&case["tweak_indices"])
        .into_iter()
        .map(|i| bytes(&v["tweaks"][i]))
        .collect()
}

#[test]
fn tweak() {
    let v = json(TWEAK);
    let sk = scalar(&v["sk"]);
    let msg = bytes(&v["msg"]);
    let agg = AggNonce::from_bytes(&bytes(&v["aggnonce"])).expect("aggnonce");
    let sign = |case: &Value| -> Result<(PartialSignature, KeyAggContext, Vec<Point>), Refusal> {
        let keys = keys_at(&v["pubkeys"], &indices(&case["key_indices"]))?;
        let ctx = key_agg(keys.clone(), &tweaks_at(&v, case), &case["is_xonly"])?;
        let secnonce = SecNonce::from_bytes(&bytes(&v["secnonce"])).expect("secnonce");
        let psig = musig2::sign_partial(&ctx, sk, secnonce, &agg, &msg).expect("signs");
        Ok((psig, ctx, keys))
    };
    let valid = cases(&v, "valid_test_cases");
    // All five run, including the last (x-only, plain, x-only, plain), which the BIP lets
    // implementations refuse: musig2 accepts plain tweaks after x-only ones.
    assert_eq!(valid.len(), 5);
    for case in valid {
        let nonces = pubnonces_at(&v["pnonces"], &indices(&case["nonce_indices"])).expect("nonces");
        assert_eq!(AggNonce::sum(&nonces), agg);
        let (psig, ctx, keys) = sign(case).expect("signs");
        let expected = bytes(&case["expected"]);
        assert_eq!(psig.serialize()[..], expected[..], "{}", case["comment"]);
        let signer = case["signer_index"].as_u64().expect("signer") as usize;
        assert_eq!(keys[signer], sk.base_point_mul());
        musig2::verify_partial(&ctx, psig, &agg, keys[signer], &nonces[signer], &msg)
            .expect("verifies");
    }
    let errors = cases(&v, "error_test_cases");
    assert_eq!(errors.len(), 1);
    for case in errors {
        assert_eq!(
            sign(case).err(),
            Some(expected_refusal(&case["error"])),
            "{}",
            case["comment"]
        );
    }
}

#[test]
fn sig_agg() {
    let v = json(SIG_AGG);
    let msg = bytes(&v["msg"]);
    let aggregate = |case: &Value| -> Result<(LiftedSignature, KeyAggContext), Refusal> {
        let keys = keys_at(&v["pubkeys"], &indices(&case["key_indices"]))?;
        let nonces = pubnonces_at(&v["pnonces"], &indices(&case["nonce_indices"]))?;
        let agg = AggNonce::from_bytes(&bytes(&case["aggnonce"])).expect("aggnonce");
        assert_eq!(AggNonce::sum(&nonces), agg);
        let ctx = key_agg(keys, &tweaks_at(&v, case), &case["is_xonly"])?;
        let psigs = parse_at(
            &v["psigs"],
            &indices(&case["psig_indices"]),
            MaybeScalar::from_slice,
            "psig",
        )?;
        let sig = musig2::aggregate_partial_signatures(&ctx, &agg, psigs, &msg)
            .expect("a valid signature");
        Ok((sig, ctx))
    };
    let secp = Secp256k1::verification_only();
    let valid = cases(&v, "valid_test_cases");
    assert_eq!(valid.len(), 4);
    for case in valid {
        let (sig, ctx) = aggregate(case).expect("aggregates");
        let expected = bytes(&case["expected"]);
        assert_eq!(sig.serialize()[..], expected[..]);
        // libsecp256k1 (through rust-bitcoin) agrees it is a BIP-340 signature by the
        // aggregate key.
        let key = XOnlyPublicKey::from_slice(&ctx.aggregated_pubkey::<Point>().serialize_xonly())
            .expect("key");
        let msg = Message::from_digest(msg.clone().try_into().expect("32 bytes"));
        let sig = schnorr::Signature::from_slice(&expected).expect("64 bytes");
        secp.verify_schnorr(&sig, &msg, &key)
            .expect("BIP-340 valid");
    }
    let errors = cases(&v, "error_test_cases");
    assert_eq!(errors.len(), 1);
    for case in errors {
        assert_eq!(
            aggregate(case).err(),
            Some(expected_refusal(&case["error"])),
            "{}",
            case["comment"]
        );
    }
}

/// BIP-327 DeterministicSign. musig2 0.3 has no such function (its `deterministic` module is
/// RFC 6979 for single-signer BIP-340), so the nonce derivation, one tagged hash, is written
/// here; the rest (KeyAgg, tweaks, nonce parsing and aggregation, Sign) is the crate's.
fn deterministic_sign(
    sk: Scalar,
    aggothernonce: &[u8],
    ctx: &KeyAggContext,
    msg: &[u8],
    rand: Option<[u8; 32]>,
) -> Result<(PubNonce, PartialSignature), Refusal> {
    let sk_ = match rand {
        Some(rand) => xor(sk.serialize(), tagged_hash("MuSig/aux", &[&rand])),
        None => sk.serialize(),
    };
    let aggpk = ctx.aggregated_pubkey::<Point>().serialize_xonly();
    let k = |i: u8| {
        let hash = tagged_hash(
            "MuSig/deterministic/nonce",
            &[
                &sk_,
                aggothernonce,
                &aggpk,
                &(msg.len() as u64).to_be_bytes(),
                msg,
                &[i],
            ],
        );
        MaybeScalar::reduce_from(&hash)
            .not_zero()
            .expect("non-zero nonce")
    };
    let secnonce = SecNonce::new(k(0), k(1));
    let pubnonce = secnonce.public_nonce();
    let other = PubNonce::from_bytes(aggothernonce).map_err(|_| Refusal::Contribution {
        signer: None,
        contrib: "aggothernonce",
    })?;
    let agg = AggNonce::sum([&pubnonce, &other]);
    let psig = musig2::sign_partial(ctx, sk, secnonce, &agg, msg).map_err(|e| {
        assert_eq!(e, SigningError::UnknownKey);
        Refusal::Value(NOT_A_SIGNER)
    })?;
    musig2::verify_partial(ctx, psig, &agg, sk.base_point_mul(), &pubnonce, msg).expect("verifies");
    Ok((pubnonce, psig))
}

#[test]
fn det_sign() {
    let v = json(DET_SIGN);
    let sk = scalar(&v["sk"]);
    let run = |case: &Value| -> Result<(PubNonce, PartialSignature), Refusal> {
        let keys = keys_at(&v["pubkeys"], &indices(&case["key_indices"]))?;
        let tweaks: Vec<Vec<u8>> = case["tweaks"]
            .as_array()
            .expect("tweaks")
            .iter()
            .map(bytes)
            .collect();
        let ctx = key_agg(keys, &tweaks, &case["is_xonly"])?;
        let msg = bytes(&v["msgs"][case["msg_index"].as_u64().expect("index") as usize]);
        let rand = optional(&case["rand"]).map(|r| r.try_into().expect("32 bytes"));
        deterministic_sign(sk, &bytes(&case["aggothernonce"]), &ctx, &msg, rand)
    };
    let valid = cases(&v, "valid_test_cases");
    assert_eq!(valid.len(), 4);
    for case in valid {
        let signer = case["signer_index"].as_u64().expect("signer") as usize;
        let key = keys_at(&v["pubkeys"], &indices(&case["key_indices"])).expect("keys")[signer];
        assert_eq!(key, sk.base_point_mul());
        let (pubnonce, psig) = run(case).expect("signs");
        assert_eq!(pubnonce.serialize()[..], bytes(&case["expected"][0])[..]);
        assert_eq!(psig.serialize()[..], bytes(&case["expected"][1])[..]);
    }
    let errors = cases(&v, "error_test_cases");
    assert_eq!(errors.len(), 5);
    for case in errors {
        assert_eq!(
            run(case).err(),
            Some(expected_refusal(&case["error"])),
            "{}",
            case["comment"]
        );
    }
}
