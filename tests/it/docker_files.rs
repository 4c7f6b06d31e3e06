//! Static checks of the container files (`docker/`, `.dockerignore`): CI has no Docker engine,
//! so nothing here runs a container (nor a server: these are plain tests). It parses
//! docker/docker-compose.yml and checks that the pieces fit together: the MySQL server flags give
//! what flowtally requires at start-up, each flowtally config the compose file mounts parses with
//! the environment the compose file sets, the simulator (`flowtally-sim`, from crates/testkit)
//! is given flags it has and that agree with flowtally's config, the init scripts create every
//! tenant the simulator drives with the DDL of the fixtures and migrations, and the Dockerfile is
//! the two-stage build of the workspace the compose file points at.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flowtally::config::{Config, Document};
use flowtally::http::access::HttpConfig;
use flowtally::model::View;
use serde_yaml::Value;

/// The server settings flowtally requires at start-up (`setting_problems` in
/// src/source/binlog/checks.rs, README "What the server needs"), as `mysqld` option names, plus
/// the GTID mode the compose file promises. `log_bin` is checked apart: any base name turns it
/// on. Hardcoded: checks.rs keeps these inside its check, not in a shared constant.
const REQUIRED_SETTINGS: &[(&str, &str)] = &[
    ("binlog_format", "ROW"),
    ("binlog_row_image", "FULL"),
    ("binlog_row_metadata", "FULL"),
    ("gtid_mode", "ON"),
    ("enforce_gtid_consistency", "ON"),
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn compose() -> Value {
    let text = read(&repo("docker/docker-compose.yml"));
    serde_yaml::from_str(&text).expect("docker/docker-compose.yml is not valid YAML")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("docker-compose.yml has no service '{name}'"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// A `command`/`entrypoint`: a list, or a string split on whitespace.
fn words(v: Option<&Value>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items.iter().map(text).collect(),
        Some(other) => text(other).split_whitespace().map(str::to_string).collect(),
    }
}

/// Compose interpolation as the defaults resolve it: `${VAR:-default}` / `${VAR-default}` give
/// the default, `$$` a literal `$`. A `${VAR}` without a default would need the caller's
/// environment, which the stack must not.
fn interpolate(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$$") {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("${") {
            let end = r
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in '{s}'"));
            let inner = &r[..end];
            let default = inner
                .split_once(":-")
                .or_else(|| inner.split_once('-'))
                .map(|(_, d)| d)
                .unwrap_or_else(|| panic!("'{s}' has no default for {inner}"));
            out.push_str(default);
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A service's `environment` (mapping or `KEY=value` list), interpolated.
fn environment(svc: &Value) -> BTreeMap<String, String> {
    match svc.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| (text(k), interpolate(&text(v))))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                let i = text(i);
                let (k, v) = i.split_once('=').unwrap_or((&i, ""));
                (k.to_string(), interpolate(v))
            })
            .collect(),
        Some(other) => panic!("environment is neither a mapping nor a list: {other:?}"),
    }
}

/// A service's short-syntax `volumes` as (source, target).
fn mounts(svc: &Value) -> Vec<(String, String)> {
    words(svc.get("volumes"))
        .iter()
        .map(|v| {
            let mut parts = v.split(':');
            let src = parts.next().unwrap_or_default().to_string();
            let dst = parts
                .next()
                .unwrap_or_else(|| panic!("volume '{v}' has no target"));
            (src, dst.to_string())
        })
        .collect()
}

/// The value after `flag` in a command.
fn arg<'a>(cmd: &'a [String], flag: &str) -> Option<&'a str> {
    cmd.iter()
        .position(|w| w == flag)
        .and_then(|i| cmd.get(i + 1))
        .map(String::as_str)
}

/// The config file a service's command names, read from the host path mounted there, parsed
/// with the service's environment.
fn service_config(compose: &Value, name: &str) -> Config {
    let (doc, host) = service_document(compose, name);
    Config::from_document(&doc)
        .unwrap_or_else(|e| panic!("{name}: {} does not parse: {e}", host.display()))
}

/// The `[http]` section of [`service_config`]'s file.
fn service_http_config(compose: &Value, name: &str) -> HttpConfig {
    let (doc, host) = service_document(compose, name);
    HttpConfig::from_document(&doc)
        .unwrap_or_else(|e| panic!("{name}: {} [http] does not parse: {e}", host.display()))
}

