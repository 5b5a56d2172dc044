//! The btc module: the Bitcoin light client's state inside the app's state trie, fed by
//! RelayHeaders transactions.
//!
//! State keys (all under `btc/`, so the app hash commits to the light client):
//! `btc/h ‖ hash` → stored header (any branch), `btc/b ‖ height (BE)` → best-chain hash,
//! `btc/tip` → tip hash, `btc/side` → side-branch tips, concatenated.

use std::{collections::BTreeMap, sync::Arc};

use bevm_btc_light::{
    BlockHash, Chain, ChangeSet, Header, HeaderError, HeaderStore, Network, Params, StorageError,
    StoredHeader, SubmitError, U256,
};
use bevm_evm::bitcoin::BitcoinReader;
use bevm_primitives::genesis::BtcGenesis;
use bevm_store::{StateChange, Store};

use crate::{
    mempool::{code, unreadable_state, CheckError},
    AppError,
};

const HEADER: &[u8] = b"btc/h";
const BEST: &[u8] = b"btc/b";
const TIP: &[u8] = b"btc/tip";
const SIDE: &[u8] = b"btc/side";

/// State changes of the block being finalized, not yet committed: key → new value.
pub type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The light client's rules, from genesis.
#[derive(Debug, Clone)]
pub struct BtcModule {
    pub params: Params,
    pub horizon: u32,
    pub max_headers: usize,
}

impl BtcModule {
    /// # Errors
    /// An unknown network name.
    pub fn from_genesis(g: &BtcGenesis) -> Result<Self, AppError> {
        let network = Network::from_name(&g.network).ok_or_else(|| {
            AppError::BtcGenesis(format!(
                "unknown network {:?}: use mainnet, testnet3, testnet4, signet or regtest",
                g.network
            ))
        })?;
        Ok(Self {
            params: network.params(),
            horizon: g.pruning_horizon,
            max_headers: g.max_headers_per_tx as usize,
        })
    }

    /// The state the light client starts with: its checkpoint (or the network's genesis block)
    /// as the only header.
    ///
    /// # Errors
    /// A checkpoint that does not parse or does not validate.
    pub fn genesis_state(&self, g: &BtcGenesis) -> Result<Vec<StateChange>, AppError> {
        let bad = |why: String| AppError::BtcGenesis(why);
        let root = match &g.checkpoint {
            None => {
                let genesis = self.params.genesis;
                let work = bevm_btc_light::work::target_from_bits(genesis.bits)
                    .map(bevm_btc_light::work::work_from_target)
                    .unwrap_or(U256::from(1u8));
                StoredHeader::root(&self.params, genesis, 0, work, &[])
            }
            Some(cp) => {
                let bytes = hex::decode(cp.header.trim_start_matches("0x"))
                    .map_err(|e| bad(format!("checkpoint header hex: {e}")))?;
                let header = Header::decode(&bytes).map_err(|e| bad(e.to_string()))?;
                let work = U256::from_str_radix(cp.chain_work.trim_start_matches("0x"), 16)
                    .map_err(|e| bad(format!("checkpoint chain_work hex: {e}")))?;
                StoredHeader::root(&self.params, header, cp.height, work, &cp.prev_times)
            }
        }
        .map_err(|e| bad(e.to_string()))?;
        let empty = Overlay::new();
        Ok(state_writes(
            &BtcState::new(None, &empty),
            &Chain::<BtcState<'_>>::init(root),
        )?)
    }

    /// Applies a RelayHeaders on top of `store` + `overlay` (the block's earlier changes) at
    /// time `now`: the state entries it writes, or why it is refused.
    ///
    /// # Errors
    /// An invalid header ([`code::BTC`]), nothing new ([`code::BTC_KNOWN`]).
    pub fn relay_headers(
        &self,
        raw_headers: &[[u8; 80]],
        store: &Store,
        overlay: &Overlay,
        now: u64,
    ) -> Result<Vec<StateChange>, CheckError> {
        let refuse = |code, message: String| CheckError { code, message };
        let headers: Vec<Header> = raw_headers
            .iter()
            .enumerate()
            .map(|(index, raw)| Header::decode(raw).map_err(|error| SubmitError { index, error }))
            .collect::<Result<_, _>>()
            .map_err(|e| refuse(code::BTC, e.to_string()))?;
        let view = BtcState::new(Some(store), overlay);
        let now = u32::try_from(now).unwrap_or(u32::MAX);
        let changes = Chain::new(&self.params, &view, self.horizon)
            .submit(&headers, now)
            .map_err(|e| match e.error {
                HeaderError::Storage(message) => unreadable_state(message),
                _ => refuse(code::BTC, e.to_string()),
            })?;
        if changes.is_empty() {
            return Err(refuse(
                code::BTC_KNOWN,
                "no new headers: all already known".into(),
            ));
        }
        state_writes(&view, &changes).map_err(unreadable_state)
    }
}

