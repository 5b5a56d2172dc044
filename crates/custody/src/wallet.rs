//! A one-key P2PKH wallet for devnets and tests: pays deposits from a coin (such as a regtest
//! coinbase) that a known key holds. Legacy P2PKH so it works on a chain where segwit is not
//! active yet. Not for real funds: it has no coin selection and no fee estimation.

use bitcoin::{
    absolute::LockTime,
    hashes::Hash as _,
    key::Secp256k1,
    script::{Builder, PushBytes},
    secp256k1::{Message, SecretKey},
    sighash::{EcdsaSighashType, SighashCache},
    transaction::Version,
    Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Witness,
};

use crate::CustodyError;

/// A key and its P2PKH address.
pub struct DevWallet {
    secret: SecretKey,
    pub address: Address,
}

impl DevWallet {
    pub fn new(secret: SecretKey, network: Network) -> Self {
        let public = CompressedPublicKey(secret.public_key(&Secp256k1::signing_only()));
        Self {
            secret,
            address: Address::p2pkh(public, network),
        }
    }

    /// Spends `coin` (worth `value`, paying this wallet) to `outputs`, the rest minus
    /// `fee_sat` back to this wallet, signed with SIGHASH_ALL.
    ///
    /// # Errors
    /// Outputs and fee worth more than the coin.
    pub fn pay(
        &self,
        coin: OutPoint,
        value: Amount,
        outputs: Vec<(u64, ScriptBuf)>,
        fee_sat: u64,
    ) -> Result<Transaction, CustodyError> {
        let spent: u64 = outputs.iter().map(|(v, _)| v).sum();
        let change = value
            .to_sat()
            .checked_sub(spent.saturating_add(fee_sat))
            .ok_or_else(|| {
                CustodyError::Signing(format!(
                    "the coin holds {value}, the payment needs {spent} sat plus {fee_sat} sat fee"
                ))
            })?;
        let mut output: Vec<TxOut> = outputs
            .into_iter()
            .map(|(sat, script_pubkey)| TxOut {
                value: Amount::from_sat(sat),
                script_pubkey,
            })
            .collect();
        output.push(TxOut {
            value: Amount::from_sat(change),
            script_pubkey: self.address.script_pubkey(),
        });
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: coin,
                sequence: Sequence::MAX,
                script_sig: ScriptBuf::new(),
                witness: Witness::new(),
            }],
            output,
        };
        let secp = Secp256k1::signing_only();
        let sighash = SighashCache::new(&tx)
            .legacy_signature_hash(
                0,
                &self.address.script_pubkey(),
                EcdsaSighashType::All.to_u32(),
            )
            .map_err(|e| CustodyError::Signing(e.to_string()))?;
        let sig = secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &self.secret);
        let mut sig = sig.serialize_der().to_vec();
        sig.push(EcdsaSighashType::All as u8);
        let sig: &PushBytes = sig
            .as_slice()
            .try_into()
            .map_err(|_| CustodyError::Signing("signature too long".into()))?;
        tx.input[0].script_sig = Builder::new()
            .push_slice(sig)
            .push_slice(self.secret.public_key(&secp).serialize())
            .into_script();
        Ok(tx)
    }
}
