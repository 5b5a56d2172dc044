//! The sync logic against an in-memory Bitcoin node and the real light client over a
//! `MemStore`. The same flows run against btcd and cometbft in the e2e tests.

use std::{cell::RefCell, time::Duration};

use bevm_btc_light::{
    work::{target_from_bits, work_from_target},
    BlockHash, Chain, Header, MemStore, Network, Params, StoredHeader,
};
use bevm_testkit::btc::{mine_regtest, regtest_from_genesis};

use crate::{BitcoinSource, L2Chain, L2Tip, Progress, RelayError, Syncer};

/// A Bitcoin node whose best chain the test replaces at will.
struct FakeBitcoin {
    best: RefCell<Vec<Header>>, // heights 1..; genesis implied
    /// Replaces the best chain when a batch read reaches this height (a reorg while reading).
    switch: RefCell<Option<(u32, Vec<Header>)>>,
    /// Chains replaced by a switch: still served by hash, as a real node does.
    stale: RefCell<Vec<Header>>,
}

impl FakeBitcoin {
    fn new(best: Vec<Header>) -> Self {
        Self {
            best: RefCell::new(best),
            switch: RefCell::new(None),
            stale: RefCell::new(Vec::new()),
        }
    }
}

impl BitcoinSource for FakeBitcoin {
    fn best_height(&self) -> Result<u32, RelayError> {
        Ok(self.best.borrow().len() as u32)
    }

    fn hashes(&self, from: u32, to: u32) -> Result<Vec<BlockHash>, RelayError> {
        (from..=to)
            .map(|height| {
                let mut switch = self.switch.borrow_mut();
                if let Some((at, chain)) = switch.as_mut() {
                    if height >= *at {
                        let new = std::mem::take(chain);
                        let old = std::mem::replace(&mut *self.best.borrow_mut(), new);
                        self.stale.borrow_mut().extend(old);
                        *switch = None;
                    }
                }
                drop(switch);
                self.hash_at(height)
            })
            .collect()
    }

    fn hash_at(&self, height: u32) -> Result<BlockHash, RelayError> {
        match height {
            0 => Ok(Network::Regtest.params().genesis.hash()),
            h => self
                .best
                .borrow()
                .get(h as usize - 1)
                .map(Header::hash)
                .ok_or_else(|| RelayError::Bitcoin(format!("no block at {h}"))),
        }
    }

    fn header(&self, hash: &BlockHash) -> Result<Header, RelayError> {
        // Like a real node, it serves any block it has seen, best chain or not.
        let known = self
            .best
            .borrow()
            .iter()
            .find(|h| h.hash() == *hash)
            .copied();
        let stale = self
            .stale
            .borrow()
            .iter()
            .find(|h| h.hash() == *hash)
            .copied();
        known
            .or(stale)
            .ok_or_else(|| RelayError::Bitcoin(format!("unknown block {hash}")))
    }
}

/// The L2: the real light client over an in-memory store; a relay applies at once.
struct MemL2 {
    params: Params,
    store: RefCell<MemStore>,
    submissions: RefCell<usize>,
    /// `contains` queries: the ancestor search's cost.
    probes: RefCell<usize>,
}

const HORIZON: u32 = 2016;

impl MemL2 {
    fn new() -> Self {
        Self::from_checkpoint(Network::Regtest.params().genesis, 0)
    }

    /// A light client that starts at `header`, at `height`, and knows nothing below it.
    fn from_checkpoint(header: Header, height: u32) -> Self {
        let params = Network::Regtest.params();
        let work = work_from_target(target_from_bits(header.bits).expect("bits"))
            * bevm_btc_light::U256::from(height + 1);
        let root = StoredHeader::root(&params, header, height, work, &[]).expect("root");
        let mut store = MemStore::default();
        store.apply(&Chain::<MemStore>::init(root));
        Self {
            params,
            store: RefCell::new(store),
            submissions: RefCell::new(0),
            probes: RefCell::new(0),
        }
    }
}

impl L2Chain for MemL2 {
    fn tip(&self) -> Result<L2Tip, RelayError> {
        let store = self.store.borrow();
        let tip = Chain::new(&self.params, &*store, HORIZON)
            .tip()
            .map_err(|e| RelayError::L2(e.to_string()))?
            .ok_or_else(|| RelayError::L2("no tip".into()))?;
        Ok(L2Tip {
            height: tip.height,
            hash: tip.hash,
        })
    }

