//! Every relative link in the documentation resolves: README.md, SECURITY.md, BENCHMARKS.md and
//! `docs/*.md` link only to files that exist, and each `#anchor` names a heading of its target
//! (GitHub's slugs). And the development guide's Benchmarks section quotes only figures that
//! BENCHMARKS.md holds, so a new run cannot leave an old figure behind.
//!
//! Markdown is read just far enough for that: fenced code blocks and inline code spans are
//! blanked out first (a `](x)` shown as code is no link), absolute URLs (`https:`, `mailto:`, …)
//! are left to the reader.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The workspace root, two levels above this crate.
pub(super) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads a file of the workspace, by its path from the root.
pub(super) fn read(path: &str) -> String {
    fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The documentation whose links are checked, as paths from the workspace root.
fn documents() -> Vec<String> {
    let mut documents = vec![
        "README.md".to_owned(),
        "SECURITY.md".to_owned(),
        "BENCHMARKS.md".to_owned(),
    ];
    let mut pages: Vec<String> = fs::read_dir(workspace_root().join("docs"))
        .expect("docs/")
        .map(|entry| {
            entry
                .expect("docs/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.sort();
    documents.extend(pages);
    documents
}

/// `markdown` with every line of a fenced code block (fences included) emptied, so that line
/// numbers still count from the top of the file.
pub(super) fn without_code_blocks(markdown: &str) -> String {
    let mut fence: Option<(char, usize)> = None;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match (fence, marker) {
            (None, Some(m)) if run >= 3 => {
                fence = Some((m, run));
                lines.push("");
            }
            (Some((m, n)), Some(c)) if c == m && run >= n && trimmed[run..].trim().is_empty() => {
                fence = None;
                lines.push("");
            }
            (Some(_), _) => lines.push(""),
            (None, _) => lines.push(line),
        }
    }
    lines.join("\n")
}

/// The inline code spans of `text`: each span's byte range (backticks included) and content. A
/// run of backticks opens a span closed by the next run of the same length; one never closed is
/// literal text.
pub(super) fn code_spans(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let bytes = text.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|b| **b == b'`').count();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let open = run_at(i);
        let mut j = i + open;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = run_at(j);
                if run == open {
                    close = Some(j);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                spans.push((i..j + open, &text[i + open..j]));
                i = j + open;
            }
            None => i += open,
        }
    }
    spans
}

/// `text` with fenced code blocks and inline code spans blanked out (newlines kept).
fn prose(markdown: &str) -> String {
    let text = without_code_blocks(markdown);
    let mut out = text.clone().into_bytes();
    for (range, _) in code_spans(&text) {
        for byte in &mut out[range] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    }
    String::from_utf8(out).expect("only ASCII backtick spans were blanked")
}

/// The link targets in `markdown`: inline links and images `[text](target "title")` and
/// reference definitions `[label]: target`, each with its line number.
fn link_targets(markdown: &str) -> Vec<(usize, String)> {
    let text = prose(markdown);
    let mut targets = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            targets.push((number, target.trim_matches(['<', '>']).to_owned()));
            rest = &after[end..];
        }
        let definition = line.trim_start();
        if definition.starts_with('[')
            && !definition.starts_with("[^")
            && let Some(at) = definition.find("]:")
            && let Some(target) = definition[at + 2..].split_whitespace().next()
        {
            targets.push((number, target.trim_matches(['<', '>']).to_owned()));
        }
    }
    targets
}

