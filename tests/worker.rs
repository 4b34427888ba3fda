//! The training worker under random use: sequences of every command (experiments
//! included), in any order, with training going on between them. After each command: no panic escapes, the
//! command is answered (`Event::Handled`, in order), the run state only makes legal
//! moves, and every parameter snapshot is finite; at the end the worker shuts down and
//! joins within a second.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use layerwise::checkpoint;
use layerwise::model::Phase;
use layerwise::train::classify::Arm;
use layerwise::train::experiment::{ExperimentSpec, Protocol};
use layerwise::train::protocol::{Command, CommandKind, Event, ExperimentEvent, Gate, RunState};
use layerwise::train::{Hyperparams, Trainer, WorkerHandle};

#[path = "support/mnist.rs"]
mod mnist;
use mnist::data;

const ANSWER: Duration = Duration::from_secs(60);

/// A small network and big batches: 11 cheap steps an epoch.
fn small() -> Hyperparams {
    Hyperparams {
        layers: layerwise::model::Widths::two(8, 4),
        batch_size: 5000,
        epochs: 2,
        ..Hyperparams::default()
    }
}

/// Files the commands refer to: a good checkpoint, one of another network, garbage,
/// an empty folder, and a path no file can be written to.
struct Files {
    _dir: tempfile::TempDir,
    good: PathBuf,
    other: PathBuf,
    garbage: PathBuf,
    empty: PathBuf,
    unwritable: PathBuf,
    writable: PathBuf,
}

fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let save = |path: &PathBuf, hp: Hyperparams| {
            let t = Trainer::new(data(), hp).unwrap();
            checkpoint::save(path, &t.checkpoint()).unwrap();
        };
        let (good, other, garbage) = (p("good.safetensors"), p("other.safetensors"), p("garbage"));
        save(&good, small());
        save(
            &other,
            Hyperparams {
                layers: layerwise::model::Widths::two(6, 4),
                ..small()
            },
        );
        std::fs::write(&garbage, b"not a checkpoint").unwrap();
        std::fs::create_dir(p("empty")).unwrap();
        Files {
            good,
            other,
            garbage,
            empty: p("empty"),
            unwritable: p("no/such/folder/m.safetensors"),
            writable: p("saved.safetensors"),
            _dir: dir,
        }
    })
}

/// What the test does next: a command, or letting training go on for a few batches.
#[derive(Debug, Clone)]
enum Action {
    Send(Pick),
    Train(u8),
}

/// Every command, with good and bad arguments.
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// Phase 1, 2, 3 or end-to-end.
    Start(u8),
    Pause,
    Resume,
    Stop,
    Reset,
    Cache(bool),
    Hyperparams(bool),
    Evaluate,
    Load(u8),
    Save(bool),
    OpenBadFolder,
    Panic,
    /// A short sweep (or, when false, one with labels the data does not have).
    Experiment(bool),
    CancelExperiment,
}

impl Pick {
    fn command(self) -> Command {
        let f = files();
        match self {
            Pick::Start(n) => Command::StartPhase(PHASES[n as usize % 4]),
            Pick::Pause => Command::Pause,
            Pick::Resume => Command::Resume,
            Pick::Stop => Command::Stop,
            Pick::Reset => Command::Reset,
            Pick::Cache(on) => Command::SetCacheHidden1(on),
            Pick::Hyperparams(good) => Command::SetHyperparams(Hyperparams {
                learning_rate: if good { 0.02 } else { -1.0 },
                ..small()
            }),
            Pick::Evaluate => Command::Evaluate,
            Pick::Load(which) => {
                Command::LoadCheckpoint([&f.good, &f.other, &f.garbage][which as usize % 3].clone())
            }
            Pick::Save(ok) => {
                Command::SaveCheckpoint(if ok { &f.writable } else { &f.unwritable }.clone())
            }
            Pick::OpenBadFolder => Command::OpenData(f.empty.clone()),
            Pick::Panic => Command::InjectPanic,
            Pick::Experiment(good) => Command::RunExperiment(ExperimentSpec {
                budgets: vec![if good { 100 } else { 60_000 }],
                arms: vec![Arm::Scratch, Arm::Unfreeze],
                seeds: 1,
                protocol: Protocol::FixedSteps { steps: 12 },
            }),
            Pick::CancelExperiment => Command::CancelExperiment,
        }
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => (0..4u8).prop_map(Pick::Start),
        2 => Just(Pick::Pause),
        2 => Just(Pick::Resume),
        2 => Just(Pick::Stop),
        1 => Just(Pick::Reset),
        1 => any::<bool>().prop_map(Pick::Cache),
        1 => any::<bool>().prop_map(Pick::Hyperparams),
        1 => Just(Pick::Evaluate),
        1 => (0..3u8).prop_map(Pick::Load),
        1 => any::<bool>().prop_map(Pick::Save),
        1 => Just(Pick::OpenBadFolder),
        1 => Just(Pick::Panic),
        2 => any::<bool>().prop_map(Pick::Experiment),
        1 => Just(Pick::CancelExperiment),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => pick().prop_map(Action::Send),
        1 => (1..6u8).prop_map(Action::Train),
    ]
}