    fn contains(&self, hash: &BlockHash) -> Result<bool, RelayError> {
        *self.probes.borrow_mut() += 1;
        let store = self.store.borrow();
        let chain = Chain::new(&self.params, &*store, HORIZON);
        Ok(chain
            .header(hash)
            .map_err(|e| RelayError::L2(e.to_string()))?
            .is_some())
    }

    fn submit(&self, headers: &[Header]) -> Result<(), RelayError> {
        *self.submissions.borrow_mut() += 1;
        let changes = {
            let store = self.store.borrow();
            Chain::new(&self.params, &*store, HORIZON)
                .submit(headers, u32::MAX)
                .map_err(|e| RelayError::Refused(e.to_string()))?
        };
        // Like CometL2: a relay of known headers only is not an error.
        self.store.borrow_mut().apply(&changes);
        Ok(())
    }

    fn has_best_at(&self, height: u32) -> Result<bool, RelayError> {
        let store = self.store.borrow();
        let chain = Chain::new(&self.params, &*store, HORIZON);
        Ok(chain
            .header_at(height)
            .map_err(|e| RelayError::L2(e.to_string()))?
            .is_some())
    }
}

/// Branch b of the reorg tests: `a` (80 blocks) up to height 37, then 46 blocks of its own,
/// 3 more than `a`.
fn heavier_branch(a: &[Header]) -> Vec<Header> {
    let fork = &a[36];
    a[..37]
        .iter()
        .copied()
        .chain(mine_regtest(fork.hash(), fork.time, 46, 9))
        .collect()
}

fn relayed(from: u32, to: u32, bitcoin_tip: u32) -> Progress {
    Progress::Relayed {
        from,
        to,
        bitcoin_tip,
    }
}

fn syncer(best: Vec<Header>, batch: u32) -> Syncer<FakeBitcoin, MemL2> {
    with_l2(best, MemL2::new(), batch)
}

fn with_l2(best: Vec<Header>, l2: MemL2, batch: u32) -> Syncer<FakeBitcoin, MemL2> {
    let mut s = Syncer::new(FakeBitcoin::new(best), l2, batch, 1);
    s.commit_timeout = Duration::from_millis(50);
    s.commit_poll = Duration::from_millis(1);
    s
}

fn sync_fully(s: &Syncer<FakeBitcoin, MemL2>) -> Vec<Progress> {
    let mut steps = Vec::new();
    loop {
        let p = s.step().expect("step");
        steps.push(p);
        if let Progress::UpToDate { .. } = p {
            return steps;
        }
    }
}

#[test]
fn catches_up_in_batches_and_then_reports_up_to_date() {
    let chain = regtest_from_genesis(250);
    let s = syncer(chain.clone(), 100);
    let steps = sync_fully(&s);
    let relayed = |from, to| Progress::Relayed {
        from,
        to,
        bitcoin_tip: 250,
    };
    assert_eq!(
        steps,
        [
            relayed(1, 100),
            relayed(101, 200),
            relayed(201, 250),
            Progress::UpToDate { height: 250 }
        ]
    );
    assert_eq!(s.l2.tip().expect("tip").hash, chain[249].hash());
    // New blocks are picked up from where the L2 is.
    let more = mine_regtest(chain[249].hash(), chain[249].time, 5, 0);
    s.bitcoin.best.borrow_mut().extend(more.iter().copied());
    assert_eq!(
        s.step().expect("step"),
        Progress::Relayed {
            from: 251,
            to: 255,
            bitcoin_tip: 255
        }
    );
}

#[test]
fn batches_in_flight_are_sent_back_to_back_in_one_step() {
    let chain = regtest_from_genesis(250);
    let mut s = syncer(chain.clone(), 100);
    s.max_in_flight = 2;
    let steps = sync_fully(&s);
    assert_eq!(
        steps[..2],
        [
            Progress::Relayed {
                from: 1,
                to: 200,
                bitcoin_tip: 250
            },
            Progress::Relayed {
                from: 201,
                to: 250,
                bitcoin_tip: 250
            }
        ]
    );
    assert_eq!(*s.l2.submissions.borrow(), 3);
    assert_eq!(s.l2.tip().expect("tip").hash, chain[249].hash());
}

