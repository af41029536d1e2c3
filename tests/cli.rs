//! The `multigrid` command line, as people use it: the acceptance commands of the core issue.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use std::path::Path;
use std::process::{Command, Output};

fn multigrid(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_multigrid")).args(args).output().unwrap();
    assert!(out.status.success(), "multigrid {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn training_twice_with_one_seed_gives_byte_identical_checkpoints_and_sample_writes_every_grid() {
    let dir = common::tempdir("determinism");
    let data = dir.join("data");
    common::stripes_folder(&data, 12, 64);
    for run in ["r1", "r2"] {
        multigrid(&[
            "train",
            "--data",
            s(&data),
            "--preset",
            "tiny",
            "--iters",
            "20",
            "--seed",
            "1",
            "--quiet",
            "--out",
            s(&dir.join(run)),
        ]);
    }
    let (a, b) =
        (std::fs::read(dir.join("r1/checkpoint.bpk")).unwrap(), std::fs::read(dir.join("r2/checkpoint.bpk")).unwrap());
    assert!(a == b, "two runs with seed 1 wrote different checkpoints");
    let log = std::fs::read_to_string(dir.join("r1/log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 20);
    let line: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert!(
        line["grids"][1]["loss"].is_number()
            && line["grids"][1]["recon_error"].is_number()
            && line["seconds"].is_number()
    );
    for size in [1, 4, 16] {
        assert!(dir.join(format!("r1/synthesized_{size}x{size}.png")).exists());
    }

    let out = dir.join("samples");
    multigrid(&["sample", "--weights", s(&dir.join("r1/checkpoint.bpk")), "--n", "9", "--out", s(&out)]);
    for size in [1, 4, 16] {
        let png = image::open(out.join(format!("synthesized_{size}x{size}.png"))).unwrap();
        assert!(png.width() >= 3 * size as u32);
    }
    // Resuming continues the same run: 20 + 5 iterations.
    multigrid(&["train", "--data", s(&data), "--iters", "25", "--quiet", "--resume", "--out", s(&dir.join("r1"))]);
    assert_eq!(std::fs::read_to_string(dir.join("r1/log.jsonl")).unwrap().lines().count(), 25);
    // A run stopped after its last save had logged iterations the checkpoint lacks: resuming
    // drops those lines and logs the iterations again, each once.
    let log_path = dir.join("r1/log.jsonl");
    let mut log = std::fs::read_to_string(&log_path).unwrap();
    log.push_str("{\"event\": \"warning\", \"message\": \"lost\"}\n{\"iteration\": 26, \"lost\": true}\n");
    std::fs::write(&log_path, log).unwrap();
    let out =
        multigrid(&["train", "--data", s(&data), "--iters", "27", "--quiet", "--resume", "--out", s(&dir.join("r1"))]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped the log's last 2 lines"));
    let iterations: Vec<u64> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["iteration"].as_u64().unwrap())
        .collect();
    assert_eq!(iterations, (1..=27).collect::<Vec<_>>());
    // Settings given on resuming apply to the rest of the run; another normalisation is refused.
    let r1 = dir.join("r1");
    let resume = |extra: &[&str]| {
        let args = [&["train", "--data", s(&data), "--iters", "29", "--quiet", "--resume", "--out", s(&r1)], extra];
        Command::new(env!("CARGO_BIN_EXE_multigrid")).args(args.concat()).output().unwrap()
    };
    let refused = resume(&["--norm", "batch"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("keeps its normalisation"));
    assert!(resume(&["--lr", "0.01"]).status.success());
    let config = std::fs::read_to_string(dir.join("r1/config.json")).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&config).unwrap()["optimizer"]["lr"], 0.01);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(log.lines().last().unwrap()).unwrap()["lr"], 0.01);
    // Other nets named on resuming are refused, not ignored; the run's own preset is fine.
    let other_nets = resume(&["--preset", "small"]);
    assert!(!other_nets.status.success() && String::from_utf8_lossy(&other_nets.stderr).contains("keeps its nets"));
    assert!(resume(&["--preset", "tiny"]).status.success());
    // A new run in a used folder starts its log afresh instead of appending to the old run's.
    let r2 = dir.join("r2");
    multigrid(&["train", "--data", s(&data), "--preset", "tiny", "--iters", "5", "--quiet", "--out", s(&r2)]);
    assert_eq!(std::fs::read_to_string(r2.join("log.jsonl")).unwrap().lines().count(), 5);
}

#[test]
fn sample_without_weights_uses_the_bundled_pretrained_model() {
    let out = common::tempdir("bundled");
    let result = multigrid(&["sample", "--n", "4", "--out", s(&out)]);
    assert!(String::from_utf8_lossy(&result.stderr).contains("bundled pretrained weights"));
    for size in [1, 4, 16, 64] {
        assert!(out.join(format!("synthesized_{size}x{size}.png")).exists(), "grid {size}");
    }
}

/// `eval` synthesizes, by default, one image from each colour the model learned from (the 120
/// bundled training textures), so that its score compares with the training images' own.
#[test]
fn eval_by_default_synthesizes_as_many_images_as_the_model_learned_from() {
    let report: serde_json::Value = serde_json::from_slice(&multigrid(&["eval", "--json"]).stdout).unwrap();
    assert_eq!(report["n"], 120, "{report}");
    let flat = report["metrics"]["flat_share"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&flat), "{report}");
}

