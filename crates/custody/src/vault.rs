//! The vault: one Taproot output whose key path is the MuSig2 aggregate of every signer and
//! whose script tree holds the M-of-N fallback and, optionally, a timelocked recovery leaf.

use bitcoin::{
    key::Secp256k1,
    opcodes::all::{OP_CHECKSIG, OP_CHECKSIGADD, OP_CSV, OP_NUMEQUAL, OP_VERIFY},
    script::Builder,
    secp256k1::{PublicKey, XOnlyPublicKey},
    Address, Network, ScriptBuf, Witness,
};

use crate::{CustodyError, SignerSet, TapTree, TaprootOutput};

/// Tag in a deposit leaf, before the recipient: "bevm".
pub const DEPOSIT_TAG: &[u8; 4] = b"bevm";

/// Keys that can move the funds after `after_blocks` blocks without the signers, so a set
/// that stops signing never freezes the BTC forever (set in genesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub keys: Vec<XOnlyPublicKey>,
    pub threshold: usize,
    /// Relative timelock (BIP-68 blocks) counted from the UTXO's confirmation.
    pub after_blocks: u16,
}

/// A vault for one signer set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vault {
    signers: SignerSet,
    recovery: Option<Recovery>,
    output: TaprootOutput,
}

impl Vault {
    /// # Errors
    /// Keys that MuSig2 cannot aggregate, or a malformed recovery (no keys, repeated keys,
    /// bad threshold, zero timelock).
    pub fn new(signers: SignerSet, recovery: Option<Recovery>) -> Result<Self, CustodyError> {
        if let Some(r) = &recovery {
            check_recovery(r)?;
        }
        let internal = aggregate_key(signers.keys())?;
        let tree = vault_tree(&signers, recovery.as_ref());
        let output = TaprootOutput::new(&Secp256k1::verification_only(), internal, Some(tree));
        Ok(Self {
            signers,
            recovery,
            output,
        })
    }

    pub fn signers(&self) -> &SignerSet {
        &self.signers
    }

    /// The BIP-327 aggregate of all signer keys: the key path needs every signer.
    pub fn internal_key(&self) -> XOnlyPublicKey {
        self.output.internal_key
    }

    /// The vault's own output (deposits with an `OP_RETURN` memo pay it).
    pub fn output(&self) -> &TaprootOutput {
        &self.output
    }

    pub fn address(&self, network: Network) -> Address {
        self.output.address(network)
    }

    /// The signers' x-only keys in KeySort order: the fallback leaf's keys, in its order.
    pub fn leaf_keys(&self) -> Vec<XOnlyPublicKey> {
        xonly(&self.signers)
    }

    /// `<k1> CHECKSIG <k2> CHECKSIGADD … <kN> CHECKSIGADD <M> NUMEQUAL` over the signers.
    pub fn multisig_leaf(&self) -> ScriptBuf {
        multi_a(Builder::new(), &self.leaf_keys(), self.signers.threshold())
    }

    /// `<after> CSV VERIFY` then the recovery keys' `multi_a`.
    pub fn recovery_leaf(&self) -> Option<ScriptBuf> {
        self.recovery.as_ref().map(recovery_leaf)
    }

    /// The output a per-recipient deposit address pays: the same internal key, with the
    /// vault's tree next to a leaf committing to `recipient` (`OP_RETURN "bevm" <20 bytes>`,
    /// never spendable: it only makes the address unique).
    pub fn deposit_output(&self, recipient: [u8; 20]) -> TaprootOutput {
        let tree = TapTree::branch(
            vault_tree(&self.signers, self.recovery.as_ref()),
            TapTree::leaf(deposit_leaf(recipient)),
        );
        TaprootOutput::new(
            &Secp256k1::verification_only(),
            self.internal_key(),
            Some(tree),
        )
    }

    pub fn deposit_address(&self, recipient: [u8; 20], network: Network) -> Address {
        self.deposit_output(recipient).address(network)
    }

    /// The witness spending `output` (the vault's or a deposit output) through the fallback
    /// leaf, from BIP-340 signatures of the script-path sighash by signers in KeySort order
    /// (`None` for absent ones). `NUMEQUAL` wants exactly M valid signatures, so the first M
    /// present are used and the rest left empty.
    ///
    /// # Errors
    /// Fewer than M signatures, a list not matching the set, or an output without this leaf.
    pub fn multisig_witness(
        &self,
        output: &TaprootOutput,
        signatures: &[Option<[u8; 64]>],
    ) -> Result<Witness, CustodyError> {
        let (keys, threshold) = (self.signers.keys().len(), self.signers.threshold());
        leaf_witness(output, self.multisig_leaf(), keys, threshold, signatures)
    }

    /// The witness spending `output` through the recovery leaf, from signatures by the
    /// recovery keys in their genesis order (`None` for absent ones). The input's `nSequence`
    /// must be at least [`Recovery::after_blocks`] (and the transaction version 2), or
    /// `CHECKSEQUENCEVERIFY` fails; Bitcoin also keeps the spend out of blocks until the
    /// output has that many confirmations.
    ///
    /// # Errors
    /// No recovery leaf, fewer signatures than its threshold, or a list not matching its keys.
    pub fn recovery_witness(
        &self,
        output: &TaprootOutput,
        signatures: &[Option<[u8; 64]>],
    ) -> Result<Witness, CustodyError> {
        let r = self
            .recovery
            .as_ref()
            .ok_or_else(|| CustodyError::Signing("this vault has no recovery leaf".into()))?;
        leaf_witness(
            output,
            recovery_leaf(r),
            r.keys.len(),
            r.threshold,
            signatures,
        )
    }

