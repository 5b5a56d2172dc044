//! Tests against real headers, tampered copies and mined regtest chains.

extern crate std;

use alloc::vec::Vec;
use std::format;

use proptest::prelude::*;

use crate::{
    params::RETARGET_INTERVAL,
    rules::{expected_bits, StoredHeader},
    work::{target_from_bits, work_from_target, U256},
    BlockHash, Chain, Header, HeaderError, MemStore, Network, Params,
};

const MAINNET_0: &[u8] = include_bytes!("../testdata/mainnet_0-10236.bin");
const MAINNET_822528: &[u8] = include_bytes!("../testdata/mainnet_822528-830592.bin");
const TESTNET3_0: &[u8] = include_bytes!("../testdata/testnet3_0-35141.bin");
const BOUNDARIES: &str = include_str!("../testdata/mainnet_retarget_boundaries_0-832608.csv");
const STALE: &str = include_str!("../testdata/mainnet_stale_822941-829613.csv");

/// A clock far enough ahead that the future-time rule never triggers on historical data.
const LATER: u32 = u32::MAX - 10_000;
const HORIZON: u32 = 10_000;

fn headers(raw: &[u8]) -> Vec<Header> {
    raw.chunks_exact(80)
        .map(|c| Header::decode(c).expect("80 bytes"))
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn from_genesis(params: &Params) -> MemStore {
    let genesis = params.genesis;
    let root = StoredHeader::root(
        params,
        genesis,
        0,
        work_from_target(target_from_bits(genesis.bits).expect("bits")),
        &[],
    )
    .expect("genesis");
    let mut store = MemStore::default();
    store.apply(&Chain::<MemStore>::init(root));
    store
}

/// Submits in batches, applying each change set.
fn submit_all(params: &Params, store: &mut MemStore, headers: &[Header], batch: usize) {
    for chunk in headers.chunks(batch) {
        let changes = Chain::new(params, &*store, HORIZON)
            .submit(chunk, LATER)
            .expect("valid headers");
        store.apply(&changes);
    }
}

fn tip(store: &MemStore) -> StoredHeader {
    Chain::new(&Network::Regtest.params(), store, HORIZON)
        .tip()
        .expect("read")
        .expect("tip")
}

#[test]
fn genesis_hashes_match_each_network() {
    let known = [
        (
            Network::Mainnet,
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        ),
        (
            Network::Testnet3,
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
        ),
        (
            Network::Testnet4,
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
        ),
        (
            Network::Signet,
            "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
        ),
        (
            Network::Regtest,
            "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        ),
    ];
    for (network, hash) in known {
        assert_eq!(
            format!("{}", network.params().genesis.hash()),
            hash,
            "{network:?}"
        );
    }
    // And the data file starts with the same genesis, byte for byte.
    assert_eq!(headers(MAINNET_0)[0], Network::Mainnet.params().genesis);
    assert_eq!(headers(TESTNET3_0)[0], Network::Testnet3.params().genesis);
}

#[test]
fn compact_bits_round_trip_like_core() {
    for bits in [
        0x1d00ffffu32,
        0x1b0404cb,
        0x17034219,
        0x207fffff,
        0x1e0377ae,
        0x03123456,
    ] {
        let target = target_from_bits(bits).expect("valid");
        assert_eq!(crate::work::bits_from_target(target), bits, "{bits:#x}");
    }
    // Core's SetCompact flags: negative and overflow.
    assert_eq!(target_from_bits(0x04923456), None);
    assert_eq!(target_from_bits(0xff123456), None);
    // Non-canonical encodings normalise.
    let t = target_from_bits(0x04000080).expect("valid");
    assert_eq!(crate::work::bits_from_target(t), 0x03008000);
    // Genesis work is 0x100010001 (Core's chainwork of block 0).
    assert_eq!(
        work_from_target(target_from_bits(0x1d00ffff).expect("valid")),
        U256::from(0x1_0001_0001u64)
    );
}

#[test]
fn mainnet_from_genesis_validates_and_matches_chainwork() {
    let params = Network::Mainnet.params();
    let all = headers(MAINNET_0);
    let mut store = from_genesis(&params);
    submit_all(&params, &mut store, &all[1..], 2000);
    let tip = tip(&store);
    assert_eq!(tip.height, 10236);
    assert_eq!(tip.hash, all[10236].hash());
    // Every period so far had bits 0x1d00ffff: 10,237 blocks of 0x100010001 work each.
    assert_eq!(
        tip.chain_work,
        U256::from(0x1_0001_0001u64) * U256::from(10_237u64)
    );
}

/// The boundary rows (first and last header of every period) with their chainwork.
fn boundaries() -> Vec<(u32, Header, U256)> {
    BOUNDARIES
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let height = f[0].parse().expect("height");
            let header = Header::decode(&hex(f[3])).expect("header");
            assert_eq!(format!("{}", header.hash()), f[1]);
            let work = U256::from_be_slice(&hex(f[4]));
            (height, header, work)
        })
        .collect()
}

