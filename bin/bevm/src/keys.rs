//! `bevm keys`: account keys stored as hex files, one per name, readable only by the owner.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _};
use bevm_config::write_private;
use bevm_primitives::keys::AccountKey;
use clap::Subcommand;
use rand::RngCore;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a new random key and print its address.
    Generate {
        /// Name of the key.
        name: String,
        #[arg(long, env = "BEVM_KEYRING", default_value_os_t = default_dir())]
        keyring: PathBuf,
    },
    /// Import a secret key (hex, read from stdin so it never lands in shell history).
    Import {
        name: String,
        #[arg(long, env = "BEVM_KEYRING", default_value_os_t = default_dir())]
        keyring: PathBuf,
    },
    /// List the names and addresses of stored keys.
    List {
        #[arg(long, env = "BEVM_KEYRING", default_value_os_t = default_dir())]
        keyring: PathBuf,
    },
}

pub(crate) fn default_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".bevm/keys")
}

fn key_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("key names use letters, digits, '-' and '_' only");
    }
    Ok(dir.join(format!("{name}.key")))
}

/// A stored key by name.
///
/// # Errors
/// No such key, or a file that is not a key.
pub(crate) fn load(dir: &Path, name: &str) -> anyhow::Result<AccountKey> {
    let path = key_path(dir, name)?;
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no key {name:?} in {} (see `bevm keys list`)",
            dir.display()
        )
    })?;
    AccountKey::from_hex(text.trim()).with_context(|| format!("{} is not a key", path.display()))
}

fn store(dir: &Path, name: &str, key: &AccountKey) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = key_path(dir, name)?;
    if path.exists() {
        bail!("a key named {name:?} already exists in {}", dir.display());
    }
    write_private(&path, key.to_secret_hex().as_bytes())?;
    println!("{name}  {}", key.address());
    Ok(())
}

pub fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Generate { name, keyring } => {
            let mut secret = [0u8; 32];
            // A random 32-byte string is a valid key except with negligible probability.
            let key = loop {
                rand::rngs::OsRng.fill_bytes(&mut secret);
                if let Ok(k) = AccountKey::from_bytes(&secret) {
                    break k;
                }
            };
            store(&keyring, &name, &key)
        }
        KeysCommand::Import { name, keyring } => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            let key = AccountKey::from_hex(text.trim())?;
            store(&keyring, &name, &key)
        }
        KeysCommand::List { keyring } => {
            let Ok(entries) = std::fs::read_dir(&keyring) else {
                println!("no keys in {}", keyring.display());
                return Ok(());
            };
            let mut names: Vec<_> = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".key")
                        .map(str::to_owned)
                })
                .collect();
            names.sort();
            for name in names {
                let path = key_path(&keyring, &name)?;
                let text = std::fs::read_to_string(&path)?;
                match AccountKey::from_hex(text.trim()) {
                    Ok(key) => println!("{name}  {}", key.address()),
                    Err(e) => println!("{name}  unreadable: {e}"),
                }
            }
            Ok(())
        }
    }
}