fn service_document(compose: &Value, name: &str) -> (Document, PathBuf) {
    let svc = service(compose, name);
    let cmd = words(svc.get("command"));
    let path = arg(&cmd, "--config").unwrap_or_else(|| panic!("{name}: no --config in command"));
    let (src, _) = mounts(svc)
        .into_iter()
        .find(|(_, dst)| dst == path)
        .unwrap_or_else(|| panic!("{name}: nothing is mounted at {path}"));
    assert!(
        src.starts_with("./"),
        "{name}: {path} should come from a file beside the compose file, not '{src}'"
    );
    let host = repo("docker").join(&src[2..]);
    let env = environment(svc);
    let doc = Document::parse(&read(&host), &host.display().to_string(), &env)
        .unwrap_or_else(|e| panic!("{name}: {} does not parse: {e}", host.display()));
    (doc, host)
}

fn depends_on_healthy_mysql(svc: &Value, name: &str) {
    let cond = svc
        .get("depends_on")
        .and_then(|d| d.get("mysql"))
        .and_then(|m| m.get("condition"))
        .map(text);
    assert_eq!(
        cond.as_deref(),
        Some("service_healthy"),
        "{name} must wait for mysql to be healthy (the init scripts have run by then)"
    );
}

/// The tenant codes the simulator drives.
fn simulated_tenants(compose: &Value) -> Vec<String> {
    let cmd = words(service(compose, "simulator").get("command"));
    arg(&cmd, "--tenants")
        .expect("simulator: no --tenants")
        .split(',')
        .map(str::to_string)
        .collect()
}

/// The value of the simulator's `flag`, which the compose file must give (flowtally-sim's own
/// defaults are not flowtally's config).
fn sim_arg<'a>(cmd: &'a [String], flag: &str) -> &'a str {
    arg(cmd, flag).unwrap_or_else(|| panic!("simulator: no {flag} in {cmd:?}"))
}

/// SQL statements, `--` comment lines dropped and whitespace collapsed.
fn statements(sql: &str) -> Vec<String> {
    let body: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn compose_has_the_services_and_volumes() {
    let c = compose();
    assert!(
        c.get("version").is_none(),
        "the compose spec has no version key"
    );
    for name in ["mysql", "simulator", "flowtally"] {
        service(&c, name);
    }
    let volumes = c.get("volumes").expect("no top-level volumes");
    for v in ["mysql-data", "flowtally-state"] {
        assert!(volumes.get(v).is_some(), "volume {v} is not declared");
    }
}

#[test]
fn mysql_flags_give_what_flowtally_checks_at_start_up() {
    let c = compose();
    let mysql = service(&c, "mysql");
    let image = text(mysql.get("image").expect("mysql: no image"));
    assert!(image.starts_with("mysql:8.4"), "mysql image is {image}");

    let cmd = words(mysql.get("command"));
    let mut flags: BTreeMap<String, Option<String>> = BTreeMap::new();
    for w in &cmd {
        let w = w
            .strip_prefix("--")
            .unwrap_or_else(|| panic!("mysql command word '{w}' is not a --flag"));
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (w, None),
        };
        flags.insert(k.replace('-', "_").to_ascii_lowercase(), v);
    }
    for (setting, needed) in REQUIRED_SETTINGS {
        let found = flags.get(*setting).cloned().flatten();
        assert!(
            found
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(needed)),
            "mysql command must set --{}={needed}, has {found:?}",
            setting.replace('_', "-")
        );
    }
    match flags.get("log_bin") {
        Some(Some(v)) => assert!(
            !["off", "0"].contains(&v.to_ascii_lowercase().as_str()),
            "--log-bin={v} turns the binlog off"
        ),
        Some(None) => {}
        None => panic!("mysql command must turn the binlog on (--log-bin=<basename>)"),
    }
    for off in ["skip_log_bin", "disable_log_bin"] {
        assert!(!flags.contains_key(off), "--{off} turns the binlog off");
    }
    let server_id = flags.get("server_id").cloned().flatten();
    assert!(
        server_id.as_deref().is_some_and(|s| s != "0"),
        "a binlog source needs a non-zero --server-id, has {server_id:?}"
    );

    let env = environment(mysql);
    assert!(
        env.get("MYSQL_ROOT_PASSWORD")
            .is_some_and(|p| !p.is_empty()),
        "mysql needs MYSQL_ROOT_PASSWORD with a default"
    );
    assert!(
        mounts(mysql)
            .iter()
            .any(|(src, dst)| src == "./init" && dst == "/docker-entrypoint-initdb.d"),
        "mysql must mount ./init at /docker-entrypoint-initdb.d"
    );
    let health = words(mysql.get("healthcheck").and_then(|h| h.get("test"))).join(" ");
    assert!(
        health.contains("mysqladmin") && health.contains("ping"),
        "mysql healthcheck is '{health}'"
    );
}