#[test]
fn every_mainnet_retarget_recomputes_exactly() {
    let params = Network::Mainnet.params();
    let rows = boundaries();
    let by_height: std::collections::BTreeMap<u32, Header> =
        rows.iter().map(|(h, hd, _)| (*h, *hd)).collect();
    let mut checked = 0;
    for (height, header, _) in &rows {
        if *height == 0 || !height.is_multiple_of(RETARGET_INTERVAL) {
            continue;
        }
        let first = by_height[&(height - RETARGET_INTERVAL)];
        let last = by_height[&(height - 1)];
        let mut parent =
            StoredHeader::root(&params, first, height - RETARGET_INTERVAL, U256::MAX, &[])
                .expect("period start");
        parent.header = last;
        parent.height = height - 1;
        assert_eq!(
            expected_bits(&params, &parent, header),
            header.bits,
            "height {height}"
        );
        checked += 1;
    }
    assert_eq!(checked, 413);
}

/// Mainnet from a checkpoint at 824544 through three retargets with real difficulty changes;
/// the chain work at the end matches Core's.
#[test]
fn mainnet_from_checkpoint_through_retargets() {
    let params = Network::Mainnet.params();
    let run = headers(MAINNET_822528);
    let start = 824_544u32;
    let i = (start - 822_528) as usize;
    let work_at = |h: u32| {
        boundaries()
            .into_iter()
            .find(|(height, ..)| *height == h)
            .expect("row")
            .2
    };
    let prev_times: Vec<u32> = run[i - 10..i].iter().map(|h| h.time).collect();
    let root = StoredHeader::root(&params, run[i], start, work_at(start), &prev_times)
        .expect("checkpoint");
    let mut store = MemStore::default();
    store.apply(&Chain::<MemStore>::init(root));
    submit_all(&params, &mut store, &run[i + 1..], 1000);
    let tip = tip(&store);
    assert_eq!(tip.height, 830_592);
    assert_eq!(
        format!("{}", tip.hash),
        "00000000000000000000506183a8b30fa3224b85e82a70416e1d594bdb632fdb"
    );
    assert_eq!(tip.chain_work, work_at(830_592));
}

#[test]
fn testnet3_min_difficulty_blocks_validate() {
    let params = Network::Testnet3.params();
    let all = headers(TESTNET3_0);
    let mut store = from_genesis(&params);
    submit_all(&params, &mut store, &all[1..], 2000);
    assert_eq!(tip(&store).height, 35_141);
    let min_difficulty = all.iter().filter(|h| h.bits == 0x1d00ffff).count();
    assert!(
        min_difficulty > 1000,
        "the run exercises the 20-minute rule"
    );
    // The same headers under mainnet rules fail at the first min-difficulty exception.
    let mainnet = Params {
        genesis: params.genesis,
        ..Network::Mainnet.params()
    };
    let mut store = from_genesis(&mainnet);
    let err = all[1..]
        .chunks(2000)
        .find_map(
            |chunk| match Chain::new(&mainnet, &store, HORIZON).submit(chunk, LATER) {
                Ok(c) => {
                    store.apply(&c);
                    None
                }
                Err(e) => Some(e),
            },
        )
        .expect("mainnet rules refuse testnet3");
    assert!(
        matches!(
            err.error,
            HeaderError::WrongBits { .. } | HeaderError::BadTarget(_)
        ),
        "{err}"
    );
}

