//! Which outputs are deposits, and for whom.

use bitcoin::{key::Secp256k1, ScriptBuf, Transaction};

use crate::{deposit::parse_memo, testing::secret_keys, *};

fn vault() -> Vault {
    let secp = Secp256k1::new();
    let keys = secret_keys(3, 7)
        .iter()
        .map(|s| s.public_key(&secp))
        .collect();
    Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault")
}

fn tx(outputs: Vec<(u64, ScriptBuf)>) -> Transaction {
    crate::testing::payment(outputs, 0)
}

fn op_return(data: &[u8]) -> ScriptBuf {
    let push = <&bitcoin::script::PushBytes>::try_from(data).expect("push");
    ScriptBuf::new_op_return(push)
}

#[test]
fn memos_parse_exactly_and_only_when_tagged() {
    let r = [0x42; 20];
    assert_eq!(memo_script(r).len(), 2 + MEMO_DATA_LEN);
    assert_eq!(parse_memo(&memo_script(r)), Some(Ok(r)));
    // Untagged OP_RETURNs and other scripts are not memos at all.
    assert_eq!(parse_memo(&op_return(b"omni0000")), None);
    assert_eq!(parse_memo(&ScriptBuf::new()), None);
    assert_eq!(parse_memo(&vault().output().script_pubkey()), None);
    // Tagged but wrong: malformed.
    let mut short = b"bevm".to_vec();
    short.extend_from_slice(&[1; 19]);
    assert!(matches!(
        parse_memo(&op_return(&short)),
        Some(Err(Rejection::MalformedMemo(_)))
    ));
    let mut trailing = memo_script(r).into_bytes();
    trailing.push(0x51);
    assert!(matches!(
        parse_memo(&ScriptBuf::from_bytes(trailing)),
        Some(Err(Rejection::MalformedMemo(_)))
    ));
}

#[test]
fn vault_outputs_go_to_the_memo_and_deposit_addresses_to_their_recipient() {
    let v = vault();
    let (alice, bob) = ([0xa1; 20], [0xb0; 20]);
    let bob_script = v.deposit_output(bob).script_pubkey();
    let unregistered = v.deposit_output([0xcc; 20]).script_pubkey();
    let t = tx(vec![
        (50_000, v.output().script_pubkey()),
        (0, memo_script(alice)),
        (60_000, bob_script.clone()),
        (70_000, unregistered),
        (999, v.output().script_pubkey()),
    ]);
    let found = find_deposits(
        &v,
        &t,
        |s| Ok::<_, ()>((s == bob_script.as_script()).then_some(bob)),
        1_000,
    )
    .expect("no registry error");
    let summary: Vec<_> = found
        .iter()
        .map(|d| (d.vout, d.value_sat, d.form, d.recipient.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, 50_000, DepositForm::Memo, Ok(alice)),
            (2, 60_000, DepositForm::Address, Ok(bob)),
            (
                4,
                999,
                DepositForm::Memo,
                Err(Rejection::BelowMinimum {
                    value: 999,
                    min: 1_000
                })
            ),
        ]
    );
}

#[test]
fn vault_payments_without_one_good_memo_are_rejected_with_the_reason() {
    let v = vault();
    let pay = (50_000, v.output().script_pubkey());
    let reason = |outputs| {
        find_deposits(&v, &tx(outputs), |_| Ok::<_, ()>(None), 1).expect("no registry error")[0]
            .recipient
            .clone()
            .expect_err("rejected")
    };
    assert_eq!(reason(vec![pay.clone()]), Rejection::NoMemo);
    assert_eq!(
        reason(vec![
            pay.clone(),
            (0, memo_script([1; 20])),
            (0, memo_script([2; 20]))
        ]),
        Rejection::SeveralMemos(2)
    );
    assert!(matches!(
        reason(vec![pay, (0, op_return(b"bevm"))]),
        Rejection::MalformedMemo(_)
    ));
    // A transaction that pays neither the vault nor a registered address has no deposits.
    let none = find_deposits(
        &v,
        &tx(vec![(5, op_return(b"x"))]),
        |_| Ok::<_, ()>(None),
        1,
    );
    assert_eq!(none, Ok(Vec::new()));
}
