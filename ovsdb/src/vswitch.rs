//! Typed views of the vswitch tables (`vswitch.ovsschema`, ovs-vswitchd.conf.db(5))
//! the daemon reads, and a helper to write its status columns back.

use std::collections::BTreeMap;

use crate::data::{Atom, Datum, Row, Uuid};
use crate::idl::Replica;
use crate::transact::{Condition, Transaction};

fn get<'a>(row: &'a Row, col: &str) -> Option<&'a Datum> {
    row.get(col)
}
fn string(row: &Row, col: &str) -> String {
    get(row, col)
        .and_then(Datum::as_str)
        .unwrap_or_default()
        .to_string()
}
fn opt_string(row: &Row, col: &str) -> Option<String> {
    get(row, col).and_then(Datum::as_str).map(str::to_string)
}
fn opt_int(row: &Row, col: &str) -> Option<i64> {
    get(row, col).and_then(Datum::as_integer)
}
fn smap(row: &Row, col: &str) -> BTreeMap<String, String> {
    get(row, col).map(Datum::string_map).unwrap_or_default()
}
fn uuids(row: &Row, col: &str) -> Vec<Uuid> {
    get(row, col).map(Datum::uuids).unwrap_or_default()
}

/// The `Open_vSwitch` root row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenVSwitch {
    /// Row uuid.
    pub uuid: Uuid,
    /// `bridges`: Bridge row uuids.
    pub bridges: Vec<Uuid>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `next_cfg`: bumped by ovs-vsctl for each change it wants applied.
    pub next_cfg: i64,
    /// `cur_cfg`: the `next_cfg` the switch has applied.
    pub cur_cfg: i64,
}

/// A `Bridge` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// Row uuid.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `ports`: Port row uuids.
    pub ports: Vec<Uuid>,
    /// `datapath_type` (`""` or `"system"`, `"netdev"`).
    pub datapath_type: String,
    /// `fail_mode` (`"standalone"`, `"secure"`), if set.
    pub fail_mode: Option<String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
    /// `controller`: Controller row uuids.
    pub controller: Vec<Uuid>,
    /// `protocols` (e.g. `"OpenFlow13"`).
    pub protocols: Vec<String>,
}

/// A `Controller` row (ovs-vswitchd.conf.db(5), "Controller TABLE"):
/// the configuration columns the connection manager reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// Row uuid.
    pub uuid: Uuid,
    /// `target`: active `tcp:IP[:PORT]`, `unix:PATH`, or passive
    /// `ptcp:[PORT][:IP]`, `punix:PATH`.
    pub target: String,
    /// `max_backoff` in ms (at least 1000), if set; the default is 8000.
    pub max_backoff: Option<i64>,
    /// `inactivity_probe` in ms (0 disables), if set; the default is 5000.
    pub inactivity_probe: Option<i64>,
    /// `connection_mode` (`"in-band"`, `"out-of-band"`), if set.
    pub connection_mode: Option<String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

/// A `Port` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Row uuid.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `interfaces`: Interface row uuids.
    pub interfaces: Vec<Uuid>,
    /// `tag`: access VLAN (0..=4095), if set.
    pub tag: Option<i64>,
    /// `trunks`: trunked VLANs (empty: all).
    pub trunks: Vec<i64>,
    /// `vlan_mode` (`"access"`, `"trunk"`, `"native-tagged"`, ...), if set.
    pub vlan_mode: Option<String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

/// An `Interface` row (configuration columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Row uuid.
    pub uuid: Uuid,
    /// `name`.
    pub name: String,
    /// `type` (`""` for a system interface, `"internal"`, `"afxdp"`, ...).
    pub type_: String,
    /// `options`.
    pub options: BTreeMap<String, String>,
    /// `ofport_request`, if set.
    pub ofport_request: Option<i64>,
    /// `mtu_request` in bytes, if set.
    pub mtu_request: Option<i64>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

impl Replica {
    /// The `Open_vSwitch` row (the table holds at most one).
    pub fn open_vswitch(&self) -> Option<OpenVSwitch> {
        let (uuid, row) = self.rows("Open_vSwitch").next()?;
        Some(OpenVSwitch {
            uuid: *uuid,
            bridges: uuids(row, "bridges"),
            other_config: smap(row, "other_config"),
            external_ids: smap(row, "external_ids"),
            next_cfg: opt_int(row, "next_cfg").unwrap_or(0),
            cur_cfg: opt_int(row, "cur_cfg").unwrap_or(0),
        })
    }

    fn bridge_from(uuid: &Uuid, row: &Row) -> Bridge {
        Bridge {
            uuid: *uuid,
            name: string(row, "name"),
            ports: uuids(row, "ports"),
            datapath_type: string(row, "datapath_type"),
            fail_mode: opt_string(row, "fail_mode"),
            other_config: smap(row, "other_config"),
            controller: uuids(row, "controller"),
            protocols: get(row, "protocols")
                .map(Datum::strings)
                .unwrap_or_default(),
        }
    }