#[test]
fn flowtally_service_runs_the_image_with_its_mounted_config() {
    let c = compose();
    let svc = service(&c, "flowtally");
    let build = svc.get("build").expect("flowtally: no build");
    assert_eq!(build.get("context").map(text).as_deref(), Some(".."));
    let dockerfile = build.get("dockerfile").map(text).expect("no dockerfile");
    assert_eq!(dockerfile, "docker/Dockerfile");
    assert!(repo(&dockerfile).is_file());
    depends_on_healthy_mysql(svc, "flowtally");

    let cmd = words(svc.get("command"));
    assert_eq!(
        cmd.last().map(String::as_str),
        Some("run"),
        "command {cmd:?}"
    );

    let cfg = service_config(&c, "flowtally");
    assert_eq!(cfg.source.host, "mysql");
    assert_eq!(cfg.source.user, "flowtally_reader");
    assert!(cfg.source.password.is_some(), "source password");
    assert_eq!(cfg.sink.host, "mysql");
    assert_eq!(cfg.sink.user, "flowtally_writer");
    assert!(cfg.sink.password.is_some(), "sink password");
    let http = service_http_config(&c, "flowtally");
    assert_eq!(http.listen, "0.0.0.0:9187");
    let port = http.listen.rsplit(':').next().unwrap_or_default();
    let ports = words(svc.get("ports"));
    assert!(
        ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
        "flowtally must publish its HTTP port {port}, publishes {ports:?}"
    );
    let state = cfg.state_dir.display().to_string();
    assert_eq!(state, "/var/lib/flowtally");
    assert!(
        mounts(svc)
            .iter()
            .any(|(src, dst)| *dst == state && !src.starts_with('.')),
        "the state dir {state} must be a named volume"
    );
}

#[test]
fn simulator_drives_the_tenants_the_init_scripts_create() {
    let c = compose();
    let svc = service(&c, "simulator");
    depends_on_healthy_mysql(svc, "simulator");
    assert_eq!(
        text(svc.get("image").expect("simulator: no image")),
        text(service(&c, "flowtally").get("image").expect("no image")),
        "the simulator runs the flowtally image"
    );
    // The image's entrypoint is flowtally: the simulator service runs flowtally-sim instead,
    // which the Dockerfile installs on the PATH.
    assert_eq!(
        words(svc.get("entrypoint")),
        ["flowtally-sim"],
        "the simulator's entrypoint"
    );
    assert!(
        read(&repo("docker/Dockerfile")).contains("/usr/local/bin/flowtally-sim"),
        "the image has no flowtally-sim"
    );
    let cmd = words(svc.get("command"));
    // --setup would drop and recreate the tenant databases the init scripts made, on every
    // restart of the container.
    assert!(
        !cmd.iter().any(|w| w == "--setup"),
        "the init scripts set the tenants up"
    );
    // Every flag is one flowtally-sim has (a clap `long` option of a field of that name).
    let sim_src = read(&repo("crates/testkit/src/bin/flowtally-sim.rs"));
    for flag in cmd.iter().filter_map(|w| w.strip_prefix("--")) {
        assert!(
            sim_src.contains(&format!("    {}: ", flag.replace('-', "_"))),
            "flowtally-sim has no --{flag}"
        );
    }

    // It writes the source tables of the server flowtally reads, as root (flowtally's logins may
    // not write them), with the root password the mysql service is given.
    let run = service_config(&c, "flowtally");
    let url = url::Url::parse(sim_arg(&cmd, "--url")).expect("simulator --url");
    assert_eq!(url.scheme(), "mysql");
    assert_eq!(url.host_str(), Some(run.source.host.as_str()));
    assert_eq!(url.port().unwrap_or(3306), run.source.port);
    assert_eq!(url.username(), "root");
    assert!(
        url.password().is_none(),
        "no password in the simulator's URL"
    );
    let pw_var = sim_arg(&cmd, "--password-env");
    let sim_env = environment(svc);
    let mysql_env = environment(service(&c, "mysql"));
    assert!(
        sim_env.get(pw_var).is_some_and(|p| !p.is_empty()),
        "simulator: --password-env {pw_var} is not in its environment"
    );
    assert_eq!(
        sim_env.get(pw_var),
        mysql_env.get("MYSQL_ROOT_PASSWORD"),
        "simulator: {pw_var} is not the mysql service's root password"
    );
    // The databases and the wall clock of flowtally's config.
    assert_eq!(sim_arg(&cmd, "--db-prefix"), run.db_prefix);
    assert_eq!(sim_arg(&cmd, "--core-db"), run.core_db);
    let tz: chrono_tz::Tz = sim_arg(&cmd, "--timezone")
        .parse()
        .expect("simulator --timezone");
    assert_eq!(
        tz, run.timezone,
        "both must write and read the same wall clock"
    );

    let core = read(&repo("docker/init/01-core.sql"));
    let tenants_sql = read(&repo("docker/init/02-tenants.sql"));
    let users = read(&repo("docker/init/03-users.sh"));
    assert!(core.contains(&format!("INSERT INTO {}.organization", run.core_db)));
    let codes = simulated_tenants(&c);
    assert!(!codes.is_empty());
    for code in &codes {
        assert!(
            core.contains(&format!("('{code}', ")),
            "01-core.sql does not register tenant {code}"
        );
        let db = flowtally_testkit::simulate::tenant_db(&run.db_prefix, code);
        for (file, text) in [("02-tenants.sql", &tenants_sql), ("03-users.sh", &users)] {
            assert!(text.contains(&db), "{file} does not mention {db}");
        }
    }
}

