//! A minimal blocking JSON-RPC client over HTTP/1.1 (one connection per request). It can send
//! arbitrary bytes, so tests can check how the server handles malformed requests.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use serde_json::{json, Value};

/// A JSON-RPC endpoint on localhost.
#[derive(Debug, Clone)]
pub struct Rpc {
    pub port: u16,
}

impl Rpc {
    pub fn new(port: u16) -> Self {
        Self { port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// POSTs `body` and returns the HTTP status and the response body.
    ///
    /// # Errors
    /// Connection failures.
    pub fn post_raw(&self, body: &[u8]) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Ok((status, body))
    }

    /// Calls `method` and returns the whole response object (`result` or `error`).
    ///
    /// # Errors
    /// Connection failures and non-JSON answers.
    pub fn call_raw(&self, method: &str, params: Value) -> std::io::Result<Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let (_, text) = self.post_raw(body.to_string().as_bytes())?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Calls `method` and returns its result.
    ///
    /// # Errors
    /// Connection failures, or the JSON-RPC error as text.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let v = self.call_raw(method, params).map_err(|e| e.to_string())?;
        match v.get("error") {
            Some(e) => Err(e.to_string()),
            None => Ok(v["result"].clone()),
        }
    }

    /// eth_blockNumber, if the node answers.
    pub fn block_number(&self) -> Option<u64> {
        let v = self.call("eth_blockNumber", json!([])).ok()?;
        u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// Parses a 0x-hex quantity.
pub fn quantity(v: &Value) -> Option<u128> {
    u128::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}
