//! The JavaScript configuration object, read into a [`Config`].
//!
//! Read here: `name` (required), `version`, `keyPath`, `indexes`, `syncStrategy`,
//! `checkpointEvery`, `durability`, `cacheSize`, `enableCache`, `maxOpBytes`, `maxClockDrift`, `distributed`, and what the sync engine needs ([`SyncOptions`]:
//! `autoSync`, `syncInterval`, `timeout`, `p2pConfig.group`, `p2pConfig.maxFrameBytes`). The
//! adapter's options (`p2pAdapter`, `server`, `p2pConfig`, `maxConnections`,
//! `connectionTimeout`...) are read by the JavaScript class and its adapters.

use auroradb_log::{NTP64, millis_to_ntp};

/// The records an instance holds in memory by default (`cacheSize`).
pub const DEFAULT_CACHE_SIZE: usize = 10_000;
use auroradb_snapshot::{IndexSpec, Strategy};
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;

use crate::idb::Durability;
use crate::value::describe;
use auroradb::{Config, DbError};

/// The physical clock in the browser: `Date.now()`.
pub fn js_clock() -> NTP64 {
    NTP64(millis_to_ntp(js_sys::Date::now() as u64))
}

/// What the sync engine takes from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// `autoSync` (default true): push local writes at once, reconcile with a peer when it
    /// connects, and run anti-entropy every `syncInterval`. When false, only `sync()`,
    /// `fetch()` and `post()` exchange anything.
    pub auto_sync: bool,
    /// `syncInterval` (ms, default 30000): between anti-entropy rounds.
    pub sync_interval_ms: u64,
    /// `timeout` (ms, default 10000): a sync session that makes no progress for this long is
    /// abandoned.
    pub session_timeout_ms: u64,
    /// `p2pConfig.group`, else `p2pConfig.room` (default: the database name): peers sync only
    /// within one group.
    pub group: Option<String>,
    /// `p2pConfig.maxFrameBytes`: the largest frame the adapter carries (the engine's frames
    /// stay within it).
    pub max_frame: Option<usize>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            auto_sync: true,
            sync_interval_ms: 30_000,
            session_timeout_ms: 10_000,
            group: None,
            max_frame: None,
        }
    }
}

/// What a JavaScript configuration says.
#[derive(Debug, Clone)]
pub struct JsConfig {
    /// The engine's configuration.
    pub db: Config,
    /// `durability` (`'relaxed'`, the default, or `'strict'`): of every `readwrite` IndexedDB
    /// transaction.
    pub durability: Durability,
    /// Whether peer-to-peer sync is asked for.
    pub distributed: bool,
    /// The peer id given to `create(distributed, peerId)`, used as this peer's name on the network.
    pub peer_label: Option<String>,
    /// What the sync engine takes from the configuration.
    pub sync: SyncOptions,
}

fn field(obj: &JsValue, name: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn bad(what: String) -> DbError {
    DbError::InvalidConfig(what)
}

fn whole(v: &JsValue, name: &str, min: f64, max: f64) -> Result<Option<f64>, DbError> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && (min..=max).contains(&n) => Ok(Some(n)),
        // The bounds are whole: written as integers, without Rust's float formatting.
        other => Err(bad(format!(
            "{name} must be a whole number from {} to {}, not {}",
            min as u64,
            max as u64,
            match other {
                // The number itself, as JavaScript writes it.
                Some(n) => js_number(n),
                None => describe(v),
            }
        ))),
    }
}

/// `n` as JavaScript writes it (`-1`, `1.5`, `Infinity`), by JavaScript itself: Rust's float
/// formatting would add its code to the engine.
fn js_number(n: f64) -> String {
    js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_else(|_| "a number".into())
}

/// Option `name` of `config` when it is a boolean; `None` when absent (undefined or null).
fn boolean(config: &JsValue, name: &str) -> Result<Option<bool>, DbError> {
    let v = field(config, name);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_bool().map(Some).ok_or_else(|| bad(format!("{name} must be a boolean, not {}", describe(&v))))
}

