//! Units of the native coin. On the L2, BTC has 18 decimals like ether, so wallets show it
//! correctly; on Bitcoin it has 8. The bridge converts at exactly 1 sat = 10^10 wei.

use alloy_primitives::U256;

/// Wei in one satoshi.
pub const WEI_PER_SAT: u64 = 10_000_000_000;

/// Satoshis in one bitcoin.
pub const SAT_PER_BTC: u64 = 100_000_000;

/// Converts satoshis to wei. Never overflows: `u64::MAX * 10^10 < 2^256`.
pub fn sat_to_wei(sat: u64) -> U256 {
    U256::from(sat) * U256::from(WEI_PER_SAT)
}

/// Converts wei to whole satoshis and the wei remainder that does not make a whole satoshi.
/// Returns `None` if the satoshi amount does not fit in a `u64` (more than all bitcoin ever).
pub fn wei_to_sat(wei: U256) -> Option<(u64, u64)> {
    let (sat, rem) = wei.div_rem(U256::from(WEI_PER_SAT));
    Some((u64::try_from(sat).ok()?, u64::try_from(rem).ok()?))
}

/// Converts whole bitcoins to wei.
pub fn btc_to_wei(btc: u64) -> U256 {
    sat_to_wei(btc.saturating_mul(SAT_PER_BTC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sat_is_ten_to_the_ten_wei() {
        assert_eq!(sat_to_wei(1), U256::from(10u64).pow(U256::from(10)));
        assert_eq!(btc_to_wei(1), U256::from(10u64).pow(U256::from(18)));
    }

    #[test]
    fn wei_to_sat_splits_remainder() {
        let wei = sat_to_wei(12_345) + U256::from(7u64);
        assert_eq!(wei_to_sat(wei), Some((12_345, 7)));
        assert_eq!(wei_to_sat(U256::MAX), None);
    }

    #[test]
    fn round_trip_max_supply() {
        let sat = 21_000_000 * SAT_PER_BTC;
        assert_eq!(wei_to_sat(sat_to_wei(sat)), Some((sat, 0)));
    }
}
