//! One relaying step: find where the L2's light client and the Bitcoin node's best chain
//! meet, then send the next batches of the node's headers above that point back to back (the
//! L2's CheckTx admits a relay building on one still in its mempool, so they can all land in
//! one block) and wait until a block commits the last. Reorganisations need nothing special: the node's new branch is sent from
//! the fork point, and the light client switches once that branch has more work.

use std::{
    cell::Cell,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bevm_btc_light::{BlockHash, Header};

use crate::{BitcoinSource, L2Chain, L2Tip, RelayError};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The L2 already holds the node's best tip.
    UpToDate { height: u32 },
    /// Headers `from..=to` of the node's best chain were committed on the L2.
    Relayed {
        from: u32,
        to: u32,
        bitcoin_tip: u32,
    },
}

/// Relays one Bitcoin node's best chain to the L2.
pub struct Syncer<B, L> {
    pub bitcoin: B,
    pub l2: L,
    /// Headers per `RelayHeaders` transaction (at most the genesis' `max_headers_per_tx`).
    pub batch_size: u32,
    /// Batches sent per step before waiting for their commit.
    pub max_in_flight: u32,
    /// How long to wait for a sent batch to be committed before starting over.
    pub commit_timeout: Duration,
    /// How often to look whether it was.
    pub commit_poll: Duration,
    /// Set to stop: a step waiting for a commit gives up at once.
    pub stop: Arc<AtomicBool>,
    /// The L2's lowest best-chain height (its checkpoint), found once.
    floor: Cell<Option<u32>>,
    /// The L2's tip as read while finding the floor, for the first step's ancestor search.
    first_tip: Cell<Option<L2Tip>>,
}

impl<B: BitcoinSource, L: L2Chain> Syncer<B, L> {
    pub fn new(bitcoin: B, l2: L, batch_size: u32, max_in_flight: u32) -> Self {
        Self {
            bitcoin,
            l2,
            batch_size,
            max_in_flight,
            commit_timeout: Duration::from_secs(30),
            commit_poll: Duration::from_millis(100),
            stop: Arc::default(),
            floor: Cell::new(None),
            first_tip: Cell::new(None),
        }
    }

    /// Sends at most `max_in_flight` batches.
    ///
    /// # Errors
    /// A node that cannot be read, a refused relay, no common block, or a batch not
    /// committed in time. Each is safe to retry: the next step starts from what the L2 has
    /// committed, and the light client skips headers it already holds.
    pub fn step(&self) -> Result<Progress, RelayError> {
        let bitcoin_tip = self.bitcoin.best_height()?;
        let floor = self.floor()?;
        // From the node's tip, not the L2's: the L2 may hold a taller, lighter side branch.
        let (base, base_hash) = match self.first_tip_on_node_chain(bitcoin_tip)? {
            Some(found) => found,
            None => self.common_ancestor(bitcoin_tip, floor)?,
        };
        if base == bitcoin_tip {
            return Ok(Progress::UpToDate { height: base });
        }
        let (mut sent_to, mut last) = (base, base_hash);
        for _ in 0..self.max_in_flight.max(1) {
            if sent_to == bitcoin_tip {
                break;
            }
            let to = sent_to
                .saturating_add(self.batch_size.max(1))
                .min(bitcoin_tip);
            let read = Instant::now();
            let headers = self.headers_above(sent_to, last, to)?;
            let submit = Instant::now();
            self.l2.submit(&headers)?;
            tracing::debug!(
                from = sent_to + 1,
                to,
                read_ms = (submit - read).as_millis(),
                submit_ms = submit.elapsed().as_millis(),
                "batch sent"
            );
            (sent_to, last) = (to, headers.last().map_or(last, Header::hash));
        }
        let waiting = Instant::now();
        self.wait_committed(&last)?;
        tracing::debug!(wait_ms = waiting.elapsed().as_millis(), "batches committed");
        Ok(Progress::Relayed {
            from: base + 1,
            to: sent_to,
            bitcoin_tip,
        })
    }

