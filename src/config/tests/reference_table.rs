//! The option tables of `docs/builder-reference.md` are the option table (`options/table.rs`)
//! rendered: each block between `<!-- options: NAME -->` and `<!-- /options -->` is
//! [`render_group`] of its section, row for row (name, type, default, description).
//!
//! After changing the table, `BLESS_REFERENCE=1 cargo test --lib config::tests::reference_table`
//! rewrites the blocks; without it the test fails on the first row that differs.
use std::path::PathBuf;

use super::super::options::{self, render_group, Default, Range, Type, GROUPS};

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/builder-reference.md")
}

const END: &str = "<!-- /options -->";

/// The page with every option block replaced by its rendering.
fn regenerate(page: &str) -> Result<String, String> {
    let mut out = page.to_string();
    for (group, _) in GROUPS {
        let start = format!("<!-- options: {} -->\n", group.marker());
        let at = out
            .find(&start)
            .ok_or_else(|| format!("the page has no {start:?} marker"))?
            + start.len();
        let len = out[at..]
            .find(END)
            .ok_or_else(|| format!("{start:?} is not closed by {END:?}"))?;
        out.replace_range(at..at + len, &render_group(*group));
    }
    Ok(out)
}

#[test]
fn the_reference_tables_are_the_option_table_rendered() {
    let page = std::fs::read_to_string(page_path()).expect("read the reference page");
    let fresh = regenerate(&page).unwrap_or_else(|e| panic!("docs/builder-reference.md: {e}"));
    if std::env::var_os("BLESS_REFERENCE").is_some() {
        std::fs::write(page_path(), &fresh).expect("write the reference page");
        return;
    }
    if let Some((line, (was, now))) = page
        .lines()
        .zip(fresh.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "docs/builder-reference.md line {} differs from the option table:\n  page:  {was}\n  table: {now}\n(BLESS_REFERENCE=1 rewrites the page from the table)",
            line + 1
        );
    }
    assert_eq!(page, fresh, "the page and the table differ in length");
}

/// Option rows outside the generated blocks would be options documented by hand.
#[test]
fn no_option_row_outside_the_generated_blocks() {
    let page = std::fs::read_to_string(page_path()).expect("read the reference page");
    let mut inside = false;
    for line in page.lines() {
        if line.starts_with("<!-- options: ") {
            inside = true;
        } else if line == END {
            inside = false;
        } else if !inside {
            let name = line
                .strip_prefix("| `")
                .and_then(|r| r.split_once('`'))
                .map(|(n, _)| n);
            if let Some(name) = name {
                assert!(
                    options::find(name).is_none(),
                    "{name} has a hand-written row outside the generated option tables"
                );
            }
        }
    }
}

#[test]
fn every_default_has_its_option_type() {
    for o in options::all() {
        let fits = match o.default {
            Default::Bool(_) => o.ty == Type::Bool,
            Default::Int(_) => o.ty == Type::Int,
            Default::Str(_) => matches!(o.ty, Type::Str | Type::Path),
            Default::Secs(_) => o.ty == Type::Duration,
            Default::AliasOf(other) => options::get(other).ty == o.ty,
            Default::Unset(_) | Default::Required(_) | Default::Derived(_) => true,
        };
        assert!(
            fits,
            "{}: default {:?} for type {:?}",
            o.name, o.default, o.ty
        );
    }
}

#[test]
fn every_name_is_declared_once() {
    let mut names: Vec<&str> = options::all().map(|o| o.name).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "an option is declared twice");
}

/// The page's "Names and whitespace" rule names every option with a naming rule.
#[test]
fn the_named_options_are_the_ones_the_page_lists() {
    let page = std::fs::read_to_string(page_path()).expect("read the reference page");
    let start = page
        .find("* **Names and whitespace.**")
        .expect("the Names and whitespace rule");
    let rule = &page[start..];
    let rule = &rule[..rule[2..].find("\n* ").map_or(rule.len(), |i| i + 2)];
    for o in options::all().filter(|o| o.name_rule.is_some()) {
        assert!(
            rule.contains(&format!("`{}`", o.name)),
            "{} has a naming rule the page does not list",
            o.name
        );
    }
}

/// The description of every bounded option states its range as Prepare enforces it.
#[test]
fn every_range_is_stated_on_the_page() {
    for o in options::all() {
        let stated = match o.range {
            Range::Any => continue,
            Range::Upto { max, .. } => format!("0–{max}"),
            Range::AtMost(secs) => format!(
                "At most `{}`",
                super::super::bounds::human(std::time::Duration::from_secs(secs))
            ),
        };
        assert!(
            o.description().contains(&stated),
            "{}: the description does not state {stated:?}",
            o.name
        );
    }
    for o in options::all().filter(|o| o.ty == Type::Duration) {
        assert!(
            matches!(o.range, Range::AtMost(_)),
            "{}: a duration without a maximum",
            o.name
        );
    }
}
