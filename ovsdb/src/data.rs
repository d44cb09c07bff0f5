//! The OVSDB data model of RFC 7047 section 5.1: atoms, sets and maps, their
//! JSON notation, and the `update2` diff semantics of ovsdb-server(7).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Value};
pub use uuid::Uuid;

use crate::error::Error;
use crate::schema::{AtomicType, BaseType, ColumnType};

/// One OVSDB atom (RFC 7047 section 5.1, `<atom>`).
///
/// `NamedUuid` only appears inside a transaction, where it refers to the row
/// inserted by an `insert` operation with the same `uuid-name` (section 5.2.1).
#[derive(Debug, Clone)]
pub enum Atom {
    /// `<integer>`: a JSON integer, 64-bit signed.
    Integer(i64),
    /// `<real>`: a JSON number (IEEE 754 double).
    Real(f64),
    /// `<boolean>`: JSON `true` or `false`.
    Boolean(bool),
    /// `<string>`: a JSON string.
    String(String),
    /// `<uuid>`: `["uuid", "<36-char uuid>"]`.
    Uuid(Uuid),
    /// `<named-uuid>`: `["named-uuid", "<id>"]`.
    NamedUuid(String),
}

impl Atom {
    fn rank(&self) -> u8 {
        match self {
            Atom::Integer(_) => 0,
            Atom::Real(_) => 1,
            Atom::Boolean(_) => 2,
            Atom::String(_) => 3,
            Atom::Uuid(_) => 4,
            Atom::NamedUuid(_) => 5,
        }
    }

    /// The JSON notation of RFC 7047 section 5.1.
    pub fn to_json(&self) -> Value {
        match self {
            Atom::Integer(i) => json!(i),
            Atom::Real(r) => json!(r),
            Atom::Boolean(b) => json!(b),
            Atom::String(s) => json!(s),
            Atom::Uuid(u) => json!(["uuid", u.to_string()]),
            Atom::NamedUuid(n) => json!(["named-uuid", n]),
        }
    }

    /// Parses an atom without a schema: a JSON integer becomes `Integer`, any
    /// other number `Real`.
    ///
    /// # Errors
    /// [`Error::Protocol`] when `v` is no atom.
    pub fn from_json(v: &Value) -> Result<Atom, Error> {
        match v {
            Value::Bool(b) => Ok(Atom::Boolean(*b)),
            Value::String(s) => Ok(Atom::String(s.clone())),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(Atom::Integer(i))
                } else if let Some(f) = n.as_f64() {
                    Ok(Atom::Real(f))
                } else {
                    Err(Error::protocol(format!("number out of range: {n}")))
                }
            }
            Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                (Some("uuid"), Some(s)) => Uuid::parse_str(s)
                    .map(Atom::Uuid)
                    .map_err(|_| Error::protocol(format!("bad uuid {s:?}"))),
                (Some("named-uuid"), Some(s)) => Ok(Atom::NamedUuid(s.to_string())),
                _ => Err(Error::protocol(format!("not an atom: {v}"))),
            },
            _ => Err(Error::protocol(format!("not an atom: {v}"))),
        }
    }

    /// Parses an atom of a known type (integers are accepted for reals).
    ///
    /// # Errors
    /// [`Error::Protocol`] when `v` is no atom of type `ty`.
    pub fn from_json_typed(v: &Value, ty: AtomicType) -> Result<Atom, Error> {
        let a = Atom::from_json(v)?;
        match (ty, a) {
            (AtomicType::Integer, a @ Atom::Integer(_)) => Ok(a),
            (AtomicType::Real, Atom::Integer(i)) => Ok(Atom::Real(i as f64)),
            (AtomicType::Real, a @ Atom::Real(_)) => Ok(a),
            (AtomicType::Boolean, a @ Atom::Boolean(_)) => Ok(a),
            (AtomicType::String, a @ Atom::String(_)) => Ok(a),
            (AtomicType::Uuid, a @ (Atom::Uuid(_) | Atom::NamedUuid(_))) => Ok(a),
            (ty, a) => Err(Error::protocol(format!(
                "expected {ty:?} atom, got {}",
                a.to_json()
            ))),
        }
    }

    /// The default atom of a type (RFC 7047 section 5.1 / ovsdb(7)): 0, 0.0,
    /// false, "", or the all-zero UUID.
    pub fn default_of(ty: AtomicType) -> Atom {
        match ty {
            AtomicType::Integer => Atom::Integer(0),
            AtomicType::Real => Atom::Real(0.0),
            AtomicType::Boolean => Atom::Boolean(false),
            AtomicType::String => Atom::String(String::new()),
            AtomicType::Uuid => Atom::Uuid(Uuid::nil()),
        }
    }

    /// The integer, if this is an `Integer`.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The real (integers converted), if numeric.
    pub fn as_real(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(*r),
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a `Boolean`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if this is a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    /// The UUID, if this is a `Uuid`.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Atom {}
impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            (Atom::Real(a), Atom::Real(b)) => a.total_cmp(b),
            (Atom::Boolean(a), Atom::Boolean(b)) => a.cmp(b),
            (Atom::String(a), Atom::String(b)) => a.cmp(b),
            (Atom::Uuid(a), Atom::Uuid(b)) => a.cmp(b),
            (Atom::NamedUuid(a), Atom::NamedUuid(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Integer(i) => write!(f, "{i}"),
            Atom::Real(r) => write!(f, "{r}"),
            Atom::Boolean(b) => write!(f, "{b}"),
            Atom::String(s) => write!(f, "{s:?}"),
            Atom::Uuid(u) => write!(f, "{u}"),
            Atom::NamedUuid(n) => write!(f, "@{n}"),
        }
    }
}

