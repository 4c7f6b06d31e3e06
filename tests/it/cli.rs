//! The command line as a shell user meets it, without a server: `checkpoint show` into a pipe
//! closed early (`| head`) exits quietly, and it shows the instants the service recorded, not
//! ones computed from them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use flowtally::checkpoint::{self, Manifest, TenantEntry};
use flowtally::model::views::Cadence;
use flowtally::source::Position;

/// A state directory holding a checkpoint of `tenants` tenants, its last instants as given.
fn checkpoint_dir(tenants: usize, written: &[(Cadence, i64)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(checkpoint::parts_dir(&state)).expect("parts dir");
    let manifest = Manifest {
        server: "1@host:/data".into(),
        position: Position {
            file: "bin.000007".into(),
            pos: 4242,
            gtid: None,
        },
        written: written.iter().copied().collect(),
        taken_at: chrono::Utc::now().timestamp(),
        tenants: (0..tenants)
            .map(|i| TenantEntry {
                code: format!("T{i:05}"),
                db: format!("bgerp_t_t{i:05}"),
                file: checkpoint::part_name(&format!("bgerp_t_t{i:05}"), 1),
                len: 0,
                base_len: 0,
                base_rows: i as u64,
                changes: 0,
                loaded_at: None,
                first_instant: 0,
            })
            .collect(),
    };
    manifest.save(&state).expect("save the manifest");
    std::fs::write(
        dir.path().join("flowtally.toml"),
        format!(
            "[source]\nurl = \"mysql://root@127.0.0.1:1\"\n[time]\ntimezone = \"UTC\"\n\
             [state]\ndir = \"{}\"\n",
            state.display()
        ),
    )
    .expect("config");
    dir
}

fn show(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowtally"));
    cmd.arg("--config")
        .arg(dir.path().join("flowtally.toml"))
        .args(["checkpoint", "show"]);
    cmd
}

#[test]
fn checkpoint_show_into_a_pipe_closed_early_exits_quietly() {
    // Far more output than a pipe holds, so the reader's early close is seen by the writer.
    let dir = checkpoint_dir(20_000, &[(Cadence::OneMinute, 1_800_000_060)]);
    let mut child = show(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flowtally");
    let mut first = String::new();
    {
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout);
        lines.read_line(&mut first).expect("first line");
        // Dropping the reader closes the pipe, as `head -1` does.
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("checkpoint: "), "{first}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "quiet: {stderr}");
}

#[test]
fn checkpoint_show_prints_the_instants_written_as_recorded() {
    // Only one-minute snapshots were written (a run of a few minutes after a fresh start):
    // the 5- and 15-minute ones must not appear, let alone as instants computed from it.
    let dir = checkpoint_dir(2, &[(Cadence::OneMinute, 1_800_000_060)]);
    let out = show(&dir).output().expect("run flowtally");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let lasts: Vec<&str> = stdout.lines().filter(|l| l.starts_with("last ")).collect();
    assert_eq!(
        lasts,
        vec!["last 1m         2027-01-15 08:01:00"],
        "{stdout}"
    );
    assert!(stdout.contains("position:   bin.000007:4242"), "{stdout}");
    assert!(
        stdout.contains("tenant T00001 (bgerp_t_t00001): 1 rows + 0 changes"),
        "{stdout}"
    );

    let dir = checkpoint_dir(
        1,
        &[
            (Cadence::OneMinute, 1_800_000_060),
            (Cadence::FiveMinutes, 1_799_999_700),
            (Cadence::FifteenMinutes, 1_799_999_100),
        ],
    );
    let out = show(&dir).output().expect("run flowtally");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lasts: Vec<&str> = stdout.lines().filter(|l| l.starts_with("last ")).collect();
    assert_eq!(
        lasts,
        vec![
            "last 1m         2027-01-15 08:01:00",
            "last 5m         2027-01-15 07:55:00",
            "last 15m        2027-01-15 07:45:00",
        ],
        "{stdout}"
    );
}
