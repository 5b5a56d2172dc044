//! The relayer's loop: step until up to date, then poll; back off on errors, up to a bound,
//! and keep going until stopped. A daemon that outlives node restarts and outages: every
//! error is logged with its reason and retried.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use tracing::{debug, info, warn};

use crate::{
    BitcoinSource, DepositScanner, L2Bridge, L2Chain, Progress, RawBlocks, RelayError,
    ScanProgress, Syncer,
};

/// Pacing of the loop.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Wait between looks at the Bitcoin node once up to date.
    pub poll_interval: Duration,
    /// First wait after an error; doubled after each further one.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// Relays headers, and deposits once they are deep enough, until `syncer.stop` is set.
pub fn run<B, L, DB, DL>(syncer: &Syncer<B, L>, deposits: &DepositScanner<DB, DL>, pacing: Pacing)
where
    B: BitcoinSource,
    L: L2Chain,
    DB: BitcoinSource + RawBlocks,
    DL: L2Chain + L2Bridge,
{
    let stop: &AtomicBool = &syncer.stop;
    let mut backoff = pacing.min_backoff;
    let mut reported_tip = None;
    let mut catch_up: Option<(Instant, u32)> = None;
    while !stop.load(Ordering::Relaxed) {
        let step_started = Instant::now();
        match syncer.step() {
            Ok(Progress::Relayed {
                from,
                to,
                bitcoin_tip,
            }) => {
                backoff = pacing.min_backoff;
                // A reorg below where this catch-up began starts a new one.
                if catch_up.is_some_and(|(_, first)| from < first) {
                    catch_up = None;
                }
                let (started, first) = *catch_up.get_or_insert((step_started, from));
                let rate = f64::from(to.saturating_sub(first) + 1)
                    / started.elapsed().as_secs_f64().max(1e-3);
                info!(
                    from,
                    to,
                    bitcoin_tip,
                    behind = bitcoin_tip - to,
                    headers_per_s = rate.round(),
                    "relayed headers"
                );
            }
            Ok(Progress::UpToDate { height }) => {
                backoff = pacing.min_backoff;
                catch_up = None;
                if reported_tip != Some(height) {
                    info!(height, "light client at the Bitcoin node's tip");
                    reported_tip = Some(height);
                }
                // Deposits are scanned once headers are up to date, so a long catch-up
                // is not slowed down; a scan step is bounded, so headers never wait long.
                match deposits.step() {
                    Ok(ScanProgress::Scanned { from, to, relayed }) => {
                        debug!(from, to, relayed, "scanned for deposits");
                        continue;
                    }
                    Err(e) => warn!(error = %e, "deposit scan failed; will retry"),
                    Ok(ScanProgress::Waiting) => {}
                }
                sleep_unless_stopped(pacing.poll_interval, stop);
            }
            Err(RelayError::Stopped) => break,
            Err(e) => {
                warn!(error = %e, retry_in = ?backoff, "relaying failed; will retry");
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(pacing.max_backoff);
            }
        }
    }
    debug!("relayer stopped");
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
