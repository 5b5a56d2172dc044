//! BIP-341 script trees: leaf and branch hashes, the tweaked output key, control blocks.

use bitcoin::{
    key::{Secp256k1, TapTweak, UntweakedPublicKey, Verification},
    secp256k1::XOnlyPublicKey,
    taproot::{LeafVersion, TapLeafHash, TapNodeHash},
    Address, Network, ScriptBuf,
};

/// A script tree: leaves with their leaf version, and branches of two subtrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapTree {
    Leaf(ScriptBuf, LeafVersion),
    Branch(Box<TapTree>, Box<TapTree>),
}

impl TapTree {
    /// A tapscript (leaf version 0xc0) leaf.
    pub fn leaf(script: ScriptBuf) -> Self {
        TapTree::Leaf(script, LeafVersion::TapScript)
    }

    pub fn branch(left: TapTree, right: TapTree) -> Self {
        TapTree::Branch(Box::new(left), Box::new(right))
    }

    /// The node's hash (a leaf's TapLeaf hash, a branch's sorted TapBranch hash).
    pub fn hash(&self) -> TapNodeHash {
        match self {
            TapTree::Leaf(script, version) => {
                TapNodeHash::from(TapLeafHash::from_script(script, *version))
            }
            TapTree::Branch(l, r) => TapNodeHash::from_node_hashes(l.hash(), r.hash()),
        }
    }

    /// The sibling hashes from `script`'s leaf up to the root, or `None` if no leaf holds it.
    pub fn path(&self, script: &ScriptBuf) -> Option<Vec<TapNodeHash>> {
        match self {
            TapTree::Leaf(s, _) => (s == script).then(Vec::new),
            TapTree::Branch(l, r) => {
                if let Some(mut p) = l.path(script) {
                    p.push(r.hash());
                    Some(p)
                } else {
                    let mut p = r.path(script)?;
                    p.push(l.hash());
                    Some(p)
                }
            }
        }
    }

    fn version_of(&self, script: &ScriptBuf) -> Option<LeafVersion> {
        match self {
            TapTree::Leaf(s, v) => (s == script).then_some(*v),
            TapTree::Branch(l, r) => l.version_of(script).or_else(|| r.version_of(script)),
        }
    }
}

/// A Taproot output: internal key, optional script tree, and the tweaked output key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaprootOutput {
    pub internal_key: XOnlyPublicKey,
    pub tree: Option<TapTree>,
    pub merkle_root: Option<TapNodeHash>,
    pub output_key: XOnlyPublicKey,
    /// Whether the output key's point has odd y (the control block's low bit).
    pub odd: bool,
}

impl TaprootOutput {
    pub fn new<C: Verification>(
        secp: &Secp256k1<C>,
        internal_key: XOnlyPublicKey,
        tree: Option<TapTree>,
    ) -> Self {
        let merkle_root = tree.as_ref().map(TapTree::hash);
        let (tweaked, parity) = UntweakedPublicKey::from(internal_key).tap_tweak(secp, merkle_root);
        Self {
            internal_key,
            tree,
            merkle_root,
            output_key: tweaked.to_x_only_public_key(),
            odd: parity == bitcoin::key::Parity::Odd,
        }
    }

    /// `OP_1 <32-byte output key>`.
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2tr_tweaked(bitcoin::key::TweakedPublicKey::dangerous_assume_tweaked(
            self.output_key,
        ))
    }

    /// The bech32m address on `network`.
    pub fn address(&self, network: Network) -> Address {
        Address::p2tr_tweaked(
            bitcoin::key::TweakedPublicKey::dangerous_assume_tweaked(self.output_key),
            network,
        )
    }

    /// The control block that spends through `script`'s leaf, or `None` if the tree has no
    /// such leaf.
    pub fn control_block(&self, script: &ScriptBuf) -> Option<Vec<u8>> {
        let tree = self.tree.as_ref()?;
        let version = tree.version_of(script)?;
        let path = tree.path(script)?;
        let mut out = Vec::with_capacity(33 + 32 * path.len());
        out.push(version.to_consensus() | u8::from(self.odd));
        out.extend_from_slice(&self.internal_key.serialize());
        for node in path {
            out.extend_from_slice(node.as_ref());
        }
        Some(out)
    }
}