impl From<i64> for Atom {
    fn from(v: i64) -> Self {
        Atom::Integer(v)
    }
}
impl From<f64> for Atom {
    fn from(v: f64) -> Self {
        Atom::Real(v)
    }
}
impl From<bool> for Atom {
    fn from(v: bool) -> Self {
        Atom::Boolean(v)
    }
}
impl From<&str> for Atom {
    fn from(v: &str) -> Self {
        Atom::String(v.to_string())
    }
}
impl From<String> for Atom {
    fn from(v: String) -> Self {
        Atom::String(v)
    }
}
impl From<Uuid> for Atom {
    fn from(v: Uuid) -> Self {
        Atom::Uuid(v)
    }
}

/// An OVSDB value (RFC 7047 section 5.1, `<value>`): a set of atoms or a map
/// from atoms to atoms. A scalar column holds a set of exactly one atom; an
/// optional one a set of zero or one.
///
/// Sets and maps are kept sorted (and so compare and print canonically).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Datum {
    /// `<set>`: `["set", [<atom>...]]`, or a bare `<atom>` for one element.
    Set(BTreeSet<Atom>),
    /// `<map>`: `["map", [[<atom>, <atom>]...]]`.
    Map(BTreeMap<Atom, Atom>),
}

impl Default for Datum {
    fn default() -> Self {
        Datum::Set(BTreeSet::new())
    }
}

impl Datum {
    /// The empty set.
    pub fn empty_set() -> Datum {
        Datum::Set(BTreeSet::new())
    }

    /// The empty map.
    pub fn empty_map() -> Datum {
        Datum::Map(BTreeMap::new())
    }

    /// A set of one atom (a scalar value).
    pub fn scalar(a: impl Into<Atom>) -> Datum {
        Datum::Set(BTreeSet::from([a.into()]))
    }

    /// A set from atoms (duplicates collapse).
    pub fn set<A: Into<Atom>>(atoms: impl IntoIterator<Item = A>) -> Datum {
        Datum::Set(atoms.into_iter().map(Into::into).collect())
    }

