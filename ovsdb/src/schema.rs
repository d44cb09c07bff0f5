//! Database schemas (RFC 7047 section 3.2), as returned by `get_schema`
//! (section 4.1.2).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::data::Datum;
use crate::error::Error;

/// The five atomic types of RFC 7047 section 3.2 (`<atomic-type>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicType {
    /// `"integer"`: 64-bit signed.
    Integer,
    /// `"real"`: IEEE 754 double.
    Real,
    /// `"boolean"`.
    Boolean,
    /// `"string"`: UTF-8.
    String,
    /// `"uuid"`.
    Uuid,
}

impl AtomicType {
    fn parse(s: &str) -> Result<AtomicType, Error> {
        Ok(match s {
            "integer" => AtomicType::Integer,
            "real" => AtomicType::Real,
            "boolean" => AtomicType::Boolean,
            "string" => AtomicType::String,
            "uuid" => AtomicType::Uuid,
            _ => return Err(Error::protocol(format!("unknown atomic type {s:?}"))),
        })
    }
}

/// Whether a reference keeps its target alive (RFC 7047 section 3.2,
/// `refType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    /// `"strong"` (the default).
    Strong,
    /// `"weak"`: deleting the target removes the reference.
    Weak,
}

/// `<base-type>` of RFC 7047 section 3.2: an atomic type with constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    /// The atomic type.
    pub atomic: AtomicType,
    /// `enum`: the allowed values, as a set datum.
    pub enum_values: Option<Datum>,
    /// `minInteger` / `maxInteger` (integers only).
    pub min_integer: Option<i64>,
    /// See `min_integer`.
    pub max_integer: Option<i64>,
    /// `minReal` / `maxReal` (reals only).
    pub min_real: Option<f64>,
    /// See `min_real`.
    pub max_real: Option<f64>,
    /// `minLength` / `maxLength` in bytes (strings only).
    pub min_length: Option<u64>,
    /// See `min_length`.
    pub max_length: Option<u64>,
    /// `refTable`: the table a UUID refers to.
    pub ref_table: Option<String>,
    /// `refType` (meaningful with `ref_table`).
    pub ref_type: RefType,
}

impl BaseType {
    /// A base type without constraints.
    pub fn plain(atomic: AtomicType) -> BaseType {
        BaseType {
            atomic,
            enum_values: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type: RefType::Strong,
        }
    }

    fn parse(v: &Value) -> Result<BaseType, Error> {
        match v {
            Value::String(s) => Ok(BaseType::plain(AtomicType::parse(s)?)),
            Value::Object(o) => {
                let atomic = AtomicType::parse(
                    o.get("type")
                        .and_then(Value::as_str)
                        .ok_or_else(|| Error::protocol(format!("base type without type: {v}")))?,
                )?;
                let mut b = BaseType::plain(atomic);
                if let Some(e) = o.get("enum") {
                    let ty = ColumnType {
                        key: BaseType::plain(atomic),
                        value: None,
                        min: 0,
                        max: None,
                    };
                    b.enum_values = Some(Datum::from_json_typed(e, &ty)?);
                }
                b.min_integer = o.get("minInteger").and_then(Value::as_i64);
                b.max_integer = o.get("maxInteger").and_then(Value::as_i64);
                b.min_real = o.get("minReal").and_then(Value::as_f64);
                b.max_real = o.get("maxReal").and_then(Value::as_f64);
                b.min_length = o.get("minLength").and_then(Value::as_u64);
                b.max_length = o.get("maxLength").and_then(Value::as_u64);
                b.ref_table = o
                    .get("refTable")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if o.get("refType").and_then(Value::as_str) == Some("weak") {
                    b.ref_type = RefType::Weak;
                }
                Ok(b)
            }
            _ => Err(Error::protocol(format!("bad base type {v}"))),
        }
    }
}

/// `<type>` of RFC 7047 section 3.2: key (and optional value) base types with
/// element count bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    /// Key type (the element type of a set).
    pub key: BaseType,
    /// Value type: `Some` makes the column a map.
    pub value: Option<BaseType>,
    /// Minimum number of elements: 0 or 1.
    pub min: u64,
    /// Maximum number of elements; `None` is `"unlimited"`.
    pub max: Option<u64>,
}

impl ColumnType {
    /// A scalar column (exactly one atom) of an atomic type.
    pub fn scalar(atomic: AtomicType) -> ColumnType {
        ColumnType {
            key: BaseType::plain(atomic),
            value: None,
            min: 1,
            max: Some(1),
        }
    }

    /// Whether the column holds exactly one atom (min = max = 1, no value).
    pub fn is_scalar(&self) -> bool {
        self.value.is_none() && self.min == 1 && self.max == Some(1)
    }

