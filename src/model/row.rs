//! The typed source rows (docs/metrics.md, "The source tables"), decoded by column name, and the bad-row rules that decide
//! whether a row may count at all.
//!
//! Both sources (binlog row images and snapshot SELECTs) hand over the needed columns of a table
//! as [`Value`]s in the order of [`Table::columns`]; everything else a production table carries is
//! never looked at.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

pub use crate::schema::Table;

/// A column value as the sources deliver it, reduced to what the metrics need.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    /// Text, ENUM labels and DECIMALs; invalid UTF-8 is replaced, never rejected.
    Text(String),
    DateTime(NaiveDateTime),
}

impl Value {
    fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// DATETIME; MySQL's zero date and anything unparsable count as NULL.
    fn datetime(&self) -> Option<NaiveDateTime> {
        match self {
            Value::DateTime(d) => Some(*d),
            Value::Text(s) => NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").ok(),
            _ => None,
        }
    }

    /// TINYINT flag: NULL and 0 are inactive.
    fn flag(&self) -> bool {
        self.int().is_some_and(|v| v != 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenStatus {
    Ready,
    Active,
    Waiting,
    Paused,
    Completed,
    Scrapped,
    /// Outside the enum, including the empty string MySQL stores for an invalid value.
    Invalid,
}

impl TokenStatus {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("ready") => Self::Ready,
            Some("active") => Self::Active,
            Some("waiting") => Self::Waiting,
            Some("paused") => Self::Paused,
            Some("completed") => Self::Completed,
            Some("scrapped") => Self::Scrapped,
            _ => Self::Invalid,
        }
    }

    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Ready | Self::Active | Self::Waiting | Self::Paused
        )
    }

    pub fn is_queued(self) -> bool {
        matches!(self, Self::Ready | Self::Waiting)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssignmentStatus {
    Assigned,
    Accepted,
    Started,
    Paused,
    Completed,
    Cancelled,
    Rejected,
    Invalid,
}

impl AssignmentStatus {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("assigned") => Self::Assigned,
            Some("accepted") => Self::Accepted,
            Some("started") => Self::Started,
            Some("paused") => Self::Paused,
            Some("completed") => Self::Completed,
            Some("cancelled") => Self::Cancelled,
            Some("rejected") => Self::Rejected,
            _ => Self::Invalid,
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Assigned | Self::Accepted | Self::Started | Self::Paused
        )
    }
}

/// Why a row is left out of some or all metrics (docs/metrics.md, "Bad rows").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LeftOut {
    /// Status outside its enum: out of every metric.
    InvalidStatus,
    /// A NULL id: out of every metric.
    NullId,
    /// Node missing from routing_node: out of summary, bottlenecks and cycle time.
    NodeMissing,
    /// completed_at before started_at: out of cycle time.
    CompletedBeforeStarted,
    /// Queued token whose open assignment has no assigned_at: out of the wait mean.
    NoAssignedAt,
}

impl LeftOut {
    pub const ALL: [LeftOut; 5] = [
        LeftOut::InvalidStatus,
        LeftOut::NullId,
        LeftOut::NodeMissing,
        LeftOut::CompletedBeforeStarted,
        LeftOut::NoAssignedAt,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LeftOut::InvalidStatus => "invalid_status",
            LeftOut::NullId => "null_id",
            LeftOut::NodeMissing => "node_missing",
            LeftOut::CompletedBeforeStarted => "completed_before_started",
            LeftOut::NoAssignedAt => "no_assigned_at",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: i64,
    pub instance: Option<i64>,
    /// token_type is 'piece' or 'batch' (a product, counted in trends), not 'component'.
    pub is_product: bool,
    pub node: Option<i64>,
    pub status: TokenStatus,
    #[serde(with = "compact_time")]
    pub spawned_at: Option<NaiveDateTime>,
    #[serde(with = "compact_time")]
    pub completed_at: Option<NaiveDateTime>,
}

impl Token {
    /// Why this token counts in no metric at all, if it does not.
    pub fn bad(&self) -> Option<LeftOut> {
        if self.status == TokenStatus::Invalid {
            Some(LeftOut::InvalidStatus)
        } else if self.instance.is_none() {
            Some(LeftOut::NullId)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: i64,
    pub token: Option<i64>,
    pub node: Option<i64>,
    pub operator: Option<i64>,
    pub status: AssignmentStatus,
    #[serde(with = "compact_time")]
    pub assigned_at: Option<NaiveDateTime>,
    #[serde(with = "compact_time")]
    pub started_at: Option<NaiveDateTime>,
    #[serde(with = "compact_time")]
    pub completed_at: Option<NaiveDateTime>,
}

/// Checkpoints hold millions of these times: stored as (seconds, nanoseconds) rather than
/// chrono's text form, they take 13 bytes instead of 28 and load without parsing.
mod compact_time {
    use chrono::{DateTime, NaiveDateTime, Timelike};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| (t.and_utc().timestamp(), t.nanosecond()))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
        match Option::<(i64, u32)>::deserialize(d)? {
            None => Ok(None),
            Some((secs, nanos)) => DateTime::from_timestamp(secs, nanos)
                .map(|t| Some(t.naive_utc()))
                .ok_or_else(|| serde::de::Error::custom("time out of range")),
        }
    }
}

impl Assignment {
    pub fn bad(&self) -> Option<LeftOut> {
        if self.status == AssignmentStatus::Invalid {
            Some(LeftOut::InvalidStatus)
        } else if self.token.is_none() || self.node.is_none() || self.operator.is_none() {
            Some(LeftOut::NullId)
        } else {
            None
        }
    }