    /// The L2's lowest best-chain height: below its checkpoint it holds nothing, so the
    /// ancestor search must not look there. Found by bisection, once.
    fn floor(&self) -> Result<u32, RelayError> {
        if let Some(floor) = self.floor.get() {
            return Ok(floor);
        }
        let tip = self.l2.tip()?;
        self.first_tip.set(Some(tip));
        let (mut low, mut high) = (0, tip.height); // high is held; is low?
        if !self.l2.has_best_at(low)? {
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                if self.l2.has_best_at(mid)? {
                    high = mid;
                } else {
                    low = mid;
                }
            }
            low = high;
        }
        self.floor.set(Some(low));
        Ok(low)
    }

    /// Once, after a start: the L2's tip when the node's best chain holds it. It is then the
    /// highest block both hold (a higher one on that chain would descend from it, have more
    /// work, and be the L2's tip), and the search below, tens of queries on a long catch-up,
    /// is not needed.
    fn first_tip_on_node_chain(
        &self,
        bitcoin_tip: u32,
    ) -> Result<Option<(u32, BlockHash)>, RelayError> {
        let Some(tip) = self.first_tip.take() else {
            return Ok(None);
        };
        if tip.height > bitcoin_tip || self.bitcoin.hash_at(tip.height)? != tip.hash {
            return Ok(None);
        }
        Ok(Some((tip.height, tip.hash)))
    }

    /// The highest block of the node's best chain that the L2 holds, searching down from
    /// `start` to `floor`: doubling steps, then bisection (above its checkpoint, holding a
    /// block implies holding its ancestors, so "held" is monotone along one chain).
    fn common_ancestor(&self, start: u32, floor: u32) -> Result<(u32, BlockHash), RelayError> {
        let none = RelayError::NoCommonBlock {
            bitcoin_tip: start,
            l2_floor: floor,
        };
        if start < floor {
            return Err(none);
        }
        let held = |h: u32| -> Result<Option<BlockHash>, RelayError> {
            let hash = self.bitcoin.hash_at(h)?;
            Ok(self.l2.contains(&hash)?.then_some(hash))
        };
        let (mut missing, mut step, mut h) = (None, 1u32, start);
        let (mut low, mut low_hash) = loop {
            if let Some(hash) = held(h)? {
                break (h, hash);
            }
            if h == floor {
                return Err(none);
            }
            missing = Some(h);
            h = h.saturating_sub(step).max(floor);
            step = step.saturating_mul(2);
        };
        if let Some(mut high) = missing {
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                match held(mid)? {
                    Some(hash) => (low, low_hash) = (mid, hash),
                    None => high = mid,
                }
            }
        }
        Ok((low, low_hash))
    }

    /// The node's best-chain headers `base+1..=to`, checked to link into one chain (the node
    /// may reorganise while we read; then the caller starts over).
    fn headers_above(
        &self,
        base: u32,
        base_hash: BlockHash,
        to: u32,
    ) -> Result<Vec<Header>, RelayError> {
        let hashes = self.bitcoin.hashes(base + 1, to)?;
        let headers = self.bitcoin.headers(&hashes)?;
        let mut prev = base_hash;
        for (header, height) in headers.iter().zip(base + 1..) {
            if header.prev_hash != prev {
                return Err(RelayError::Bitcoin(format!(
                    "the node's best chain changed at height {height} while reading; starting over"
                )));
            }
            prev = header.hash();
        }
        Ok(headers)
    }

    fn wait_committed(&self, last: &BlockHash) -> Result<(), RelayError> {
        let deadline = Instant::now() + self.commit_timeout;
        loop {
            if self.l2.contains(last)? {
                return Ok(());
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(RelayError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(RelayError::L2(format!(
                    "batch ending at {last} not committed within {:?}; is the chain producing blocks?",
                    self.commit_timeout
                )));
            }
            std::thread::sleep(self.commit_poll);
        }
    }
}
