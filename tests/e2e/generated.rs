//! The generated variables as the reference page documents them: its example, run by real
//! Packer, prints what the page says (`ImageName` is the source image; the published image has
//! names of its own, empty while provisioning and filled in for post-processors).

use crate::common::*;

/// The HCL block after `<!-- generated-variables-example -->` in the reference page.
fn documented_example() -> String {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/builder-reference.md"
    ))
    .expect("reading docs/builder-reference.md");
    let after = page
        .split("<!-- generated-variables-example -->")
        .nth(1)
        .expect("the page has the generated-variables example");
    let body = after
        .split("```hcl\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an hcl block follows the marker");
    body.to_string()
}

/// The value printed after `name=` on a line of Packer's output.
fn printed(out: &str, name: &str) -> String {
    let needle = format!(" {name}=");
    lines_with(out, &needle)
        .first()
        .and_then(|l| l.split(&needle).nth(1))
        .unwrap_or_else(|| panic!("{name} was not printed:\n{out}"))
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_example_prints_what_the_page_says() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name           = "e2e-genvars"
  image_name            = "ubuntu-24.04"
  ssh_username          = "packer"
  publish_location_name = "golden-images"
  publish_image_name    = "e2e-genvars-image"
"#;
    let body = format!(
        "{}\n  post-processor \"shell-local\" {{\n    inline = [\"echo artifact PublishedImageName=${{build.PublishedImageName}}\", \"echo artifact ImageName=${{build.ImageName}}\"]\n  }}\n",
        documented_example()
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, &body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let source_image = lines_with(&out, "Found namespace-scoped image ")
        .first()
        .and_then(|l| l.split("Found namespace-scoped image ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no source image line:\n{out}"));
    assert!(source_image.starts_with("vmi-"), "{out}");
    assert_eq!(printed(&out, "Namespace"), "demo");
    assert_eq!(printed(&out, "SourceName"), "e2e-genvars");
    assert_eq!(printed(&out, "ImageName"), source_image);
    assert_eq!(printed(&out, "SourceImageName"), source_image);
    assert_eq!(printed(&out, "SourceImageDisplayName"), "ubuntu-24.04");
    assert_eq!(printed(&out, "PublishLibrary"), "golden-images");
    assert_eq!(printed(&out, "PublishedImageName"), "[]");
    assert_eq!(printed(&out, "PublishedImageDisplayName"), "[]");
    assert!(printed(&out, "VMIP").contains('.'), "{out}");
    // Post-processors see the artifact's generated data: the published image, and ImageName
    // still the source image.
    let published = lines_with(&out, "Published as image ")
        .first()
        .and_then(|l| l.split("Published as image ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no published image line:\n{out}"));
    assert!(
        out.contains(&format!("artifact PublishedImageName={published}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("artifact ImageName={source_image}")),
        "{out}"
    );
    env.stop().await;
}
