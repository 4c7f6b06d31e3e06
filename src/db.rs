//! Connections to the server: sqlx pools (snapshot reads, mv_ writes) and mysql_async options
//! (the binlog stream) built from a config [`Endpoint`], with TLS per `ssl_mode`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions, MySqlRow, MySqlSslMode,
};
use sqlx::Row as _;

use crate::config::{Endpoint, SslMode};

pub fn connect_options(ep: &Endpoint) -> MySqlConnectOptions {
    let mut o = MySqlConnectOptions::new()
        .host(&ep.host)
        .port(ep.port)
        .username(&ep.user)
        .ssl_mode(match ep.ssl_mode {
            SslMode::Disabled => MySqlSslMode::Disabled,
            SslMode::Preferred => MySqlSslMode::Preferred,
            SslMode::Required => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyIdentity => MySqlSslMode::VerifyIdentity,
        })
        .charset("utf8mb4");
    if let Some(pw) = &ep.password {
        o = o.password(pw.expose());
    }
    if let Some(ca) = &ep.ssl_ca {
        o = o.ssl_ca(ca);
    }
    o
}

/// A small pool; the first connection is made now so a refused login fails here, clearly.
pub async fn pool(ep: &Endpoint, max: u32) -> Result<MySqlPool, sqlx::Error> {
    MySqlPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(connect_options(ep))
        .await
}

/// mysql_async options for the same endpoint (the binlog connection). mysql_async has no
/// "preferred": here it means plain; [`binlog_conn`] resolves it to TLS or plain by trying.
pub fn binlog_opts(ep: &Endpoint) -> mysql_async::Opts {
    let mut b = mysql_async::OptsBuilder::default()
        .ip_or_hostname(ep.host.clone())
        .tcp_port(ep.port)
        .user(Some(ep.user.clone()))
        .pass(ep.password.as_ref().map(|p| p.expose().to_string()))
        .prefer_socket(false);
    let mut tls = mysql_async::SslOpts::default();
    if let Some(ca) = &ep.ssl_ca {
        tls = tls.with_root_certs(vec![ca.clone().into()]);
    }
    b = match ep.ssl_mode {
        SslMode::Disabled | SslMode::Preferred => b,
        SslMode::Required => b.ssl_opts(
            tls.with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        SslMode::VerifyCa => b.ssl_opts(tls.with_danger_skip_domain_validation(true)),
        SslMode::VerifyIdentity => b.ssl_opts(tls),
    };
    b.into()
}

/// A mysql_async connection to `ep`, and the TLS mode it ended up with: `preferred` tries TLS
/// without verification (as `required`) and falls back to plain when the server offers no TLS,
/// as sqlx does for the pools. Use the returned mode for later connections (the binlog stream).
pub async fn binlog_conn(
    ep: &Endpoint,
) -> Result<(mysql_async::Conn, SslMode), mysql_async::Error> {
    if ep.ssl_mode != SslMode::Preferred {
        return Ok((mysql_async::Conn::new(binlog_opts(ep)).await?, ep.ssl_mode));
    }
    let tls = Endpoint {
        ssl_mode: SslMode::Required,
        ..ep.clone()
    };
    match mysql_async::Conn::new(binlog_opts(&tls)).await {
        Ok(conn) => Ok((conn, SslMode::Required)),
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)) => {
            let plain = Endpoint {
                ssl_mode: SslMode::Disabled,
                ..ep.clone()
            };
            Ok((
                mysql_async::Conn::new(binlog_opts(&plain)).await?,
                SslMode::Disabled,
            ))
        }
        Err(e) => Err(e),
    }
}

/// Runs `sql` as plain text: nothing is prepared, nothing is cached on the connection.
///
/// For the statements that change session state (`START TRANSACTION ...`, `COMMIT`,
/// `ROLLBACK`, `SET ...`) and for DDL: MySQL cannot prepare some of them (error 1295, "not
/// supported in the prepared statement protocol"), and a prepared statement cached by sqlx
/// keeps the database it was prepared in on MariaDB. Every other statement flowtally sends
/// names its tables with their database, so preparing and caching those is safe.
///
/// Boxed, so that callers' futures stay `Send` for tokio::spawn (sqlx's executor lifetimes
/// defeat the compiler's proof otherwise).
pub fn text<'c>(
    conn: &'c mut MySqlConnection,
    sql: &'c str,
) -> BoxFuture<'c, Result<u64, sqlx::Error>> {
    // A bare `&str` has no arguments, which sqlx sends with the text protocol (COM_QUERY).
    Box::pin(async move { Ok(sqlx::Executor::execute(conn, sql).await?.rows_affected()) })
}

