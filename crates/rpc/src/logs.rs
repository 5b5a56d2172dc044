//! eth_getLogs and the polling filters (eth_newFilter, eth_newBlockFilter, eth_getFilterChanges).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, Log};

use crate::{api::EthApi, RpcError};

/// A filter not polled for this long is removed, as in geth.
const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_FILTERS: usize = 10_000;

impl EthApi {
    /// Logs of blocks `from..=to` matching `filter`.
    fn logs_in_range(&self, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>, RpcError> {
        let mut out = Vec::new();
        for number in from..=to {
            let Some((header, _)) = self.header(number)? else {
                break;
            };
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            for receipt in self.block_receipts(number)?.unwrap_or_default() {
                for log in receipt.inner.logs() {
                    if filter.matches(&log.inner) {
                        out.push(log.clone());
                        if out.len() > self.limits.max_logs {
                            return Err(RpcError::LimitExceeded(format!(
                                "query returned more than {} results; narrow the block range",
                                self.limits.max_logs
                            )));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The block range a filter covers, checked against the range limit.
    fn filter_range(&self, filter: &Filter) -> Result<(u64, u64), RpcError> {
        match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .number_by_hash(hash)?
                    .ok_or_else(|| RpcError::NotFound(format!("unknown block {hash}")))?;
                Ok((n, n))
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let latest = self.latest()?;
                let resolve = |tag: Option<&BlockNumberOrTag>| match tag {
                    None => Ok(latest),
                    Some(BlockNumberOrTag::Number(n)) => Ok((*n).min(latest)),
                    Some(t) => self.number_of(*t),
                };
                let from = resolve(from_block.as_ref())?;
                let to = resolve(to_block.as_ref())?;
                if from > to {
                    return Err(RpcError::InvalidParams(format!(
                        "invalid block range: fromBlock {from} > toBlock {to}"
                    )));
                }
                if to - from >= self.limits.max_logs_block_range {
                    return Err(RpcError::LimitExceeded(format!(
                        "block range {} exceeds the limit of {} blocks",
                        to - from + 1,
                        self.limits.max_logs_block_range
                    )));
                }
                Ok((from, to))
            }
        }
    }

    pub(crate) fn get_logs(&self, filter: &Filter) -> Result<Vec<Log>, RpcError> {
        let (from, to) = self.filter_range(filter)?;
        self.logs_in_range(filter, from, to)
    }

    /// Logs of one block matching `filter` (for subscriptions).
    pub(crate) fn block_logs(&self, filter: &Filter, number: u64) -> Result<Vec<Log>, RpcError> {
        self.logs_in_range(filter, number, number)
    }
}

enum Kind {
    Logs(Box<Filter>),
    Blocks,
}

struct Installed {
    kind: Kind,
    /// Last block reported by the previous poll.
    last_block: u64,
    last_poll: Instant,
}

/// Filters installed by clients, polled with eth_getFilterChanges.
#[derive(Default)]
pub struct Filters {
    next: u64,
    installed: HashMap<U256, Installed>,
}

impl Filters {
    fn install(&mut self, kind: Kind, latest: u64) -> Result<U256, RpcError> {
        let now = Instant::now();
        self.installed
            .retain(|_, f| now.duration_since(f.last_poll) < FILTER_TIMEOUT);
        if self.installed.len() >= MAX_FILTERS {
            return Err(RpcError::LimitExceeded("too many filters installed".into()));
        }
        self.next += 1;
        let id = U256::from(self.next);
        self.installed.insert(
            id,
            Installed {
                kind,
                last_block: latest,
                last_poll: now,
            },
        );
        Ok(id)
    }

    pub fn new_log_filter(&mut self, filter: Filter, latest: u64) -> Result<U256, RpcError> {
        self.install(Kind::Logs(Box::new(filter)), latest)
    }

    pub fn new_block_filter(&mut self, latest: u64) -> Result<U256, RpcError> {
        self.install(Kind::Blocks, latest)
    }

    pub fn uninstall(&mut self, id: U256) -> bool {
        self.installed.remove(&id).is_some()
    }

    /// What happened since the last poll of filter `id`.
    pub fn changes(&mut self, api: &EthApi, id: U256) -> Result<FilterChanges, RpcError> {
        let latest = api.latest()?;
        let f = self
            .installed
            .get_mut(&id)
            .ok_or_else(|| RpcError::NotFound("filter not found".into()))?;
        f.last_poll = Instant::now();
        let from = f.last_block + 1;
        if from > latest {
            return Ok(FilterChanges::Empty);
        }
        // Never more than the log range limit per poll; the rest comes next poll.
        let to = latest.min(from + api.limits.max_logs_block_range - 1);
        let changes = match &f.kind {
            Kind::Blocks => {
                let mut hashes: Vec<B256> = Vec::new();
                for n in from..=to {
                    if let Some((_, hash)) = api.header(n)? {
                        hashes.push(hash);
                    }
                }
                FilterChanges::Hashes(hashes)
            }
            Kind::Logs(filter) => {
                let filter = (**filter).clone().select(from..=to);
                FilterChanges::Logs(api.get_logs(&filter)?)
            }
        };
        f.last_block = to;
        Ok(changes)
    }

    /// All logs matching log filter `id` (eth_getFilterLogs).
    pub fn logs(&mut self, api: &EthApi, id: U256) -> Result<Vec<Log>, RpcError> {
        let f = self
            .installed
            .get_mut(&id)
            .ok_or_else(|| RpcError::NotFound("filter not found".into()))?;
        f.last_poll = Instant::now();
        match &f.kind {
            Kind::Logs(filter) => api.get_logs(filter),
            Kind::Blocks => Err(RpcError::InvalidParams(
                "filter is a block filter, not a log filter".into(),
            )),
        }
    }
}
