//! The worker's experiment commands, through `WorkerHandle` as the app uses them: the
//! recipe trained first when the model is untrained, results one by one, the book's
//! epochs, Cancel before the next step, and what is refused meanwhile. The tests wait
//! on the event channel (with a timeout), never sleep.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use layerwise::model::Phase;
use layerwise::train::Hyperparams;
use layerwise::train::WorkerHandle;
use layerwise::train::classify::Arm;
use layerwise::train::experiment::{self, ExperimentSpec, Protocol, Sweep};
use layerwise::train::protocol::{
    Command, CommandKind, Event, ExperimentEnd, ExperimentEvent, Gate, RunState, SecondEncoder,
    SecondSource,
};

#[path = "support/mnist.rs"]
mod mnist;
use mnist::data;

const TIMEOUT: Duration = Duration::from_secs(120);

/// A worker whose phases are one epoch of large batches.
fn worker() -> WorkerHandle {
    let hp = Hyperparams {
        epochs: 1,
        batch_size: 1000,
        ..Hyperparams::default()
    };
    WorkerHandle::spawn(data(), hp, Arc::new(|| {})).unwrap()
}

/// Every event up to and including the first for which `last` holds.
fn until(h: &WorkerHandle, last: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let e = h.recv_timeout(TIMEOUT).unwrap().expect("an event in time");
        let done = last(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

fn handled(kind: CommandKind) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Handled(k) if *k == kind)
}

fn experiment_events(events: &[Event]) -> Vec<ExperimentEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Experiment(x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

/// The phases that ended, in order.
fn phases_done(events: &[Event]) -> Vec<Phase> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PhaseDone { phase, .. } => Some(*phase),
            _ => None,
        })
        .collect()
}

fn states(events: &[Event]) -> Vec<RunState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::State(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn small() -> ExperimentSpec {
    ExperimentSpec {
        budgets: vec![100, 200],
        arms: vec![Arm::Scratch, Arm::Frozen],
        seeds: 1,
        protocol: Protocol::FixedSteps { steps: 20 },
    }
}

#[test]
fn an_untrained_model_trains_the_recipe_first_then_results_arrive_one_by_one() {
    let h = worker();
    h.send(Command::RunExperiment(small()));
    let events = until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Ended { .. }))
    });
    let x = experiment_events(&events);
    assert_eq!(x[0], ExperimentEvent::TrainingAutoencoder);
    let phases = phases_done(&events);
    assert_eq!(
        phases,
        [Phase::ONE, Phase::TWO],
        "the recipe's phases, first"
    );
    let Some(ExperimentEvent::Started {
        runs,
        steps,
        encoder_epochs,
        ..
    }) = x.get(1).cloned()
    else {
        panic!("{x:?}");
    };
    assert_eq!((runs, steps, encoder_epochs), (4, 80, [1, 1, 0, 0].into()));
    assert!(states(&events).contains(&RunState::Experimenting));
    // One result per run, each after its own 20 steps' progress.
    let mut since = 0;
    let mut results = Vec::new();
    for e in &x[2..] {
        match e {
            ExperimentEvent::Progress(p) => {
                since += 1;
                assert_eq!(p.steps_done, results.len() as u64 * 20 + since);
            }
            ExperimentEvent::Result(r) => {
                assert_eq!(since, 20, "a result arrives after its run's steps");
                since = 0;
                results.push(r.clone());
            }
            ExperimentEvent::Ended { end, progress } => {
                assert_eq!(*end, ExperimentEnd::Done);
                assert_eq!(progress.map(|p| p.steps_done), Some(80));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let order: Vec<(usize, Arm)> = results.iter().map(|r| (r.labels, r.arm)).collect();
    let plan = [
        (100, Arm::Scratch),
        (100, Arm::Frozen),
        (200, Arm::Scratch),
        (200, Arm::Frozen),
    ];
    assert_eq!(order, plan);
    // The worker's numbers are the library's on the same encoder (its last snapshot).
    let encoder = events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Snapshot(s) => Some(s.params.clone()),
            _ => None,
        })
        .expect("a snapshot after the recipe");
    let mut sweep = Sweep::new(data(), encoder, small()).unwrap();
    let out = experiment::run(&mut sweep, &AtomicBool::new(false), |_, _| {}).unwrap();
    let accuracies = |rs: &[experiment::ArmResult]| {
        rs.iter()
            .map(|r| r.test_accuracy.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(accuracies(&results), accuracies(&out.results));
    let next = h.recv_timeout(TIMEOUT).unwrap();
    assert!(
        matches!(next, Some(Event::State(RunState::Idle))),
        "{next:?}"
    );
}

/// A deep untrained stack is trained layer-wise, every phase of it, before the sweep
/// puts its whole encoder under the softmax.
#[test]
fn an_untrained_deep_stack_trains_all_its_phases_first() {
    let hp = Hyperparams {
        epochs: 1,
        batch_size: 1000,
        layers: layerwise::model::Widths::new(&[32, 24, 16]).unwrap(),
        ..Hyperparams::default()
    };
    let h = WorkerHandle::spawn(data(), hp, Arc::new(|| {})).unwrap();
    let spec = ExperimentSpec {
        budgets: vec![100],
        arms: vec![Arm::FineTuned],
        ..small()
    };
    h.send(Command::RunExperiment(spec));
    let events = until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Ended { .. }))
    });
    let phases = phases_done(&events);
    assert_eq!(phases, [Phase::ONE, Phase::TWO, Phase::Layer(3)]);
    let x = experiment_events(&events);
    let accuracy = x.iter().find_map(|e| match e {
        ExperimentEvent::Result(r) => Some(r.test_accuracy),
        _ => None,
    });
    assert!(accuracy.is_some_and(|a| a > 0.2), "{x:?}");
    assert!(
        matches!(
            x.last(),
            Some(ExperimentEvent::Ended {
                end: ExperimentEnd::Done,
                ..
            })
        ),
        "{x:?}"
    );
}

