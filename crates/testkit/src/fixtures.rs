//! The ERP's tables as the tests and the simulator create them: the core database with its
//! `organization` registry, and a tenant database's source tables (a subset of production's
//! columns, plus a few more that flowtally must ignore). The mv_ tables are flowtally's own
//! (`flowtally migrate`), so they are not here.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::server::Server;

/// Core database `bgerp` and its `organization` table.
pub const CORE_DDL: &str = include_str!("../sql/core.sql");
/// Source tables of one tenant database (no `USE`: run on a connection whose default db is it).
pub const TENANT_SOURCE_DDL: &str = include_str!("../sql/tenant_source.sql");

/// `bgerp_t_<lowercased code>`.
pub fn tenant_db(code: &str) -> String {
    format!("bgerp_t_{}", code.to_lowercase())
}

/// A short tenant code, distinct within this process: `prefix` followed by a counter.
pub fn unique_code(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    assert_valid_code(prefix);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Codes end up in database names and SQL text: keep them to `[A-Za-z0-9_]`.
fn assert_valid_code(code: &str) {
    assert!(
        !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "tenant code {code:?} must be non-empty [A-Za-z0-9_]"
    );
}

impl Server {
    /// Creates the core database `bgerp` with `bgerp.organization` (idempotent).
    pub async fn create_core(&self) {
        self.exec(CORE_DDL).await;
    }

    /// (Re)creates tenant database `bgerp_t_<lowercased code>` with the source tables, then
    /// upserts an active `bgerp.organization` row for `code` (after the tables exist, so a
    /// running flowtally that discovers the tenant finds them). Creates the core database
    /// first if needed; an existing tenant database is dropped first, so reruns start clean.
    pub async fn create_tenant(&self, code: &str) {
        assert_valid_code(code);
        self.create_core().await;
        let db = tenant_db(code);
        self.exec(&format!(
            "DROP DATABASE IF EXISTS `{db}`;\n\
             CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n\
             USE `{db}`;\n{TENANT_SOURCE_DDL}\n"
        ))
        .await;
        self.exec(&format!(
            "INSERT INTO bgerp.organization (code, name, status) VALUES ('{code}', '{code}', \
             'active') ON DUPLICATE KEY UPDATE code = VALUES(code), name = VALUES(name), \
             status = 'active'"
        ))
        .await;
    }
}