#[test]
fn real_stale_blocks_become_side_branches() {
    let params = Network::Mainnet.params();
    let run = headers(MAINNET_822528);
    let root = StoredHeader::root(&params, run[0], 822_528, U256::from(1u8) << 90, &[])
        .expect("checkpoint");
    let mut store = MemStore::default();
    store.apply(&Chain::<MemStore>::init(root));
    submit_all(&params, &mut store, &run[1..], 2000);
    let best_tip = tip(&store);

    let mut sides = 0;
    for line in STALE.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let height: u32 = f[0].parse().expect("height");
        let header = Header::decode(&hex(f[2])).expect("header");
        assert_eq!(format!("{}", header.hash()), f[1]);
        if !(822_529..=830_592).contains(&height) {
            continue;
        }
        let chain = Chain::new(&params, &store, HORIZON);
        let changes = chain
            .submit(&[header], LATER)
            .expect("a stale block is a valid header");
        assert!(
            changes.tip.is_none() && changes.best.is_none(),
            "equal work never reorgs"
        );
        store.apply(&changes);
        let chain = Chain::new(&params, &store, HORIZON);
        assert_eq!(chain.confirmations(&header.hash()).expect("read"), 0);
        assert_eq!(
            chain
                .header(&header.hash())
                .expect("read")
                .map(|h| h.height),
            Some(height)
        );
        sides += 1;
    }
    assert!(sides >= 5, "{sides} stale blocks in range");
    assert_eq!(tip(&store), best_tip);
}

fn expect_error(params: &Params, store: &MemStore, header: Header) -> HeaderError {
    Chain::new(params, store, HORIZON)
        .submit(&[header], LATER)
        .expect_err("tampered header refused")
        .error
}

#[test]
fn tampered_mainnet_headers_are_refused_with_their_reason() {
    let params = Network::Mainnet.params();
    let all = headers(MAINNET_0);
    let mut store = from_genesis(&params);
    submit_all(&params, &mut store, &all[1..100], 100);
    let next = all[100];

    let mut h = next;
    h.bits = 0x1c00ffff;
    assert_eq!(
        expect_error(&params, &store, h),
        HeaderError::WrongBits {
            expected: 0x1d00ffff,
            got: 0x1c00ffff
        }
    );
    let mut h = next;
    h.nonce ^= 1;
    assert!(matches!(
        expect_error(&params, &store, h),
        HeaderError::InsufficientWork(_)
    ));
    let mut h = next;
    h.prev_hash.0[0] ^= 1;
    assert!(matches!(
        expect_error(&params, &store, h),
        HeaderError::UnknownParent(_)
    ));
    // Nothing was applied by the refusals: the real header still connects.
    let changes = Chain::new(&params, &store, HORIZON)
        .submit(&[next], LATER)
        .expect("valid");
    assert_eq!(changes.added.len(), 1);
    // Truncated input never becomes a header.
    assert_eq!(
        Header::decode(&next.encode()[..79]),
        Err(HeaderError::BadLength(79))
    );
}

/// Mines a regtest-difficulty child of `parent` (about two hashes per header).
fn mine(params: &Params, parent: &StoredHeader, time: u32, version: i32, salt: u32) -> Header {
    let mut h = Header {
        version,
        prev_hash: parent.hash,
        merkle_root: [salt as u8; 32],
        time,
        bits: params.pow_limit_bits,
        nonce: salt.wrapping_mul(1_000_003),
    };
    let target = target_from_bits(h.bits).expect("bits");
    while !crate::work::hash_meets_target(&h.hash().0, target) {
        h.nonce = h.nonce.wrapping_add(1);
    }
    h
}

