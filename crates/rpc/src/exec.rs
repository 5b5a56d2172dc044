//! eth_call, eth_estimateGas and the fee methods.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Bytes, TxKind};
use alloy_rpc_types_eth::{FeeHistory, TransactionRequest};
use bevm_evm::{
    call::{self, CallError, CallInput, CallOutcome},
    BlockInput, BlockState,
};

use crate::{api::EthApi, RpcError};

/// Tip suggested by eth_maxPriorityFeePerGas: tips go to the fee pool like the base fee, so a
/// token amount (a tenth of the minimum base fee) is enough.
fn suggested_tip(min_base_fee: u64) -> u128 {
    u128::from(min_base_fee / 10)
}

fn call_input(req: &TransactionRequest) -> CallInput {
    CallInput {
        from: req.from,
        to: match req.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        },
        gas: req.gas,
        gas_price: req.max_fee_per_gas.or(req.gas_price),
        max_priority_fee_per_gas: req.max_priority_fee_per_gas,
        value: req.value,
        data: req.input.input().cloned(),
        nonce: req.nonce,
        access_list: req.access_list.clone(),
    }
}

fn map_call_error(e: CallError) -> RpcError {
    match e {
        CallError::Invalid(m) | CallError::Halted(m) => RpcError::Rejected(m),
        CallError::Reverted(data) => RpcError::Reverted(data),
        CallError::Evm(e) => e.into(),
        other => RpcError::internal(other),
    }
}

impl EthApi {
    fn call_context(&self, id: Option<BlockId>) -> Result<(BlockState, BlockInput), RpcError> {
        let number = self.resolve(id.unwrap_or_default())?;
        let (h, _) = self
            .header(number)?
            .ok_or_else(|| RpcError::NotFound("header not found".into()))?;
        let input = BlockInput {
            number: h.number,
            timestamp: h.timestamp,
            parent_hash: h.parent_hash,
            prevrandao: h.mix_hash,
            base_fee: h.base_fee_per_gas.unwrap_or_default(),
            // Calls see the light client's latest committed view, whatever the block.
            bitcoin: self
                .mempool
                .btc()
                .map(|b| b.reader(&self.store, Default::default())),
            bridge: self
                .mempool
                .modules()
                .and_then(bevm_app::native::NativeModules::bridge_vault),
        };
        Ok((BlockState::new(self.reader(id)?), input))
    }

    pub(crate) fn call(
        &self,
        req: &TransactionRequest,
        id: Option<BlockId>,
    ) -> Result<Bytes, RpcError> {
        let (mut state, block) = self.call_context(id)?;
        let gas_cap = self.limits.gas_cap.min(self.spec.params.block_gas_limit);
        match call::call(&self.spec, &mut state, &block, &call_input(req), gas_cap)
            .map_err(map_call_error)?
        {
            CallOutcome::Success { output, .. } => Ok(output),
            CallOutcome::Revert { output, .. } => Err(RpcError::Reverted(output)),
            CallOutcome::Halt { reason, .. } => {
                Err(RpcError::Rejected(format!("execution halted: {reason}")))
            }
        }
    }

    pub(crate) fn estimate_gas(
        &self,
        req: &TransactionRequest,
        id: Option<BlockId>,
    ) -> Result<u64, RpcError> {
        let (mut state, block) = self.call_context(id)?;
        let gas_cap = self.limits.gas_cap.min(self.spec.params.block_gas_limit);
        call::estimate_gas(&self.spec, &mut state, &block, &call_input(req), gas_cap)
            .map_err(map_call_error)
    }

    /// Base fee of the next block.
    pub(crate) fn next_base_fee(&self) -> Result<u64, RpcError> {
        let (head, _) = self
            .header(self.latest()?)?
            .ok_or_else(|| RpcError::internal("latest block missing"))?;
        Ok(self.spec.next_base_fee(&head))
    }

    pub(crate) fn max_priority_fee(&self) -> u128 {
        suggested_tip(self.spec.params.min_base_fee)
    }

    /// Legacy gas price: twice the next base fee (room for six full blocks of increase) plus
    /// the suggested tip, so a legacy transaction stays includable.
    pub(crate) fn gas_price(&self) -> Result<u128, RpcError> {
        Ok(u128::from(self.next_base_fee()?) * 2 + self.max_priority_fee())
    }

    pub(crate) fn fee_history(
        &self,
        count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> Result<FeeHistory, RpcError> {
        if let Some(p) = &percentiles {
            let sorted = p.windows(2).all(|w| w[0] <= w[1]);
            if p.len() > 100 || !sorted || p.iter().any(|x| !(0.0..=100.0).contains(x)) {
                return Err(RpcError::InvalidParams(
                    "reward percentiles must be ascending values in [0, 100], at most 100".into(),
                ));
            }
        }
        let newest = self.number_of(newest)?;
        let count = count.clamp(1, 1024).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut base_fees = Vec::new();
        let mut ratios = Vec::new();
        let mut rewards = Vec::new();
        let mut last_header = None;
        for number in oldest..=newest {
            let (block, _) = self
                .stored_block(number)?
                .ok_or_else(|| RpcError::internal("block missing"))?;
            let h = &block.header;
            let base_fee = h.base_fee_per_gas.unwrap_or_default();
            base_fees.push(u128::from(base_fee));
            ratios.push(h.gas_used as f64 / h.gas_limit.max(1) as f64);
            if let Some(p) = &percentiles {
                rewards.push(self.block_rewards(number, &block, base_fee, p)?);
            }
            last_header = Some(block.header);
        }
        if let Some(h) = last_header {
            base_fees.push(u128::from(self.spec.next_base_fee(&h)));
        }
        Ok(FeeHistory {
            base_fee_per_gas: base_fees,
            gas_used_ratio: ratios,
            base_fee_per_blob_gas: vec![0; count as usize + 1],
            blob_gas_used_ratio: vec![0.0; count as usize],
            oldest_block: oldest,
            reward: percentiles.map(|_| rewards),
        })
    }

    /// Effective tips at the given percentiles of gas used, as geth computes them.
    fn block_rewards(
        &self,
        number: u64,
        block: &bevm_evm::chain::StoredBlock,
        base_fee: u64,
        percentiles: &[f64],
    ) -> Result<Vec<u128>, RpcError> {
        use alloy_consensus::{Transaction as _, TxEnvelope};
        use alloy_eips::eip2718::Decodable2718;
        let receipts = bevm_evm::chain::receipts(&self.store, number)?.unwrap_or_default();
        let mut tips: Vec<(u128, u64)> = Vec::with_capacity(block.txs.len());
        let mut previous = 0u64;
        for (raw, receipt) in block.txs.iter().zip(&receipts) {
            let tx = TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(RpcError::internal)?;
            let gas = receipt.cumulative_gas_used() - previous;
            previous = receipt.cumulative_gas_used();
            tips.push((tx.effective_tip_per_gas(base_fee).unwrap_or(0), gas));
        }
        if tips.is_empty() {
            return Ok(vec![0; percentiles.len()]);
        }
        tips.sort_unstable();
        let total: u64 = tips.iter().map(|t| t.1).sum();
        let mut out = Vec::with_capacity(percentiles.len());
        let (mut i, mut sum) = (0usize, tips[0].1);
        for p in percentiles {
            let threshold = (total as f64 * p / 100.0) as u64;
            while sum < threshold && i + 1 < tips.len() {
                i += 1;
                sum += tips[i].1;
            }
            out.push(tips[i].0);
        }
        Ok(out)
    }
}
