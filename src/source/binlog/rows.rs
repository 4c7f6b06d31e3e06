//! Rows events of tracked tables to [`SourceChange`]s: the row-image checks, the walk over the
//! rows of an event, and the before/after images turned into upserts and deletes.

use mysql_async::binlog::events::{Event, EventData, RowsEventData};
use mysql_async::binlog::EventType;

use super::bytes::le_u32;
use super::decode::{read_image, Truncated};
use super::tables::{Decoding, Plan, TableMaps, Target};
use super::StreamError;
use crate::model::{Change, Row, Value};
use crate::source::{Organization, SourceChange};

/// Why the rows of an event could not be read.
#[derive(Debug, thiserror::Error)]
enum RowsError {
    #[error("rows event has {event} columns, its table map {map}")]
    Columns { event: usize, map: usize },
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// Turns the rows events of tracked tables into changes, reusing its buffers.
#[derive(Default)]
pub(super) struct RowDecoder {
    scratch_before: Vec<Value>,
    scratch_after: Vec<Value>,
    /// Rows of tracked tables decoded, and those left out because their key was NULL.
    pub(super) decoded: u64,
    pub(super) skipped: u64,
}

impl RowDecoder {
    /// Adds the changes of a rows event of a tracked table to `out`; other tables' rows are
    /// not read. `at` names the position for messages.
    pub(super) fn rows(
        &mut self,
        event: &Event,
        tables: &TableMaps,
        out: &mut Vec<SourceChange>,
        at: &dyn std::fmt::Display,
    ) -> Result<(), StreamError> {
        // Cheap peek at the table id (first field of every rows event) before parsing anything.
        let Some(table_id) = rows_table_id(event) else {
            return Err(StreamError::Decode(format!("rows event too short at {at}")));
        };
        let Some(plan) = tables.decoding(table_id) else {
            return Ok(());
        };
        let Plan::Decode(plan) = &*plan else {
            return Ok(());
        };
        let data = match event.read_data() {
            Ok(Some(EventData::RowsEvent(data))) => data,
            Ok(_) => return Ok(()),
            Err(e) => return Err(StreamError::Decode(format!("rows event at {at}: {e}"))),
        };
        // With a MINIMAL or NOBLOB row image a needed column can be absent and would read as
        // NULL: refuse rather than apply wrong rows.
        for (image, present) in [
            ("before", data.columns_before_image()),
            ("after", data.columns_after_image()),
        ] {
            let Some(present) = present else { continue };
            let absent = plan.layout.slots.iter().enumerate().find_map(|(i, slot)| {
                let slot = (*slot)?;
                let here = present.get(i).is_some_and(|b| *b);
                (!here).then(|| plan.target.columns().get(slot).map_or("?", |c| c.name))
            });
            if let Some(column) = absent {
                return Err(StreamError::Fatal(format!(
                    "the {image} image of a row of {} at {at} lacks column {column}: \
                     binlog_row_image is not FULL on the server; run SET GLOBAL \
                     binlog_row_image=FULL, add binlog_row_image=FULL to the server config, then \
                     reset the checkpoint",
                    plan.target_name(),
                )));
            }
        }
        self.decode_rows(&data, plan, out).map_err(|e| {
            StreamError::Decode(format!("rows of {} at {at}: {e}", plan.target_name()))
        })
    }

    fn decode_rows(
        &mut self,
        data: &RowsEventData,
        plan: &Decoding,
        out: &mut Vec<SourceChange>,
    ) -> Result<(), RowsError> {
        let num_columns = data.num_columns() as usize;
        if num_columns != plan.layout.columns.len() {
            return Err(RowsError::Columns {
                event: num_columns,
                map: plan.layout.columns.len(),
            });
        }
        let before_cols: Option<Vec<bool>> = data
            .columns_before_image()
            .map(|bits| bits.iter().by_vals().collect());
        let after_cols: Option<Vec<bool>> = data
            .columns_after_image()
            .map(|bits| bits.iter().by_vals().collect());
        let partial = matches!(data, RowsEventData::PartialUpdateRowsEvent(_));
        let mut buf = data.rows_data();
        let mut before = std::mem::take(&mut self.scratch_before);
        let mut after = std::mem::take(&mut self.scratch_after);
        let result = (|| {
            while !buf.is_empty() {
                let has_before = match &before_cols {
                    Some(cols) => {
                        read_image(&mut buf, cols, &plan.layout, false, &mut before)?;
                        true
                    }
                    None => false,
                };
                let has_after = match &after_cols {
                    Some(cols) => {
                        read_image(&mut buf, cols, &plan.layout, partial, &mut after)?;
                        true
                    }
                    None => false,
                };
                self.emit(
                    plan,
                    has_before.then_some(before.as_slice()),
                    has_after.then_some(after.as_slice()),
                    out,
                );
            }
            Ok(())
        })();
        self.scratch_before = before;
        self.scratch_after = after;
        result
    }