fn regtest() -> (Params, MemStore) {
    let params = Network::Regtest.params();
    let store = from_genesis(&params);
    (params, store)
}

#[test]
fn tampered_times_and_versions_are_refused() {
    let (params, mut store) = regtest();
    let mut parent = tip(&store);
    let mut chain_headers = Vec::new();
    for i in 0..12 {
        let h = mine(&params, &parent, parent.header.time + 600, 4, i);
        let changes = Chain::new(&params, &store, HORIZON)
            .submit(&[h], LATER)
            .expect("valid");
        store.apply(&changes);
        parent = tip(&store);
        chain_headers.push(h);
    }
    let median = parent.median_time_past();
    let old = mine(&params, &parent, median, 4, 99);
    assert_eq!(
        expect_error(&params, &store, old),
        HeaderError::TimeTooOld {
            time: median,
            median
        }
    );
    let now = parent.header.time + 100;
    let future = mine(&params, &parent, now + 7201, 4, 98);
    assert!(matches!(
        Chain::new(&params, &store, HORIZON)
            .submit(&[future], now)
            .expect_err("future")
            .error,
        HeaderError::TimeTooNew { .. }
    ));
    let at_limit = mine(&params, &parent, now + 7200, 4, 97);
    Chain::new(&params, &store, HORIZON)
        .submit(&[at_limit], now)
        .expect("exactly 2 hours ahead is fine");
    let v1 = mine(&params, &parent, parent.header.time + 1, 1, 96);
    assert_eq!(
        expect_error(&params, &store, v1),
        HeaderError::BadVersion {
            version: 1,
            min: 4,
            height: 13
        }
    );
}

#[test]
fn bip94_timewarp_rule_on_a_period_start() {
    // Testnet4 rules at regtest difficulty, so that the test can mine.
    let params = Params {
        pow_limit: U256::MAX >> 1,
        pow_limit_bits: 0x207fffff,
        genesis: Network::Regtest.params().genesis,
        ..Network::Testnet4.params()
    };
    let mut store = from_genesis(&params);
    let mut parent = tip(&store);
    let batch: Vec<Header> = (0..RETARGET_INTERVAL - 1)
        .map(|i| {
            // The last six come 1000 s apart, so the median time is well behind the parent.
            let gap = if i >= RETARGET_INTERVAL - 7 { 1000 } else { 60 };
            let h = mine(&params, &parent, parent.header.time + gap, 4, i);
            let changes = Chain::new(&params, &store, HORIZON)
                .submit(&[h], LATER)
                .expect("valid");
            store.apply(&changes);
            parent = tip(&store);
            h
        })
        .collect();
    assert_eq!(batch.len(), 2015);
    let bits = expected_bits(&params, &parent, &params.genesis);
    let mut early = mine(&params, &parent, parent.header.time - 601, 4, 1);
    early.bits = bits;
    let target = target_from_bits(bits).expect("bits");
    while !crate::work::hash_meets_target(&early.hash().0, target) {
        early.nonce += 1;
    }
    let median = parent.median_time_past();
    assert!(early.time > median, "only the timewarp rule can refuse it");
    assert_eq!(
        expect_error(&params, &store, early),
        HeaderError::TimeWarp {
            time: parent.header.time - 601,
            min: parent.header.time - 600
        }
    );
}

/// A random tree of regtest headers: each new header extends a random earlier one.
fn random_tree(params: &Params, root: &StoredHeader, shape: &[(usize, u8)]) -> Vec<Header> {
    let mut nodes: Vec<StoredHeader> = alloc::vec![*root];
    let mut out = Vec::new();
    let mut memo = crate::rules::WorkMemo::default();
    for (i, (pick, gap)) in shape.iter().enumerate() {
        let parent = nodes[pick % nodes.len()];
        let h = mine(
            params,
            &parent,
            parent.header.time + 1 + u32::from(*gap),
            4,
            i as u32,
        );
        let stored = crate::rules::connect(params, &parent, &h, h.hash(), LATER, &mut memo)
            .expect("mined valid");
        nodes.push(stored);
        out.push(h);
    }
    out
}