/// Reads `config`; `distributed` and `peer_id` are the arguments of `create()` (they win over
/// the configuration's `distributed`).
pub fn parse(config: &JsValue, distributed: Option<bool>, peer_id: Option<String>) -> Result<JsConfig, DbError> {
    if !config.is_object() {
        return Err(bad(format!("the configuration must be an object, not {}", describe(config))));
    }
    let name = match field(config, "name").as_string() {
        Some(n) if !n.is_empty() => n,
        _ => return Err(bad("name is required: a non-empty string".into())),
    };
    let mut db = Config::new(name, js_clock);
    if let Some(v) = whole(&field(config, "version"), "version", 1.0, f64::from(u32::MAX))? {
        db.version = v as u32;
    }
    let key_path = field(config, "keyPath");
    if !key_path.is_undefined() && !key_path.is_null() {
        // Exactly, as an index name: a lone surrogate would name the U+FFFD field.
        match crate::value::exact_string(&key_path)
            .transpose()
            .map_err(|e| bad(["keyPath ", &e.describe()].concat()))?
        {
            // No stored value can have that field (see Values): every add() would fail.
            Some(p) if p == "__proto__" => {
                return Err(bad("keyPath cannot be __proto__, a field no stored value has".into()));
            }
            Some(p) if !p.is_empty() => db.key_path = Some(p),
            Some(_) => return Err(bad("keyPath must be a non-empty string, not an empty one".into())),
            None => return Err(bad(format!("keyPath must be a non-empty string, not {}", describe(&key_path)))),
        }
    }
    let indexes = field(config, "indexes");
    if !indexes.is_undefined() && !indexes.is_null() {
        let items = crate::value::array_items(&indexes).map_err(|_| bad("indexes threw when read".into()))?;
        let items = items.ok_or_else(|| bad("indexes must be an array of { name, unique }".into()))?;
        // Exactly (a lone surrogate would name the U+FFFD one), and a field a value can have.
        let index_name = |v: &JsValue| match crate::value::exact_string(v) {
            Some(Err(e)) => Err(bad(["an index name ", &e.describe()].concat())),
            Some(Ok(n)) if n == "__proto__" => {
                Err(bad("an index cannot be on __proto__, a field no stored value has".into()))
            }
            other => Ok(other.and_then(Result::ok)),
        };
        for item in items {
            let spec = if let Some(name) = index_name(&item)? {
                IndexSpec { name, unique: false }
            } else if item.is_object() {
                let name = index_name(&field(&item, "name"))?.unwrap_or_default();
                let unique = field(&item, "unique");
                if !unique.is_undefined() && unique.as_bool().is_none() {
                    return Err(bad(format!("index {name:?}: unique must be a boolean")));
                }
                IndexSpec { name, unique: unique.as_bool().unwrap_or(false) }
            } else {
                return Err(bad(format!("an index must be {{ name, unique }}, not {}", describe(&item))));
            };
            if spec.name.is_empty() {
                return Err(bad("an index needs a non-empty name (the field it indexes)".into()));
            }
            if db.indexes.iter().any(|i| i.name == spec.name) {
                return Err(bad(format!("index {:?} is listed twice", spec.name)));
            }
            db.indexes.push(spec);
        }
    }
    let strategy = field(config, "syncStrategy");
    if !strategy.is_undefined() && !strategy.is_null() {
        match strategy.as_string() {
            Some(s) => db.strategy = Strategy::from_name(&s).map_err(|e| bad(e.to_string()))?,
            None => {
                return Err(bad(format!(
                    "syncStrategy must be one of timestamp, version, merge, local-wins, remote-wins, not {}",
                    describe(&strategy)
                )));
            }
        }
    }
    if let Some(n) = whole(&field(config, "checkpointEvery"), "checkpointEvery", 0.0, 1e12)? {
        db.checkpoint_every = n as u64;
    }
    let durability = match field(config, "durability") {
        v if v.is_undefined() || v.is_null() => Durability::default(),
        v => v
            .as_string()
            .and_then(|d| Durability::from_name(&d))
            .ok_or_else(|| bad(format!("durability must be 'strict' or 'relaxed', not {}", describe(&v))))?,
    };
    // The records held in memory: read from IndexedDB on demand, at most about this many kept.
    let enable_cache = boolean(config, "enableCache")?;
    db.state_cache = Some(match whole(&field(config, "cacheSize"), "cacheSize", 0.0, 1e9)? {
        _ if enable_cache == Some(false) => 0,
        Some(n) => n as usize,
        None => DEFAULT_CACHE_SIZE,
    });
    if let Some(n) = whole(
        &field(config, "maxOpBytes"),
        "maxOpBytes",
        auroradb::MAX_OP_FLOOR as f64,
        auroradb::MAX_OP_CEILING as f64,
    )? {
        db.max_op = n as usize;
    }
    // How far ahead of the local clock an op from a peer or a file may be, in milliseconds: from
    // a second to a year.
    if let Some(ms) = whole(&field(config, "maxClockDrift"), "maxClockDrift", 1_000.0, 31_536_000_000.0)? {
        db.max_drift = std::time::Duration::from_millis(ms as u64);
    }
    let identity = field(config, "identity");
    if !identity.is_undefined() && !identity.is_null() {
        let secret: [u8; 32] = identity
            .dyn_ref::<js_sys::Uint8Array>()
            .and_then(|a| a.to_vec().try_into().ok())
            .ok_or_else(|| bad("identity must be a Uint8Array of 32 bytes (a secret key from getIdentity())".into()))?;
        db.identity = Some(auroradb::log::Identity::from_secret(&secret));
    }
    let distributed = match distributed {
        Some(d) => d,
        None => boolean(config, "distributed")?.unwrap_or(false),
    };
    let sync = sync_options(config)?;
    Ok(JsConfig { db, durability, distributed, peer_label: peer_id, sync })
}

fn sync_options(config: &JsValue) -> Result<SyncOptions, DbError> {
    let mut out = SyncOptions::default();
    if let Some(auto) = boolean(config, "autoSync")? {
        out.auto_sync = auto;
    }
    if let Some(ms) = whole(&field(config, "syncInterval"), "syncInterval", 1.0, 1e12)? {
        out.sync_interval_ms = ms as u64;
    }
    if let Some(ms) = whole(&field(config, "timeout"), "timeout", 1.0, 1e12)? {
        out.session_timeout_ms = ms as u64;
    }
    let p2p = field(config, "p2pConfig");
    if p2p.is_object() {
        for name in ["group", "room"] {
            let group = field(&p2p, name);
            if group.is_undefined() || group.is_null() {
                continue;
            }
            match group.as_string() {
                Some(g) if !g.is_empty() => {
                    out.group = Some(g);
                    break;
                }
                _ => return Err(bad(format!("p2pConfig.{name} must be a non-empty string, not {}", describe(&group)))),
            }
        }
        let max = field(&p2p, "maxFrameBytes");
        if let Some(n) = max.as_f64().filter(|n| n.is_finite() && *n >= 1.0) {
            out.max_frame = Some(n.min(usize::MAX as f64) as usize);
        }
    }
    Ok(out)
}