/// Runs `sql`, several statements separated by `;`, as one text (one round trip): the rows
/// each statement affected, in order. The server stops at the first statement that fails, and
/// that failure is the error. Boxed, as [`text`] is.
pub fn text_each<'c>(
    conn: &'c mut MySqlConnection,
    sql: &'c str,
) -> BoxFuture<'c, Result<Vec<u64>, sqlx::Error>> {
    use futures_util::TryStreamExt;
    Box::pin(async move {
        sqlx::Executor::execute_many(conn, sql)
            .map_ok(|r| r.rows_affected())
            .try_collect()
            .await
    })
}

/// The rows of one query sent as text (nothing prepared). Boxed, as [`text`] is.
pub fn text_rows<'c>(
    conn: &'c mut MySqlConnection,
    sql: &'c str,
) -> BoxFuture<'c, Result<Vec<MySqlRow>, sqlx::Error>> {
    Box::pin(async move { sqlx::Executor::fetch_all(conn, sql).await })
}

/// Column `i` of `row` as text, whatever the server's type for it: information_schema names
/// are VARBINARY on MySQL, VARCHAR on MariaDB; bytes that are not UTF-8 are replaced.
pub fn text_column(row: &MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    Ok(row
        .try_get::<Option<Vec<u8>>, _>(i)?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Column `i` of `row` as an unsigned number, whatever the server's type for it: status
/// statements report positions and sizes as BIGINT UNSIGNED on one server and version, as text
/// on another. `None` for NULL or what is not a number.
pub fn u64_column(row: &MySqlRow, i: usize) -> Option<u64> {
    row.try_get::<Option<u64>, _>(i)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get::<Option<i64>, _>(i)
                .ok()
                .flatten()
                .and_then(|v| u64::try_from(v).ok())
        })
        .or_else(|| {
            text_column(row, i)
                .ok()
                .flatten()
                .and_then(|s| s.trim().parse().ok())
        })
}

/// [`text_column`] for a column that is never NULL (a NULL reads as the empty string).
pub fn name_column(row: &MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    Ok(text_column(row, i)?.unwrap_or_default())
}

/// Backtick-quotes an identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A database error with the server's message, credentials never included.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

/// Why connecting to `ep` failed, credentials never included, with what to check: a refused
/// login (MariaDB refuses a plain connection under `require_secure_transport` with the same
/// "Access denied" as a wrong password, so with `ssl_mode = disabled` that is said too), or a
/// certificate that did not verify.
pub fn connect_error(ep: &Endpoint, e: &sqlx::Error) -> String {
    let denied = matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("28000"));
    let text = describe(e);
    if denied {
        let tls = if ep.ssl_mode == SslMode::Disabled {
            "; or, with ssl_mode = \"disabled\", the server requires TLS \
             (require_secure_transport=ON): set ssl_mode = \"required\" or stronger"
        } else {
            ""
        };
        format!(
            "{text}: check the user, its password (url, password_env or password_file) and \
             the hosts the account may connect from{tls}"
        )
    } else {
        tls_error(ep, &text).unwrap_or(text)
    }
}

/// Why the binlog connection to `ep` (mysql_async) failed, with the same TLS hints as
/// [`connect_error`].
pub fn binlog_connect_error(ep: &Endpoint, e: &mysql_async::Error) -> String {
    let text = e.to_string();
    tls_error(ep, &text).unwrap_or(text)
}

/// A certificate that did not verify, said in words, or `None` for any other error. rustls
/// reports a name mismatch as `NotValidForName`: the chain is fine, the certificate is not
/// issued for the host of the url (MySQL's auto-generated certificates name no host at all).
fn tls_error(ep: &Endpoint, text: &str) -> Option<String> {
    if text.contains("NotValidForName") {
        return Some(format!(
            "the server's certificate is not issued for the host {} of the url ({text}): \
             ssl_mode = \"{}\" checks that name; connect by a name the certificate holds, or \
             set ssl_mode = \"verify_ca\" to check only that ssl_ca signed it",
            ep.host,
            ep.ssl_mode.name()
        ));
    }
    text.contains("certificate").then(|| {
        format!(
            "{text} (ssl_mode = \"{}\": ssl_ca must be the CA that signed the server's \
             certificate{})",
            ep.ssl_mode.name(),
            if ep.ssl_mode == SslMode::VerifyIdentity {
                ", issued for the host of the url"
            } else {
                ""
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("bgerp_t_a-b"), "`bgerp_t_a-b`");
        assert_eq!(ident("we`ird"), "`we``ird`");
    }
}
