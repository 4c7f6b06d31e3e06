//! The tenant registry: which tenants there are (active `organization` rows, or the configured
//! list) and which database on the server holds each, matched case-insensitively.

use sqlx::MySqlConnection;

use crate::config::Config;
use crate::db::{ident, name_column};

/// A tenant as the operator names it, and its database on the server if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The code as stored in `organization` (or as configured).
    pub code: String,
    pub db: Option<String>,
}

impl Tenant {
    /// The database name a code should have: prefix + code, lowercased for matching.
    pub fn expected_db(prefix: &str, code: &str) -> String {
        format!("{prefix}{code}").to_lowercase()
    }
}

/// The active organization codes in the core database.
pub async fn active_codes(
    conn: &mut MySqlConnection,
    core_db: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!(
        "SELECT code FROM {}.organization WHERE status = 'active' ORDER BY id_org",
        ident(core_db)
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter().map(|r| name_column(r, 0)).collect()
}

/// The tenants to serve: discovered (filtered by `include` when given) or listed.
pub async fn discover(
    conn: &mut MySqlConnection,
    cfg: &Config,
) -> Result<Vec<Tenant>, sqlx::Error> {
    let codes = if cfg.discover {
        let mut codes = active_codes(conn, &cfg.core_db).await?;
        if !cfg.include.is_empty() {
            codes.retain(|c| cfg.include.iter().any(|i| i.eq_ignore_ascii_case(c)));
        }
        codes
    } else {
        cfg.include.clone()
    };
    let dbs = crate::catalog::databases(conn).await?;
    Ok(resolve(&codes, &dbs, &cfg.db_prefix))
}

/// Pairs codes with the server's databases, case-insensitively; one tenant per database.
pub fn resolve(codes: &[String], databases: &[String], prefix: &str) -> Vec<Tenant> {
    let mut out: Vec<Tenant> = Vec::new();
    for code in codes {
        let want = Tenant::expected_db(prefix, code);
        let db = databases.iter().find(|d| d.to_lowercase() == want).cloned();
        let dup = out
            .iter()
            .any(|t| Tenant::expected_db(prefix, &t.code) == want);
        if !dup {
            out.push(Tenant {
                code: code.clone(),
                db,
            });
        }
    }
    out
}

/// The tenant a database name belongs to, if it is one of `tenants`.
pub fn by_db<'a>(tenants: &'a [Tenant], db: &str) -> Option<&'a Tenant> {
    tenants
        .iter()
        .find(|t| t.db.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(db)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_databases_case_insensitively() {
        let dbs = vec![
            "bgerp".to_string(),
            "bgerp_t_default".into(),
            "BGERP_T_Acme".into(),
        ];
        let codes = vec![
            "DEFAULT".to_string(),
            "acme".into(),
            "ghost".into(),
            "default".into(),
        ];
        let t = resolve(&codes, &dbs, "bgerp_t_");
        assert_eq!(
            t,
            vec![
                Tenant {
                    code: "DEFAULT".into(),
                    db: Some("bgerp_t_default".into())
                },
                Tenant {
                    code: "acme".into(),
                    db: Some("BGERP_T_Acme".into())
                },
                Tenant {
                    code: "ghost".into(),
                    db: None
                },
            ],
            "a code appearing twice in two cases is one tenant"
        );
        assert_eq!(
            by_db(&t, "bgerp_t_acme").map(|t| t.code.as_str()),
            Some("acme")
        );
    }
}