/// Follows the worker's events and checks each as it comes.
struct Watch {
    state: RunState,
    batches: usize,
}

impl Watch {
    fn see(&mut self, e: &Event) -> Result<(), TestCaseError> {
        match e {
            Event::State(next) => {
                let legal = match (self.state, *next) {
                    (_, RunState::Idle)
                    | (RunState::Idle, RunState::Running(_) | RunState::Experimenting) => true,
                    (RunState::Running(p) | RunState::Paused(p), RunState::Running(q))
                    | (RunState::Running(p) | RunState::Paused(p), RunState::Paused(q)) => p == q,
                    (RunState::Idle, RunState::Paused(_))
                    | (RunState::Experimenting, _)
                    | (_, RunState::Experimenting) => false,
                };
                prop_assert!(legal, "illegal move {:?} -> {next:?}", self.state);
                self.state = *next;
            }
            Event::Snapshot(s) => prop_assert!(s.params.all_finite(), "a non-finite model"),
            Event::BatchLoss { .. } | Event::Experiment(ExperimentEvent::Progress(_)) => {
                self.batches += 1
            }
            _ => {}
        }
        Ok(())
    }

    /// Events until `done` says so; fails after `ANSWER`.
    fn until(
        &mut self,
        w: &WorkerHandle,
        mut done: impl FnMut(&Event, &Self) -> bool,
    ) -> Result<(), TestCaseError> {
        let deadline = Instant::now() + ANSWER;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = w.recv_timeout(left);
            prop_assert!(e.is_ok(), "the worker died");
            let Ok(Some(e)) = e else {
                return Err(TestCaseError::fail("no answer in time"));
            };
            self.see(&e)?;
            if done(&e, self) {
                return Ok(());
            }
        }
    }
}

fn drive(actions: &[Action]) -> Result<(), TestCaseError> {
    let mut w = WorkerHandle::spawn(data(), small(), Arc::new(|| {})).unwrap();
    let mut watch = Watch {
        state: RunState::Idle,
        batches: 0,
    };
    for a in actions {
        match a {
            Action::Send(p) => {
                let c = p.command();
                let kind = c.kind();
                prop_assert!(w.send(c));
                watch.until(&w, |e, _| matches!(e, Event::Handled(k) if *k == kind))?;
            }
            Action::Train(k)
                if matches!(watch.state, RunState::Running(_) | RunState::Experimenting) =>
            {
                let target = watch.batches + *k as usize;
                watch.until(&w, |e, s| {
                    s.batches >= target || matches!(e, Event::State(RunState::Idle))
                })?;
            }
            Action::Train(_) => {}
        }
    }
    let t = Instant::now();
    w.shutdown();
    prop_assert!(
        t.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        t.elapsed()
    );
    Ok(())
}

const PHASES: [Phase; 4] = [Phase::ONE, Phase::TWO, Phase::FineTune, Phase::EndToEnd];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_worker_answers_every_command_and_stays_sane(
        actions in prop::collection::vec(action(), 1..40)
    ) {
        drive(&actions)?;
    }
}

/// Sends `commands` so that the worker finds them all queued: it waits at a gate
/// meanwhile (the test thread could otherwise be descheduled between two sends).
fn queued_together<const N: usize>(w: &WorkerHandle, commands: [Command; N]) {
    let gate = Gate::new();
    assert!(w.send(Command::Hold(gate.clone())));
    for c in commands {
        assert!(w.send(c));
    }
    gate.meet();
}

#[test]
fn commands_already_waiting_are_handled_before_the_next_batch() {
    // Start and Pause queued together: the pause lands before any batch is trained.
    let w = WorkerHandle::spawn(data(), small(), Arc::new(|| {})).unwrap();
    let mut watch = Watch {
        state: RunState::Idle,
        batches: 0,
    };
    queued_together(&w, [Command::StartPhase(Phase::ONE), Command::Pause]);
    watch
        .until(&w, |e, _| matches!(e, Event::Handled(CommandKind::Pause)))
        .unwrap();
    assert!(matches!(watch.state, RunState::Paused(Phase::ONE)));
    assert_eq!(watch.batches, 0);
    // Resume and Stop queued together: stopped before another batch.
    queued_together(&w, [Command::Resume, Command::Stop]);
    watch
        .until(&w, |e, _| matches!(e, Event::Handled(CommandKind::Stop)))
        .unwrap();
    assert_eq!(watch.state, RunState::Idle);
    assert_eq!(watch.batches, 0);
}