/// A worker whose model has had a phase (so experiments start at once).
fn trained_worker() -> WorkerHandle {
    let h = worker();
    h.send(Command::StartPhase(Phase::ONE));
    until(&h, |e| matches!(e, Event::PhaseDone { .. }));
    until(&h, |e| matches!(e, Event::State(RunState::Idle)));
    h
}

fn long() -> ExperimentSpec {
    ExperimentSpec {
        budgets: vec![1000],
        arms: vec![Arm::Scratch],
        seeds: 1,
        protocol: Protocol::FixedSteps { steps: 1_000_000 },
    }
}

fn ended(x: &[ExperimentEvent]) -> (ExperimentEnd, Option<u64>) {
    x.iter()
        .find_map(|e| match e {
            ExperimentEvent::Ended { end, progress } => {
                Some((*end, progress.map(|p| p.steps_done)))
            }
            _ => None,
        })
        .expect("an end")
}

#[test]
fn cancel_stops_the_sweep_before_its_next_step() {
    let h = trained_worker();
    // Both commands queued at once: Cancel is read before the first step.
    let gate = Gate::new();
    h.send(Command::Hold(gate.clone()));
    h.send(Command::RunExperiment(long()));
    h.send(Command::CancelExperiment);
    gate.meet();
    let events = until(&h, handled(CommandKind::CancelExperiment));
    let x = experiment_events(&events);
    assert!(
        matches!(x[0], ExperimentEvent::Started { runs: 1, .. }),
        "{x:?}"
    );
    assert_eq!(ended(&x), (ExperimentEnd::Cancelled, Some(0)));
    assert!(!x.iter().any(|e| matches!(e, ExperimentEvent::Progress(_))));
    assert_eq!(states(&events), [RunState::Experimenting, RunState::Idle]);

    // Cancelled while it runs: no step after the end, far from the plan's end.
    h.send(Command::RunExperiment(long()));
    until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Progress(_)))
    });
    h.send(Command::CancelExperiment);
    let events = until(&h, handled(CommandKind::CancelExperiment));
    let x = experiment_events(&events);
    let last_step = x.iter().rev().find_map(|e| match e {
        ExperimentEvent::Progress(p) => Some(p.steps_done),
        _ => None,
    });
    let (end, steps) = ended(&x);
    assert_eq!(end, ExperimentEnd::Cancelled);
    assert!(steps.is_some_and(|s| s < 1_000_000));
    if let Some(last) = last_step {
        assert_eq!(steps, Some(last), "no step after the cancel");
    }
    assert!(
        matches!(x.last(), Some(ExperimentEvent::Ended { .. })),
        "{x:?}"
    );
}

#[test]
fn the_book_reports_each_epoch_and_other_commands_wait_for_the_end() {
    let h = trained_worker();
    let book = ExperimentSpec {
        arms: vec![Arm::FineTuned],
        ..ExperimentSpec::book()
    };
    h.send(Command::RunExperiment(book));
    h.send(Command::StartPhase(Phase::TWO));
    h.send(Command::LoadCheckpoint("/nowhere.safetensors".into()));
    let events = until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Ended { .. }))
    });
    let errors: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Error(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("an experiment is running"));
    assert!(errors[1].contains("cancel the experiment"));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::PhaseStarted { .. }))
    );
    let x = experiment_events(&events);
    let epochs: Vec<u32> = x
        .iter()
        .filter_map(|e| match e {
            ExperimentEvent::Epoch { epoch, .. } => Some(epoch.epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, [0, 1, 2, 3]);
    let result = x.iter().find_map(|e| match e {
        ExperimentEvent::Result(r) => Some(r.clone()),
        _ => None,
    });
    let r = result.expect("the run's result");
    assert_eq!(
        (r.arm, r.labels, r.steps, r.epochs.len()),
        (Arm::FineTuned, 20_000, 532, 4)
    );
    assert_eq!(ended(&x).0, ExperimentEnd::Done);

    // Stop ends an experiment as Cancel does.
    h.send(Command::RunExperiment(long()));
    until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Progress(_)))
    });
    h.send(Command::Stop);
    let x = experiment_events(&until(&h, handled(CommandKind::Stop)));
    assert_eq!(ended(&x).0, ExperimentEnd::Cancelled);
}