    /// A map from pairs (a later duplicate key wins).
    pub fn map<K: Into<Atom>, V: Into<Atom>>(pairs: impl IntoIterator<Item = (K, V)>) -> Datum {
        Datum::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// A zero-or-one set: `None` is the empty set.
    pub fn optional(a: Option<impl Into<Atom>>) -> Datum {
        Datum::set(a)
    }

    /// The default value of a column type (ovsdb(7)): empty when `min` is 0,
    /// else the type's default atom (or key/value pair).
    pub fn default_of(ty: &ColumnType) -> Datum {
        match (&ty.value, ty.min) {
            (Some(_), 0) => Datum::empty_map(),
            (None, 0) => Datum::empty_set(),
            (Some(v), _) => Datum::Map(BTreeMap::from([(
                Atom::default_of(ty.key.atomic),
                Atom::default_of(v.atomic),
            )])),
            (None, _) => Datum::scalar(Atom::default_of(ty.key.atomic)),
        }
    }

    /// Number of elements (set members or map pairs).
    pub fn len(&self) -> usize {
        match self {
            Datum::Set(s) => s.len(),
            Datum::Map(m) => m.len(),
        }
    }

    /// Whether the set or map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JSON notation of RFC 7047 section 5.1: a one-element set is written
    /// as the bare atom.
    pub fn to_json(&self) -> Value {
        match self {
            Datum::Set(s) if s.len() == 1 => s.iter().next().map(Atom::to_json).unwrap_or_default(),
            Datum::Set(s) => json!(["set", s.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Datum::Map(m) => json!([
                "map",
                m.iter()
                    .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                    .collect::<Vec<_>>()
            ]),
        }
    }

    /// Parses a value without a schema (see [`Atom::from_json`]).
    ///
    /// # Errors
    /// [`Error::Protocol`] when `v` is no `<value>`.
    pub fn from_json(v: &Value) -> Result<Datum, Error> {
        Self::parse(v, None, None)
    }

    /// Parses a value of a column type: numbers are coerced to the column's
    /// atomic types and an empty `["set", []]` in a map column reads as the
    /// empty map.
    ///
    /// # Errors
    /// [`Error::Protocol`] when `v` is no `<value>` of type `ty`.
    pub fn from_json_typed(v: &Value, ty: &ColumnType) -> Result<Datum, Error> {
        let d = Self::parse(v, Some(&ty.key), ty.value.as_ref())?;
        match (d, &ty.value) {
            (Datum::Set(s), Some(_)) if s.is_empty() => Ok(Datum::empty_map()),
            (Datum::Map(m), None) if m.is_empty() => Ok(Datum::empty_set()),
            (d @ Datum::Map(_), Some(_)) | (d @ Datum::Set(_), None) => Ok(d),
            (d, _) => Err(Error::protocol(format!(
                "value {} does not match column type",
                d.to_json()
            ))),
        }
    }

    fn parse(v: &Value, key: Option<&BaseType>, value: Option<&BaseType>) -> Result<Datum, Error> {
        let atom = |v: &Value, t: Option<&BaseType>| match t {
            Some(t) => Atom::from_json_typed(v, t.atomic),
            None => Atom::from_json(v),
        };
        if let Value::Array(a) = v {
            match (a.first().and_then(Value::as_str), a.get(1), a.len()) {
                (Some("set"), Some(Value::Array(elems)), 2) => {
                    return elems
                        .iter()
                        .map(|e| atom(e, key))
                        .collect::<Result<BTreeSet<_>, _>>()
                        .map(Datum::Set)
                }
                (Some("map"), Some(Value::Array(pairs)), 2) => {
                    let mut m = BTreeMap::new();
                    for p in pairs {
                        match p.as_array().map(Vec::as_slice) {
                            Some([k, val]) => {
                                m.insert(atom(k, key)?, atom(val, value)?);
                            }
                            _ => return Err(Error::protocol(format!("bad map pair {p}"))),
                        }
                    }
                    return Ok(Datum::Map(m));
                }
                _ => {}
            }
        }
        Ok(Datum::Set(BTreeSet::from([atom(v, key)?])))
    }

    /// Applies an `update2` `"modify"` diff (ovsdb-server(7), "update2
    /// notification") to this value in place:
    /// * scalar columns (min = max = 1, no value type): the diff is the new
    ///   value;
    /// * optional columns (max = 1): symmetric difference, except that an
    ///   empty diff clears the value (how ovsdb-server reports a cleared
    ///   optional column);
    /// * sets: symmetric difference (an atom in the diff is removed if present,
    ///   added if absent);
    /// * maps: a key present with the same value is removed, present with a
    ///   different value is replaced, absent is added.
    ///
    /// # Errors
    /// [`Error::Protocol`] when the diff's shape does not match.
    pub fn apply_diff(&mut self, diff: &Datum, ty: &ColumnType) -> Result<(), Error> {
        if ty.is_scalar() {
            *self = diff.clone();
            return Ok(());
        }
        // A changed optional value (a set of at most one element, e.g.
        // `Bridge.fail_mode`) that was cleared arrives from ovsdb-server 3.1
        // as the empty set, its new value; an empty diff cannot mean "no
        // change" (unchanged columns are not sent).
        if ty.value.is_none() && ty.max == Some(1) && diff.atoms().next().is_none() {
            *self = Datum::empty_set();
            return Ok(());
        }
        match (self, diff) {
            (Datum::Set(s), Datum::Set(d)) => {
                for a in d {
                    if !s.remove(a) {
                        s.insert(a.clone());
                    }
                }
                Ok(())
            }
            (Datum::Map(m), Datum::Map(d)) => {
                for (k, v) in d {
                    match m.get(k) {
                        Some(old) if old == v => {
                            m.remove(k);
                        }
                        _ => {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                Ok(())
            }
            (Datum::Map(_), Datum::Set(d)) if d.is_empty() => Ok(()),
            _ => Err(Error::protocol(format!(
                "diff {} does not match the column",
                diff.to_json()
            ))),
        }
    }

    /// The atoms of a set (empty for a map).
    pub fn atoms(&self) -> impl Iterator<Item = &Atom> {
        let s = match self {
            Datum::Set(s) => Some(s),
            Datum::Map(_) => None,
        };
        s.into_iter().flatten()
    }

    /// The single atom of a one-element set.
    pub fn as_scalar(&self) -> Option<&Atom> {
        match self {
            Datum::Set(s) if s.len() == 1 => s.iter().next(),
            _ => None,
        }
    }

    /// The integer of a one-element integer set.
    pub fn as_integer(&self) -> Option<i64> {
        self.as_scalar().and_then(Atom::as_integer)
    }

    /// The string of a one-element string set.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().and_then(Atom::as_str)
    }

    /// The boolean of a one-element boolean set.
    pub fn as_bool(&self) -> Option<bool> {
        self.as_scalar().and_then(Atom::as_bool)
    }

    /// The UUID of a one-element UUID set.
    pub fn as_uuid(&self) -> Option<Uuid> {
        self.as_scalar().and_then(Atom::as_uuid)
    }

    /// The UUIDs of a set of references, in order.
    pub fn uuids(&self) -> Vec<Uuid> {
        self.atoms().filter_map(Atom::as_uuid).collect()
    }

    /// The integers of an integer set, in order.
    pub fn integers(&self) -> Vec<i64> {
        self.atoms().filter_map(Atom::as_integer).collect()
    }

    /// The strings of a string set, in order.
    pub fn strings(&self) -> Vec<String> {
        self.atoms()
            .filter_map(Atom::as_str)
            .map(str::to_string)
            .collect()
    }

    /// A string→string map (other pairs are skipped; a set gives an empty map).
    pub fn string_map(&self) -> BTreeMap<String, String> {
        match self {
            Datum::Map(m) => m
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                .collect(),
            Datum::Set(_) => BTreeMap::new(),
        }
    }

    /// The pairs of a map (empty for a set).
    pub fn pairs(&self) -> impl Iterator<Item = (&Atom, &Atom)> {
        let m = match self {
            Datum::Map(m) => Some(m),
            Datum::Set(_) => None,
        };
        m.into_iter().flatten()
    }
}

impl From<Atom> for Datum {
    fn from(a: Atom) -> Self {
        Datum::scalar(a)
    }
}
impl From<i64> for Datum {
    fn from(v: i64) -> Self {
        Datum::scalar(v)
    }
}
impl From<bool> for Datum {
    fn from(v: bool) -> Self {
        Datum::scalar(v)
    }
}
impl From<&str> for Datum {
    fn from(v: &str) -> Self {
        Datum::scalar(v)
    }
}
impl From<String> for Datum {
    fn from(v: String) -> Self {
        Datum::scalar(v)
    }
}
impl From<Uuid> for Datum {
    fn from(v: Uuid) -> Self {
        Datum::scalar(v)
    }
}
impl From<&BTreeMap<String, String>> for Datum {
    fn from(m: &BTreeMap<String, String>) -> Self {
        Datum::map(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// A row: column name → value (RFC 7047 section 5.1, `<row>`).
pub type Row = BTreeMap<String, Datum>;

/// Encodes a row as a JSON object.
pub fn row_to_json(row: &Row) -> Value {
    Value::Object(row.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}