/// Whether `target` is an absolute URL (`https://…`, `mailto:…`) or protocol-relative.
fn is_absolute(target: &str) -> bool {
    if target.starts_with("//") {
        return true;
    }
    match target.split_once(':') {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// GitHub's anchor for a heading: lowercase, every character but letters, digits, `-`, `_` and
/// spaces dropped, spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of `markdown`'s headings, outside code blocks. A repeated heading gets `-1`,
/// `-2`, … as on GitHub.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = BTreeSet::new();
    for line in without_code_blocks(markdown).lines() {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim().trim_end_matches('#'));
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.insert(match *count {
            0 => base,
            n => format!("{base}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// `path` (relative to the directory of `from`, both from the workspace root) as a path from
/// the root, or `None` when it climbs out of the workspace.
fn resolve(from: &str, path: &str) -> Option<PathBuf> {
    let mut resolved = PathBuf::new();
    let base = Path::new(from).parent().unwrap_or(Path::new(""));
    for component in base.join(path).components() {
        match component {
            Component::Normal(part) => resolved.push(part),
            Component::ParentDir => {
                if !resolved.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(resolved)
}

/// What is wrong with each relative link of `document` (a path from the workspace root).
fn broken_links(document: &str) -> Vec<String> {
    let root = workspace_root();
    let mut broken = Vec::new();
    for (line, target) in link_targets(&read(document)) {
        if target.is_empty() || is_absolute(&target) {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target.as_str(), None),
        };
        let resolved = if path.is_empty() {
            Some(PathBuf::from(document))
        } else {
            resolve(document, path)
        };
        let Some(resolved) = resolved else {
            broken.push(format!(
                "{document}:{line}: {target}: outside the repository"
            ));
            continue;
        };
        if !root.join(&resolved).exists() {
            let shown = resolved.display();
            broken.push(format!("{document}:{line}: {target}: no file {shown}"));
            continue;
        }
        let is_page = resolved.extension().is_some_and(|e| e == "md");
        if let Some(anchor) = anchor.filter(|_| is_page) {
            let page = resolved.to_string_lossy().into_owned();
            if !anchors(&read(&page)).contains(anchor) {
                broken.push(format!(
                    "{document}:{line}: {target}: no heading #{anchor} in {page}"
                ));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_documentation_reaches_a_file_and_a_heading() {
    // Arrange
    let documents = documents();

    // Act
    let broken: Vec<String> = documents.iter().flat_map(|d| broken_links(d)).collect();

    // Assert
    assert!(
        documents.len() > 3,
        "no page found under docs/: {documents:?}"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn links_are_read_outside_code_and_anchors_follow_githubs_slugs() {
    // Arrange
    let markdown = "# Faults, journal and clock\n\
                    ## `GET /control` (the state)\n\
                    ## Step-up: per-tool scopes\n\
                    ## Step-up: per-tool scopes\n\
                    See [the clock](docs/x.md#the-clock) and ![a](img.png \"title\").\n\
                    Not `[code](a.md)`, nor [the web](https://example.com).\n\
                    ```sh\n\
                    # not a heading\n\
                    [in a block](b.md)\n\
                    ```\n\
                    [label]: <docs/y.md>\n";

    // Act
    let targets = link_targets(markdown);
    let anchors = anchors(markdown);

    // Assert
    let targets: Vec<(usize, &str)> = targets.iter().map(|(l, t)| (*l, t.as_str())).collect();
    assert_eq!(
        targets,
        [
            (5, "docs/x.md#the-clock"),
            (5, "img.png"),
            (6, "https://example.com"),
            (11, "docs/y.md"),
        ]
    );
    assert!(is_absolute("https://example.com") && is_absolute("mailto:a@b.c"));
    assert!(!is_absolute("docs/x.md#a:b") && !is_absolute("#the-clock"));
    let expected = [
        "faults-journal-and-clock",
        "get-control-the-state",
        "step-up-per-tool-scopes",
        "step-up-per-tool-scopes-1",
    ];
    assert_eq!(anchors, expected.map(String::from).into_iter().collect());
    assert_eq!(
        resolve("docs/a.md", "../SECURITY.md"),
        Some("SECURITY.md".into())
    );
    assert_eq!(resolve("README.md", "../x.md"), None);
}

/// The numbers in `text` as written, thousands separators dropped (`584,162` → `584162`,
/// `0.207` stays), outside code and link targets.
fn figures(text: &str) -> BTreeSet<String> {
    let mut text = prose(text);
    while let Some(at) = text.find("](") {
        let end = text[at..].find(')').map_or(text.len(), |e| at + e + 1);
        text.replace_range(at..end, " ");
    }
    let chars: Vec<char> = text.chars().collect();
    let mut figures = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut figure = String::new();
        while i < chars.len() {
            let c = chars[i];
            let joins =
                matches!(c, ',' | '.') && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() || (c == '.' && joins) {
                figure.push(c);
            } else if !(c == ',' && joins) {
                break;
            }
            i += 1;
        }
        figures.insert(figure);
    }
    figures
}

/// The section of `markdown` under the heading `heading` (its text after the `#`s), up to the
/// next heading of the same level or higher.
fn section<'a>(markdown: &'a str, heading: &str) -> Option<&'a str> {
    let mut level = 0;
    let mut start = None;
    let mut offset = 0;
    for line in markdown.split_inclusive('\n') {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let is_heading = hashes > 0 && line[hashes..].starts_with(' ');
        match start {
            None if is_heading && line[hashes..].trim() == heading => {
                level = hashes;
                start = Some(offset + line.len());
            }
            Some(from) if is_heading && hashes <= level => return Some(&markdown[from..offset]),
            _ => {}
        }
        offset += line.len();
    }
    start.map(|from| &markdown[from..])
}

#[test]
fn the_development_guide_quotes_only_figures_that_benchmarks_md_holds() {
    // Arrange
    let guide = read("docs/development.md");
    let benchmarks = figures(&read("BENCHMARKS.md"));
    let quoted =
        section(&guide, "Benchmarks").expect("docs/development.md has a Benchmarks section");

    // Act
    let quoted = figures(quoted);
    let missing: Vec<&String> = quoted.iter().filter(|f| !benchmarks.contains(*f)).collect();

    // Assert
    assert!(
        !quoted.is_empty(),
        "no figure found in the Benchmarks section"
    );
    assert!(
        missing.is_empty(),
        "docs/development.md quotes figures BENCHMARKS.md does not hold: {missing:?}"
    );
}

#[test]
fn figures_are_read_as_written_outside_code_and_link_targets() {
    // Arrange
    let text = "8738 tools/call/s at c=16 (20.2×), 584,162 requests, 16.7 → 22.4 MB; \
                `-c 4` and [the soak](../BENCHMARKS.md#soak-2) are not figures, nor h2 or 1.";

    // Act
    let figures = figures(text);

    // Assert
    let expected = ["1", "16", "16.7", "20.2", "22.4", "584162", "8738"];
    assert_eq!(figures, expected.map(String::from).into_iter().collect());
}
