//! `flowtally check`: everything `run` needs, checked without starting the service or writing
//! anything: the connections with their TLS as configured, the server settings `run` checks at
//! start ([`inspect_server`], the same code), the reader's and the writer's grants, every served
//! tenant migrated, the `[ha]` lease table, and whether the checkpoint can be resumed (the
//! start-up's own decision, [`resume::resumable`]) and for how long the binlog keeps it so.
//!
//! One line per check, `ok: <what>` or `FAIL: <what is wrong> — fix: <what fixes it>`; exit 0
//! when every check passes, 1 otherwise. Grants are read (information_schema's privilege tables
//! of the login), never tried by writing; a SELECT the grants do not show is tried with
//! `LIMIT 0`, which reads no row, so that one granted through a role or per column still counts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use sqlx::{MySqlConnection, MySqlPool};

use super::{exit, load, CommandError, Out, Outcome};
use crate::catalog::{self, Catalog};
use crate::checkpoint::{self, part, resume, Manifest, Refused};
use crate::cli::Cli;
use crate::config::{Config, Endpoint};
use crate::db::{self, describe, ident, name_column, text_column};
use crate::model::View;
use crate::schema::{SchemaProblem, Table, ORGANIZATION_COLUMNS};
use crate::sink::lease;
use crate::sink::writer::written_columns;
use crate::source::binlog::{
    inspect_server, BinlogOptions, ServerInfo, ServerReport, SettingCheck, SetupError,
};
use crate::tenants::{self, Tenant};

/// What the snapshot writer does to every mv_ table (delete a snapshot's rows, insert them, trim
/// past retention).
const WRITER_PRIVILEGES: [&str; 3] = ["SELECT", "INSERT", "DELETE"];
/// What the lease task does to the lease table.
const LEASE_PRIVILEGES: [&str; 3] = ["SELECT", "INSERT", "UPDATE"];

pub async fn check(cli: &Cli) -> Outcome {
    let (mut cfg, http) = load(cli)?;
    // The same configuration errors `run` stops on, so that both exit 2 on them.
    if let Some(e) = http.exposure_error() {
        return Err(CommandError::Usage(format!("config: {e}")));
    }
    if let Some(files) = &http.tls {
        crate::http::tls::acceptor(files)
            .map_err(|e| CommandError::Usage(format!("config: {e}")))?;
    }
    let mut r = Report::new();

    let source = connection(&mut r, &cfg.source, "source").await;
    let server = binlog_side(&mut r, &mut cfg).await;
    let served = match &source {
        Some(pool) => reader_side(&mut r, &cfg, pool).await,
        None => None,
    };
    let sink = connection(&mut r, &cfg.sink, "sink").await;
    if let Some(sink) = &sink {
        writer_side(&mut r, &cfg, sink, served.as_deref()).await;
    }
    checkpoint_side(&mut r, &cfg, server.as_ref(), source.as_ref()).await;
    Ok(exit(r.all_ok()))
}

/// The lines printed so far, and whether any failed.
struct Report {
    out: Out,
    failed: usize,
}

impl Report {
    fn new() -> Report {
        Report {
            out: Out::new(),
            failed: 0,
        }
    }

    fn ok(&mut self, what: impl std::fmt::Display) {
        self.out.line(format_args!("ok: {what}"));
    }

    fn fail(&mut self, what: impl std::fmt::Display, fix: impl std::fmt::Display) {
        self.failed += 1;
        self.out.line(format_args!("FAIL: {what} — fix: {fix}"));
    }

    fn all_ok(&self) -> bool {
        self.failed == 0
    }
}

/// A pool to `ep` as `run` makes it, said with its TLS; `None` (and a FAIL) when it cannot log
/// in.
async fn connection(r: &mut Report, ep: &Endpoint, role: &str) -> Option<MySqlPool> {
    let mode = ep.ssl_mode.name();
    match db::pool(ep, 2).await {
        Ok(pool) => {
            let tls = match sqlx::query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                .fetch_optional(&pool)
                .await
            {
                Ok(row) => tls_words(row.and_then(|r| text_column(&r, 1).ok().flatten())),
                Err(e) => format!("TLS unknown ({})", describe(&e)),
            };
            r.ok(format_args!(
                "{role} connection {ep} (ssl_mode = {mode}): {tls}"
            ));
            Some(pool)
        }
        Err(e) => {
            r.fail(
                format_args!(
                    "cannot connect to the {role} server {ep} (ssl_mode = {mode}): {}",
                    db::connect_error(ep, &e)
                ),
                format_args!(
                    "set [{role}] url, its password (password_env or password_file), ssl_mode \
                     and ssl_ca so that this login succeeds (README, \"TLS\")"
                ),
            );
            None
        }
    }
}