    /// An output descriptor (BIP-386 `tr`, miniscript `multi_a` and `older`) for operators and
    /// watch-only wallets.
    pub fn descriptor(&self) -> String {
        let keys: Vec<String> = self
            .signers
            .keys()
            .iter()
            .map(|k| k.x_only_public_key().0.to_string())
            .collect();
        let multisig = format!("multi_a({},{})", self.signers.threshold(), keys.join(","));
        let tree = match &self.recovery {
            None => multisig,
            Some(r) => {
                let keys: Vec<String> = r.keys.iter().map(ToString::to_string).collect();
                format!(
                    "{{{multisig},and_v(v:older({}),multi_a({},{}))}}",
                    r.after_blocks,
                    r.threshold,
                    keys.join(",")
                )
            }
        };
        format!("tr({},{tree})", self.internal_key())
    }
}

/// BIP-327 KeyAgg of `keys` (already in KeySort order), x-only.
///
/// # Errors
/// Keys whose aggregate is the point at infinity.
pub fn aggregate_key(keys: &[PublicKey]) -> Result<XOnlyPublicKey, CustodyError> {
    let points = keys
        .iter()
        .map(|k| musig2::secp::Point::from_slice(&k.serialize()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CustodyError::KeyAgg(e.to_string()))?;
    let ctx =
        musig2::KeyAggContext::new(points).map_err(|e| CustodyError::KeyAgg(e.to_string()))?;
    let aggregate: musig2::secp::Point = ctx.aggregated_pubkey();
    XOnlyPublicKey::from_slice(&aggregate.serialize_xonly())
        .map_err(|e| CustodyError::KeyAgg(e.to_string()))
}

/// A `multi_a` leaf's witness: exactly `threshold` of the signatures (the first present),
/// empty elements for the rest, reversed because the script checks the first key first.
fn leaf_witness(
    output: &TaprootOutput,
    leaf: ScriptBuf,
    keys: usize,
    threshold: usize,
    signatures: &[Option<[u8; 64]>],
) -> Result<Witness, CustodyError> {
    if signatures.len() != keys {
        return Err(CustodyError::Signing(format!(
            "{} signature slots for {keys} keys",
            signatures.len()
        )));
    }
    let present = signatures.iter().flatten().count();
    if present < threshold {
        return Err(CustodyError::Signing(format!(
            "{present} signatures, {threshold} required"
        )));
    }
    let control = output
        .control_block(&leaf)
        .ok_or_else(|| CustodyError::Signing("the output has no such leaf".into()))?;
    let mut used = 0;
    let mut stack: Vec<Vec<u8>> = signatures
        .iter()
        .map(|s| match s {
            Some(sig) if used < threshold => {
                used += 1;
                sig.to_vec()
            }
            _ => Vec::new(),
        })
        .collect();
    stack.reverse();
    stack.push(leaf.into_bytes());
    stack.push(control);
    Ok(Witness::from_slice(&stack))
}

fn xonly(signers: &SignerSet) -> Vec<XOnlyPublicKey> {
    signers
        .keys()
        .iter()
        .map(|k| k.x_only_public_key().0)
        .collect()
}

fn vault_tree(signers: &SignerSet, recovery: Option<&Recovery>) -> TapTree {
    let multisig = TapTree::leaf(multi_a(
        Builder::new(),
        &xonly(signers),
        signers.threshold(),
    ));
    match recovery {
        None => multisig,
        Some(r) => TapTree::branch(multisig, TapTree::leaf(recovery_leaf(r))),
    }
}

fn multi_a(builder: Builder, keys: &[XOnlyPublicKey], threshold: usize) -> ScriptBuf {
    let mut b = builder;
    for (i, key) in keys.iter().enumerate() {
        b = b
            .push_x_only_key(key)
            .push_opcode(if i == 0 { OP_CHECKSIG } else { OP_CHECKSIGADD });
    }
    b.push_int(threshold as i64)
        .push_opcode(OP_NUMEQUAL)
        .into_script()
}

fn recovery_leaf(r: &Recovery) -> ScriptBuf {
    let b = Builder::new()
        .push_int(i64::from(r.after_blocks))
        .push_opcode(OP_CSV)
        .push_opcode(OP_VERIFY);
    multi_a(b, &r.keys, r.threshold)
}

/// The leaf committing a deposit address to its recipient: the memo script itself, so
/// the leaf can never run (`OP_RETURN`) and reads the same as a memo.
fn deposit_leaf(recipient: [u8; 20]) -> ScriptBuf {
    crate::deposit::memo_script(recipient)
}

fn check_recovery(r: &Recovery) -> Result<(), CustodyError> {
    let bad = |why: &str| Err(CustodyError::BadRecovery(why.to_owned()));
    if r.keys.is_empty() || r.keys.len() > crate::MAX_SIGNERS {
        return bad("needs 1 to 999 keys");
    }
    let mut sorted = r.keys.clone();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return bad("a key is repeated");
    }
    if r.threshold == 0 || r.threshold > r.keys.len() {
        return bad("threshold must be between 1 and the number of keys");
    }
    if r.after_blocks == 0 {
        return bad("the timelock must be at least one block");
    }
    Ok(())
}
