//! The tenant registry: which tenants there are (active `organization` rows, or the configured
//! list) and which database on the server holds each, matched case-insensitively.

use sqlx::{MySqlConnection, Row as _};

use crate::config::Config;
use crate::db::{ident, text_column};
use crate::source::Organization;

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

/// Every row of the core database's `organization` table (the tenant registry), by id.
pub async fn organizations(
    conn: &mut MySqlConnection,
    core_db: &str,
) -> Result<Vec<Organization>, sqlx::Error> {
    let sql = format!(
        "SELECT CAST(id_org AS SIGNED), code, status = 'active' FROM {}.organization \
         ORDER BY id_org",
        ident(core_db)
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let (Some(id), Some(code)) = (r.try_get::<Option<i64>, _>(0)?, text_column(r, 1)?) else {
            continue;
        };
        let active = r.try_get::<Option<i64>, _>(2)?.unwrap_or(0) == 1;
        out.push(Organization { id, code, active });
    }
    Ok(out)
}

/// The tenants to serve: discovered (filtered by `include` when given) or listed.
pub async fn discover(
    conn: &mut MySqlConnection,
    cfg: &Config,
) -> Result<Vec<Tenant>, sqlx::Error> {
    let orgs = if cfg.discover {
        organizations(conn, &cfg.core_db).await?
    } else {
        Vec::new()
    };
    let dbs = crate::catalog::databases(conn).await?;
    Ok(resolve(&wanted(cfg, &orgs), &dbs, &cfg.db_prefix))
}

/// The codes to serve: the active organizations (filtered by `include` when given), or the
/// configured list.
pub fn wanted(cfg: &Config, orgs: &[Organization]) -> Vec<String> {
    if !cfg.discover {
        return cfg.include.clone();
    }
    orgs.iter()
        .filter(|o| o.active)
        .filter(|o| {
            cfg.include.is_empty() || cfg.include.iter().any(|i| i.eq_ignore_ascii_case(&o.code))
        })
        .map(|o| o.code.clone())
        .collect()
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
    }
}
