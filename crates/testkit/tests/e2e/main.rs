//! End-to-end tests with real processes: cometbft v0.38 + bevm-node, driven by Foundry's
//! `cast`, an ethers v6 script, and raw JSON-RPC. Run by `make test` after the release build
//! (`cargo test --release -p bevm-testkit --test e2e -- --test-threads=1`).

mod bad_input;
mod btc_relay;
mod clients;
mod custody;
mod helpers;
mod make_run;
mod multi_validator;
mod pegin;
mod relayer;
mod rpc_methods;
