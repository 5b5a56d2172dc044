/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("merkle tree: {0}")]
    Tree(String),
    #[error("store writer: {0}")]
    Writer(String),
    #[error("corrupt record in the database: {0}")]
    Corrupt(&'static str),
}