/// An owned view (committed state plus a block's relays) for the EVM precompile.
pub struct BtcSnapshot {
    store: Store,
    overlay: Overlay,
}

impl HeaderStore for BtcSnapshot {
    fn header(&self, hash: &BlockHash) -> Result<Option<StoredHeader>, StorageError> {
        BtcState::new(Some(&self.store), &self.overlay).header(hash)
    }

    fn best_hash(&self, height: u32) -> Result<Option<BlockHash>, StorageError> {
        BtcState::new(Some(&self.store), &self.overlay).best_hash(height)
    }

    fn tip(&self) -> Result<Option<StoredHeader>, StorageError> {
        BtcState::new(Some(&self.store), &self.overlay).tip()
    }

    fn side_tips(&self) -> Result<Vec<BlockHash>, StorageError> {
        BtcState::new(Some(&self.store), &self.overlay).side_tips()
    }
}

impl BtcModule {
    /// The precompile's reader over the committed state plus `overlay` (a block's relays).
    pub fn reader(&self, store: &Store, overlay: Overlay) -> Arc<BitcoinReader> {
        Arc::new(BitcoinReader {
            params: self.params.clone(),
            horizon: self.horizon,
            store: Arc::new(BtcSnapshot {
                store: store.clone(),
                overlay,
            }),
        })
    }
}

/// The light client's view of the app state: the block's uncommitted changes over the
/// committed state.
pub struct BtcState<'a> {
    store: Option<&'a Store>,
    overlay: &'a Overlay,
}

impl<'a> BtcState<'a> {
    pub fn new(store: Option<&'a Store>, overlay: &'a Overlay) -> Self {
        Self { store, overlay }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(v) = self.overlay.get(key) {
            return Ok(v.clone());
        }
        match self.store {
            Some(store) => store
                .get_latest(key)
                .map_err(|e| StorageError(e.to_string())),
            None => Ok(None),
        }
    }
}

fn key(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    [prefix, suffix].concat()
}

fn hash_from(bytes: &[u8]) -> Result<BlockHash, StorageError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StorageError("corrupt block hash".into()))?;
    Ok(BlockHash(arr))
}

impl HeaderStore for BtcState<'_> {
    fn header(&self, hash: &BlockHash) -> Result<Option<StoredHeader>, StorageError> {
        self.get(&key(HEADER, &hash.0))?
            .map(|b| StoredHeader::decode(&b).map_err(|e| StorageError(e.to_string())))
            .transpose()
    }

    fn best_hash(&self, height: u32) -> Result<Option<BlockHash>, StorageError> {
        self.get(&key(BEST, &height.to_be_bytes()))?
            .map(|b| hash_from(&b))
            .transpose()
    }

    fn tip(&self) -> Result<Option<StoredHeader>, StorageError> {
        match self.get(TIP)? {
            Some(b) => self.header(&hash_from(&b)?),
            None => Ok(None),
        }
    }

    fn side_tips(&self) -> Result<Vec<BlockHash>, StorageError> {
        let Some(bytes) = self.get(SIDE)? else {
            return Ok(Vec::new());
        };
        if bytes.len() % 32 != 0 {
            return Err(StorageError("corrupt side tips".into()));
        }
        bytes.chunks_exact(32).map(hash_from).collect()
    }
}

/// The state entries a change set writes.
fn state_writes(view: &BtcState<'_>, changes: &ChangeSet) -> Result<Vec<StateChange>, HeaderError> {
    let mut out = Vec::new();
    for h in &changes.added {
        out.push((key(HEADER, &h.hash.0), Some(h.encode().to_vec())));
    }
    let tip_height = match changes.tip {
        Some(tip) => match changes.added.iter().find(|h| h.hash == tip) {
            Some(h) => h.height,
            None => {
                view.header(&tip)?
                    .ok_or_else(|| HeaderError::Storage("new tip is not stored".into()))?
                    .height
            }
        },
        None => {
            view.tip()?
                .ok_or_else(|| HeaderError::Storage("no tip".into()))?
                .height
        }
    };
    for (height, hash) in changes.best_index_writes(tip_height) {
        out.push((key(BEST, &height.to_be_bytes()), hash.map(|h| h.0.to_vec())));
    }
    if let Some(tip) = changes.tip {
        out.push((TIP.to_vec(), Some(tip.0.to_vec())));
    }
    if let Some(side) = &changes.side_tips {
        out.push((SIDE.to_vec(), Some(side.iter().flat_map(|h| h.0).collect())));
    }
    for hash in &changes.pruned {
        out.push((key(HEADER, &hash.0), None));
    }
    Ok(out)
}