proptest! {
    #![proptest_config(bevm_primitives::testing::proptest_config("btc-light-forks"))]

    /// Whatever the order and batching, the chain ends at the header with the most work
    /// (the first one delivered among equals), and the tip's work never decreases.
    #[test]
    fn most_work_wins_whatever_the_delivery(
        shape in proptest::collection::vec((any::<usize>(), 0u8..200), 1..40),
        batch in 1usize..12,
        seed in any::<u64>(),
    ) {
        let (params, mut store) = regtest();
        let root = tip(&store);
        let tree = random_tree(&params, &root, &shape);
        // Deliver in a random order that keeps parents before children: a topological shuffle.
        let mut pending = tree.clone();
        let mut rng = seed;
        let mut order = Vec::new();
        while !pending.is_empty() {
            let ready: Vec<usize> = (0..pending.len())
                .filter(|&i| !pending.iter().any(|p| p.hash() == pending[i].prev_hash))
                .collect();
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let pick = ready[(rng >> 33) as usize % ready.len()];
            order.push(pending.remove(pick));
        }
        let mut last_work = root.chain_work;
        for chunk in order.chunks(batch) {
            let changes = Chain::new(&params, &store, HORIZON).submit(chunk, LATER).expect("valid");
            store.apply(&changes);
            let t = tip(&store);
            prop_assert!(t.chain_work >= last_work);
            last_work = t.chain_work;
        }
        // Regtest blocks all weigh the same, so most work = greatest height here.
        let chain = Chain::new(&params, &store, HORIZON);
        let t = tip(&store);
        let max_height = tree.iter().map(|h| chain.header(&h.hash()).expect("read").expect("kept").height).max();
        prop_assert_eq!(Some(t.height), max_height);
        // Every best-chain entry links to the one below it.
        for height in 1..=t.height {
            let h = chain.header_at(height).expect("read").expect("on best chain");
            let below = chain.header_at(height - 1).expect("read").expect("on best chain");
            prop_assert_eq!(h.header.prev_hash, below.hash);
        }
        // Every delivered header is kept (the horizon is far away).
        prop_assert_eq!(store.len(), tree.len() + 1);
    }
}

