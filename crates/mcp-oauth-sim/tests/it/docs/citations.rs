//! Every test SECURITY.md cites exists, as a test, in the file it names.
//!
//! SECURITY.md backs each claim with its tests, file then test names:
//! `` `crates/sim-http/src/secret.rs`: `redact_keeps_a_short_prefix_only`, `other_test`; ``
//! — a file in code and a colon, then each test in code (a Rust test as its `fn` name, perhaps
//! with a module path; a Node test of `tests/clients/` as the name given to `test(…)` or
//! `it(…)`), until the next file or the end of the claim. A renamed or deleted test then fails
//! here instead of leaving a claim that nothing holds.

use std::fs;
use std::path::Path;

use super::links::{code_spans, read, without_code_blocks, workspace_root};

/// One test SECURITY.md cites.
#[derive(Debug, PartialEq)]
struct Citation {
    /// Where it is cited, a line of SECURITY.md.
    line: usize,
    /// The file it is cited in, from the workspace root.
    file: String,
    /// The test, as cited.
    test: String,
}

/// A paragraph or list item of the document: its first line, its text, whether it is a list
/// item, and the level-2 heading it sits under.
struct Block {
    line: usize,
    text: String,
    item: bool,
    section: String,
}

/// The paragraphs and list items of `markdown`, outside code blocks. A block ends at a blank
/// line, a heading or the next list item.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open = false;
    let mut section = String::new();
    for (index, line) in without_code_blocks(markdown).lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            open = false;
        } else if trimmed.starts_with('#') {
            open = false;
            if let Some(heading) = trimmed.strip_prefix("## ") {
                section = heading.trim().to_owned();
            }
        } else if trimmed.starts_with("- ") || trimmed.starts_with("* ") || !open {
            blocks.push(Block {
                line: index + 1,
                text: line.to_owned(),
                item: trimmed.starts_with("- ") || trimmed.starts_with("* "),
                section: section.clone(),
            });
            open = true;
        } else {
            let block = blocks.last_mut().expect("an open block");
            block.text.push('\n');
            block.text.push_str(line);
        }
    }
    blocks
}

/// Whether a cited file holds Node tests (cited by name) rather than Rust ones.
fn is_node(file: &str) -> bool {
    file.ends_with(".mjs") || file.ends_with(".js")
}

