//! Official BIP-340 vectors (test-vectors.csv): signing with aux_rand and verification through libsecp256k1.

use bitcoin::secp256k1::{schnorr, Keypair, Message, Secp256k1, XOnlyPublicKey};
// The secp256k1 0.31 that musig2 links: unlike rust-bitcoin's 0.29, it signs and verifies
// messages of any length (rows 15 to 18).
use musig2::secp256k1 as secp031;

const VECTORS: &str = include_str!("../testdata/bip340-test-vectors.csv");

struct Row {
    index: usize,
    secret_key: Option<[u8; 32]>,
    public_key: Vec<u8>,
    aux_rand: Option<[u8; 32]>,
    message: Vec<u8>,
    signature: [u8; 64],
    valid: bool,
    comment: String,
}

fn rows() -> Vec<Row> {
    let mut lines = VECTORS.lines();
    assert_eq!(
        lines.next(),
        Some("index,secret key,public key,aux_rand,message,signature,verification result,comment")
    );
    let fixed = |s: &str| (!s.is_empty()).then(|| hex::decode(s).expect("hex"));
    let rows: Vec<Row> = lines
        .map(|line| {
            let f: Vec<&str> = line.splitn(8, ',').collect();
            assert_eq!(f.len(), 8, "{line}");
            Row {
                index: f[0].parse().expect("index"),
                secret_key: fixed(f[1]).map(|k| k.try_into().expect("32 bytes")),
                public_key: hex::decode(f[2]).expect("hex"),
                aux_rand: fixed(f[3]).map(|a| a.try_into().expect("32 bytes")),
                message: hex::decode(f[4]).expect("hex"),
                signature: hex::decode(f[5])
                    .expect("hex")
                    .try_into()
                    .expect("64 bytes"),
                valid: match f[6] {
                    "TRUE" => true,
                    "FALSE" => false,
                    other => panic!("verification result {other}"),
                },
                comment: f[7].to_owned(),
            }
        })
        .collect();
    assert_eq!(rows.len(), 19);
    assert!(rows.iter().enumerate().all(|(i, r)| r.index == i));
    rows
}

/// Through rust-bitcoin's secp256k1 (0.29), whose `Message` is exactly 32 bytes: every row
/// but the four with other message lengths.
#[test]
fn bip340_vectors_rust_bitcoin() {
    let secp = Secp256k1::new();
    let mut checked = 0;
    for row in rows() {
        let Ok(digest) = <[u8; 32]>::try_from(row.message.as_slice()) else {
            continue;
        };
        let msg = Message::from_digest(digest);
        let what = format!("row {}: {}", row.index, row.comment);
        if let Some(sk) = row.secret_key {
            let keypair = Keypair::from_seckey_slice(&secp, &sk).expect("secret key");
            assert_eq!(
                keypair.x_only_public_key().0.serialize()[..],
                row.public_key[..],
                "{what}"
            );
            let aux = row.aux_rand.expect("signing rows have aux_rand");
            let sig = secp.sign_schnorr_with_aux_rand(&msg, &keypair, &aux);
            assert_eq!(sig.serialize(), row.signature, "{what}");
        }
        match XOnlyPublicKey::from_slice(&row.public_key) {
            Ok(key) => {
                let sig = schnorr::Signature::from_slice(&row.signature).expect("64 bytes");
                assert_eq!(
                    secp.verify_schnorr(&sig, &msg, &key).is_ok(),
                    row.valid,
                    "{what}"
                );
            }
            // Not a key: verification fails before it starts.
            Err(_) => assert!(!row.valid, "{what}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 15);
}

/// Every row through the secp256k1 0.31 that musig2 uses.
#[test]
fn bip340_vectors_musig2_secp() {
    let secp = secp031::Secp256k1::new();
    for row in rows() {
        let what = format!("row {}: {}", row.index, row.comment);
        if let Some(sk) = row.secret_key {
            let keypair = secp031::Keypair::from_seckey_byte_array(&secp, sk).expect("secret key");
            assert_eq!(
                keypair.x_only_public_key().0.serialize()[..],
                row.public_key[..],
                "{what}"
            );
            let aux = row.aux_rand.expect("signing rows have aux_rand");
            let sig = secp.sign_schnorr_with_aux_rand(&row.message, &keypair, &aux);
            assert_eq!(sig.to_byte_array(), row.signature, "{what}");
        }
        let key = <[u8; 32]>::try_from(row.public_key.as_slice())
            .ok()
            .and_then(|k| secp031::XOnlyPublicKey::from_byte_array(k).ok());
        match key {
            Some(key) => {
                let sig = secp031::schnorr::Signature::from_byte_array(row.signature);
                assert_eq!(
                    secp.verify_schnorr(&sig, &row.message, &key).is_ok(),
                    row.valid,
                    "{what}"
                );
            }
            None => assert!(!row.valid, "{what}"),
        }
    }
}
