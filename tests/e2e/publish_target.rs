//! The publish target and the order of the checks: the namespace's default library is found,
//! used and named; a publish image name already in the library, or any other problem, stops the
//! build before anything (not even an import request) is created.

use crate::common::*;
use ::kube::api::{Patch, PatchParams};
use serde_json::json;
use vmop_types::naming::LABEL_DEFAULT_LIBRARY;

const ECHO: &str = "  provisioner \"shell\" {\n    inline = [\"echo provisioned\"]\n  }\n";

fn source(source_name: &str, extra: &str) -> String {
    format!(
        r#"
  source_name  = "{source_name}"
  image_name   = "ubuntu-24.04"
  ssh_username = "packer"
{extra}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_library_is_used_and_a_taken_image_name_stops_the_next_build_early() {
    let env = SimEnv::start(SimSetup::default()).await;
    let c = env.cluster().await;
    let libraries = c.api(c.kinds.library.as_ref().expect("imageregistry served"));

    // No library is labelled yet: refused before anything is created.
    let opts =
        "  publish_to_default_location = true\n  publish_image_name = \"e2e-default-image\"\n";
    env.write(
        "a.pkr.hcl",
        &template(&env.kubeconfig, &source("e2e-nodef", opts), ECHO),
    );
    let run = env.build("a.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "publish_to_default_location: no ContentLibrary in namespace demo is labelled {LABEL_DEFAULT_LIBRARY}"
        )),
        "{out}"
    );
    assert!(!out.contains("Creating"), "{out}");
    assert!(env.leftovers("e2e-nodef").await.is_empty(), "{out}");

    libraries
        .patch(
            "golden-images",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {LABEL_DEFAULT_LIBRARY: "true"}}})),
        )
        .await
        .expect("labelling golden-images as the default library");
    env.write(
        "b.pkr.hcl",
        &template(&env.kubeconfig, &source("e2e-default", opts), ECHO),
    );
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        out.contains("The namespace's default content library is \"golden-images\""),
        "{out}"
    );
    assert!(
        out.contains(
            "Publishing VM demo/e2e-default to the namespace's default content library \"golden-images\""
        ),
        "{out}"
    );
    assert!(
        out.contains("(\"e2e-default-image\") in content library \"golden-images\""),
        "{out}"
    );

    // The same image name again: the library has it, so nothing is created.
    env.write(
        "c.pkr.hcl",
        &template(&env.kubeconfig, &source("e2e-again", opts), ECHO),
    );
    let run = env.build("c.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(
        out.contains("publish_image_name \"e2e-default-image\": content library \"golden-images\" already has an item of that name"),
        "{out}"
    );
    assert!(!out.contains("Creating"), "{out}");
    assert!(env.leftovers("e2e-again").await.is_empty(), "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_runs_only_after_every_other_check_passed() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name                 = "e2e-order"
  import_source_url           = "http://10.20.30.40/images/photon.ova"
  import_target_location_name = "golden-images"
  import_request_name         = "e2e-order-req"
  publish_location_name       = "no-such-library"
  ssh_username                = "packer"
"#;
    let text = template(&env.kubeconfig, src, "").replace("best-effort-small", "no-such-class");
    env.write("b.pkr.hcl", &text);
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(
        out.contains("class_name \"no-such-class\": no VirtualMachineClass")
            && out.contains("publish_location_name \"no-such-library\": no ContentLibrary"),
        "{out}"
    );
    // Before, the import ran first and failed on its unreachable URL.
    assert!(!out.contains("SourceURLHostInvalid"), "{out}");
    assert!(
        !out.contains("Creating ContentLibraryItemImportRequest"),
        "{out}"
    );
    let c = env.cluster().await;
    assert!(c
        .api(&c.kinds.import_request)
        .get_opt("e2e-order-req")
        .await
        .expect("get")
        .is_none());
    env.stop().await;
}