    /// Why this assignment is left out of some metric, if it is (see [`LeftOut`]): bad, or
    /// completed before it started (out of cycle time only).
    pub fn left_out(&self) -> Option<LeftOut> {
        self.bad().or_else(|| {
            (self.completed_on().is_some()
                && self.started_at.is_some()
                && self.cycle_secs().is_none())
            .then_some(LeftOut::CompletedBeforeStarted)
        })
    }

    /// Open and not bad: the kind of assignment that can hold a token.
    pub fn is_open(&self) -> bool {
        self.status.is_open() && self.bad().is_none()
    }

    /// The day it was completed, for a valid completed assignment.
    pub fn completed_on(&self) -> Option<NaiveDate> {
        match (self.bad(), self.status) {
            (None, AssignmentStatus::Completed) => self.completed_at.map(|c| c.date()),
            _ => None,
        }
    }

    /// Whole seconds from start to completion, when it counts for cycle time.
    pub fn cycle_secs(&self) -> Option<u64> {
        self.completed_on()?;
        let secs = (self.completed_at? - self.started_at?).num_seconds();
        u64::try_from(secs).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: i64,
    pub graph: Option<i64>,
    pub production_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: i64,
    pub graph: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
    pub team_category: Option<String>,
    /// The most tokens the node should hold at once (`routing_node.wip_limit`, optional);
    /// NULL, absent or not positive: no limit.
    pub wip_limit: Option<i64>,
}

impl Node {
    /// The node's WIP limit, when it has one (positive).
    pub fn limit(&self) -> Option<i64> {
        self.wip_limit.filter(|l| *l > 0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub id: i64,
    pub production_type: Option<String>,
    /// `routing_graph.name` (optional column).
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: i64,
    pub name: Option<String>,
    pub team_category: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub team: i64,
    pub operator: i64,
    pub capacity_per_day: Option<i64>,
    pub active: bool,
}

impl Member {
    /// What the member adds to its team's capacity: capacity_per_day if > 0, else 10.
    pub fn capacity(&self) -> i64 {
        match self.capacity_per_day {
            Some(c) if c > 0 => c,
            _ => 10,
        }
    }
}

/// One decoded source row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Row {
    Token(Token),
    Assignment(Assignment),
    Instance(Instance),
    Node(Node),
    Graph(Graph),
    Team(Team),
    Member(Member),
}

/// A source row's primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Key {
    Token(i64),
    Assignment(i64),
    Instance(i64),
    Node(i64),
    Graph(i64),
    Team(i64),
    Member { team: i64, operator: i64 },
}

impl Row {
    /// Decodes `values`, given in the order of `table.columns()`. `None` when the primary key is
    /// NULL or not a number: such a row cannot be keyed and is counted as a NULL id by the caller.
    pub fn decode(table: Table, values: &[Value]) -> Option<Row> {
        let v = |i: usize| values.get(i).unwrap_or(&Value::Null);
        let row = match table {
            Table::Token => Row::Token(Token {
                id: v(0).int()?,
                instance: v(1).int(),
                is_product: matches!(v(2).text().as_deref(), Some("piece" | "batch")),
                node: v(3).int(),
                status: TokenStatus::parse(v(4).text().as_deref()),
                spawned_at: v(5).datetime(),
                completed_at: v(6).datetime(),
            }),
            Table::Assignment => Row::Assignment(Assignment {
                id: v(0).int()?,
                token: v(1).int(),
                node: v(2).int(),
                operator: v(3).int(),
                status: AssignmentStatus::parse(v(4).text().as_deref()),
                assigned_at: v(5).datetime(),
                started_at: v(6).datetime(),
                completed_at: v(7).datetime(),
            }),
            Table::Instance => Row::Instance(Instance {
                id: v(0).int()?,
                graph: v(1).int(),
                production_type: v(2).text(),
            }),
            Table::Node => Row::Node(Node {
                id: v(0).int()?,
                graph: v(1).int(),
                code: v(2).text(),
                name: v(3).text(),
                team_category: v(4).text(),
                wip_limit: v(5).int(),
            }),
            Table::Graph => Row::Graph(Graph {
                id: v(0).int()?,
                production_type: v(1).text(),
                name: v(2).text(),
            }),
            Table::Team => Row::Team(Team {
                id: v(0).int()?,
                name: v(1).text(),
                team_category: v(2).text(),
                active: v(3).flag(),
            }),
            Table::Member => Row::Member(Member {
                team: v(0).int()?,
                operator: v(1).int()?,
                capacity_per_day: v(2).int(),
                active: v(3).flag(),
            }),
        };
        Some(row)
    }