fn tls_words(cipher: Option<String>) -> String {
    match cipher.filter(|c| !c.trim().is_empty()) {
        Some(c) => format!("TLS ({c})"),
        None => "plain text".to_string(),
    }
}

/// The binlog connection and the server's settings and replication grants, as `run` checks them
/// at start. What the server said about itself, for the checkpoint's check.
async fn binlog_side(r: &mut Report, cfg: &mut Config) -> Option<ServerReport> {
    let ep = cfg.source.clone();
    let mode = ep.ssl_mode.name();
    let (mut conn, tls) = match db::binlog_conn(&ep).await {
        Ok(c) => c,
        Err(e) => {
            r.fail(
                format_args!(
                    "cannot open the binlog connection to {ep} (ssl_mode = {mode}): {}",
                    db::binlog_connect_error(&ep, &e)
                ),
                "set [source] url, its password, ssl_mode and ssl_ca so that this login \
                 succeeds (README, \"TLS\")",
            );
            return None;
        }
    };
    // As `run` does: `preferred` is now TLS or plain, for the dump request too.
    cfg.source.ssl_mode = tls;
    let cipher = {
        use mysql_async::prelude::Queryable;
        conn.query_first::<(String, String), _>("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            .await
            .ok()
            .flatten()
            .map(|(_, c)| c)
    };
    r.ok(format_args!(
        "binlog connection {ep} (ssl_mode = {mode}): {}",
        tls_words(cipher)
    ));
    let grantee = current_user_mysql_async(&mut conn).await;
    let inspected = inspect_server(&mut conn).await;
    let _ = conn.disconnect().await;
    let report = match inspected {
        Ok(report) => report,
        Err(e) => {
            r.fail(
                format_args!("cannot check the server's settings: {e}"),
                "make sure the source server answers SHOW GLOBAL VARIABLES and SHOW GRANTS \
                 to the [source] login, then check again",
            );
            return None;
        }
    };
    for s in &report.settings {
        setting_line(r, s);
    }
    let grantee = grantee.unwrap_or_else(|| "the [source] login".to_string());
    match &report.replication_grant {
        None => r.ok(format_args!(
            "the reader {grantee} has REPLICATION SLAVE (streams the binlog)"
        )),
        Some(_) => r.fail(
            format_args!(
                "the reader {grantee} lacks REPLICATION SLAVE: it may not stream the binlog"
            ),
            format_args!("GRANT REPLICATION SLAVE ON *.* TO {grantee}"),
        ),
    }
    let monitor = report.flavor.monitor_grant();
    match &report.monitor_grant {
        None => r.ok(format_args!(
            "the reader {grantee} has {monitor} (reads the binlog position)"
        )),
        Some(_) => r.fail(
            format_args!(
                "the reader {grantee} lacks {monitor}: it may not read the binlog position"
            ),
            format_args!("GRANT {monitor} ON *.* TO {grantee}"),
        ),
    }
    Some(report)
}

fn setting_line(r: &mut Report, s: &SettingCheck) {
    match &s.problem {
        Some(SetupError::Setting {
            setting,
            found,
            needed,
            fix,
        }) => r.fail(
            format_args!("{setting} is {found}, flowtally needs {needed}"),
            fix,
        ),
        Some(other) => r.fail(other, format_args!("set {} as the README says", s.setting)),
        None => match (s.setting, &s.found) {
            ("log_bin_compress", None) => {
                r.ok("log_bin_compress absent on this server (nothing is compressed)")
            }
            ("log_slave_updates" | "log_replica_updates", Some(v))
                if !(v.eq_ignore_ascii_case("ON") || v == "1") =>
            {
                r.ok(format_args!(
                    "{} = {v} (needed ON only on a replica; this server is none, or the login \
                     may not tell)",
                    s.setting
                ))
            }
            (name, Some(v)) => r.ok(format_args!("{name} = {v}")),
            (name, None) => r.ok(format_args!("{name} absent on this server")),
        },
    }
}

/// `'user'@'host'` of the binlog connection's login.
async fn current_user_mysql_async(conn: &mut mysql_async::Conn) -> Option<String> {
    use mysql_async::prelude::Queryable;
    let user: Option<String> = conn.query_first("SELECT CURRENT_USER()").await.ok()?;
    user.map(|u| grantee_of(&u))
}

/// `user@host` as CURRENT_USER() says it, as a grant names it: `'user'@'host'`.
fn grantee_of(current_user: &str) -> String {
    let (user, host) = current_user.rsplit_once('@').unwrap_or((current_user, "%"));
    format!("'{user}'@'{host}'")
}

/// What the login's grants allow, from information_schema (global, database and table level;
/// database grants may be patterns such as `bgerp\_t\_%`).
struct Grants {
    grantee: String,
    global: HashSet<String>,
    schema: Vec<(String, String)>,
    table: HashMap<(String, String), HashSet<String>>,
    /// The login has roles active, whose privileges these tables do not show.
    roles: bool,
}

impl Grants {
    async fn read(conn: &mut MySqlConnection) -> Result<Grants, sqlx::Error> {
        let row = sqlx::query("SELECT CURRENT_USER(), CURRENT_ROLE()")
            .fetch_one(&mut *conn)
            .await?;
        let grantee = grantee_of(&name_column(&row, 0)?);
        let roles = text_column(&row, 1)?
            .is_some_and(|r| !r.trim().is_empty() && !r.eq_ignore_ascii_case("NONE"));
        let global = sqlx::query(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?",
        )
        .bind(&grantee)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| name_column(r, 0).map(|p| p.to_ascii_uppercase()))
        .collect::<Result<_, _>>()?;
        let mut grants = Grants {
            grantee: grantee.clone(),
            global,
            schema: Vec::new(),
            table: HashMap::new(),
            roles,
        };
        let schema = sqlx::query(
            "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES \
             WHERE GRANTEE = ?",
        )
        .bind(&grantee)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?;
        for r in &schema {
            grants
                .schema
                .push((name_column(r, 0)?, name_column(r, 1)?.to_ascii_uppercase()));
        }
        let table = sqlx::query(
            "SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM \
             information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ?",
        )
        .bind(&grantee)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?;
        for r in &table {
            grants
                .table
                .entry((
                    name_column(r, 0)?.to_lowercase(),
                    name_column(r, 1)?.to_lowercase(),
                ))
                .or_default()
                .insert(name_column(r, 2)?.to_ascii_uppercase());
        }
        Ok(grants)
    }

    /// Whether `privilege` on `db`.`table` is granted at some level.
    fn allows(&self, db: &str, table: &str, privilege: &str) -> bool {
        let has = |set: &HashSet<String>| set.contains(privilege) || set.contains("ALL PRIVILEGES");
        has(&self.global)
            || self
                .schema
                .iter()
                .any(|(pattern, p)| (p == privilege || p == "ALL PRIVILEGES") && like(pattern, db))
            || self
                .table
                .get(&(db.to_lowercase(), table.to_lowercase()))
                .is_some_and(has)
    }

    /// Whether the login has any privilege on `db`.`table` (information_schema shows it then).
    fn any_on(&self, db: &str, table: &str) -> bool {
        !self.global.is_empty()
            || self.schema.iter().any(|(pattern, _)| like(pattern, db))
            || self
                .table
                .contains_key(&(db.to_lowercase(), table.to_lowercase()))
    }

    /// Said after a missing privilege when roles may grant it after all.
    fn roles_note(&self) -> &'static str {
        if self.roles {
            " (the login has roles, whose privileges are not read here: if one grants it, \
             this line is wrong)"
        } else {
            ""
        }
    }
}

