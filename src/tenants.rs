//! The tenant registry: which tenants there are (active `organization` rows, or the configured
//! list) and which database on the server holds each, matched case-insensitively.

use std::collections::{HashMap, HashSet};

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

/// How flowtally keys a tenant: its database name, lowercased, since the server may spell a
/// database name in any case (and `lower_case_table_names` differs between servers). The only
/// way to make one, so no two places can disagree on the folding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantKey(String);

impl TenantKey {
    /// The key of the tenant database `db`, however the server spells it.
    pub fn of_db(db: &str) -> TenantKey {
        TenantKey(db.to_lowercase())
    }

    /// The key of the database a tenant code should have: prefix + code.
    pub fn expected(prefix: &str, code: &str) -> TenantKey {
        TenantKey::of_db(&format!("{prefix}{code}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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

/// Pairs codes with the server's databases, case-insensitively; one tenant per database (the
/// first the server lists, if two differ only in case).
pub fn resolve(codes: &[String], databases: &[String], prefix: &str) -> Vec<Tenant> {
    // Keyed once: a search of every database per code is quadratic, which at ten thousand
    // tenants is a hundred million comparisons at every survey.
    let mut by_key: HashMap<TenantKey, &String> = HashMap::with_capacity(databases.len());
    for d in databases {
        by_key.entry(TenantKey::of_db(d)).or_insert(d);
    }
    let mut seen = HashSet::with_capacity(codes.len());
    codes
        .iter()
        .filter_map(|code| {
            let want = TenantKey::expected(prefix, code);
            let db = by_key.get(&want).map(|d| (*d).clone());
            seen.insert(want).then(|| Tenant {
                code: code.clone(),
                db,
            })
        })
        .collect()
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

    #[test]
    fn the_first_of_two_databases_differing_in_case_is_the_tenants() {
        let dbs = vec!["bgerp_t_Acme".to_string(), "BGERP_T_ACME".into()];
        let t = resolve(&["ACME".to_string()], &dbs, "bgerp_t_");
        assert_eq!(t[0].db.as_deref(), Some("bgerp_t_Acme"));
    }
}
