//! `layerwise classify`: the table, the JSON, the book's printout, where the
//! autoencoder comes from, and bad arguments.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

#[path = "support/cli.rs"]
mod cli;
use cli::{layerwise, model, stderr, stdout};

#[test]
fn json_lists_every_run_and_the_table_sums_them_up() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), &[]);
    let args = [
        "classify", "--load", &m, "--labels", "100,200", "--seeds", "2",
    ];
    let more = ["--arms", "scratch,frozen", "--steps", "20"];
    let o = layerwise(&[&args[..], &more, &["--json"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).is_empty(),
        "a checkpoint was given: {}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2 * 2 * 2);
    for r in results {
        for key in ["arm", "labels", "seed", "test_accuracy", "steps", "seconds"] {
            assert!(!r[key].is_null(), "{key} in {r}");
        }
        assert_eq!(r["steps"], 20);
        let acc = r["test_accuracy"].as_f64().unwrap();
        assert!(acc > 0.2 && acc < 1.0, "{acc}");
    }
    assert_eq!(results[1]["arm"], "frozen");
    assert_eq!(v["summary"].as_array().unwrap().len(), 4);
    assert!(
        v["settings"]["stopping_rule"]
            .as_str()
            .unwrap()
            .contains("20 steps")
    );
    assert_eq!(v["encoder"]["source"], m.as_str());

    let o = layerwise(&[&args[..], &more].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("seeds 1-2; every run: 20 steps"), "{out}");
    let frozen = out
        .lines()
        .find(|l| l.trim_start().starts_with("200  frozen"));
    assert!(
        frozen.is_some_and(|l| l.contains(" ± ") && l.contains("points")),
        "{out}"
    );
}

#[test]
fn the_book_prints_each_epoch_as_the_notebook_did_beside_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), &[]);
    let o = layerwise(&["classify", "--book", "--load", &m]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("scratch on 20000 labels, seed 1:\n0 Train accuracy: "),
        "{out}"
    );
    assert!(
        out.contains("(notebook: 0.9334)") && out.contains("(notebook: 0.9401)"),
        "{out}"
    );
    assert_eq!(out.matches(" Test accuracy: ").count(), 8, "{out}");
}

#[test]
fn without_a_checkpoint_the_recipe_is_trained_first_and_that_is_said() {
    let o = layerwise(&[
        "classify", "--labels", "100", "--seeds", "1", "--arms", "frozen", "--steps", "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no --load given: training the recipe's autoencoder first"),
        "{err}"
    );
    assert!(err.contains("autoencoder trained in"), "{err}");
    assert!(stdout(&o).contains("   100  frozen"), "{}", stdout(&o));
}

#[test]
fn bad_arguments_exit_2_with_the_reason() {
    let fails = |args: &[&str], needle: &str| {
        let o = layerwise(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{needle:?} not in {}",
            stderr(&o)
        );
    };
    fails(
        &["classify", "--labels", "5"],
        "labels: 5 is not between 10",
    );
    fails(&["classify", "--arms", "pretrained"], "not one of: scratch");
    fails(
        &["classify", "--book", "--steps", "10"],
        "cannot be used with",
    );
    fails(
        &["classify", "--seeds", "0"],
        "needs a budget, an arm and a seed",
    );
    fails(
        &["classify", "--load", "/no/such.safetensors"],
        "/no/such.safetensors",
    );
}

#[test]
fn a_deep_encoder_goes_under_the_softmax_whole() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), &["--layers", "32,24,16"]);
    let o = layerwise(&[
        "classify",
        "--load",
        &m,
        "--labels",
        "100",
        "--seeds",
        "1",
        "--arms",
        "scratch,frozen,fine-tuned",
        "--steps",
        "30",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let acc: Vec<f64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["test_accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(acc.len(), 3);
    // Chance is 0.1; the frozen arm's head alone learns slowly on a one-epoch code.
    assert!(acc[0] > 0.3 && acc[2] > 0.3, "{acc:?}");
    assert_ne!(
        acc[0], acc[1],
        "frozen starts from the encoder, not from scratch"
    );
    assert_ne!(acc[0], acc[2], "so does fine-tuned");

    let o = layerwise(&[
        "classify", "--load", &m, "--labels", "100", "--seeds", "1", "--arms", "frozen", "--steps",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Classifier 784-32-24-16-10 "),
        "{}",
        stdout(&o)
    );
}

/// Two encoders side by side: the second runs the pretrained arms only, each paired
/// with the first's run of the same budget, arm and seed.
#[test]
fn against_runs_a_second_encoder_seed_for_seed_beside_the_first() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = model(da.path(), &[]);
    let b = model(db.path(), &["--noise", "mask:0.25"]);
    let args = [
        "classify",
        "--load",
        &a,
        "--against",
        &b,
        "--labels",
        "100",
        "--seeds",
        "2",
        "--arms",
        "scratch,frozen",
        "--steps",
        "20",
    ];
    let o = layerwise(&[&args[..], &["--json"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let results = v["against"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "frozen x 2 seeds, no scratch");
    assert!(results.iter().all(|r| r["arm"] == "frozen"));
    assert_eq!(v["against"]["encoder"]["source"], b.as_str());
    let d = &v["against"]["differences"][0];
    assert_eq!(d["pairs"], 2);
    let first = v["results"].as_array().unwrap();
    let acc = |rs: &[serde_json::Value], seed: u64| {
        rs.iter()
            .find(|r| r["arm"] == "frozen" && r["seed"] == seed)
            .unwrap()["test_accuracy"]
            .as_f64()
            .unwrap()
    };
    let mean = (acc(results, 1) - acc(first, 1) + acc(results, 2) - acc(first, 2)) / 2.0;
    assert!((d["mean"].as_f64().unwrap() - mean).abs() < 1e-12, "{d}");
    // The other encoder learnt other features: other accuracies.
    assert_ne!(acc(results, 1), acc(first, 1));

    let o = layerwise(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("Against {b}")), "{out}");
    assert!(out.contains("minus the first, same seed"), "{out}");
    let o = layerwise(&[
        "classify",
        "--load",
        &a,
        "--against",
        &b,
        "--arms",
        "scratch",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("give --arms with one besides scratch"),
        "{}",
        stderr(&o)
    );
}