/// SQL's LIKE as grants use it (`%`, `_`, `\` escapes), case-insensitively.
fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                t.first() == Some(&rest[0]) && go(&rest[1..], &t[1..])
            }
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

/// `GRANT <privileges> ON `db`.`table` TO grantee` for every table, one statement each.
fn grant_statements(grants: &BTreeMap<String, BTreeSet<&str>>, db: &str, grantee: &str) -> String {
    grants
        .iter()
        .map(|(table, privileges)| {
            let list: Vec<&str> = privileges.iter().copied().collect();
            format!(
                "GRANT {} ON {}.{} TO {grantee}",
                list.join(", "),
                ident(db),
                ident(table)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The tenants `run` would serve, and the reader's access to their source tables. The tenants,
/// when they could be read.
async fn reader_side(r: &mut Report, cfg: &Config, source: &MySqlPool) -> Option<Vec<Tenant>> {
    let mut conn = match source.acquire().await {
        Ok(c) => c,
        Err(e) => {
            r.fail(
                format_args!("cannot use the source connection: {}", describe(&e)),
                "check the source server, then check again",
            );
            return None;
        }
    };
    let grants = match Grants::read(&mut conn).await {
        Ok(g) => g,
        Err(e) => {
            r.fail(
                format_args!("cannot read the reader's grants: {}", describe(&e)),
                "make sure the [source] login may read information_schema, then check again",
            );
            return None;
        }
    };
    let who = grants.grantee.clone();
    let org: Vec<&str> = ORGANIZATION_COLUMNS.iter().map(|c| c.name).collect();
    match select_problem(&mut conn, &grants, &cfg.core_db, "organization", &org).await {
        None => r.ok(format_args!(
            "the reader {who} may SELECT {}.organization (the tenants)",
            cfg.core_db
        )),
        Some(Unreadable::Denied) => {
            r.fail(
                format_args!(
                    "the reader {who} lacks SELECT on {}.organization: it cannot tell the \
                     tenants{}",
                    cfg.core_db,
                    grants.roles_note()
                ),
                format_args!(
                    "GRANT SELECT ON {}.`organization` TO {who}",
                    ident(&cfg.core_db)
                ),
            );
            return None;
        }
        Some(Unreadable::Missing(e)) => {
            r.fail(
                format_args!("cannot read {}.organization: {e}", cfg.core_db),
                "set [tenants] core_db to the ERP's core database",
            );
            return None;
        }
    }
    let served = match tenants::discover(&mut conn, cfg).await {
        Ok(t) => t,
        Err(e) => {
            r.fail(
                format_args!("cannot read the tenants: {}", describe(&e)),
                "check the source server, then check again",
            );
            return None;
        }
    };
    let codes: Vec<&str> = served.iter().map(|t| t.code.as_str()).collect();
    r.ok(format_args!(
        "{} tenant(s) to serve: {}",
        served.len(),
        if codes.is_empty() {
            "none (run serves them once they appear)".to_string()
        } else {
            codes.join(", ")
        }
    ));
    let dbs: Vec<String> = served.iter().filter_map(|t| t.db.clone()).collect();
    let sources = match catalog::read_sources(&mut conn, &dbs).await {
        Ok(c) => c,
        Err(e) => {
            r.fail(
                format_args!("cannot read the source tables' columns: {}", describe(&e)),
                "make sure the [source] login may read information_schema, then check again",
            );
            return Some(served);
        }
    };
    let mut whole = Vec::new();
    for t in &served {
        let Some(db) = &t.db else {
            r.fail(
                format_args!(
                    "tenant {} has no database {}{} on the server",
                    t.code, cfg.db_prefix, t.code
                ),
                format_args!(
                    "create the tenant's database, or leave {} out of [tenants] include (or set \
                     its organization inactive)",
                    t.code
                ),
            );
            continue;
        };
        let mut denied = BTreeMap::<String, BTreeSet<&str>>::new();
        let mut problems = Vec::new();
        for table in Table::ALL {
            // Optional columns only where the table has them: they are extras, not needs.
            let present = sources.columns(db, table.name()).unwrap_or_default();
            let columns: Vec<&str> = table
                .columns()
                .iter()
                .filter(|c| !c.optional || present.iter().any(|p| p.eq_ignore_ascii_case(c.name)))
                .map(|c| c.name)
                .collect();
            match select_problem(&mut conn, &grants, db, table.name(), &columns).await {
                Some(Unreadable::Denied) => {
                    denied
                        .entry(table.name().to_string())
                        .or_default()
                        .insert("SELECT");
                }
                Some(Unreadable::Missing(_)) => problems.push(SchemaProblem::MissingTable {
                    table: table.name().to_string(),
                }),
                None => {
                    if let Some(present) = sources.columns(db, table.name()) {
                        problems.extend(SchemaProblem::missing_columns(
                            table.name(),
                            table.columns(),
                            present.iter().map(String::as_str),
                        ));
                    }
                }
            }
        }
        if !denied.is_empty() {
            let tables: Vec<&str> = denied.keys().map(String::as_str).collect();
            r.fail(
                format_args!(
                    "the reader {who} lacks SELECT on {db}.{}{}",
                    tables.join(", "),
                    grants.roles_note()
                ),
                grant_statements(&denied, db, &who),
            );
        }
        for p in &problems {
            r.fail(
                format_args!("tenant {} ({db}): {p}", t.code),
                "restore the table or column(s) in the tenant database (the ERP's schema)",
            );
        }
        if denied.is_empty() && problems.is_empty() {
            whole.push(t.code.as_str());
        }
    }
    if !whole.is_empty() {
        r.ok(format_args!(
            "the reader {who} may SELECT every column flowtally reads of the source tables of \
             {} tenant(s): {}",
            whole.len(),
            whole.join(", ")
        ));
    }
    Some(served)
}

enum Unreadable {
    Denied,
    Missing(String),
}

/// Whether the login may read `columns` of `db`.`table`: by its grants, or else by trying a
/// `SELECT ... LIMIT 0` (no row read), which also counts roles and column grants.
async fn select_problem(
    conn: &mut MySqlConnection,
    grants: &Grants,
    db: &str,
    table: &str,
    columns: &[&str],
) -> Option<Unreadable> {
    if grants.allows(db, table, "SELECT") {
        return None;
    }
    let list: Vec<String> = columns.iter().map(|c| ident(c)).collect();
    let sql = format!(
        "SELECT {} FROM {}.{} LIMIT 0",
        list.join(", "),
        ident(db),
        ident(table)
    );
    match sqlx::query(&sql).persistent(false).fetch_all(conn).await {
        Ok(_) => None,
        // Denied on the table, a column or the database.
        Err(sqlx::Error::Database(d))
            if matches!(d.code().as_deref(), Some("42000")) && {
                let m = d.message().to_ascii_lowercase();
                m.contains("denied")
            } =>
        {
            Some(Unreadable::Denied)
        }
        Err(e) => Some(Unreadable::Missing(describe(&e))),
    }
}

/// Every served tenant migrated, the writer's grants on its mv_ tables, and the lease table
/// under `[ha]`.
async fn writer_side(r: &mut Report, cfg: &Config, sink: &MySqlPool, served: Option<&[Tenant]>) {
    let mut conn = match sink.acquire().await {
        Ok(c) => c,
        Err(e) => {
            r.fail(
                format_args!("cannot use the sink connection: {}", describe(&e)),
                "check the sink server, then check again",
            );
            return;
        }
    };
    let grants = match Grants::read(&mut conn).await {
        Ok(g) => g,
        Err(e) => {
            r.fail(
                format_args!("cannot read the writer's grants: {}", describe(&e)),
                "make sure the [sink] login may read information_schema, then check again",
            );
            return;
        }
    };
    let who = grants.grantee.clone();
    let served: Vec<(&str, &str)> = served
        .unwrap_or_default()
        .iter()
        .filter_map(|t| Some((t.code.as_str(), t.db.as_deref()?)))
        .collect();
    let dbs: Vec<String> = served.iter().map(|(_, db)| db.to_string()).collect();
    let mv: Vec<&str> = View::ALL.iter().map(|v| v.table()).collect();
    let catalog = match catalog::read(&mut conn, &dbs, &mv).await {
        Ok(c) => c,
        Err(e) => {
            r.fail(
                format_args!("cannot read the mv_ tables' columns: {}", describe(&e)),
                "make sure the [sink] login may read information_schema, then check again",
            );
            Catalog::default()
        }
    };
    let (mut migrated, mut granted) = (Vec::new(), Vec::new());
    for (code, db) in &served {
        let mut lacking = Vec::new();
        let mut missing = BTreeMap::<String, BTreeSet<&str>>::new();
        for view in View::ALL {
            let (table, columns) = (view.table(), written_columns(view));
            for p in WRITER_PRIVILEGES {
                if !grants.allows(db, table, p) {
                    missing.entry(table.to_string()).or_default().insert(p);
                }
            }
            match catalog.columns(db, table) {
                // Hidden from a writer with no privilege on it: the grant line says so.
                None if !grants.any_on(db, table) => {}
                None => lacking.push(format!("no {table}")),
                Some(present) => {
                    let gone: Vec<&str> = columns
                        .iter()
                        .copied()
                        .filter(|c| !present.iter().any(|p| p.eq_ignore_ascii_case(c)))
                        .collect();
                    if !gone.is_empty() {
                        lacking.push(format!("{table} lacks {}", gone.join(", ")));
                    }
                }
            }
        }
        if lacking.is_empty() {
            migrated.push(*code);
        } else {
            r.fail(
                format_args!(
                    "tenant {code} ({db}) is not migrated: {}",
                    lacking.join("; ")
                ),
                format_args!("flowtally migrate --tenant {code}"),
            );
        }
        if missing.is_empty() {
            granted.push(*code);
        } else {
            let what: Vec<String> = missing
                .iter()
                .map(|(t, p)| {
                    let p: Vec<&str> = p.iter().copied().collect();
                    format!("{} on {db}.{t}", p.join(", "))
                })
                .collect();
            r.fail(
                format_args!(
                    "the writer {who} lacks {}{}",
                    what.join("; "),
                    grants.roles_note()
                ),
                grant_statements(&missing, db, &who),
            );
        }
    }
    if !migrated.is_empty() {
        r.ok(format_args!(
            "{} tenant(s) migrated (every mv_ column flowtally writes): {}",
            migrated.len(),
            migrated.join(", ")
        ));
    }
    if !granted.is_empty() {
        r.ok(format_args!(
            "the writer {who} may SELECT, INSERT and DELETE on the mv_ tables of {} \
             tenant(s): {}",
            granted.len(),
            granted.join(", ")
        ));
    }
    if cfg.ha.enabled {
        lease_lines(r, cfg, &mut conn, &grants).await;
    }
}

/// `[ha]`: the lease table in the sink's core database, and the writer's grants on it.
async fn lease_lines(r: &mut Report, cfg: &Config, conn: &mut MySqlConnection, grants: &Grants) {
    let who = &grants.grantee;
    let table = format!("{}.{}", cfg.core_db, lease::TABLE);
    let found = catalog::read(conn, std::slice::from_ref(&cfg.core_db), &[lease::TABLE]).await;
    match found {
        Ok(c) if c.columns(&cfg.core_db, lease::TABLE).is_some() => {
            r.ok(format_args!("[ha] lease table {table} exists"))
        }
        Ok(_) if !grants.any_on(&cfg.core_db, lease::TABLE) => {}
        Ok(_) => r.fail(
            format_args!("[ha] lease table {table} is missing"),
            "flowtally migrate (it creates the lease table under [ha] enabled = true)",
        ),
        Err(e) => r.fail(
            format_args!(
                "cannot look for the [ha] lease table {table}: {}",
                describe(&e)
            ),
            "check the sink server, then check again",
        ),
    }
    let missing: BTreeSet<&str> = LEASE_PRIVILEGES
        .into_iter()
        .filter(|p| !grants.allows(&cfg.core_db, lease::TABLE, p))
        .collect();
    if missing.is_empty() {
        r.ok(format_args!(
            "the writer {who} may SELECT, INSERT and UPDATE on {table}"
        ));
    } else {
        let list: Vec<&str> = missing.iter().copied().collect();
        r.fail(
            format_args!(
                "the writer {who} lacks {} on {table}{}",
                list.join(", "),
                grants.roles_note()
            ),
            grant_statements(
                &BTreeMap::from([(lease::TABLE.to_string(), missing)]),
                &cfg.core_db,
                who,
            ),
        );
    }
}

/// Whether `run` would resume from the checkpoint, and for how long the binlog keeps it so.
async fn checkpoint_side(
    r: &mut Report,
    cfg: &Config,
    server: Option<&ServerReport>,
    source: Option<&MySqlPool>,
) {
    let dir = &cfg.state_dir;
    let shown = dir.display();
    let reset = "nothing to do: `flowtally run` recomputes every tenant from the source tables \
                 at its next start (or discard it now: flowtally checkpoint reset)";
    match Manifest::load(dir) {
        Ok(_) => {}
        Err(Refused::Missing(_)) => {
            r.ok(format_args!(
                "no checkpoint in {shown}: run starts with a full recompute"
            ));
            return;
        }
        Err(e) => {
            r.fail(format_args!("checkpoint cannot be resumed: {e}"), reset);
            return;
        }
    }
    let (Some(report), Some(source)) = (server, source) else {
        r.fail(
            format_args!(
                "cannot tell whether the checkpoint in {shown} can be resumed: the source server \
                 could not be checked"
            ),
            "fix the lines above, then check again",
        );
        return;
    };
    let Some(position) = report.position.clone() else {
        r.fail(
            format_args!(
                "cannot tell whether the checkpoint in {shown} can be resumed: the binlog \
                 position could not be read"
            ),
            "fix the lines above, then check again",
        );
        return;
    };
    let info = ServerInfo {
        flavor: report.flavor,
        version: report.version.clone(),
        identity: report.identity.clone(),
        position,
    };
    let options = BinlogOptions::of(cfg);
    let manifest = match resume::resumable(dir, &info, source, &options).await {
        Ok(m) => m,
        Err(e) => {
            let fix = match &e {
                Refused::Purged(_) => format!(
                    "{reset}; keep the binlog longer than any downtime ({})",
                    retention_words(&report.vars)
                ),
                Refused::OtherServer { .. } => format!(
                    "if [source] url names the right server, {reset}; to resume after a \
                     failover instead, GTIDs must be on and this server must hold the \
                     checkpoint's (docs/operations.md, \"Failover\")"
                ),
                _ => reset.to_string(),
            };
            r.fail(format_args!("checkpoint cannot be resumed: {e}"), fix);
            return;
        }
    };
    if let Some(bad) = damaged_part(dir, &manifest).await {
        r.fail(format_args!("checkpoint cannot be resumed: {bad}"), reset);
        return;
    }
    let age = (chrono::Utc::now().timestamp() - manifest.taken_at).max(0);
    let resumes = if manifest.position.resumes_by_gtid() {
        format!(
            "by GTID state {}",
            manifest.position.gtid.as_deref().unwrap_or_default()
        )
    } else {
        format!("at {}", manifest.position)
    };
    let keep = match retention_secs(&report.vars) {
        None => "the server never purges its binlog by itself".to_string(),
        Some(secs) if secs > age => format!(
            "{}: resumable for about {} more",
            retention_words(&report.vars),
            human(secs - age)
        ),
        Some(_) => format!(
            "{}: older than that already, so the next purge (at a binlog rotation) takes what \
             it needs: start flowtally run soon",
            retention_words(&report.vars)
        ),
    };
    r.ok(format_args!(
        "checkpoint in {shown} resumable {resumes} ({} tenant(s)), taken {} ago; {keep}",
        manifest.tenants.len(),
        human(age)
    ));
}

/// A part the manifest names that is not whole (missing, short, a bad checksum), said with its
/// tenant. Read beside the runtime: parts can be large.
async fn damaged_part(dir: &Path, manifest: &Manifest) -> Option<String> {
    let (dir, entries) = (dir.to_path_buf(), manifest.tenants.clone());
    let checked = tokio::task::spawn_blocking(move || {
        let parts = checkpoint::parts_dir(&dir);
        entries.iter().find_map(|e| {
            let file = parts.join(&e.file);
            part::check(&file, e.len)
                .err()
                .map(|err| format!("tenant {}'s part {}: {err}", e.code, file.display()))
        })
    })
    .await;
    match checked {
        Ok(found) => found,
        Err(e) => Some(format!("reading the parts failed: {e}")),
    }
}

/// How long the server keeps its binlog files, in seconds; `None` when it never purges them by
/// itself.
fn retention_secs(vars: &HashMap<String, String>) -> Option<i64> {
    let var = |name: &str| vars.get(name).map(|v| v.trim().to_string());
    if var("binlog_expire_logs_auto_purge").is_some_and(|v| v.eq_ignore_ascii_case("OFF")) {
        return None;
    }
    let secs = var("binlog_expire_logs_seconds")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|s| *s > 0);
    // MariaDB spells days as a decimal ("0.000000").
    let days = var("expire_logs_days")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|d| *d > 0.0)
        .map(|d| (d * 86_400.0) as i64);
    secs.or(days)
}

fn retention_words(vars: &HashMap<String, String>) -> String {
    match retention_secs(vars) {
        None => "binlog_expire_logs_seconds = 0: never purged by the server".to_string(),
        Some(secs) => format!("binlog retention {} ({secs} s)", human(secs)),
    }
}

/// A duration in its two largest units.
fn human(secs: i64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut left = secs.max(0);
    for (size, name) in units {
        if left >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{} {name}", left / size));
            left %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_patterns_match_as_like_does() {
        assert!(like("bgerp\\_t\\_%", "bgerp_t_default"));
        assert!(like("BGERP\\_T\\_%", "bgerp_t_acme"));
        assert!(!like("bgerp\\_t\\_%", "bgerpxt_default"));
        assert!(like("bgerp_t_%", "bgerpxtydefault"));
        assert!(like("bgerp_t_default", "bgerp_t_default"));
        assert!(!like("bgerp_t_default", "bgerp_t_default2"));
        assert!(like("%", ""));
    }

    #[test]
    fn durations_in_two_units() {
        assert_eq!(human(0), "0 s");
        assert_eq!(human(59), "59 s");
        assert_eq!(human(3_700), "1 h 1 min");
        assert_eq!(human(2_592_000), "30 d");
        assert_eq!(human(90_061), "1 d 1 h");
    }

    #[test]
    fn retention_from_either_variable() {
        let vars = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            retention_secs(&vars(&[("binlog_expire_logs_seconds", "2592000")])),
            Some(2_592_000)
        );
        assert_eq!(
            retention_secs(&vars(&[
                ("binlog_expire_logs_seconds", "0"),
                ("expire_logs_days", "2.000000")
            ])),
            Some(172_800)
        );
        assert_eq!(
            retention_secs(&vars(&[
                ("binlog_expire_logs_seconds", "600"),
                ("binlog_expire_logs_auto_purge", "OFF")
            ])),
            None
        );
        assert_eq!(retention_secs(&vars(&[])), None);
    }

    /// The columns checked are the ones `migrate` makes (its files, less the auto-increment id),
    /// and every mv_ table is checked.
    #[test]
    fn written_columns_are_the_migrations_columns() {
        let sql = [
            include_str!("../../migrations/0001_mv_tables.sql"),
            include_str!("../../migrations/0002_denormalised_names.sql"),
        ]
        .join("\n");
        let mut made = BTreeMap::<String, BTreeSet<String>>::new();
        let mut table = None;
        for line in sql.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["CREATE", "TABLE", "IF", "NOT", "EXISTS", t, ..] => table = Some(t.to_string()),
                ["ALTER", "TABLE", t, "ADD", "COLUMN", "IF", "NOT", "EXISTS", c, ..] => {
                    made.entry(t.to_string()).or_default().insert(c.to_string());
                }
                [first, ..] if first.starts_with(')') => table = None,
                [name, kind, ..]
                    if table.is_some()
                        && !["KEY", "PRIMARY", "UNIQUE", "INDEX"].contains(name)
                        && !line.contains("AUTO_INCREMENT")
                        && kind.chars().next().is_some_and(|c| c.is_ascii_uppercase()) =>
                {
                    if let Some(t) = &table {
                        made.entry(t.clone()).or_default().insert(name.to_string());
                    }
                }
                _ => {}
            }
        }
        let checked: BTreeMap<String, BTreeSet<String>> = View::ALL
            .iter()
            .map(|v| {
                let cols = written_columns(*v).iter().map(|c| c.to_string()).collect();
                (v.table().to_string(), cols)
            })
            .collect();
        assert_eq!(checked, made);
    }

    #[test]
    fn grantee_and_grant_statements() {
        assert_eq!(grantee_of("ftw@%"), "'ftw'@'%'");
        assert_eq!(grantee_of("root@localhost"), "'root'@'localhost'");
        let missing = BTreeMap::from([
            ("mv_a".to_string(), BTreeSet::from(["INSERT"])),
            ("mv_b".to_string(), BTreeSet::from(["DELETE", "INSERT"])),
        ]);
        assert_eq!(
            grant_statements(&missing, "bgerp_t_x", "'w'@'%'"),
            "GRANT INSERT ON `bgerp_t_x`.`mv_a` TO 'w'@'%'; \
             GRANT DELETE, INSERT ON `bgerp_t_x`.`mv_b` TO 'w'@'%'"
        );
    }
}