#[test]
fn the_pretrained_digits_model_samples_and_evaluates_on_the_held_out_digits() {
    let out = common::tempdir("digits");
    let weights = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/digits.bpk");
    multigrid(&["sample", "--weights", weights, "--n", "4", "--out", s(&out)]);
    for size in [1, 4, 16, 32] {
        assert!(out.join(format!("synthesized_{size}x{size}.png")).exists(), "grid {size}");
    }
    let held_out = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits/held-out");
    let train = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits/train");
    let result =
        multigrid(&["eval", "--weights", weights, "--data", held_out, "--train", train, "--n", "16", "--json"]);
    let text = String::from_utf8_lossy(&result.stdout);
    let report: serde_json::Value = serde_json::from_str(text.trim().lines().last().unwrap()).unwrap();
    assert_eq!(report["held_out"], 200, "{report}");
    let swd = report["metrics"]["swd"].as_array().unwrap();
    assert_eq!(swd.iter().map(|g| g["size"].as_u64().unwrap()).collect::<Vec<_>>(), [32, 16], "{report}");
    assert!(swd.iter().all(|g| g["swd"].as_f64().unwrap().is_finite()), "{report}");
    // The training digits as the reference a model is compared with: at the digits' own grids.
    let result = multigrid(&["eval", "--images", train, "--data", held_out, "--preset", "digits", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let colour = report["metrics"]["colour"].as_array().unwrap();
    assert_eq!(colour.iter().map(|g| g["size"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 4, 16, 32], "{report}");
}

#[test]
fn bench_prints_the_table_and_json() {
    let table =
        String::from_utf8(multigrid(&["bench", "--preset", "tiny", "--batch", "2", "--reps", "1"]).stdout).unwrap();
    assert!(
        table.contains("forward_ms") && table.contains("langevin_step_ms") && table.contains("update_ms"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &multigrid(&["bench", "--preset", "tiny", "--batch", "2", "--reps", "1", "--json"]).stdout,
    )
    .unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for key in ["grid", "batch", "forward_ms", "langevin_step_ms", "update_ms", "gflops"] {
        assert!(rows[0][key].is_number(), "{key}");
    }
    // Both normalisations in one run: every grid once per normalisation, in the order asked.
    let json: serde_json::Value = serde_json::from_slice(
        &multigrid(&["bench", "--preset", "tiny", "--batch", "2", "--reps", "1", "--norm", "batch,none", "--json"])
            .stdout,
    )
    .unwrap();
    let norms: Vec<&str> = json["rows"].as_array().unwrap().iter().map(|r| r["norm"].as_str().unwrap()).collect();
    assert_eq!(norms, ["batch", "batch", "none", "none"]);
}

#[test]
fn energy_of_weights_imported_from_pytorch_agrees_with_the_reference() {
    let dir = common::tempdir("import");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let weights = dir.join("imported.bpk");
    multigrid(&[
        "import",
        "--weights",
        s(&fixtures.join("reference_none.safetensors")),
        "--preset",
        "paper",
        "--out",
        s(&weights),
    ]);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("energy-expected.json")).unwrap()).unwrap();
    for size in [4, 16, 64] {
        let out = multigrid(&[
            "energy",
            "--weights",
            s(&weights),
            "--data",
            s(&fixtures.join("energy")),
            "--grid",
            &size.to_string(),
        ]);
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours: Vec<f32> = serde_json::from_value(got["energy"][format!("grid{size}")].clone()).unwrap();
        let theirs: Vec<f32> = serde_json::from_value(expected[format!("grid{size}")]["energy"].clone()).unwrap();
        let error = common::relative_error(&ours, &theirs);
        println!("grid {size}: relative error {error:.2e}");
        assert!(error <= 1e-4, "grid {size}: {ours:?} vs PyTorch {theirs:?}");
    }
    // Export back to safetensors and import again: the same energies.
    let exported = dir.join("exported.safetensors");
    multigrid(&["export", "--weights", s(&weights), "--format", "safetensors", "--out", s(&exported)]);
    let again = dir.join("again.bpk");
    multigrid(&["import", "--weights", s(&exported), "--out", s(&again)]);
    let energy = |w: &Path| multigrid(&["energy", "--weights", s(w), "--data", s(&fixtures.join("energy"))]).stdout;
    assert_eq!(energy(&weights), energy(&again));
}

#[test]
fn a_bad_checkpoint_is_a_clear_error() {
    let dir = common::tempdir("badweights");
    std::fs::write(dir.join("bad.bpk"), b"definitely not a checkpoint").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_multigrid"))
        .args(["sample", "--weights", s(&dir.join("bad.bpk")), "--out", s(&dir)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("bad.bpk") && stderr.contains("not a readable burnpack"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Random mutations of the bundled weights (flips, truncations, insertions, spliced blocks):
/// `sample` refuses each with a message naming the file, and never panics.
#[test]
fn sample_refuses_mutated_weights_with_a_message() {
    let dir = common::tempdir("mutants");
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/weights/small.bpk")).unwrap();
    for (i, m) in common::mutants(&bytes, 16, 21).iter().enumerate() {
        if m == &bytes {
            continue;
        }
        let path = dir.join(format!("mutant{i}.bpk"));
        std::fs::write(&path, m).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_multigrid"))
            .args(["sample", "--n", "2", "--weights", s(&path), "--out", s(&dir.join("out"))])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "mutant {i} (kind {}): {stderr}", i % 4);
        assert!(stderr.contains(&format!("mutant{i}.bpk")) && !stderr.contains("panicked"), "{stderr}");
    }
}

/// At lr 50 `tiny` blows up within two iterations; the guard rolls back, halves the rate until
/// learning is stable, and the run completes. Its checkpoint loads and samples finite images.
#[test]
fn a_diverging_run_heals_itself_by_rolling_back() {
    let dir = common::tempdir("heal");
    let out = multigrid(&["train", "--preset", "tiny", "--lr", "50", "--iters", "60", "--quiet", "--out", s(&dir)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rolled back to iteration"), "{stderr}");
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    let rollbacks = log.lines().filter(|l| l.contains("\"event\":\"rollback\"")).count();
    assert!(rollbacks >= 1, "{log}");
    let learner = multigrid_ebm::checkpoint::load(&dir.join("checkpoint.bpk"), &common::cpu()).unwrap();
    assert_eq!(learner.iteration, 60);
    assert!(learner.config.optimizer.lr < 50.0 / 2.0, "lr {}", learner.config.optimizer.lr);
    let mut learner = learner;
    let start = learner.starting_colours(4);
    let images = learner.sample(start, None);
    assert!(common::values(images.last().unwrap().clone()).iter().all(|v| v.is_finite()));
}
