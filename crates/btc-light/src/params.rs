//! Consensus parameters of each Bitcoin network, as Bitcoin Core defines them.

use crate::{
    header::{BlockHash, Header},
    work::U256,
};

/// A Bitcoin network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    Mainnet,
    Testnet3,
    /// BIP-94 rules.
    Testnet4,
    /// Proof of work only: a signet block's signature lives in its coinbase, not in the
    /// header, so a header chain cannot check it. Anyone able to mine at signet's low
    /// difficulty can extend a header-only view; use signet for testing only.
    Signet,
    Regtest,
}

impl Network {
    pub const ALL: [Network; 5] = [
        Network::Mainnet,
        Network::Testnet3,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ];

    /// The name used in configs and genesis files.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet3 => "testnet3",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// Parses [`Network::name`] (also `bitcoin` and `testnet` as Core spells them).
    pub fn from_name(name: &str) -> Option<Network> {
        match name {
            "mainnet" | "main" | "bitcoin" => Some(Network::Mainnet),
            "testnet3" | "testnet" | "test" => Some(Network::Testnet3),
            "testnet4" => Some(Network::Testnet4),
            "signet" => Some(Network::Signet),
            "regtest" => Some(Network::Regtest),
            _ => None,
        }
    }

    pub fn params(self) -> Params {
        Params::of(self)
    }
}

/// The consensus rules a header chain is validated under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub network: Network,
    /// Easiest allowed target (Core's `powLimit`).
    pub pow_limit: U256,
    /// The same as compact bits: what min-difficulty blocks carry.
    pub pow_limit_bits: u32,
    /// Two weeks, in seconds.
    pub target_timespan: u32,
    /// Ten minutes, in seconds.
    pub target_spacing: u32,
    /// testnet3/testnet4: a block more than twice the spacing after its parent may use the
    /// minimum difficulty.
    pub allow_min_difficulty: bool,
    /// regtest: difficulty never changes.
    pub no_retargeting: bool,
    /// testnet4: retarget from the period's first block's bits, and the timewarp rule.
    pub enforce_bip94: bool,
    /// Heights from which versions below 2, 3 and 4 are refused (BIP-34, BIP-66, BIP-65).
    pub bip34_height: u32,
    pub bip66_height: u32,
    pub bip65_height: u32,
    pub genesis: Header,
}

/// Blocks between retargets.
pub const RETARGET_INTERVAL: u32 = 2016;
/// How far a header's time may be ahead of "now" (Core's `MAX_FUTURE_BLOCK_TIME`).
pub const MAX_FUTURE_BLOCK_TIME: u32 = 2 * 60 * 60;
/// BIP-94: how far before its parent the first block of a period may be dated.
pub const MAX_TIMEWARP: u32 = 600;

const MAINNET_MERKLE: [u8; 32] =
    display_order("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
const TESTNET4_MERKLE: [u8; 32] =
    display_order("7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e");

impl Params {
    pub fn of(network: Network) -> Params {
        let genesis = |time, bits, nonce, merkle_root| Header {
            version: 1,
            prev_hash: BlockHash::ZERO,
            merkle_root,
            time,
            bits,
            nonce,
        };
        let base = Params {
            network,
            pow_limit: U256::MAX >> 32,
            pow_limit_bits: 0x1d00_ffff,
            target_timespan: 14 * 24 * 60 * 60,
            target_spacing: 10 * 60,
            allow_min_difficulty: false,
            no_retargeting: false,
            enforce_bip94: false,
            bip34_height: 227_931,
            bip66_height: 363_725,
            bip65_height: 388_381,
            genesis: genesis(1_231_006_505, 0x1d00_ffff, 2_083_236_893, MAINNET_MERKLE),
        };
        match network {
            Network::Mainnet => base,
            Network::Testnet3 => Params {
                allow_min_difficulty: true,
                bip34_height: 21_111,
                bip66_height: 330_776,
                bip65_height: 581_885,
                genesis: genesis(1_296_688_602, 0x1d00_ffff, 414_098_458, MAINNET_MERKLE),
                ..base
            },
            Network::Testnet4 => Params {
                allow_min_difficulty: true,
                enforce_bip94: true,
                bip34_height: 1,
                bip66_height: 1,
                bip65_height: 1,
                genesis: genesis(1_714_777_860, 0x1d00_ffff, 393_743_547, TESTNET4_MERKLE),
                ..base
            },
            Network::Signet => Params {
                pow_limit: U256::from(0x0377aeu32) << 216,
                pow_limit_bits: 0x1e03_77ae,
                bip34_height: 1,
                bip66_height: 1,
                bip65_height: 1,
                genesis: genesis(1_598_918_400, 0x1e03_77ae, 52_613_770, MAINNET_MERKLE),
                ..base
            },
            Network::Regtest => Params {
                pow_limit: U256::MAX >> 1,
                pow_limit_bits: 0x207f_ffff,
                allow_min_difficulty: true,
                no_retargeting: true,
                bip34_height: 1,
                bip66_height: 1,
                bip65_height: 1,
                genesis: genesis(1_296_688_602, 0x207f_ffff, 2, MAINNET_MERKLE),
                ..base
            },
        }
    }

    /// The lowest version a header at `height` may carry.
    pub fn min_version(&self, height: u32) -> i32 {
        if height >= self.bip65_height {
            4
        } else if height >= self.bip66_height {
            3
        } else if height >= self.bip34_height {
            2
        } else {
            0
        }
    }
}

/// Display hex (byte-reversed) to internal order, at compile time.
const fn display_order(hex: &str) -> [u8; 32] {
    let b = hex.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[31 - i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not lowercase hex"),
    }
}
