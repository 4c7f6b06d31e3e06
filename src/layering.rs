//! The import direction, checked: every top-level module of the crate sits in a layer and may
//! use only modules of layers below its own (the list is the map of `docs/architecture.md`).
//! Read from the source's `crate::` paths, test code and comments left out, so an upward import
//! fails `cargo test` with the file and line that made it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Lowest first. A module may use the modules of the layers below its own, never its peers'
/// or those above.
const LAYERS: &[&[&str]] = &[
    &[
        "backoff",
        "causes",
        "cli",
        "ratelimit",
        "schema",
        "shutdown",
    ],
    &["config", "model"],
    &["db"],
    &["catalog", "source", "verify"],
    &["checkpoint", "tenants"],
    &["live"],
    &["http", "sink"],
    &["refresh", "service"],
    &["commands"],
];

fn layer_of() -> HashMap<&'static str, usize> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, mods)| mods.iter().map(move |m| (*m, i)))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for the crate root and `main`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// Test code: a `tests.rs`, a file under a `tests/` folder, this file.
fn is_test_file(file: &Path) -> bool {
    file.file_name()
        .is_some_and(|n| n == "tests.rs" || n == "layering.rs")
        || file.components().any(|c| c.as_os_str() == "tests")
}

/// `(line, module)` for each `crate::module` the file's code (before any `#[cfg(test)]`) names.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn no_module_imports_a_module_above_or_beside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layer_of();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut unplaced = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(&own) = layers.get(module.as_str()) else {
            unplaced.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (line, used) in uses(&text) {
            if used == module {
                continue;
            }
            match layers.get(used.as_str()) {
                Some(&l) if l < own => {}
                _ => wrong.push(format!(
                    "{}:{line}: {module} uses crate::{used}",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS and to docs/architecture.md): {unplaced:?}"
    );
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::live::LiveView;\n// crate::http in a comment\nfn f() { crate::service::run(); }\n#[cfg(test)]\nuse crate::commands;\n";
    assert_eq!(
        uses(text),
        vec![(1, "live".to_string()), (3, "service".to_string())]
    );
}
