//! Table-map tracking: which table ids belong to tracked tables (tenant source tables and the
//! core `organization` table), where the columns flowtally reads sit in them, found by name in
//! the table map's FULL metadata, and the [`SchemaProblem`] of a tracked table that lost some.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::binlog::events::{Event, OptionalMetadataField, TableMapEvent};
use mysql_async::consts::ColumnType;

use super::decode::{column, Conv, ImageColumn, Layout};
use super::StreamError;
use crate::schema::{Column, SchemaProblem, Table, TableProblem, ORGANIZATION_COLUMNS};

/// The table behind a table id, and the table map bytes it was built from (tracked tables only,
/// so that an unchanged map re-sent with every transaction is not analysed again).
struct Mapped {
    raw: Option<Vec<u8>>,
    plan: Arc<Plan>,
}

/// What the table ids of the current binlog file stand for.
pub(super) struct TableMaps {
    core_db: String,
    db_prefix: String,
    maps: HashMap<u64, Mapped>,
}

impl TableMaps {
    pub(super) fn new(core_db: &str, db_prefix: &str) -> TableMaps {
        TableMaps {
            core_db: core_db.to_string(),
            db_prefix: db_prefix.to_string(),
            maps: HashMap::new(),
        }
    }

    /// Every transaction re-sends its table maps, so forgetting them at the end of a file loses
    /// nothing and keeps the map bounded.
    pub(super) fn clear(&mut self) {
        self.maps.clear();
    }

    /// How to read the rows of table id `table_id`, if it is a tracked table that can be read.
    pub(super) fn decoding(&self, table_id: u64) -> Option<Arc<Plan>> {
        let mapped = self.maps.get(&table_id)?;
        matches!(&*mapped.plan, Plan::Decode(_)).then(|| Arc::clone(&mapped.plan))
    }

    /// Records what a table id stands for; the drift of a tracked table that lacks columns
    /// flowtally reads (its rows are skipped). A tracked table's map is analysed again only
    /// when its bytes changed.
    pub(super) fn map(
        &mut self,
        event: &Event,
        at: &dyn std::fmt::Display,
    ) -> Result<Option<TableProblem>, StreamError> {
        let tme = event
            .read_event::<TableMapEvent>()
            .map_err(|e| StreamError::Decode(format!("table map event at {at}: {e}")))?;
        let table_id = tme.table_id();
        let Some(target) = self.target(tme.database_name_raw(), tme.table_name_raw()) else {
            self.maps.insert(
                table_id,
                Mapped {
                    raw: None,
                    plan: Arc::new(Plan::Ignore),
                },
            );
            return Ok(None);
        };
        if let Some(known) = self.maps.get(&table_id) {
            if known.raw.as_deref() == Some(event.data()) {
                return Ok(None);
            }
        }
        let plan = build_plan(&tme, target)?;
        let drift = match &plan {
            Plan::Drifted(drift) => {
                tracing::warn!(
                    db = %drift.db,
                    problem = %drift.problem,
                    "tracked table lacks columns flowtally reads; its changes are skipped"
                );
                Some(drift.clone())
            }
            _ => None,
        };
        self.maps.insert(
            table_id,
            Mapped {
                raw: Some(event.data().to_vec()),
                plan: Arc::new(plan),
            },
        );
        Ok(drift)
    }

    fn target(&self, db: &[u8], table: &[u8]) -> Option<Target> {
        let prefix = self.db_prefix.as_bytes();
        if db.len() > prefix.len() && db[..prefix.len()].eq_ignore_ascii_case(prefix) {
            let table = Table::from_name(std::str::from_utf8(table).ok()?)?;
            return Some(Target::Tenant {
                db: String::from_utf8_lossy(db).into_owned(),
                table,
            });
        }
        if db.eq_ignore_ascii_case(self.core_db.as_bytes()) && table == b"organization" {
            return Some(Target::Organization);
        }
        None
    }
}

/// A tracked table: which one, and so which columns flowtally reads from it.
pub(super) enum Target {
    Tenant { db: String, table: Table },
    Organization,
}

impl Target {
    /// The columns flowtally reads, in the order decoded values are delivered.
    pub(super) fn columns(&self) -> &'static [Column] {
        match self {
            Target::Tenant { table, .. } => table.columns(),
            Target::Organization => ORGANIZATION_COLUMNS,
        }
    }
}

/// What to do with the rows of a table id.
pub(super) enum Plan {
    Ignore,
    Drifted(TableProblem),
    Decode(Decoding),
}

/// How to decode the rows of a tracked table.
pub(super) struct Decoding {
    pub(super) target: Target,
    pub(super) layout: Layout,
}

