//! Batches of `eth_sendRawTransaction` processed as concurrent per-sender lanes.
//!
//! jsonrpsee runs a batch's calls one after another. Each transaction waits for CometBFT's
//! CheckTx (~25 ms: CometBFT's ABCI client flushes on a 20 ms throttle), so a batch of 200
//! would take 5 s. Here the calls of one sender stay in order (its nonces must reach the
//! mempool in order), while different senders, and every other call, run concurrently.
//! Responses keep the batch's order.

use std::{collections::BTreeMap, future::Future, sync::Arc};

use alloy_primitives::{Address, Bytes};
use bevm_app::mempool::Mempool;
use jsonrpsee::server::{
    middleware::rpc::{Batch, BatchEntry, MethodResponse, RpcServiceT},
    BatchResponseBuilder,
};

/// Largest batch response, as jsonrpsee's default (10 MiB).
const MAX_BATCH_RESPONSE: usize = 10 * 1024 * 1024;

/// The middleware: wraps jsonrpsee's RPC service.
#[derive(Clone)]
pub struct SenderLanes<S> {
    inner: S,
    mempool: Arc<Mempool>,
}

impl<S> SenderLanes<S> {
    pub fn new(inner: S, mempool: Arc<Mempool>) -> Self {
        Self { inner, mempool }
    }

    /// The sender of an `eth_sendRawTransaction` call (recovered once; CheckTx reuses it).
    fn sender_of(&self, entry: &BatchEntry<'_>) -> Option<Address> {
        let BatchEntry::Call(req) = entry else {
            return None;
        };
        if req.method_name() != "eth_sendRawTransaction" {
            return None;
        }
        let raw: Bytes = req.params().sequence().next().ok()?;
        self.mempool.decode(&raw).ok().map(|tx| tx.sender)
    }
}

impl<S> RpcServiceT for SenderLanes<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: jsonrpsee::types::Request<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.call(request)
    }

    fn notification<'a>(
        &self,
        n: jsonrpsee::server::middleware::rpc::Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let entries: Vec<_> = batch.into_iter().collect();
            // Lane of each entry: its sender for transactions, its own index otherwise.
            let mut lanes: BTreeMap<LaneKey, Vec<usize>> = BTreeMap::new();
            for (i, entry) in entries.iter().enumerate() {
                let key = match entry.as_ref().ok().and_then(|e| this.sender_of(e)) {
                    Some(sender) => LaneKey::Sender(sender),
                    None => LaneKey::Alone(i),
                };
                lanes.entry(key).or_default().push(i);
            }
            let mut slots: Vec<Option<_>> = entries.into_iter().map(Some).collect();
            let lane_futures = lanes.into_values().map(|indexes| {
                let work: Vec<_> = indexes.iter().map(|&i| (i, slots[i].take())).collect();
                let inner = this.inner.clone();
                async move {
                    let mut out = Vec::with_capacity(work.len());
                    for (i, entry) in work {
                        let response = match entry {
                            Some(Ok(BatchEntry::Call(req))) => Some(inner.call(req).await),
                            Some(Ok(BatchEntry::Notification(n))) => {
                                inner.notification(n).await;
                                None
                            }
                            Some(Err(err)) => {
                                let (err, id) = err.into_parts();
                                Some(MethodResponse::error(id, err))
                            }
                            None => None,
                        };
                        out.push((i, response));
                    }
                    out
                }
            });
            let mut responses: Vec<(usize, Option<MethodResponse>)> =
                futures::future::join_all(lane_futures)
                    .await
                    .into_iter()
                    .flatten()
                    .collect();
            responses.sort_by_key(|(i, _)| *i);
            let mut builder = BatchResponseBuilder::new_with_limit(MAX_BATCH_RESPONSE);
            let mut any = false;
            let mut notified = false;
            for (_, response) in responses {
                match response {
                    Some(r) => {
                        any = true;
                        if let Err(too_big) = builder.append(r) {
                            return too_big;
                        }
                    }
                    None => notified = true,
                }
            }
            if !any && notified {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(builder.finish())
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LaneKey {
    Sender(Address),
    Alone(usize),
}