fn errors(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Error(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn second_of(events: &[Event]) -> Option<Option<SecondEncoder>> {
    events.iter().find_map(|e| match e {
        Event::SecondEncoder(s) => Some(s.as_ref().map(|(e, _)| e.clone())),
        _ => None,
    })
}

/// Encoder B: refused before any training and from a file that is no checkpoint; kept
/// from the model (which then goes on: reset, retrained by the sweep) or from a file;
/// its pretrained runs follow A's in the sweep; forgotten, sweeps run A alone.
#[test]
fn a_second_encoder_is_kept_from_the_model_or_a_file_and_runs_beside_the_first() {
    let h = worker();
    let set = |source: Option<SecondSource>| {
        h.send(Command::SetSecondEncoder(source));
        until(&h, handled(CommandKind::SetSecondEncoder))
    };
    let e = set(Some(SecondSource::Current));
    assert!(errors(&e)[0].contains("train the model first"), "{e:?}");
    assert_eq!(second_of(&e), None, "nothing kept");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    let e = set(Some(SecondSource::File(junk.clone())));
    assert_eq!(errors(&e).len(), 1, "{e:?}");
    assert_eq!(second_of(&e), None);
    let name = "kept".to_string();
    let e = set(Some(SecondSource::Kept { path: junk, name }));
    assert!(
        errors(&e)[0].starts_with("encoder B of the kept session: "),
        "{e:?}"
    );

    // B: phase 1 alone (its inner layers as initialised).
    h.send(Command::StartPhase(Phase::ONE));
    until(&h, |e| matches!(e, Event::PhaseDone { .. }));
    let e = set(Some(SecondSource::Current));
    let b = second_of(&e).flatten().expect("kept");
    assert!(
        b.name
            .starts_with("784-300-150-300-784, 1 epoch(s) of phase 1 and 0"),
        "{}",
        b.name
    );
    assert!(b.test_mse.is_finite() && b.test_mse > 0.0);
    let path = dir.path().join("b.safetensors");
    h.send(Command::SaveCheckpoint(path.clone()));
    until(&h, handled(CommandKind::SaveCheckpoint));

    // A: reset, then trained by the sweep (phases 1 and 2).
    h.send(Command::Reset);
    h.send(Command::RunExperiment(small()));
    let events = until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Ended { .. }))
    });
    let x = experiment_events(&events);
    let started = x.iter().find_map(|e| match e {
        ExperimentEvent::Started { runs, against, .. } => Some((*runs, against.clone())),
        _ => None,
    });
    assert_eq!(
        started,
        Some((6, Some(b.clone()))),
        "2 budgets x (scratch, A, B)"
    );
    let order: Vec<(Arm, usize, bool)> = x
        .iter()
        .filter_map(|e| match e {
            ExperimentEvent::Result(r) => Some((r.arm, r.labels, r.against)),
            _ => None,
        })
        .collect();
    let f = Arm::Frozen;
    assert_eq!(
        order,
        [
            (Arm::Scratch, 100, false),
            (f, 100, false),
            (f, 100, true),
            (Arm::Scratch, 200, false),
            (f, 200, false),
            (f, 200, true)
        ]
    );

    let e = set(Some(SecondSource::File(path)));
    let from_file = second_of(&e).flatten().expect("kept");
    assert!(
        from_file
            .name
            .starts_with("b.safetensors: 784-300-150-300-784"),
        "{}",
        from_file.name
    );
    assert_eq!(from_file.test_mse, b.test_mse, "the same parameters");
    assert_eq!(second_of(&set(None)), Some(None));
    h.send(Command::RunExperiment(small()));
    let events = until(&h, |e| {
        matches!(e, Event::Experiment(ExperimentEvent::Ended { .. }))
    });
    let runs = experiment_events(&events).iter().find_map(|e| match e {
        ExperimentEvent::Started { runs, against, .. } => Some((*runs, against.is_none())),
        _ => None,
    });
    assert_eq!(runs, Some((4, true)));
}
