use alloy_primitives::{Address, Bytes, TxKind, U256};
use bevm_app::mempool::code;
use bevm_testkit::{txs, TestNode};

fn refusal(node: &TestNode, raw: &[u8]) -> (u32, String) {
    let e = node.check(raw).expect_err("must be refused");
    (e.code, e.message)
}

#[test]
fn nonces_in_flight_are_counted_and_gaps_refused() {
    let node = TestNode::new(2);
    let a = node.keys[0].clone();
    let b = node.keys[1].address();
    for n in 0..3 {
        node.check(&txs::transfer(&a, 1337, n, b, U256::from(1u64)))
            .expect("next nonce accepted");
    }
    let (c, m) = refusal(&node, &txs::transfer(&a, 1337, 5, b, U256::from(1u64)));
    assert_eq!(c, code::NONCE);
    assert!(m.starts_with("nonce too high"), "{m}");
    let (c, m) = refusal(&node, &txs::transfer(&a, 1337, 1, b, U256::from(2u64)));
    assert_eq!(c, code::NONCE);
    assert!(m.contains("already pending"), "{m}");
    assert_eq!(node.app.mempool().pending_nonce(&a.address()), Some(3));
}

#[test]
fn committed_nonce_too_low_and_recheck_after_commit() {
    let mut node = TestNode::new(2);
    let a = node.keys[0].clone();
    let b = node.keys[1].address();
    let t0 = txs::transfer(&a, 1337, 0, b, U256::from(1u64));
    node.block(vec![t0.clone()]);
    let (c, m) = refusal(&node, &t0);
    assert_eq!(c, code::NONCE);
    assert!(m.starts_with("nonce too low"), "{m}");
}

#[test]
fn funds_fees_chain_id_and_malformed_input() {
    let node = TestNode::new(2);
    let a = node.keys[0].clone();
    let b = node.keys[1].address();
    // All the balance as value leaves nothing for gas.
    let balance = node.balance(&a.address());
    let (c, m) = refusal(&node, &txs::transfer(&a, 1337, 0, b, balance));
    assert_eq!(c, code::FUNDS);
    assert!(
        m.starts_with("insufficient funds for gas * price + value"),
        "{m}"
    );
    // Two transactions that each fit but not together.
    let half = balance / U256::from(2u64);
    node.check(&txs::transfer(&a, 1337, 0, b, half))
        .expect("first half fits");
    let (c, _) = refusal(&node, &txs::transfer(&a, 1337, 1, b, half));
    assert_eq!(c, code::FUNDS);

    let fees = txs::Fees { max_fee: 1, tip: 0 };
    let cheap = txs::eip1559(
        &node.keys[1],
        1337,
        0,
        TxKind::Call(a.address()),
        U256::ZERO,
        Bytes::new(),
        21_000,
        fees,
    );
    let (c, m) = refusal(&node, &cheap);
    assert_eq!(c, code::FEE);
    assert!(m.contains("underpriced"), "{m}");

    let (c, m) = refusal(
        &node,
        &txs::transfer(&node.keys[1], 1, 0, b, U256::from(1u64)),
    );
    assert_eq!(c, code::DECODE);
    assert!(m.contains("invalid chain id"), "{m}");

    let low_gas = txs::eip1559(
        &node.keys[1],
        1337,
        0,
        TxKind::Call(b),
        U256::ZERO,
        Bytes::from(vec![1u8; 100]),
        21_000,
        Default::default(),
    );
    let (c, m) = refusal(&node, &low_gas);
    assert_eq!(c, code::GAS);
    assert!(m.starts_with("intrinsic gas too low"), "{m}");

    for junk in [&b""[..], b"\xc0", b"\x02\xf8\x01", &[0xffu8; 64][..]] {
        let (c, _) = refusal(&node, junk);
        assert_eq!(c, code::DECODE);
    }
    let huge = txs::oversized(&node.keys[1], 1337, 0);
    let (c, m) = refusal(&node, &huge);
    assert_eq!(c, code::DECODE);
    assert!(m.starts_with("oversized data"), "{m}");
    // Nothing was recorded for the refused sender.
    assert_eq!(
        node.app.mempool().pending_nonce(&node.keys[1].address()),
        None
    );
    let _ = Address::ZERO;
}

#[test]
fn legacy_eip155_accepted() {
    let mut node = TestNode::new(2);
    let a = node.keys[0].clone();
    let raw = txs::legacy(
        &a,
        1337,
        0,
        TxKind::Call(node.keys[1].address()),
        U256::from(5u64),
        1_000_000_000,
    );
    node.check(&raw).expect("EIP-155 legacy accepted");
    let (r, _) = node.block(vec![raw]);
    assert_eq!(r[0].code, 0, "{}", r[0].log);
}