    fn port_from(uuid: &Uuid, row: &Row) -> Port {
        Port {
            uuid: *uuid,
            name: string(row, "name"),
            interfaces: uuids(row, "interfaces"),
            tag: opt_int(row, "tag"),
            trunks: get(row, "trunks").map(Datum::integers).unwrap_or_default(),
            vlan_mode: opt_string(row, "vlan_mode"),
            other_config: smap(row, "other_config"),
        }
    }

    fn interface_from(uuid: &Uuid, row: &Row) -> Interface {
        Interface {
            uuid: *uuid,
            name: string(row, "name"),
            type_: string(row, "type"),
            options: smap(row, "options"),
            ofport_request: opt_int(row, "ofport_request"),
            mtu_request: opt_int(row, "mtu_request"),
            other_config: smap(row, "other_config"),
        }
    }

    fn controller_from(uuid: &Uuid, row: &Row) -> Controller {
        Controller {
            uuid: *uuid,
            target: string(row, "target"),
            max_backoff: opt_int(row, "max_backoff"),
            inactivity_probe: opt_int(row, "inactivity_probe"),
            connection_mode: opt_string(row, "connection_mode"),
            other_config: smap(row, "other_config"),
        }
    }

    /// One `Controller` row.
    pub fn controller(&self, uuid: &Uuid) -> Option<Controller> {
        self.row("Controller", uuid)
            .map(|r| Self::controller_from(uuid, r))
    }

    /// All `Bridge` rows (uuid order).
    pub fn bridges(&self) -> Vec<Bridge> {
        self.rows("Bridge")
            .map(|(u, r)| Self::bridge_from(u, r))
            .collect()
    }

    /// One `Bridge` row.
    pub fn bridge(&self, uuid: &Uuid) -> Option<Bridge> {
        self.row("Bridge", uuid).map(|r| Self::bridge_from(uuid, r))
    }

    /// The `Bridge` row named `name`.
    pub fn bridge_by_name(&self, name: &str) -> Option<Bridge> {
        self.bridges().into_iter().find(|b| b.name == name)
    }

    /// All `Port` rows.
    pub fn ports(&self) -> Vec<Port> {
        self.rows("Port")
            .map(|(u, r)| Self::port_from(u, r))
            .collect()
    }

    /// One `Port` row.
    pub fn port(&self, uuid: &Uuid) -> Option<Port> {
        self.row("Port", uuid).map(|r| Self::port_from(uuid, r))
    }

    /// The `Port` row named `name`.
    pub fn port_by_name(&self, name: &str) -> Option<Port> {
        self.ports().into_iter().find(|p| p.name == name)
    }

    /// All `Interface` rows.
    pub fn interfaces(&self) -> Vec<Interface> {
        self.rows("Interface")
            .map(|(u, r)| Self::interface_from(u, r))
            .collect()
    }

    /// One `Interface` row.
    pub fn interface(&self, uuid: &Uuid) -> Option<Interface> {
        self.row("Interface", uuid)
            .map(|r| Self::interface_from(uuid, r))
    }

    /// The `Interface` row named `name`.
    pub fn interface_by_name(&self, name: &str) -> Option<Interface> {
        self.interfaces().into_iter().find(|i| i.name == name)
    }
}

