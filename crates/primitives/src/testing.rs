//! Test helpers shared by every crate's property tests (feature `testing`).

use proptest::test_runner::{Config, FileFailurePersistence};

/// A proptest configuration whose failure seeds go to the workspace's
/// `proptest-regressions/<name>.txt`, where they are committed and replayed first.
pub fn proptest_config(name: &str) -> Config {
    let path = format!(
        "{}/../../proptest-regressions/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    Config {
        // proptest wants a 'static path; one small leak per test binary and name is fine.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(Box::leak(
            path.into_boxed_str(),
        )))),
        ..Config::default()
    }
}