#[test]
fn a_reorg_is_relayed_from_the_fork_point_until_the_heavier_branch_wins() {
    let a = regtest_from_genesis(80);
    let s = syncer(a.clone(), 1000);
    sync_fully(&s);
    // The node switches to a branch forking at height 37 that ends 3 blocks higher.
    let b = heavier_branch(&a);
    *s.bitcoin.best.borrow_mut() = b.clone();
    let mut s = s;
    s.batch_size = 20;
    assert_eq!(
        s.step().expect("step"),
        Progress::Relayed {
            from: 38,
            to: 57,
            bitcoin_tip: 83
        },
        "sent from the fork point"
    );
    // Branch b is kept but still lighter: a stays best until b overtakes it.
    assert_eq!(s.l2.tip().expect("tip").hash, a[79].hash());
    assert!(s.l2.contains(&b[56].hash()).expect("read"));
    sync_fully(&s);
    let tip = s.l2.tip().expect("tip");
    assert_eq!((tip.height, tip.hash), (83, b[82].hash()));
    assert!(s.l2.contains(&a[79].hash()).expect("read"), "a is kept");
}

#[test]
fn headers_the_l2_already_holds_are_not_sent_again() {
    let chain = regtest_from_genesis(300);
    let s = syncer(chain.clone(), 1000);
    s.l2.submit(&chain[..200]).expect("relay");
    let steps = sync_fully(&s);
    assert_eq!(
        steps[0],
        Progress::Relayed {
            from: 201,
            to: 300,
            bitcoin_tip: 300
        }
    );
    assert_eq!(*s.l2.submissions.borrow(), 2);
}

#[test]
fn a_restarted_relayer_continues_from_the_l2_tip_without_searching() {
    let chain = regtest_from_genesis(600);
    let l2 = MemL2::new();
    l2.submit(&chain[..450])
        .expect("relayed before the restart");
    let s = with_l2(chain, l2, 1000);
    assert_eq!(s.step().expect("step"), relayed(451, 600, 600));
    // One probe: the wait for the batch's commit. The search (from 600 down to 450 and
    // back up by bisection) would have taken about fifteen more.
    assert_eq!(
        *s.l2.probes.borrow(),
        1,
        "the L2 tip is on the node's chain"
    );
}

#[test]
fn a_restarted_relayer_whose_l2_tip_was_abandoned_starts_at_the_fork() {
    let a = regtest_from_genesis(80);
    let l2 = MemL2::new();
    l2.submit(&a).expect("branch a relayed before the restart");
    // Meanwhile the node moved to a heavier branch forking at height 37.
    let b = heavier_branch(&a);
    let s = with_l2(b, l2, 1000);
    assert_eq!(s.step().expect("step"), relayed(38, 83, 83));
}

#[test]
fn the_search_for_the_common_block_stops_at_the_l2s_checkpoint() {
    // The L2 starts at height 20 and holds a up to 30; the node forked right above 20. The
    // doubling search from 36 probes 36, 35, 33, 29, 21, then would jump to 5, below
    // anything the L2 holds, and never find the fork point.
    let a = regtest_from_genesis(30);
    let l2 = MemL2::from_checkpoint(a[19], 20);
    l2.submit(&a[20..]).expect("a above the checkpoint");
    let b: Vec<Header> = a[..20]
        .iter()
        .copied()
        .chain(mine_regtest(a[19].hash(), a[19].time, 16, 6))
        .collect();
    let s = with_l2(b.clone(), l2, 100);
    assert_eq!(
        s.step().expect("step"),
        Progress::Relayed {
            from: 21,
            to: 36,
            bitcoin_tip: 36
        }
    );
    assert_eq!(s.l2.tip().expect("tip").hash, b[35].hash());
    // A node still below the checkpoint has nothing in common with the L2 yet.
    let behind = with_l2(a[..15].to_vec(), MemL2::from_checkpoint(a[19], 20), 100);
    assert_eq!(
        behind.step(),
        Err(RelayError::NoCommonBlock {
            bitcoin_tip: 15,
            l2_floor: 20
        })
    );
}