/// Builds the transaction with which the switch reports its status, one
/// `update` per row, in the style of ovs-vswitchd's status updates:
///
/// ```
/// # use ovsdb::vswitch::StatusTxn;
/// # let (root, iface) = (ovsdb::Uuid::nil(), ovsdb::Uuid::nil());
/// let mut s = StatusTxn::new();
/// s.cur_cfg(root, 7).verify_next_cfg(root, 7);
/// s.interface_ofport(iface, Some(1)).interface_link_state(iface, Some("up"));
/// let txn = s.build();
/// # assert_eq!(txn.ops.len(), 3);
/// ```
///
/// Values given as `None` clear optional columns.
#[derive(Debug, Default, Clone)]
pub struct StatusTxn {
    rows: BTreeMap<(&'static str, Uuid), Row>,
    verify: Vec<(&'static str, Uuid, String, Datum)>,
}

impl StatusTxn {
    /// No updates yet.
    pub fn new() -> StatusTxn {
        StatusTxn::default()
    }

    /// Sets any column of any row.
    pub fn set(
        &mut self,
        table: &'static str,
        uuid: Uuid,
        column: &str,
        value: Datum,
    ) -> &mut Self {
        self.rows
            .entry((table, uuid))
            .or_default()
            .insert(column.to_string(), value);
        self
    }

    /// Makes the transaction fail (error `"timed out"`, RFC 7047 section
    /// 5.2.6 `wait` with timeout 0) unless `table.column` of `uuid` still is
    /// `value` when it commits.
    pub fn verify(
        &mut self,
        table: &'static str,
        uuid: Uuid,
        column: &str,
        value: Datum,
    ) -> &mut Self {
        self.verify.push((table, uuid, column.to_string(), value));
        self
    }

    /// Verifies `Open_vSwitch.next_cfg` (the switch applied that config).
    pub fn verify_next_cfg(&mut self, root: Uuid, next_cfg: i64) -> &mut Self {
        self.verify("Open_vSwitch", root, "next_cfg", Datum::from(next_cfg))
    }

    /// `Open_vSwitch.cur_cfg`.
    pub fn cur_cfg(&mut self, root: Uuid, cfg: i64) -> &mut Self {
        self.set("Open_vSwitch", root, "cur_cfg", Datum::from(cfg))
    }

    /// `Open_vSwitch.datapath_types`.
    pub fn datapath_types(&mut self, root: Uuid, types: &[&str]) -> &mut Self {
        self.set(
            "Open_vSwitch",
            root,
            "datapath_types",
            Datum::set(types.iter().copied()),
        )
    }

    /// `Open_vSwitch.iface_types`.
    pub fn iface_types(&mut self, root: Uuid, types: &[&str]) -> &mut Self {
        self.set(
            "Open_vSwitch",
            root,
            "iface_types",
            Datum::set(types.iter().copied()),
        )
    }

    /// `Open_vSwitch.ovs_version`.
    pub fn ovs_version(&mut self, root: Uuid, version: &str) -> &mut Self {
        self.set(
            "Open_vSwitch",
            root,
            "ovs_version",
            Datum::optional(Some(version)),
        )
    }

    /// `Bridge.datapath_id` (16 hex digits).
    pub fn bridge_datapath_id(&mut self, bridge: Uuid, dpid: Option<&str>) -> &mut Self {
        self.set("Bridge", bridge, "datapath_id", Datum::optional(dpid))
    }

    /// `Interface.ofport` (-1 reports a failure to add the interface).
    pub fn interface_ofport(&mut self, iface: Uuid, ofport: Option<i64>) -> &mut Self {
        self.set("Interface", iface, "ofport", Datum::optional(ofport))
    }

    /// `Interface.error`.
    pub fn interface_error(&mut self, iface: Uuid, error: Option<&str>) -> &mut Self {
        self.set("Interface", iface, "error", Datum::optional(error))
    }

    /// `Interface.link_state` (`"up"` / `"down"`).
    pub fn interface_link_state(&mut self, iface: Uuid, state: Option<&str>) -> &mut Self {
        self.set("Interface", iface, "link_state", Datum::optional(state))
    }

    /// `Interface.mac_in_use` (`"aa:bb:cc:dd:ee:ff"`).
    pub fn interface_mac_in_use(&mut self, iface: Uuid, mac: Option<&str>) -> &mut Self {
        self.set("Interface", iface, "mac_in_use", Datum::optional(mac))
    }

    /// `Interface.mtu` in bytes.
    pub fn interface_mtu(&mut self, iface: Uuid, mtu: Option<i64>) -> &mut Self {
        self.set("Interface", iface, "mtu", Datum::optional(mtu))
    }

    /// `Interface.statistics` (counter name → value, e.g. `rx_packets`).
    pub fn interface_statistics(
        &mut self,
        iface: Uuid,
        stats: &BTreeMap<String, i64>,
    ) -> &mut Self {
        let d = Datum::Map(
            stats
                .iter()
                .map(|(k, v)| (Atom::from(k.as_str()), Atom::from(*v)))
                .collect(),
        );
        self.set("Interface", iface, "statistics", d)
    }

    /// `Interface.status` (string → string, e.g. `driver_name`).
    pub fn interface_status(
        &mut self,
        iface: Uuid,
        status: &BTreeMap<String, String>,
    ) -> &mut Self {
        self.set("Interface", iface, "status", Datum::from(status))
    }

    /// The status columns of a `Controller` row, as OVS `bridge.c`
    /// `refresh_controller_status()` writes them: `is_connected`, `role`
    /// (`"other"`, `"master"`, `"slave"`; `None` clears it) and `status`
    /// (`state` = `VOID`/`BACKOFF`/`CONNECTING`/`ACTIVE`/`IDLE`,
    /// `last_error`, `sec_since_connect`, `sec_since_disconnect`).
    pub fn controller_status(
        &mut self,
        controller: Uuid,
        is_connected: bool,
        role: Option<&str>,
        status: &BTreeMap<String, String>,
    ) -> &mut Self {
        self.set(
            "Controller",
            controller,
            "is_connected",
            Datum::from(is_connected),
        )
        .set("Controller", controller, "role", Datum::optional(role))
        .set("Controller", controller, "status", Datum::from(status))
    }

    /// Whether nothing was set.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The `Open_vSwitch` transaction: verifications (`wait`) first, then one
    /// `update` per row.
    pub fn build(&self) -> Transaction {
        let mut t = Transaction::new("Open_vSwitch");
        for (table, uuid, col, val) in &self.verify {
            t.verify(table, *uuid, col, val.clone());
        }
        for ((table, uuid), row) in &self.rows {
            t.update(table, vec![Condition::uuid(*uuid)], row.clone());
        }
        t
    }
}