impl Decoding {
    pub(super) fn target_name(&self) -> String {
        match &self.target {
            Target::Tenant { db, table } => format!("{db}.{}", table.name()),
            Target::Organization => "organization".to_string(),
        }
    }
}

fn build_plan(tme: &TableMapEvent, target: Target) -> Result<Plan, StreamError> {
    let db = String::from_utf8_lossy(tme.database_name_raw()).into_owned();
    let table = String::from_utf8_lossy(tme.table_name_raw()).into_owned();
    let bad = |why: String| StreamError::Decode(format!("table map of {db}.{table}: {why}"));

    let mut names: Vec<String> = Vec::new();
    let mut unsigned: Vec<bool> = Vec::new();
    let mut enums: Vec<Arc<[String]>> = Vec::new();
    for field in tme.iter_optional_meta() {
        match field.map_err(|e| bad(format!("optional metadata: {e}")))? {
            OptionalMetadataField::ColumnName(cols) => {
                for name in cols.iter_names() {
                    let name = name.map_err(|e| bad(format!("column names: {e}")))?;
                    names.push(String::from_utf8_lossy(name.name_raw()).into_owned());
                }
            }
            OptionalMetadataField::Signedness(bits) => {
                unsigned = bits.iter().by_vals().collect();
            }
            OptionalMetadataField::EnumStrValue(values) => {
                for labels in values.iter_values() {
                    let labels = labels.map_err(|e| bad(format!("enum labels: {e}")))?;
                    enums.push(
                        labels
                            .values()
                            .iter()
                            .map(|l| String::from_utf8_lossy(l.value_raw()).into_owned())
                            .collect(),
                    );
                }
            }
            _ => {}
        }
    }
    let count = tme.columns_count() as usize;
    if names.is_empty() && count > 0 {
        return Err(StreamError::Fatal(format!(
            "the table map of {db}.{table} carries no column names: binlog_row_metadata is not \
             FULL on the server; run SET GLOBAL binlog_row_metadata=FULL and add \
             binlog_row_metadata=FULL to the server config"
        )));
    }
    if names.len() != count {
        return Err(bad(format!(
            "{} column names for {count} columns",
            names.len()
        )));
    }

    let wanted = target.columns();
    let mut slots = vec![None; count];
    for (slot, want) in wanted.iter().enumerate() {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(want.name)) {
            slots[i] = Some(slot);
        }
    }
    let table_name = match &target {
        Target::Tenant { table, .. } => table.name().to_string(),
        Target::Organization => table.clone(),
    };
    if let Some(problem) =
        SchemaProblem::missing_columns(&table_name, wanted, names.iter().map(String::as_str))
    {
        return Ok(Plan::Drifted(TableProblem { db, problem }));
    }

    let mut columns = Vec::with_capacity(count);
    let mut numeric_seen = 0;
    let mut enum_seen = 0;
    let mut json_columns = 0;
    for i in 0..count {
        let raw = tme
            .get_raw_column_type(i)
            .map_err(|e| bad(format!("column {}: {e}", names[i])))?
            .ok_or_else(|| bad(format!("no type for column {}", names[i])))?;
        let meta = tme.get_column_metadata(i).unwrap_or(&[]);
        let col = column(raw, meta).map_err(|why| {
            let msg = format!("column {} ({why})", names[i]);
            if slots[i].is_some() {
                bad(msg)
            } else {
                // Without its width no later column can be found either.
                StreamError::Fatal(format!(
                    "table {db}.{table} has a column type flowtally cannot skip: {msg}"
                ))
            }
        })?;
        let col = match col.conv {
            Conv::Int { .. } => {
                let u = unsigned.get(numeric_seen).copied().unwrap_or(false);
                numeric_seen += 1;
                ImageColumn {
                    conv: Conv::Int { unsigned: u },
                    ..col
                }
            }
            Conv::Enum(_) => {
                let labels = enums
                    .get(enum_seen)
                    .cloned()
                    .unwrap_or_else(|| Arc::from([]));
                enum_seen += 1;
                ImageColumn {
                    conv: Conv::Enum(labels),
                    ..col
                }
            }
            _ => {
                if is_numeric(raw) {
                    numeric_seen += 1;
                }
                col
            }
        };
        if raw == ColumnType::MYSQL_TYPE_JSON {
            json_columns += 1;
        }
        columns.push(col);
    }
    Ok(Plan::Decode(Decoding {
        target,
        layout: Layout {
            columns,
            slots,
            needed: wanted.len(),
            json_columns,
        },
    }))
}

/// Columns that own a bit of the SIGNEDNESS metadata (YEAR and DECIMAL included, as the server
/// counts them).
fn is_numeric(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_YEAR
    )
}
