//! The Ethereum view of the chain as stored: blocks (header, raw transactions, senders),
//! receipts and the transaction index. Written once, in the block's commit batch, and only read
//! afterwards, so every RPC answer about a block is the same on every node and across restarts.
//!
//! Keys in [`Column::Blocks`]: `"b" ++ number` block, `"H" ++ number` its header alone (so
//! header reads never decode transactions), `"r" ++ number` receipts, `"h" ++ number` hash. [`Column::BlockHashes`]: hash → number. [`Column::TxIndex`]: tx hash → number ++ index.

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, Bytes, B256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use bevm_store::{Batch, Column, Store};

use crate::EvmError;

/// A block as stored: its header, its transactions in EIP-2718 form and their senders.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StoredBlock {
    pub header: Header,
    pub txs: Vec<Bytes>,
    pub senders: Vec<Address>,
}

/// Where a transaction was included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub block: u64,
    pub index: u32,
}

fn key(prefix: u8, number: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    k[1..].copy_from_slice(&number.to_be_bytes());
    k
}

/// Stages a block (body and header by number, its hash both ways) into `batch`.
pub fn stage_block(batch: &mut Batch, block: &StoredBlock, hash: B256) {
    let number = block.header.number;
    let mut encoded = Vec::with_capacity(block.length());
    block.encode(&mut encoded);
    batch.put_owned(Column::Blocks, key(b'b', number).to_vec(), encoded);
    let mut header = Vec::with_capacity(block.header.length());
    block.header.encode(&mut header);
    batch.put_owned(Column::Blocks, key(b'H', number).to_vec(), header);
    batch.put(Column::Blocks, &key(b'h', number), hash.as_slice());
    batch.put(Column::BlockHashes, hash.as_slice(), &number.to_be_bytes());
}

/// Stages the receipts of block `number` (EIP-2718 encoded, blooms included) and the index of
/// its transactions, whose keccak256 hashes `tx_hashes` are, in block order.
pub fn stage_receipts(batch: &mut Batch, number: u64, receipts: &[Bytes], tx_hashes: &[B256]) {
    let mut encoded = Vec::new();
    alloy_rlp::encode_list::<Bytes, Bytes>(receipts, &mut encoded);
    batch.put_owned(Column::Blocks, key(b'r', number).to_vec(), encoded);
    for (index, hash) in tx_hashes.iter().enumerate() {
        let mut location = [0u8; 12];
        location[..8].copy_from_slice(&number.to_be_bytes());
        location[8..].copy_from_slice(&(index as u32).to_be_bytes());
        batch.put(Column::TxIndex, hash.as_slice(), &location);
    }
}

/// The hash of block `number`, if it exists.
///
/// # Errors
/// Storage failures and corrupt records.
pub fn block_hash(store: &Store, number: u64) -> Result<Option<B256>, EvmError> {
    store
        .get_aux(Column::Blocks, &key(b'h', number))?
        .map(|b| B256::try_from(b.as_slice()).map_err(|_| EvmError::Corrupt { what: "block hash" }))
        .transpose()
}

/// The number of the block with this hash.
///
/// # Errors
/// Storage failures and corrupt records.
pub fn block_number(store: &Store, hash: &B256) -> Result<Option<u64>, EvmError> {
    store
        .get_aux(Column::BlockHashes, hash.as_slice())?
        .map(|b| {
            <[u8; 8]>::try_from(b.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| EvmError::Corrupt {
                    what: "block number",
                })
        })
        .transpose()
}

/// Block `number`, if it exists.
///
/// # Errors
/// Storage failures and corrupt records.
pub fn block(store: &Store, number: u64) -> Result<Option<StoredBlock>, EvmError> {
    let Some(bytes) = store.get_aux(Column::Blocks, &key(b'b', number))? else {
        return Ok(None);
    };
    StoredBlock::decode(&mut bytes.as_slice())
        .map(Some)
        .map_err(|_| EvmError::Corrupt {
            what: "stored block",
        })
}