    /// The source table this row belongs to.
    pub fn table(&self) -> Table {
        match self {
            Row::Token(_) => Table::Token,
            Row::Assignment(_) => Table::Assignment,
            Row::Instance(_) => Table::Instance,
            Row::Node(_) => Table::Node,
            Row::Graph(_) => Table::Graph,
            Row::Team(_) => Table::Team,
            Row::Member(_) => Table::Member,
        }
    }

    pub fn key(&self) -> Key {
        match self {
            Row::Token(t) => Key::Token(t.id),
            Row::Assignment(a) => Key::Assignment(a.id),
            Row::Instance(i) => Key::Instance(i.id),
            Row::Node(n) => Key::Node(n.id),
            Row::Graph(g) => Key::Graph(g.id),
            Row::Team(t) => Key::Team(t.id),
            Row::Member(m) => Key::Member {
                team: m.team,
                operator: m.operator,
            },
        }
    }
}

impl Key {
    /// The source table this key belongs to.
    pub fn table(&self) -> Table {
        match self {
            Key::Token(_) => Table::Token,
            Key::Assignment(_) => Table::Assignment,
            Key::Instance(_) => Table::Instance,
            Key::Node(_) => Table::Node,
            Key::Graph(_) => Table::Graph,
            Key::Team(_) => Table::Team,
            Key::Member { .. } => Table::Member,
        }
    }
}

/// One change to a tenant's source rows: a row set to its after-image, or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    Upsert(Row),
    Delete(Key),
}

impl Change {
    /// The source table the changed row belongs to.
    pub fn table(&self) -> Table {
        match self {
            Change::Upsert(row) => row.table(),
            Change::Delete(key) => key.table(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn token_decodes_by_column_order_and_flags_bad_status() {
        let row = Row::decode(
            Table::Token,
            &[
                Value::Int(7),
                Value::Int(3),
                Value::Text("component".into()),
                Value::Null,
                Value::Text(String::new()),
                dt("2026-01-02 03:04:05"),
                dt("0000-00-00 00:00:00"),
            ],
        );
        let Some(Row::Token(t)) = row else {
            panic!("not a token: {row:?}")
        };
        assert_eq!(t.id, 7);
        assert!(!t.is_product);
        assert_eq!(t.status, TokenStatus::Invalid);
        assert_eq!(t.bad(), Some(LeftOut::InvalidStatus));
        assert_eq!(
            t.spawned_at.map(|d| d.to_string()).as_deref(),
            Some("2026-01-02 03:04:05")
        );
        assert_eq!(t.completed_at, None);
    }

    #[test]
    fn times_survive_the_checkpoint_encoding() {
        let t = Token {
            id: 1,
            instance: Some(2),
            is_product: false,
            node: None,
            status: TokenStatus::Paused,
            spawned_at: NaiveDateTime::parse_from_str(
                "2026-01-02 03:04:05.123456",
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .ok(),
            completed_at: None,
        };
        let bytes = postcard::to_stdvec(&Row::Token(t.clone())).unwrap();
        assert_eq!(postcard::from_bytes::<Row>(&bytes).unwrap(), Row::Token(t));
    }

    #[test]
    fn null_primary_key_is_not_decoded() {
        assert_eq!(Row::decode(Table::Graph, &[Value::Null, Value::Null]), None);
    }

    #[test]
    fn assignment_rules() {
        let Some(Row::Assignment(mut a)) = Row::decode(
            Table::Assignment,
            &[
                Value::Int(1),
                Value::Int(2),
                Value::Int(3),
                Value::Int(4),
                Value::Text("completed".into()),
                Value::Null,
                dt("2026-01-02 10:00:00"),
                dt("2026-01-02 10:30:30"),
            ],
        ) else {
            panic!("not an assignment")
        };
        assert_eq!(a.cycle_secs(), Some(1830));
        assert!(!a.is_open());
        a.started_at = a.completed_at.map(|c| c + chrono::Duration::seconds(1));
        assert_eq!(a.cycle_secs(), None, "completed before started");
        assert!(
            a.completed_on().is_some(),
            "still completed for the summary"
        );
        a.operator = None;
        assert_eq!(a.bad(), Some(LeftOut::NullId));
        assert_eq!(a.completed_on(), None);
    }

    #[test]
    fn member_capacity_defaults_to_ten() {
        let mut m = Member {
            team: 1,
            operator: 2,
            capacity_per_day: None,
            active: true,
        };
        assert_eq!(m.capacity(), 10);
        m.capacity_per_day = Some(0);
        assert_eq!(m.capacity(), 10);
        m.capacity_per_day = Some(25);
        assert_eq!(m.capacity(), 25);
    }
}