#[test]
fn init_scripts_create_the_fixture_tables_and_least_privilege_users() {
    let c = compose();
    let run = service_config(&c, "flowtally");
    let tenants_sql = read(&repo("docker/init/02-tenants.sql"));
    let source = statements(&read(&repo("crates/testkit/sql/tenant_source.sql")));
    let mv = statements(&read(&repo("migrations/0001_mv_tables.sql")));
    let core = statements(&read(&repo("docker/init/01-core.sql")));
    for stmt in statements(&read(&repo("crates/testkit/sql/core.sql"))) {
        assert!(core.contains(&stmt), "01-core.sql lacks: {stmt}");
    }

    // One section per tenant database, from its USE to the next.
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for part in tenants_sql.split("\nUSE ").skip(1) {
        let (db, body) = part.split_once(';').expect("USE without ;");
        sections.insert(db.trim().to_string(), statements(body));
    }
    let users = read(&repo("docker/init/03-users.sh"));
    assert!(users
        .contains("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'flowtally_reader'@'%'"));
    assert!(users.contains(&format!(
        "GRANT SELECT ON {}.organization TO 'flowtally_reader'@'%'",
        run.core_db
    )));
    for code in simulated_tenants(&c) {
        let db = flowtally_testkit::simulate::tenant_db(&run.db_prefix, &code);
        assert!(
            tenants_sql.contains(&format!("CREATE DATABASE IF NOT EXISTS {db} ")),
            "02-tenants.sql does not create {db}"
        );
        let section = sections
            .get(&db)
            .unwrap_or_else(|| panic!("02-tenants.sql has no USE {db};"));
        for stmt in source.iter().chain(&mv) {
            let n = section.iter().filter(|s| *s == stmt).count();
            assert_eq!(n, 1, "{db} in 02-tenants.sql should have once: {stmt}");
        }
        for table in ["routing_graph", "routing_node", "team", "team_member"] {
            assert!(
                section
                    .iter()
                    .any(|s| s.starts_with(&format!("INSERT INTO {table} "))),
                "{db}: the simulator needs seeded {table} rows"
            );
        }
        assert!(users.contains(&format!("GRANT SELECT ON {db}.* TO 'flowtally_reader'@'%'")));
        for view in View::ALL {
            let grant = format!(
                "GRANT SELECT, INSERT, DELETE ON {db}.{} TO 'flowtally_writer'@'%'",
                view.table()
            );
            assert!(users.contains(&grant), "03-users.sh lacks: {grant}");
        }
    }
    assert!(
        !users.contains("GRANT ALL") && !users.contains("CREATE,") && !users.contains("ALTER"),
        "flowtally's users get no DDL rights"
    );

    // The users get the passwords flowtally is given.
    let mysql_env = environment(service(&c, "mysql"));
    let run_env = environment(service(&c, "flowtally"));
    for var in ["FLOWTALLY_READER_PASSWORD", "FLOWTALLY_WRITER_PASSWORD"] {
        assert!(users.contains(&format!("${{{var}}}")), "03-users.sh: {var}");
        assert!(mysql_env.contains_key(var), "mysql service lacks {var}");
        assert_eq!(mysql_env.get(var), run_env.get(var), "{var} differs");
    }
}

