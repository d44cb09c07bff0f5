//! The MAC learning table of a bridge, as OVS's `lib/mac-learning.c`.
//!
//! * Entries are keyed by (MAC, VLAN) and point to an OpenFlow port number
//!   (OVS points to a bundle; rvs has one port per bundle).
//! * Time is in whole seconds (`now_ns / 10^9`, OVS `time_now()`); an entry
//!   expires `idle_time` seconds after it was last refreshed
//!   (`mac_learning_insert()`), and its age is `idle_time - (expires - now)`
//!   (`mac_entry_age()`).
//! * A global LRU list (least recently refreshed first) drives expiry
//!   (`mac_learning_run()`) and the `fdb/show` order. A full table evicts
//!   the least recently used entry of the port with the most entries
//!   (`evict_mac_entry_fairly()`), so that one port flooding source MACs
//!   cannot push out the others.
//! * Multicast source MACs are never learned (`mac_learning_may_learn()`);
//!   multicast destinations are never looked up (`mac_learning_lookup()`).
//! * Lookups do not check expiry: an entry lives until [`MacLearning::run`]
//!   removes it, as in OVS.

use std::collections::{BTreeMap, HashMap};

/// Default `other_config:mac-aging-time`, seconds (OVS
/// `MAC_ENTRY_DEFAULT_IDLE_TIME`).
pub const MAC_ENTRY_DEFAULT_IDLE_TIME: u32 = 300;
/// Default `other_config:mac-table-size` (OVS `MAC_DEFAULT_MAX`).
pub const MAC_DEFAULT_MAX: usize = 8192;
/// Smallest accepted idle time, seconds (`normalize_idle_time()`).
pub const MAC_MIN_IDLE_TIME: u32 = 15;
/// Largest accepted idle time, seconds (`normalize_idle_time()`).
pub const MAC_MAX_IDLE_TIME: u32 = 3600;

/// True for a group (multicast or broadcast) MAC, given as the 48-bit integer
/// of [`dp_core::flow`] (`eth_addr_is_multicast()`).
pub fn mac_is_multicast(mac: u64) -> bool {
    mac >> 40 & 1 != 0
}

/// Counters of `ovs-appctl fdb/stats-show` (OVS `struct mac_learning`'s
/// `total_*` members).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdbStats {
    /// Current number of entries.
    pub current: usize,
    /// `mac-table-size` limit.
    pub max: usize,
    /// Entries ever created.
    pub learned: u64,
    /// Entries removed because they aged out (or the table was over its
    /// limit at [`MacLearning::run`]).
    pub expired: u64,
    /// Entries removed to make room for a new one.
    pub evicted: u64,
    /// Entries that moved to another port.
    pub moved: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    port: u32,
    /// Expiry time in seconds.
    expires: i64,
    /// Position in the LRU lists (larger = more recent).
    lru: u64,
}

type Key = (u64, u16);

/// One row of the table, for `fdb/show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbRow {
    /// OpenFlow port the MAC was learned on.
    pub port: u32,
    /// VLAN (0..=4095).
    pub vlan: u16,
    /// MAC as the 48-bit integer of [`dp_core::flow`].
    pub mac: u64,
    /// Seconds since the entry was last refreshed.
    pub age: i64,
}

/// A MAC learning table; see the module documentation. Not synchronized:
/// [`super::NormalBridge`] wraps it in a lock.
#[derive(Debug)]
pub struct MacLearning {
    table: HashMap<Key, Entry>,
    lrus: BTreeMap<u64, Key>,
    port_lrus: HashMap<u32, BTreeMap<u64, Key>>,
    next_lru: u64,
    idle_time: u32,
    max_entries: usize,
    stats: FdbStats,
}

impl Default for MacLearning {
    fn default() -> Self {
        Self::new()
    }
}

/// Seconds of a monotonic nanosecond clock.
pub fn secs(now_ns: u64) -> i64 {
    (now_ns / 1_000_000_000) as i64
}

impl MacLearning {
    /// An empty table with OVS's defaults (300 s, 8192 entries).
    pub fn new() -> Self {
        MacLearning {
            table: HashMap::new(),
            lrus: BTreeMap::new(),
            port_lrus: HashMap::new(),
            next_lru: 0,
            idle_time: MAC_ENTRY_DEFAULT_IDLE_TIME,
            max_entries: MAC_DEFAULT_MAX,
            stats: FdbStats::default(),
        }
    }

    /// Sets the idle time (clamped to 15..=3600 s as `normalize_idle_time()`)
    /// and shifts every entry's expiry by the difference
    /// (`mac_learning_set_idle_time()`).
    pub fn set_idle_time(&mut self, secs: u32) {
        let t = secs.clamp(MAC_MIN_IDLE_TIME, MAC_MAX_IDLE_TIME);
        let delta = t as i64 - self.idle_time as i64;
        if delta != 0 {
            for e in self.table.values_mut() {
                e.expires += delta;
            }
            self.idle_time = t;
        }
    }

    /// The idle time in seconds.
    pub fn idle_time(&self) -> u32 {
        self.idle_time
    }

