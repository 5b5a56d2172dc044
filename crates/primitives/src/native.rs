//! Native (non-Ethereum) transactions carried in CometBFT blocks next to Ethereum ones.
//!
//! A native transaction starts with [`NATIVE_MAGIC`], which no Ethereum envelope can start
//! with (typed transactions start with a byte below 0x80, legacy ones with an RLP list
//! prefix of 0xc0 or more), then a one-byte kind and the kind's body.
//!
//! - `RelayHeaders` (kind 1): 80-byte Bitcoin headers, concatenated, parents first. It is
//!   unsigned: a header proves itself by its proof of work, so a signature would add a key
//!   to manage and nothing to check. It is fee-free when it adds headers and refused by
//!   CheckTx when it adds none, so it cannot be used for spam.
//! - `RelayDeposit` (kind 2): a Bitcoin transaction paying the bridge and its `gettxoutproof`
//!   proof: `tx length (4 bytes BE) ‖ tx ‖ proof`. Unsigned and fee-free for the same reason:
//!   it is accepted only if it records a deposit not yet recorded, which costs a Bitcoin
//!   payment to the vault.

use thiserror::Error;

/// The first bytes of every native transaction.
pub const NATIVE_MAGIC: [u8; 4] = [0xbe, 0x76, 0x6d, 0x01];

const KIND_RELAY_HEADERS: u8 = 1;
const KIND_RELAY_DEPOSIT: u8 = 2;
const HEADER_SIZE: usize = 80;

/// A decoded native transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeTx {
    /// Bitcoin headers for the light client, parents first.
    RelayHeaders(Vec<[u8; HEADER_SIZE]>),
    /// A Bitcoin transaction paying the bridge, and the proof of its inclusion.
    RelayDeposit { tx: Vec<u8>, proof: Vec<u8> },
}

/// Why bytes marked as a native transaction are refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NativeError {
    #[error("native transaction without a kind")]
    Empty,
    #[error("unknown native transaction kind {0}")]
    UnknownKind(u8),
    #[error("relay carries {0} bytes, not a whole number of 80-byte headers")]
    PartialHeader(usize),
    #[error("relay carries no headers")]
    NoHeaders,
    #[error("deposit relay: {0}")]
    BadDeposit(&'static str),
    #[error("relay carries {got} headers, at most {max} allowed")]
    TooManyHeaders { got: usize, max: usize },
}

/// Whether `raw` is a native transaction (as opposed to an Ethereum one).
pub fn is_native(raw: &[u8]) -> bool {
    raw.starts_with(&NATIVE_MAGIC)
}

impl NativeTx {
    /// Decodes a native transaction (its bytes including [`NATIVE_MAGIC`]).
    ///
    /// # Errors
    /// [`NativeError`] for malformed or oversized transactions.
    pub fn decode(raw: &[u8], max_headers: usize) -> Result<NativeTx, NativeError> {
        let body = raw.strip_prefix(&NATIVE_MAGIC).unwrap_or(raw);
        let (&kind, rest) = body.split_first().ok_or(NativeError::Empty)?;
        match kind {
            KIND_RELAY_HEADERS => {
                if rest.len() % HEADER_SIZE != 0 {
                    return Err(NativeError::PartialHeader(rest.len()));
                }
                let count = rest.len() / HEADER_SIZE;
                if count == 0 {
                    return Err(NativeError::NoHeaders);
                }
                if count > max_headers {
                    return Err(NativeError::TooManyHeaders {
                        got: count,
                        max: max_headers,
                    });
                }
                Ok(NativeTx::RelayHeaders(
                    rest.chunks_exact(HEADER_SIZE)
                        .map(|c| {
                            let mut h = [0u8; HEADER_SIZE];
                            h.copy_from_slice(c);
                            h
                        })
                        .collect(),
                ))
            }
            KIND_RELAY_DEPOSIT => {
                let (len, rest) = rest
                    .split_first_chunk::<4>()
                    .ok_or(NativeError::BadDeposit("no transaction length"))?;
                let len = u32::from_be_bytes(*len) as usize;
                if len == 0 || len > rest.len() {
                    return Err(NativeError::BadDeposit(
                        "the transaction length does not match the bytes",
                    ));
                }
                let (tx, proof) = rest.split_at(len);
                if proof.is_empty() {
                    return Err(NativeError::BadDeposit("no proof"));
                }
                Ok(NativeTx::RelayDeposit {
                    tx: tx.to_vec(),
                    proof: proof.to_vec(),
                })
            }
            other => Err(NativeError::UnknownKind(other)),
        }
    }

    /// The transaction's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            NativeTx::RelayHeaders(headers) => {
                let mut out = Vec::with_capacity(5 + HEADER_SIZE * headers.len());
                out.extend_from_slice(&NATIVE_MAGIC);
                out.push(KIND_RELAY_HEADERS);
                for h in headers {
                    out.extend_from_slice(h);
                }
                out
            }
            NativeTx::RelayDeposit { tx, proof } => {
                let mut out = Vec::with_capacity(9 + tx.len() + proof.len());
                out.extend_from_slice(&NATIVE_MAGIC);
                out.push(KIND_RELAY_DEPOSIT);
                // Bitcoin transactions are far below 4 GiB (blocks are 4 MB).
                out.extend_from_slice(&(tx.len() as u32).to_be_bytes());
                out.extend_from_slice(tx);
                out.extend_from_slice(proof);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_round_trips_and_bad_bodies_are_refused() {
        let tx = NativeTx::RelayHeaders(vec![[7u8; 80], [9u8; 80]]);
        let raw = tx.encode();
        assert!(is_native(&raw));
        assert_eq!(NativeTx::decode(&raw, 10), Ok(tx));
        assert_eq!(
            NativeTx::decode(&raw, 1),
            Err(NativeError::TooManyHeaders { got: 2, max: 1 })
        );
        assert_eq!(
            NativeTx::decode(&raw[..raw.len() - 1], 10),
            Err(NativeError::PartialHeader(159))
        );
        assert_eq!(NativeTx::decode(&NATIVE_MAGIC, 10), Err(NativeError::Empty));
        assert_eq!(
            NativeTx::decode(&[0xbe, 0x76, 0x6d, 0x01, 1], 10),
            Err(NativeError::NoHeaders)
        );
        assert_eq!(
            NativeTx::decode(&[0xbe, 0x76, 0x6d, 0x01, 9], 10),
            Err(NativeError::UnknownKind(9))
        );
        let deposit = NativeTx::RelayDeposit {
            tx: vec![1, 2, 3],
            proof: vec![4, 5],
        };
        let raw = deposit.encode();
        assert_eq!(NativeTx::decode(&raw, 10), Ok(deposit));
        for bad in [&raw[..6], &raw[..raw.len() - 2], &raw[..8]] {
            assert!(matches!(
                NativeTx::decode(bad, 10),
                Err(NativeError::BadDeposit(_))
            ));
        }
        // No Ethereum envelope looks native.
        assert!(!is_native(&[0x02, 0xf8]) && !is_native(&[0xf8, 0x6b]));
    }
}
