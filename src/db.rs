//! Connections to the server: sqlx pools (snapshot reads, mv_ writes) and mysql_async options
//! (the binlog stream) built from a config [`Endpoint`], with TLS per `ssl_mode`.

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlSslMode};

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

/// mysql_async options for the same endpoint (the binlog connection).
pub fn binlog_opts(ep: &Endpoint) -> mysql_async::Opts {
    let mut b = mysql_async::OptsBuilder::default()
        .ip_or_hostname(ep.host.clone())
        .tcp_port(ep.port)
        .user(Some(ep.user.clone()))
        .pass(ep.password.as_ref().map(|p| p.expose().to_string()))
        .prefer_socket(false);
    let tls = mysql_async::SslOpts::default();
    b = match ep.ssl_mode {
        // mysql_async has no "preferred": plain unless asked, as most clients behave on loopback.
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