#[test]
fn dockerfile_builds_in_two_stages_and_runs_as_a_user() {
    let text = read(&repo("docker/Dockerfile"));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].starts_with("FROM rust:1-bookworm AS "),
        "{}",
        froms[0]
    );
    assert_eq!(froms[1], "FROM debian:bookworm-slim");
    assert!(text.contains("cargo build --release --locked"));
    // Both binaries: flowtally and the compose stack's simulator (crates/testkit).
    let build = text
        .split("\nRUN ")
        .find(|r| r.contains("cargo build"))
        .expect("a RUN with cargo build");
    for want in [
        "-p flowtally-testkit",
        "--bin flowtally-sim",
        "target/release/flowtally-sim",
    ] {
        assert!(
            build.contains(want),
            "the cargo build step lacks {want}:\n{build}"
        );
    }
    assert!(text.contains("ca-certificates"));
    assert!(text.contains("/usr/local/bin/flowtally"));
    for bin in ["flowtally", "flowtally-sim"] {
        let copy = format!("COPY --from=build /usr/local/bin/{bin} /usr/local/bin/{bin}");
        assert!(
            lines.contains(&copy.as_str()),
            "the runtime stage lacks: {copy}"
        );
    }
    assert!(lines.contains(&"ENTRYPOINT [\"flowtally\"]"));
    assert!(lines.contains(&"CMD [\"--config\", \"/etc/flowtally/flowtally.toml\", \"run\"]"));
    assert!(lines.contains(&"EXPOSE 9187"));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("VOLUME") && l.contains("/var/lib/flowtally")));
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    assert!(!["root", "0"].contains(&user.trim()), "USER {user}");
    for l in &lines {
        if let Some(rest) = l.strip_prefix("COPY ") {
            if !rest.starts_with("--from") && !rest.starts_with(". ") {
                let src = rest.split_whitespace().next().unwrap_or_default();
                assert!(
                    repo(src).exists(),
                    "COPY {src}: no such file in the context"
                );
            }
        }
    }

    let ignore = read(&repo(".dockerignore"));
    let ignored: Vec<&str> = ignore
        .lines()
        .map(|l| l.trim().trim_start_matches('/').trim_end_matches('/'))
        .collect();
    for p in ["target", "state", ".git"] {
        assert!(ignored.contains(&p), ".dockerignore must exclude {p}");
    }
    // The build context is a workspace: cargo refuses to build without every member.
    let manifest: toml::Value =
        toml::from_str(&read(&repo("Cargo.toml"))).expect("Cargo.toml is not TOML");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("[workspace] members");
    for m in members {
        let m = m.as_str().expect("a member path");
        assert!(repo(m).join("Cargo.toml").is_file(), "member {m}");
        let m = m.trim_start_matches("./");
        assert!(
            !ignored
                .iter()
                .any(|p| *p == m || m.starts_with(&format!("{p}/"))),
            ".dockerignore excludes the workspace member {m}"
        );
    }
}

#[test]
fn two_instances_in_ha_with_their_own_replica_ids_state_and_healthchecks() {
    let c = compose();
    let (a, b) = (
        service_config(&c, "flowtally"),
        service_config(&c, "flowtally-standby"),
    );
    assert!(a.ha.enabled && b.ha.enabled, "both instances run with [ha]");
    assert_ne!(a.server_id, b.server_id, "each instance its own replica id");
    assert_eq!(
        a.state_dir, b.state_dir,
        "the same path, on different volumes"
    );
    let volume = |name: &str| {
        mounts(service(&c, name))
            .into_iter()
            .find(|(_, dst)| *dst == a.state_dir.display().to_string())
            .map(|(src, _)| src)
            .unwrap_or_else(|| panic!("{name}: no state volume"))
    };
    assert_ne!(volume("flowtally"), volume("flowtally-standby"));
    for name in ["flowtally", "flowtally-standby"] {
        let svc = service(&c, name);
        depends_on_healthy_mysql(svc, name);
        let check = words(svc.get("healthcheck").and_then(|h| h.get("test"))).join(" ");
        assert!(
            check.contains("GET /livez"),
            "{name}: healthcheck is '{check}'"
        );
    }
    let dockerfile = read(&repo("docker/Dockerfile"));
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("GET /livez"));

    // The lease table as `flowtally migrate` makes it, and the writer's grants on it.
    let core = statements(&read(&repo("docker/init/01-core.sql")));
    let lease = statements(&flowtally::sink::lease::create_sql(&a.core_db));
    assert!(
        core.contains(&lease[0]),
        "01-core.sql lacks the lease table as migrate creates it: {}",
        lease[0]
    );
    let users = read(&repo("docker/init/03-users.sh"));
    let grant = format!(
        "GRANT SELECT, INSERT, UPDATE ON {}.{} TO 'flowtally_writer'@'%'",
        a.core_db,
        flowtally::sink::lease::TABLE
    );
    assert!(users.contains(&grant), "03-users.sh lacks: {grant}");
}
