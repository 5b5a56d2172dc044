//! Which outputs of a Bitcoin transaction are deposits, and for whom.
//!
//! Two forms, both plain Bitcoin payments:
//! - **memo**: pay the vault's address, and add one output `OP_RETURN <24 bytes>` whose data is
//!   `"bevm"` followed by the 20-byte EVM recipient ([`memo_script`]). Every vault output of
//!   the transaction goes to that recipient.
//! - **deposit address**: pay the recipient's own address ([`Vault::deposit_address`]),
//!   registered on chain; no memo needed.
//!
//! An output that pays the vault but cannot be credited (below the minimum, no memo, a
//! malformed memo) is still a deposit: it is returned with its [`Rejection`] so the chain
//! records it instead of losing it.

use bitcoin::{
    opcodes::all::OP_RETURN,
    script::{Instruction, PushBytesBuf},
    Script, ScriptBuf, Transaction,
};

use crate::{Vault, DEPOSIT_TAG};

/// Bytes of a memo's data: the tag, then the recipient.
pub const MEMO_DATA_LEN: usize = 4 + 20;

/// How a deposit names its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositForm {
    Memo,
    Address,
}

/// Why a deposit is recorded but not credited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{value} sat is below the minimum deposit of {min} sat")]
    BelowMinimum { value: u64, min: u64 },
    #[error("pays the vault without an OP_RETURN \"bevm\" memo naming the recipient")]
    NoMemo,
    #[error("malformed memo: {0}")]
    MalformedMemo(&'static str),
    #[error("{0} \"bevm\" memos: exactly one names the recipient")]
    SeveralMemos(usize),
}

/// One output of a transaction that pays the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    pub vout: u32,
    pub value_sat: u64,
    pub form: DepositForm,
    /// The EVM address to credit, or why it is not credited.
    pub recipient: Result<[u8; 20], Rejection>,
}

/// The memo output naming `recipient`: `OP_RETURN <"bevm" ‖ recipient>`.
pub fn memo_script(recipient: [u8; 20]) -> ScriptBuf {
    let mut data = PushBytesBuf::from(*DEPOSIT_TAG);
    // 24 bytes always fit a push.
    let _ = data.extend_from_slice(&recipient);
    ScriptBuf::new_op_return(data)
}

/// `None` for a script that is not a bevm memo (not `OP_RETURN`, or data without the tag);
/// otherwise the recipient or why the memo is malformed.
pub(crate) fn parse_memo(script: &Script) -> Option<Result<[u8; 20], Rejection>> {
    let mut ops = script.instructions();
    if !matches!(ops.next(), Some(Ok(Instruction::Op(op))) if op == OP_RETURN) {
        return None;
    }
    let data = match ops.next() {
        Some(Ok(Instruction::PushBytes(data))) => data.as_bytes(),
        _ => return None,
    };
    if !data.starts_with(DEPOSIT_TAG) {
        return None;
    }
    if data.len() != MEMO_DATA_LEN {
        return Some(Err(Rejection::MalformedMemo(
            "the data must be \"bevm\" and a 20-byte address",
        )));
    }
    if ops.next().is_some() {
        return Some(Err(Rejection::MalformedMemo("bytes after the recipient")));
    }
    let mut recipient = [0u8; 20];
    recipient.copy_from_slice(&data[DEPOSIT_TAG.len()..]);
    Some(Ok(recipient))
}

/// The deposits in `tx`, by output index: outputs paying `vault` (credited to the memo's
/// recipient) and outputs paying a deposit address that `registered` maps to its recipient.
/// Deposits under `min_sat` are rejected. Pure: the caller checks inclusion and double
/// credit.
///
/// # Errors
/// The first error of `registered` (the registry could not be read).
pub fn find_deposits<E>(
    vault: &Vault,
    tx: &Transaction,
    registered: impl Fn(&Script) -> Result<Option<[u8; 20]>, E>,
    min_sat: u64,
) -> Result<Vec<Deposit>, E> {
    let vault_script = vault.output().script_pubkey();
    let memos: Vec<Result<[u8; 20], Rejection>> = tx
        .output
        .iter()
        .filter_map(|o| parse_memo(&o.script_pubkey))
        .collect();
    let memo = match memos.as_slice() {
        [] => Err(Rejection::NoMemo),
        [one] => one.clone(),
        many => Err(Rejection::SeveralMemos(many.len())),
    };
    let mut out = Vec::new();
    for (vout, output) in tx.output.iter().enumerate() {
        let script = &output.script_pubkey;
        let (form, recipient) = if *script == vault_script {
            (DepositForm::Memo, memo.clone())
        } else if script.is_p2tr() {
            match registered(script)? {
                Some(r) => (DepositForm::Address, Ok(r)),
                None => continue,
            }
        } else {
            continue;
        };
        let value_sat = output.value.to_sat();
        let recipient = match recipient {
            Ok(_) if value_sat < min_sat => Err(Rejection::BelowMinimum {
                value: value_sat,
                min: min_sat,
            }),
            other => other,
        };
        out.push(Deposit {
            vout: vout as u32,
            value_sat,
            form,
            recipient,
        });
    }
    Ok(out)
}