    /// Turns one row change (before and/or after image) into changes.
    fn emit(
        &mut self,
        plan: &Decoding,
        before: Option<&[Value]>,
        after: Option<&[Value]>,
        out: &mut Vec<SourceChange>,
    ) {
        self.decoded += 1;
        match &plan.target {
            Target::Tenant { db, table } => {
                let before = before.map(|v| Row::decode(*table, v));
                let after = after.map(|v| Row::decode(*table, v));
                let mut push = |change| {
                    out.push(SourceChange::Tenant {
                        db: db.clone(),
                        change,
                    })
                };
                match (before, after) {
                    (_, Some(None)) | (Some(None), None) => self.skipped += 1,
                    (Some(Some(old)), Some(Some(new))) => {
                        if old.key() != new.key() {
                            push(Change::Delete(old.key()));
                        }
                        push(Change::Upsert(new));
                    }
                    (_, Some(Some(new))) => push(Change::Upsert(new)),
                    (Some(Some(old)), None) => push(Change::Delete(old.key())),
                    (None, None) => {}
                }
            }
            Target::Organization => {
                let decode = |v: &[Value]| {
                    let id = match v.first() {
                        Some(Value::Int(id)) => *id,
                        Some(Value::Text(t)) => t.trim().parse().ok()?,
                        _ => return None,
                    };
                    let text = |i: usize| match v.get(i) {
                        Some(Value::Text(t)) => Some(t.clone()),
                        Some(Value::Int(n)) => Some(n.to_string()),
                        _ => None,
                    };
                    Some(Organization {
                        id,
                        code: text(1).unwrap_or_default(),
                        active: text(2).as_deref() == Some("active"),
                    })
                };
                let before = before.map(decode);
                let after = after.map(decode);
                match (before, after) {
                    (_, Some(None)) | (Some(None), None) => self.skipped += 1,
                    (old, Some(Some(new))) => {
                        if let Some(Some(old)) = old {
                            if old.id != new.id {
                                out.push(SourceChange::Organization {
                                    id: old.id,
                                    after: None,
                                });
                            }
                        }
                        out.push(SourceChange::Organization {
                            id: new.id,
                            after: Some(new),
                        });
                    }
                    (Some(Some(old)), None) => out.push(SourceChange::Organization {
                        id: old.id,
                        after: None,
                    }),
                    (None, None) => {}
                }
            }
        }
    }
}

pub(super) fn is_rows_event(kind: u8) -> bool {
    use EventType::*;
    [
        WRITE_ROWS_EVENT_V1,
        UPDATE_ROWS_EVENT_V1,
        DELETE_ROWS_EVENT_V1,
        WRITE_ROWS_EVENT,
        UPDATE_ROWS_EVENT,
        DELETE_ROWS_EVENT,
        PARTIAL_UPDATE_ROWS_EVENT,
    ]
    .iter()
    .any(|t| *t as u8 == kind)
}

/// The table id of a rows event: 6 bytes little endian (4 on pre-5.1 formats, never met here).
fn rows_table_id(event: &Event) -> Option<u64> {
    let post_header = event
        .fde()
        .get_event_type_header_length(event.header().event_type().ok()?);
    let data = event.data();
    if post_header == 6 {
        return le_u32(data.get(0..4)).map(u64::from);
    }
    let b = data.get(0..6)?;
    Some(
        b.iter()
            .rev()
            .fold(0u64, |acc, x| (acc << 8) | u64::from(*x)),
    )
}