    /// Sets the table size limit (0 means the default 8192,
    /// `mac_learning_set_max_entries()`). An over-full table shrinks at the
    /// next [`MacLearning::run`].
    pub fn set_max_entries(&mut self, n: usize) {
        self.max_entries = if n == 0 { MAC_DEFAULT_MAX } else { n };
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True if the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The port `mac` was learned on in `vlan` (`mac_learning_lookup()`);
    /// `None` for multicast MACs.
    pub fn lookup(&self, mac: u64, vlan: u16) -> Option<u32> {
        if mac_is_multicast(mac) {
            return None;
        }
        self.table.get(&(mac, vlan)).map(|e| e.port)
    }

    fn age(&self, e: &Entry, now: i64) -> i64 {
        self.idle_time as i64 - (e.expires - now)
    }

    /// `is_mac_learning_update_needed()` (without the bond/gratuitous-ARP
    /// lock, rvs has no bonds): true if learning `mac` on `port` would create,
    /// refresh or move an entry. Entries already refreshed in the current
    /// second are left alone.
    pub fn update_needed(&self, mac: u64, vlan: u16, port: u32, now: i64) -> bool {
        if mac_is_multicast(mac) {
            return false;
        }
        match self.table.get(&(mac, vlan)) {
            None => true,
            Some(e) => self.age(e, now) != 0 || e.port != port,
        }
    }

    fn bump_lru(&mut self, key: Key, port: u32, old: Option<(u64, u32)>) -> u64 {
        if let Some((lru, old_port)) = old {
            self.lrus.remove(&lru);
            self.remove_port_lru(old_port, lru);
        }
        let lru = self.next_lru;
        self.next_lru += 1;
        self.lrus.insert(lru, key);
        self.port_lrus.entry(port).or_default().insert(lru, key);
        lru
    }

    fn remove_port_lru(&mut self, port: u32, lru: u64) {
        if let Some(m) = self.port_lrus.get_mut(&port) {
            m.remove(&lru);
            if m.is_empty() {
                self.port_lrus.remove(&port);
            }
        }
    }

    /// `mac_learning_update()` / `update_learning_table__()`: learns that
    /// `mac` in `vlan` is on `port` at time `now` (seconds). Creates (evicting
    /// fairly when full), refreshes or moves the entry. Returns true if the
    /// forwarding state changed (new entry or a move), i.e. flows must be
    /// revalidated.
    pub fn update(&mut self, mac: u64, vlan: u16, port: u32, now: i64) -> bool {
        if !self.update_needed(mac, vlan, port, now) {
            return false;
        }
        let key = (mac, vlan);
        let expires = now + self.idle_time as i64;
        match self.table.get(&key).copied() {
            Some(e) => {
                let lru = self.bump_lru(key, port, Some((e.lru, e.port)));
                let moved = e.port != port;
                if moved {
                    self.stats.moved += 1;
                }
                self.table.insert(key, Entry { port, expires, lru });
                moved
            }
            None => {
                if self.table.len() >= self.max_entries {
                    self.evict_fairly();
                }
                let lru = self.bump_lru(key, port, None);
                self.table.insert(key, Entry { port, expires, lru });
                self.stats.learned += 1;
                true
            }
        }
    }

    fn remove(&mut self, key: Key) {
        if let Some(e) = self.table.remove(&key) {
            self.lrus.remove(&e.lru);
            self.remove_port_lru(e.port, e.lru);
        }
    }

    /// `evict_mac_entry_fairly()`: removes the least recently used entry of
    /// the port with the most entries (ties: lowest port number).
    fn evict_fairly(&mut self) {
        let victim = self
            .port_lrus
            .iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .and_then(|(_, m)| m.values().next().copied());
        if let Some(key) = victim {
            self.stats.evicted += 1;
            self.remove(key);
        }
    }

    /// `mac_learning_run()`: removes entries, least recently used first,
    /// while the table is over its limit or the entry has expired. Returns
    /// true if anything was removed.
    pub fn run(&mut self, now: i64) -> bool {
        let mut changed = false;
        while let Some(key) = self.lrus.first_key_value().map(|(_, k)| *k) {
            let e = self.table[&key];
            if self.table.len() > self.max_entries || now >= e.expires {
                self.stats.expired += 1;
                self.remove(key);
                changed = true;
            } else {
                break;
            }
        }
        changed
    }

    /// `mac_learning_flush()`: removes every entry. Returns true if the table
    /// was not empty.
    pub fn flush(&mut self) -> bool {
        let changed = !self.table.is_empty();
        self.table.clear();
        self.lrus.clear();
        self.port_lrus.clear();
        changed
    }

    /// Removes every entry learned on `port` (`bundle_flush_macs()`).
    /// Returns true if any was removed.
    pub fn flush_port(&mut self, port: u32) -> bool {
        let Some(m) = self.port_lrus.get(&port) else {
            return false;
        };
        let keys: Vec<Key> = m.values().copied().collect();
        for k in keys {
            self.remove(k);
        }
        true
    }

    /// Entries, least recently refreshed first (the order of OVS's `lrus`
    /// list, which `fdb/show` prints), with ages at `now` (seconds).
    pub fn rows(&self, now: i64) -> Vec<FdbRow> {
        self.lrus
            .values()
            .map(|k| {
                let e = &self.table[k];
                FdbRow {
                    port: e.port,
                    vlan: k.1,
                    mac: k.0,
                    age: self.age(e, now),
                }
            })
            .collect()
    }

    /// The `fdb/stats-show` counters.
    pub fn stats(&self) -> FdbStats {
        FdbStats {
            current: self.table.len(),
            max: self.max_entries,
            ..self.stats
        }
    }
}
