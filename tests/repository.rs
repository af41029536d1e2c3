//! What the repository's committed files promise: the README quotes only figures its reports
//! hold, and no report, weights note or document names a path of the machine it was made on.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text_files(&path, out);
        } else if std::fs::read(&path).is_ok_and(|bytes| std::str::from_utf8(&bytes).is_ok()) {
            out.push(path);
        }
    }
}

#[test]
fn no_committed_report_names_a_path_of_the_machine_it_was_made_on() {
    let mut files = Vec::new();
    for dir in ["reports", "weights", "docs"] {
        text_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 5, "the reports are there");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for machine in ["/work/", "/root/", "/home/"] {
                assert!(!line.contains(machine), "{}:{}: {machine} in {line:.200}", file.display(), n + 1);
            }
        }
    }
}

#[test]
fn every_figure_of_the_readmes_results_is_in_a_report_it_links() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("\n## Results").expect("a Results section");
    let end = readme[start + 1..].find("\n## ").map_or(readme.len(), |e| start + 1 + e);
    let section = &readme[start..end];
    // The reports it links, and the figures it quotes (numbers with a decimal point or a ±).
    let mut reports = String::new();
    let mut linked = 0;
    for part in section.split("](").skip(1) {
        let target = &part[..part.find(')').unwrap()];
        if target.ends_with(".md") {
            reports += &std::fs::read_to_string(root().join(target)).unwrap();
            linked += 1;
        }
    }
    assert!(linked >= 1, "the section links its reports");
    let prose: String = section.split("](").map(|p| p.split_once(')').map_or(p, |(_, rest)| rest)).collect();
    let figures: Vec<&str> = prose
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '±' || c == ' '))
        .flat_map(|chunk| chunk.split("  "))
        .map(str::trim)
        .filter(|f| f.contains('.') && f.chars().any(|c| c.is_ascii_digit()) && !f.ends_with('.'))
        .collect();
    assert!(figures.len() >= 6, "figures found: {figures:?}");
    for figure in figures {
        assert!(reports.contains(figure), "README's results quote {figure}, which no report they link holds");
    }
}
