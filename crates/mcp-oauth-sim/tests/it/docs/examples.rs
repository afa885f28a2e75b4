//! The embedding examples (`examples/*.rs`) run here, and the Rust that the README and
//! `docs/embedding.md` show is theirs: every ` ```rust ` block of those two pages is the code
//! between the `// docs:start` and `// docs:end` markers of the example the text before it
//! links to (its regions, each dedented, joined by a blank line). So the pages cannot show code
//! that does not build, or that no longer does what they say.

// Each example is a crate of its own, so each declares the stand-in client; gathered here, the
// stand-in is compiled once per example, on purpose.
#![allow(clippy::duplicate_mod)]

use std::path::{Path, PathBuf};

// `main` is for `cargo run --example …`; the tests call each example's `run`.
#[allow(dead_code)]
#[path = "../../../examples/embed.rs"]
mod embed;
#[allow(dead_code)]
#[path = "../../../examples/faults_journal_clock.rs"]
mod faults_journal_clock;
#[allow(dead_code)]
#[path = "../../../examples/https.rs"]
mod https;
#[allow(dead_code)]
#[path = "../../../examples/servers_alone.rs"]
mod servers_alone;

/// Every example, as its file is named; the embedding page shows each.
const EXAMPLES: [&str; 4] = ["embed", "faults_journal_clock", "servers_alone", "https"];

/// The pages whose Rust blocks must be example code.
const PAGES: [&str; 2] = ["README.md", "docs/embedding.md"];

#[tokio::test]
async fn the_readme_example_flips_rotation_and_counts_the_one_refresh_its_client_made() {
    embed::run().await.expect("examples/embed.rs");
}

#[tokio::test]
async fn the_faults_example_sees_a_client_recover_through_two_failed_refreshes_in_the_journal() {
    faults_journal_clock::run()
        .await
        .expect("examples/faults_journal_clock.rs");
}

#[tokio::test]
async fn the_servers_alone_example_expires_a_token_by_moving_the_clock() {
    servers_alone::run()
        .await
        .expect("examples/servers_alone.rs");
}

#[tokio::test]
async fn the_https_example_logs_in_and_calls_trusting_only_the_generated_ca() {
    https::run().await.expect("examples/https.rs");
}

#[test]
fn every_rust_block_of_the_readme_and_the_embedding_page_is_the_code_of_the_example_it_links() {
    for page in PAGES {
        let text = read(&root().join(page));
        let blocks = rust_blocks(&text);
        assert!(!blocks.is_empty(), "{page} shows no Rust");
        for block in blocks {
            let Some(example) = block.example else {
                panic!(
                    "{page}:{}: no examples/<name>.rs is linked before this block",
                    block.line
                );
            };
            let path = examples_dir().join(format!("{example}.rs"));
            assert!(
                path.is_file(),
                "{page}:{} links examples/{example}.rs, which does not exist",
                block.line
            );
            assert_eq!(
                block.code,
                shown_code(&read(&path)),
                "{page}:{} is not the code between the docs: markers of examples/{example}.rs \
                 (copy it from there)",
                block.line
            );
        }
    }
}

#[test]
fn every_example_is_in_the_test_suite_and_shown_on_the_embedding_page() {
    let mut on_disk: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut listed = EXAMPLES.map(str::to_owned).to_vec();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "add a new example to EXAMPLES and a test that runs it"
    );

    let page = read(&root().join("docs/embedding.md"));
    let shown: Vec<String> = rust_blocks(&page)
        .into_iter()
        .filter_map(|block| block.example)
        .collect();
    for example in EXAMPLES {
        assert!(
            shown.iter().any(|name| name == example),
            "docs/embedding.md shows no block of examples/{example}.rs"
        );
    }
}

#[test]
fn the_shown_code_is_each_region_dedented_and_joined_by_a_blank_line() {
    let source = "use a;\n// docs:start\nuse b;\n// docs:end\nfn f() {\n    // docs:start\n    \
                  let x = 1;\n\n    if x {\n        y();\n    }\n    // docs:end\n}\n";
    assert_eq!(
        shown_code(source),
        "use b;\n\nlet x = 1;\n\nif x {\n    y();\n}"
    );
    let page = "See [it](crates/x/examples/one.rs).\n\n```rust\nlet a = 1;\n```\n\n\
                Also:\n```rust\nlet b = 2;\n```\n";
    let blocks = rust_blocks(page);
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        (blocks[0].example.as_deref(), blocks[0].code.as_str()),
        (Some("one"), "let a = 1;")
    );
    assert_eq!(
        blocks[1].example, None,
        "a link counts for the next block only"
    );
}

/// A ` ```rust ` block of a page.
struct Block {
    /// Where it opens (1-based), for the failure message.
    line: usize,
    /// The example named by the last `examples/<name>.rs` between the previous block and this
    /// one.
    example: Option<String>,
    /// What it shows, lines right-trimmed.
    code: String,
}

fn rust_blocks(page: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut open: Option<(usize, Vec<&str>)> = None;
    for (index, line) in page.lines().enumerate() {
        match &mut open {
            None if line.trim_start() == "```rust" => open = Some((index + 1, Vec::new())),
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
            Some((start, code)) if line.trim_start() == "```" => {
                blocks.push(Block {
                    line: *start,
                    example: linked_example(&prose),
                    code: code
                        .iter()
                        .map(|line| line.trim_end())
                        .collect::<Vec<_>>()
                        .join("\n"),
                });
                prose.clear();
                open = None;
            }
            Some((_, code)) => code.push(line),
        }
    }
    blocks
}

/// The last `examples/<name>.rs` that `prose` mentions.
fn linked_example(prose: &str) -> Option<String> {
    prose.rmatch_indices("examples/").find_map(|(at, _)| {
        let rest = &prose[at + "examples/".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty() && rest[name.len()..].starts_with(".rs")).then_some(name)
    })
}

/// The code between an example's `// docs:start` and `// docs:end` markers: each region
/// dedented by its least indented line, regions joined by a blank line.
fn shown_code(source: &str) -> String {
    let mut regions: Vec<Vec<&str>> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in source.lines() {
        match (line.trim(), &mut current) {
            ("// docs:start", None) => current = Some(Vec::new()),
            ("// docs:end", Some(_)) => regions.extend(current.take()),
            (_, Some(region)) => region.push(line.trim_end()),
            (_, None) => {}
        }
    }
    assert!(current.is_none(), "a // docs:start without its // docs:end");
    regions
        .iter()
        .map(|region| {
            let indent = region
                .iter()
                .filter(|line| !line.is_empty())
                .map(|line| line.len() - line.trim_start().len())
                .min()
                .unwrap_or(0);
            region
                .iter()
                .map(|line| line.get(indent..).unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