#[test]
fn heavier_branch_over_several_submissions_reorganises_and_reports_it() {
    let (params, mut store) = regtest();
    let root = tip(&store);
    // Main branch of 5, then a competing branch of 7 from height 2, sent in three parts.
    let main = random_tree(&params, &root, &[(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]);
    submit_all(&params, &mut store, &main, 5);
    let fork_parent = Chain::new(&params, &store, HORIZON)
        .header_at(2)
        .expect("read")
        .expect("h2");
    let side = random_tree(
        &params,
        &fork_parent,
        &[(0, 7), (1, 7), (2, 7), (3, 7), (4, 7), (5, 7), (6, 7)],
    );
    let mut reorgs = Vec::new();
    for part in [&side[..2], &side[2..3], &side[3..]] {
        let changes = Chain::new(&params, &store, HORIZON)
            .submit(part, LATER)
            .expect("valid");
        if let Some(best) = &changes.best {
            reorgs.push(best.clone());
        }
        store.apply(&changes);
    }
    // The branch reaches height 5 with part two, a tie that keeps the first-seen chain, and
    // passes the main chain with part three.
    assert_eq!(reorgs.len(), 1);
    let reorg = &reorgs[0];
    assert!(reorg.is_reorg());
    assert_eq!(reorg.fork_height, 2);
    assert_eq!(
        reorg
            .rolled_back
            .iter()
            .map(|(h, _)| *h)
            .collect::<Vec<_>>(),
        [5, 4, 3]
    );
    assert_eq!(reorg.rolled_forward.len(), 7);
    assert_eq!(tip(&store).hash, side[6].hash());
    let chain = Chain::new(&params, &store, HORIZON);
    assert_eq!(chain.confirmations(&main[4].hash()).expect("read"), 0);
    assert_eq!(chain.confirmations(&side[0].hash()).expect("read"), 7);
}

#[test]
fn forks_below_the_horizon_are_refused_and_old_branches_pruned() {
    let (params, mut store) = regtest();
    let root = tip(&store);
    let shape: Vec<(usize, u8)> = (0..20).map(|i| (i, 0)).collect();
    let main = random_tree(&params, &root, &shape);
    let horizon = 5;
    for h in &main[..10] {
        let changes = Chain::new(&params, &store, horizon)
            .submit(&[*h], LATER)
            .expect("valid");
        store.apply(&changes);
    }
    // A side block at height 8 (fork at 7, tip 10: within 5).
    let at7 = Chain::new(&params, &store, horizon)
        .header_at(7)
        .expect("read")
        .expect("h7");
    let side = mine(&params, &at7, at7.header.time + 3, 4, 500);
    let changes = Chain::new(&params, &store, horizon)
        .submit(&[side], LATER)
        .expect("within horizon");
    store.apply(&changes);
    assert!(store.side_tips_for_tests().contains(&side.hash()));
    // A fork at height 2 is below the horizon.
    let at2 = Chain::new(&params, &store, horizon)
        .header_at(2)
        .expect("read")
        .expect("h2");
    let deep = mine(&params, &at2, at2.header.time + 3, 4, 501);
    assert_eq!(
        expect_error_h(&params, &store, deep, horizon),
        HeaderError::ForkBelowHorizon {
            fork_height: 2,
            lowest: 5
        }
    );
    // Ten more blocks push the side block's fork below the horizon: it is pruned.
    let changes = Chain::new(&params, &store, horizon)
        .submit(&main[10..], LATER)
        .expect("valid");
    assert!(changes.pruned.contains(&side.hash()));
    store.apply(&changes);
    assert!(Chain::new(&params, &store, horizon)
        .header(&side.hash())
        .expect("read")
        .is_none());
    assert!(store.side_tips_for_tests().is_empty());
}

fn expect_error_h(params: &Params, store: &MemStore, header: Header, horizon: u32) -> HeaderError {
    Chain::new(params, store, horizon)
        .submit(&[header], LATER)
        .expect_err("refused")
        .error
}

#[test]
fn checkpoints_must_start_a_period_and_carry_their_work() {
    let params = Network::Mainnet.params();
    let run = headers(MAINNET_822528);
    let prev: Vec<u32> = run[..10].iter().map(|h| h.time).collect();
    assert_eq!(
        StoredHeader::root(&params, run[10], 822_538, U256::from(1u8) << 90, &prev),
        Err(HeaderError::BadCheckpoint(
            "must be the first block of a retarget period (height divisible by 2016)"
        ))
    );
    assert!(StoredHeader::root(&params, run[0], 822_528, U256::from(1u8), &[]).is_err());
    assert!(StoredHeader::root(&params, run[0], 822_528, U256::from(1u8) << 90, &[0; 11]).is_err());
}

#[test]
fn stored_headers_round_trip() {
    let (params, mut store) = regtest();
    let root = tip(&store);
    let headers = random_tree(&params, &root, &[(0, 0), (1, 5), (2, 9)]);
    submit_all(&params, &mut store, &headers, 3);
    let t = tip(&store);
    assert_eq!(StoredHeader::decode(&t.encode()), Ok(t));
    assert!(StoredHeader::decode(&t.encode()[1..]).is_err());
}

#[test]
fn block_hash_display_hex_round_trips() {
    let s = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    let h = BlockHash::from_display_hex(s).expect("hex");
    assert_eq!(format!("{h}"), s);
    assert_eq!(h, Network::Mainnet.params().genesis.hash());
    assert!(BlockHash::from_display_hex("00").is_err());
    assert!(BlockHash::from_display_hex(&"zz".repeat(32)).is_err());
}