/// The header of block `number`, without reading its transactions.
///
/// # Errors
/// Storage failures and corrupt records.
pub fn header(store: &Store, number: u64) -> Result<Option<Header>, EvmError> {
    let Some(bytes) = store.get_aux(Column::Blocks, &key(b'H', number))? else {
        return Ok(None);
    };
    Header::decode(&mut bytes.as_slice())
        .map(Some)
        .map_err(|_| EvmError::Corrupt {
            what: "stored header",
        })
}

/// The receipts of block `number`, in transaction order.
///
/// # Errors
/// Storage failures and corrupt records.
pub fn receipts(store: &Store, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, EvmError> {
    let Some(bytes) = store.get_aux(Column::Blocks, &key(b'r', number))? else {
        return Ok(None);
    };
    let corrupt = || EvmError::Corrupt {
        what: "stored receipts",
    };
    let raw = Vec::<Bytes>::decode(&mut bytes.as_slice()).map_err(|_| corrupt())?;
    raw.iter()
        .map(|r| ReceiptEnvelope::decode_2718(&mut r.as_ref()).map_err(|_| corrupt()))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Where the transaction with this hash was included.
///
/// # Errors
/// Storage failures and corrupt records.
pub fn tx_location(store: &Store, hash: &B256) -> Result<Option<TxLocation>, EvmError> {
    let Some(bytes) = store.get_aux(Column::TxIndex, hash.as_slice())? else {
        return Ok(None);
    };
    if bytes.len() != 12 {
        return Err(EvmError::Corrupt {
            what: "tx index entry",
        });
    }
    let mut number = [0u8; 8];
    number.copy_from_slice(&bytes[..8]);
    let mut index = [0u8; 4];
    index.copy_from_slice(&bytes[8..]);
    Ok(Some(TxLocation {
        block: u64::from_be_bytes(number),
        index: u32::from_be_bytes(index),
    }))
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{Eip658Value, Receipt, TxType};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Log, LogData};
    use bevm_store::Committed;

    use super::*;

    #[test]
    fn stored_block_receipts_and_index_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let header = Header {
            number: 7,
            gas_used: 42_000,
            timestamp: 1_700_000_000,
            base_fee_per_gas: Some(10),
            ..Header::default()
        };
        let txs = vec![
            Bytes::from_static(b"\x02first"),
            Bytes::from_static(b"\x02second"),
        ];
        let block = StoredBlock {
            header: header.clone(),
            txs: txs.clone(),
            senders: vec![Address::repeat_byte(1), Address::repeat_byte(2)],
        };
        let log = Log {
            address: Address::repeat_byte(9),
            data: LogData::new_unchecked(vec![B256::repeat_byte(3)], Bytes::from_static(b"data")),
        };
        let receipts: Vec<ReceiptEnvelope> = [(true, 21_000, vec![log]), (false, 42_000, vec![])]
            .into_iter()
            .map(|(ok, gas, logs)| {
                let r = Receipt {
                    status: Eip658Value::Eip658(ok),
                    cumulative_gas_used: gas,
                    logs,
                };
                ReceiptEnvelope::from_typed(TxType::Eip1559, r.with_bloom())
            })
            .collect();
        let hash = header.hash_slow();
        let mut batch = Batch::default();
        stage_block(&mut batch, &block, hash);
        let tx_hashes: Vec<B256> = txs.iter().map(alloy_primitives::keccak256).collect();
        let encoded: Vec<Bytes> = receipts.iter().map(|r| r.encoded_2718().into()).collect();
        stage_receipts(&mut batch, block.header.number, &encoded, &tx_hashes);
        store
            .write(
                batch,
                Committed {
                    height: 7,
                    app_hash: B256::ZERO,
                },
            )
            .expect("write");

        assert_eq!(self::block(&store, 7).expect("read"), Some(block));
        assert_eq!(self::header(&store, 7).expect("read"), Some(header));
        assert_eq!(self::receipts(&store, 7).expect("read"), Some(receipts));
        assert_eq!(block_hash(&store, 7).expect("read"), Some(hash));
        assert_eq!(block_number(&store, &hash).expect("read"), Some(7));
        let second = tx_location(&store, &alloy_primitives::keccak256(&txs[1])).expect("read");
        assert_eq!(second, Some(TxLocation { block: 7, index: 1 }));
        assert_eq!(self::block(&store, 8).expect("read"), None);
    }
}