/// Whether `span` names a Rust test: snake-case identifiers joined by `::`.
fn is_rust_test_name(span: &str) -> bool {
    span.split("::").all(|part| {
        part.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The tests cited in `block`.
fn block_citations(block: &Block) -> Vec<Citation> {
    let mut citations = Vec::new();
    let mut file: Option<&str> = None;
    for (range, span) in code_spans(&block.text) {
        let line = block.line + block.text[..range.start].matches('\n').count();
        let names_a_file = span.ends_with(".rs") || is_node(span);
        if names_a_file && block.text[range.end..].starts_with(':') {
            file = Some(span);
            continue;
        }
        let Some(file) = file else { continue };
        if is_node(file) || is_rust_test_name(span) {
            citations.push(Citation {
                line,
                file: file.to_owned(),
                test: span.to_owned(),
            });
        }
    }
    citations
}

/// Every test cited in `markdown`, in order.
fn citations(markdown: &str) -> Vec<Citation> {
    blocks(markdown).iter().flat_map(block_citations).collect()
}

/// Where `source` declares `fn name` (and not merely a longer name that starts with it): the
/// byte offset of each `fn`.
fn fn_declarations<'a>(source: &'a str, name: &str) -> impl Iterator<Item = usize> + 'a {
    let needle = format!("fn {name}");
    let len = needle.len();
    let found: Vec<usize> = source.match_indices(&needle).map(|(at, _)| at).collect();
    found.into_iter().filter(move |&at| {
        let before = source[..at].chars().next_back();
        let after = source[at + len..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Whether the `fn` at byte `at` of `source` is a test: among the attribute and comment lines
/// right above it is `#[test]` or `#[….::test]` (`#[tokio::test(…)]`).
fn is_test_fn(source: &str, at: usize) -> bool {
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    source[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .take_while(|line| line.starts_with("#[") || line.starts_with("//"))
        .filter_map(|line| line.strip_prefix("#["))
        .any(|attribute| {
            let path = attribute.split(['(', ']']).next().unwrap_or("");
            path == "test" || path.ends_with("::test")
        })
}

/// Whether `source` holds the test `test`: a Rust `fn` (each module of a path a `mod` of the
/// same file), or a Node `test('…')` / `it('…')`.
fn holds(file: &str, source: &str, test: &str) -> bool {
    if is_node(file) {
        return ["test(", "it("].iter().any(|call| {
            ['\'', '"', '`']
                .iter()
                .any(|quote| source.contains(&format!("{call}{quote}{test}{quote}")))
        });
    }
    let mut parts: Vec<&str> = test.split("::").collect();
    let name = parts.pop().expect("a test name");
    fn_declarations(source, name).any(|at| is_test_fn(source, at))
        && parts.iter().all(|module| {
            source.contains(&format!("mod {module} "))
                || source.contains(&format!("mod {module}\n"))
        })
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() && !path.ends_with("target") {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The files under `crates/` that declare the test `fn name`, from the workspace root: where a
/// test cited in the wrong file actually lives.
fn declared_in(name: &str) -> Vec<String> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    files
        .iter()
        .filter(|path| {
            let source = fs::read_to_string(path).unwrap_or_default();
            fn_declarations(&source, name).any(|at| is_test_fn(&source, at))
        })
        .map(|path| {
            path.strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn every_test_security_md_cites_exists_in_the_file_it_names() {
    // Arrange
    let citations = citations(&read("SECURITY.md"));

    // Act
    let mut missing = Vec::new();
    for Citation { line, file, test } in &citations {
        let in_place = if is_node(file) {
            file.starts_with("tests/clients/")
        } else {
            file.starts_with("crates/")
        };
        let source = fs::read_to_string(workspace_root().join(file));
        if in_place && source.as_ref().is_ok_and(|s| holds(file, s, test)) {
            continue;
        }
        let elsewhere = if is_node(file) {
            Vec::new()
        } else {
            declared_in(test.rsplit("::").next().unwrap_or(test))
        };
        let found = match (source.is_ok(), elsewhere.is_empty()) {
            (false, _) => "no such file".to_owned(),
            (true, true) => "no such test there, nor in any file under crates/".to_owned(),
            (true, false) => format!("not there; declared in {}", elsewhere.join(", ")),
        };
        missing.push(format!("SECURITY.md:{line}: {file}: {test}: {found}"));
    }

    // Assert
    assert!(
        citations.len() >= 59,
        "only {} citations read from SECURITY.md; has its format changed?",
        citations.len()
    );
    assert!(
        missing.is_empty(),
        "stale citations:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_claim_of_what_security_md_protects_cites_a_test() {
    // Arrange
    let markdown = read("SECURITY.md");

    // Act
    let blocks = blocks(&markdown);
    let claims: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.item && b.section == "What it protects")
        .collect();
    let uncited: Vec<String> = claims
        .iter()
        .filter(|claim| block_citations(claim).is_empty())
        .map(|claim| format!("SECURITY.md:{}: {}", claim.line, claim.text.trim()))
        .collect();

    // Assert
    assert!(claims.len() > 10, "only {} claims found", claims.len());
    assert!(
        uncited.is_empty(),
        "claims citing no test:\n{}",
        uncited.join("\n")
    );
}

#[test]
fn citations_are_read_as_a_file_then_its_tests_until_the_next_file_or_claim() {
    // Arrange
    let markdown = "## What it protects\n\
                    \n\
                    - **A claim.** `client_credentials` before any file is prose.\n  \
                    `crates/a/src/b.rs`: `first_test`,\n  \
                    `tests::second_test`, `Retry-After: 1`; `tests/clients/x.test.mjs`:\n  \
                    `a Node test`.\n\
                    - **Another.** `invalid_grant`, with no file.\n\
                    ```rust\n\
                    `crates/c.rs`: `in_a_block`\n\
                    ```\n";

    // Act
    let citations = citations(markdown);

    // Assert
    let cite = |line, file: &str, test: &str| Citation {
        line,
        file: file.to_owned(),
        test: test.to_owned(),
    };
    assert_eq!(
        citations,
        [
            cite(4, "crates/a/src/b.rs", "first_test"),
            cite(5, "crates/a/src/b.rs", "tests::second_test"),
            cite(6, "tests/clients/x.test.mjs", "a Node test"),
        ]
    );
    let source = "mod tests {\n    #[test]\n    /// Why.\n    fn second_test() {}\n}";
    assert!(holds("b.rs", source, "tests::second_test"));
    let source = "#[tokio::test(flavor = \"multi_thread\")]\nasync fn first_test() {}";
    assert!(holds("b.rs", source, "first_test"));
    assert!(!holds(
        "b.rs",
        "#[test]\nfn first_test_longer() {}",
        "first_test"
    ));
    assert!(!holds(
        "b.rs",
        "#[test]\nfn other() {}\nfn first_test() {}",
        "first_test"
    ));
    assert!(holds(
        "x.test.mjs",
        "test('a Node test', async () => {});",
        "a Node test"
    ));
}
