//! What flowtally knows of the ERP's tables: the source tables it follows, the columns it reads
//! from each (by name, with the kind of value each holds), and what can be wrong with a
//! tenant's tables ([`SchemaProblem`]), whichever check found it: a binlog table map, the
//! information_schema check, or a snapshot load. Pure data; the checks live with their I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of value a column holds, as flowtally reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ids, flags, capacities.
    Int,
    /// Names, codes, ENUM labels; bytes that are not UTF-8 are replaced, never rejected.
    Text,
    /// DATETIME (or TIMESTAMP); MySQL's zero date reads as NULL.
    DateTime,
}

/// A column flowtally reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// An extra that production tables may lack (the floor's names and limits): read when the
    /// table has it, NULL when not, never a reason to stop following the table.
    pub optional: bool,
}

const fn int(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Int,
        optional: false,
    }
}

const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Text,
        optional: false,
    }
}

const fn datetime(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::DateTime,
        optional: false,
    }
}

/// A column read when present (see [`Column::optional`]).
const fn optional(c: Column) -> Column {
    Column {
        optional: true,
        ..c
    }
}

/// The source tables of a tenant database that flowtally follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Table {
    Token,
    Assignment,
    Instance,
    Node,
    Graph,
    Team,
    Member,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Token,
        Table::Assignment,
        Table::Instance,
        Table::Node,
        Table::Graph,
        Table::Team,
        Table::Member,
    ];

    /// The table's name in a tenant database.
    pub fn name(self) -> &'static str {
        match self {
            Table::Token => "flow_token",
            Table::Assignment => "token_assignment",
            Table::Instance => "job_graph_instance",
            Table::Node => "routing_node",
            Table::Graph => "routing_graph",
            Table::Team => "team",
            Table::Member => "team_member",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The columns read, in the order decoders deliver their values.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Token => TOKEN,
            Table::Assignment => ASSIGNMENT,
            Table::Instance => INSTANCE,
            Table::Node => NODE,
            Table::Graph => GRAPH,
            Table::Team => TEAM,
            Table::Member => MEMBER,
        }
    }
}

const TOKEN: &[Column] = &[
    int("id_token"),
    int("id_instance"),
    text("token_type"),
    int("current_node_id"),
    text("status"),
    datetime("spawned_at"),
    datetime("completed_at"),
];
const ASSIGNMENT: &[Column] = &[
    int("id_assignment"),
    int("id_token"),
    int("id_node"),
    int("assigned_to_user_id"),
    text("status"),
    datetime("assigned_at"),
    datetime("started_at"),
    datetime("completed_at"),
];
const INSTANCE: &[Column] = &[int("id_instance"), int("id_graph"), text("production_type")];
const NODE: &[Column] = &[
    int("id_node"),
    int("id_graph"),
    text("node_code"),
    text("node_name"),
    text("team_category"),
    optional(int("wip_limit")),
];
const GRAPH: &[Column] = &[
    int("id_graph"),
    text("production_type"),
    optional(text("name")),
];
const TEAM: &[Column] = &[
    int("id_team"),
    text("name"),
    text("team_category"),
    int("active"),
];
const MEMBER: &[Column] = &[
    int("id_team"),
    int("id_member"),
    int("capacity_per_day"),
    int("active"),
];

/// The columns read from the core database's tenant registry, `organization`.
pub const ORGANIZATION_COLUMNS: &[Column] = &[int("id_org"), text("code"), text("status")];

/// What keeps a tenant's tables from being followed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaProblem {
    #[error("no database on the server")]
    NoDatabase,
    #[error(
        "table {table} is missing (dropped, or not readable by flowtally's login): the tenant is \
         not served until it is back, then it is reloaded"
    )]
    MissingTable { table: String },
    #[error(
        "{table} lacks column(s) {} that flowtally reads (dropped or renamed): the tenant is not \
         served until they are back, then it is reloaded",
        columns.join(", ")
    )]
    MissingColumns { table: String, columns: Vec<String> },
    #[error("lacks {}: run flowtally migrate", tables.join(", "))]
    NoMvTables { tables: Vec<&'static str> },
}

impl SchemaProblem {
    /// The needed `columns` that `present` (a table's column names, any case) lacks, as a
    /// problem of `table` (an optional column is never needed).
    pub fn missing_columns<'a>(
        table: &str,
        columns: &[Column],
        present: impl Iterator<Item = &'a str> + Clone,
    ) -> Option<SchemaProblem> {
        let missing: Vec<String> = columns
            .iter()
            .filter(|c| !c.optional)
            .filter(|c| !present.clone().any(|p| p.eq_ignore_ascii_case(c.name)))
            .map(|c| c.name.to_string())
            .collect();
        (!missing.is_empty()).then(|| SchemaProblem::MissingColumns {
            table: table.to_string(),
            columns: missing,
        })
    }
}

/// A problem of one table, in the database it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    pub db: String,
    pub problem: SchemaProblem,
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.db, self.problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_columns_are_named_in_order() {
        let present = ["ID_TOKEN", "status", "extra"];
        let p = SchemaProblem::missing_columns(
            "flow_token",
            Table::Token.columns(),
            present.iter().copied(),
        );
        let Some(SchemaProblem::MissingColumns { table, columns }) = &p else {
            panic!("{p:?}")
        };
        assert_eq!(table, "flow_token");
        assert_eq!(
            columns,
            &[
                "id_instance",
                "token_type",
                "current_node_id",
                "spawned_at",
                "completed_at"
            ]
        );
        assert!(p
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default()
            .starts_with("flow_token lacks column(s) id_instance, token_type"));
        let required: Vec<&str> = Table::Node
            .columns()
            .iter()
            .filter(|c| !c.optional)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            SchemaProblem::missing_columns(
                "routing_node",
                Table::Node.columns(),
                required.into_iter()
            ),
            None,
            "wip_limit is optional"
        );
        let all: Vec<&str> = Table::Member.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            SchemaProblem::missing_columns("team_member", Table::Member.columns(), all.into_iter()),
            None
        );
        assert!(SchemaProblem::MissingTable {
            table: "team_member".into()
        }
        .to_string()
        .contains("team_member is missing"));
    }
}