    /// Whether the column is a map.
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// Parses a `<type>`.
    ///
    /// # Errors
    /// [`Error::Protocol`] on a malformed type.
    pub fn parse(v: &Value) -> Result<ColumnType, Error> {
        match v {
            Value::String(_) => Ok(ColumnType {
                key: BaseType::parse(v)?,
                value: None,
                min: 1,
                max: Some(1),
            }),
            Value::Object(o) => {
                let key = BaseType::parse(
                    o.get("key")
                        .ok_or_else(|| Error::protocol(format!("type without key: {v}")))?,
                )?;
                let value = o.get("value").map(BaseType::parse).transpose()?;
                let min = match o.get("min") {
                    None => 1,
                    Some(m) => m
                        .as_u64()
                        .ok_or_else(|| Error::protocol(format!("bad min in {v}")))?,
                };
                let max = match o.get("max") {
                    None => Some(1),
                    Some(Value::String(s)) if s == "unlimited" => None,
                    Some(m) => Some(
                        m.as_u64()
                            .ok_or_else(|| Error::protocol(format!("bad max in {v}")))?,
                    ),
                };
                Ok(ColumnType {
                    key,
                    value,
                    min,
                    max,
                })
            }
            _ => Err(Error::protocol(format!("bad column type {v}"))),
        }
    }
}

/// `<column-schema>` of RFC 7047 section 3.2.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    /// The column's type.
    pub ty: ColumnType,
    /// `ephemeral`: not persisted on disk.
    pub ephemeral: bool,
    /// `mutable` (default true).
    pub mutable: bool,
}

/// `<table-schema>` of RFC 7047 section 3.2.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Columns by name (without the implicit `_uuid` and `_version`).
    pub columns: BTreeMap<String, ColumnSchema>,
    /// `maxRows`, if limited.
    pub max_rows: Option<u64>,
    /// `isRoot`.
    pub is_root: bool,
    /// `indexes`: each a list of column names.
    pub indexes: Vec<Vec<String>>,
}

/// `<database-schema>` of RFC 7047 section 3.2.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSchema {
    /// `name`, e.g. `"Open_vSwitch"`.
    pub name: String,
    /// `version`, e.g. `"8.3.0"`.
    pub version: String,
    /// `cksum`, if present.
    pub cksum: Option<String>,
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

impl DatabaseSchema {
    /// Parses the result of `get_schema` (or a `.ovsschema` file).
    ///
    /// # Errors
    /// [`Error::Protocol`] on a malformed schema.
    pub fn parse(v: &Value) -> Result<DatabaseSchema, Error> {
        let o = v
            .as_object()
            .ok_or_else(|| Error::protocol("schema is not an object"))?;
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let mut tables = BTreeMap::new();
        let tv = o
            .get("tables")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::protocol("schema without tables"))?;
        for (tname, t) in tv {
            let mut columns = BTreeMap::new();
            let cv = t
                .get("columns")
                .and_then(Value::as_object)
                .ok_or_else(|| Error::protocol(format!("table {tname} without columns")))?;
            for (cname, c) in cv {
                let ty = ColumnType::parse(c.get("type").ok_or_else(|| {
                    Error::protocol(format!("column {tname}.{cname} without type"))
                })?)?;
                columns.insert(
                    cname.clone(),
                    ColumnSchema {
                        ty,
                        ephemeral: c.get("ephemeral").and_then(Value::as_bool).unwrap_or(false),
                        mutable: c.get("mutable").and_then(Value::as_bool).unwrap_or(true),
                    },
                );
            }
            let indexes = t
                .get("indexes")
                .and_then(Value::as_array)
                .map(|ixs| {
                    ixs.iter()
                        .filter_map(Value::as_array)
                        .map(|ix| {
                            ix.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .collect()
                })
                .unwrap_or_default();
            tables.insert(
                tname.clone(),
                TableSchema {
                    columns,
                    max_rows: t.get("maxRows").and_then(Value::as_u64),
                    is_root: t.get("isRoot").and_then(Value::as_bool).unwrap_or(false),
                    indexes,
                },
            );
        }
        Ok(DatabaseSchema {
            name: s("name").ok_or_else(|| Error::protocol("schema without name"))?,
            version: s("version").unwrap_or_default(),
            cksum: s("cksum"),
            tables,
        })
    }

    /// The type of `table.column`, if both exist.
    pub fn column_type(&self, table: &str, column: &str) -> Option<&ColumnType> {
        self.tables.get(table)?.columns.get(column).map(|c| &c.ty)
    }
}
