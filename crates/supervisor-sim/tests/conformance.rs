//! Conformance of the simulator's API server: every request of the corpus
//! (`conformance/corpus.rs`, `conformance/corpus_kinds.rs`) is sent to an in-process
//! `supervisor-sim` (controllers off) and to a real kube-apiserver with the same CRDs, and the
//! answers are compared (`conformance/compare.rs`): status code, `reason`, `details.causes`
//! field paths and the resulting object without server-set fields. Differences are failures
//! unless listed in `conformance/known.rs` (and in docs/simulator.md).
//!
//! The real server is started with `scripts/kube-up.sh` (stopped with `kube-down.sh` on every
//! exit), or given by `CONFORMANCE_KUBECONFIG` (a fresh server: the test creates namespace `demo`
//! and its objects). Without the control-plane binaries the test fails and says to run
//! `scripts/install-deps.sh`; `CONFORMANCE_SKIP=1` makes it pass without running instead.

#[path = "conformance/compare.rs"]
mod compare;
#[path = "conformance/corpus.rs"]
mod corpus;
#[path = "conformance/corpus_kinds.rs"]
mod corpus_kinds;
#[path = "conformance/known.rs"]
mod known;
#[path = "conformance/objects.rs"]
mod objects;
#[path = "conformance/request.rs"]
mod request;
#[path = "conformance/targets.rs"]
mod targets;

use std::collections::HashMap;

/// True when the test can run; panics with the fix when the binaries are missing.
fn control_plane_available() -> bool {
    if std::env::var_os("CONFORMANCE_KUBECONFIG").is_some() {
        return true;
    }
    if targets::cache_dir().join("bin/kube-apiserver").is_file() {
        return true;
    }
    if std::env::var("CONFORMANCE_SKIP").as_deref() == Ok("1") {
        eprintln!("conformance: skipped (CONFORMANCE_SKIP=1, no kube-apiserver in the cache)");
        return false;
    }
    panic!("conformance: no kube-apiserver in the project cache: run scripts/install-deps.sh (or set CONFORMANCE_SKIP=1)");
}

#[derive(Default)]
struct Tally {
    matched: usize,
    known: usize,
    failed: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: &str, differences: Vec<String>) {
        match (known::known(name), differences.is_empty()) {
            (None, true) => self.matched += 1,
            (Some(_), false) => self.known += 1,
            (None, false) => self
                .failed
                .push(format!("{name}: {}", differences.join("; "))),
            (Some(_), true) => self.failed.push(format!(
                "{name}: listed as a known difference but matches now"
            )),
        }
    }
}

#[test]
fn conformance() {
    if !control_plane_available() {
        return;
    }
    let (_kube_up, kubeconfig) = targets::start_real();
    targets::setup_real(&kubeconfig);
    let real = targets::real_target(&kubeconfig);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tally = rt.block_on(async {
        let (sim, sim_target) = targets::start_sim().await;
        targets::setup_sim(&sim_target).await;
        let tally = replay(&sim_target, &real).await;
        sim.stop().await;
        tally
    });
    report(&tally);
    assert!(
        tally.failed.is_empty(),
        "{} requests differ",
        tally.failed.len()
    );
}

/// Prints the failures and the summary line past the test harness's output capture, so the
/// counts show also when the test passes.
fn report(tally: &Tally) {
    use std::io::Write as _;
    let mut err = std::io::stderr();
    for f in &tally.failed {
        let _ = writeln!(err, "conformance: FAILED {f}");
    }
    let _ = writeln!(
        std::io::stdout(),
        "conformance: {} matched, {} known differences, {} failed",
        tally.matched,
        tally.known,
        tally.failed.len()
    );
}

async fn replay(sim: &targets::Target, real: &targets::Target) -> Tally {
    let corpus = corpus::corpus();
    assert!(
        corpus.len() >= 80,
        "the corpus has {} requests",
        corpus.len()
    );
    let (mut sim_vars, mut real_vars) = (HashMap::new(), HashMap::new());
    let mut tally = Tally::default();
    for req in &corpus {
        let a = request::send(sim, req, &mut sim_vars).await;
        let b = request::send(real, req, &mut real_vars).await;
        let diffs = compare::differences(&a, &b);
        if std::env::var("CONFORMANCE_DUMP").is_ok_and(|d| req.name.contains(d.as_str())) {
            eprintln!(
                "== {}\nsim {} {}\nreal {} {}",
                req.name, a.code, a.body, b.code, b.body
            );
        }
        tally.record(&req.name, diffs);
    }
    tally
}