#[test]
fn a_node_on_another_chain_has_no_common_block() {
    let other_genesis = regtest_from_genesis(1)[0];
    // Every block of this node, including its height 0, is unknown to the L2.
    struct Elsewhere(Vec<Header>, Header);
    impl BitcoinSource for Elsewhere {
        fn best_height(&self) -> Result<u32, RelayError> {
            Ok(self.0.len() as u32)
        }
        fn hash_at(&self, h: u32) -> Result<BlockHash, RelayError> {
            Ok(if h == 0 {
                self.1.hash()
            } else {
                self.0[h as usize - 1].hash()
            })
        }
        fn header(&self, _: &BlockHash) -> Result<Header, RelayError> {
            unreachable!("no header is fetched without a common block")
        }
    }
    let chain = mine_regtest(other_genesis.hash(), other_genesis.time, 40, 3);
    let s = Syncer::new(Elsewhere(chain, other_genesis), MemL2::new(), 10, 1);
    assert_eq!(
        s.step(),
        Err(RelayError::NoCommonBlock {
            bitcoin_tip: 40,
            l2_floor: 0
        })
    );
}

#[test]
fn a_reorg_while_reading_starts_over_without_sending_a_broken_batch() {
    let a = regtest_from_genesis(30);
    let s = syncer(a.clone(), 1000);
    let b = mine_regtest(a[9].hash(), a[9].time, 25, 4);
    let b: Vec<Header> = a[..10].iter().copied().chain(b).collect();
    // The node switches to b (forked at 10) when the read has reached height 15.
    *s.bitcoin.switch.borrow_mut() = Some((15, b.clone()));
    let err = s.step().expect_err("the batch does not link");
    assert!(
        matches!(err, RelayError::Bitcoin(ref m) if m.contains("changed")),
        "{err}"
    );
    assert_eq!(*s.l2.submissions.borrow(), 0, "nothing sent");
    sync_fully(&s);
    assert_eq!(s.l2.tip().expect("tip").hash, b[34].hash());
}

#[test]
fn a_refused_relay_is_reported_with_the_l2s_reason() {
    let mut chain = regtest_from_genesis(5);
    chain[4].bits = 0x1d00_ffff; // not regtest's difficulty: the light client refuses it
    let s = syncer(chain, 1000);
    let err = s.step().expect_err("refused");
    assert!(
        matches!(err, RelayError::Refused(ref m) if m.contains("bits")),
        "{err}"
    );
    assert_eq!(s.l2.tip().expect("tip").height, 0, "all or nothing");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 64,
        ..bevm_primitives::testing::proptest_config("relayer-sync")
    })]

    /// Whatever the L2 already holds (a prefix of another branch) and however the relayer
    /// batches, syncing never sends a refused relay and ends holding the node's tip, with the
    /// most-work branch as the L2's best.
    #[test]
    fn sync_always_reaches_the_nodes_chain(
        a_len in 1usize..50,
        fork in 0usize..50,
        b_extra in 1usize..50,
        held in 0usize..50,
        batch in 1u32..25,
        in_flight in 1u32..4,
    ) {
        let a = regtest_from_genesis(a_len);
        let fork = fork.min(a_len);
        let held = held.min(a_len);
        let parent = if fork == 0 {
            Network::Regtest.params().genesis
        } else {
            a[fork - 1]
        };
        let b: Vec<Header> = a[..fork]
            .iter()
            .copied()
            .chain(mine_regtest(parent.hash(), parent.time, b_extra, 5))
            .collect();
        let mut s = syncer(b.clone(), batch);
        s.max_in_flight = in_flight;
        if held > 0 {
            s.l2.submit(&a[..held]).expect("the L2 holds a prefix of a");
        }
        sync_fully(&s);
        let b_tip = b[b.len() - 1].hash();
        proptest::prop_assert!(s.l2.contains(&b_tip).expect("read"));
        let tip = s.l2.tip().expect("tip");
        // Equal work keeps the first-seen branch.
        let expected = if b.len() > held { b_tip } else { a[held - 1].hash() };
        proptest::prop_assert_eq!(tip.hash, expected);
    }
}
