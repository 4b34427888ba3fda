//! The IDX reader and the checkpoint loader against arbitrary bytes: mutated real files
//! (truncated, bytes flipped, header fields rewritten, junk appended) and pure noise.
//! Neither may panic, allocate more than the file could justify, or fail without
//! naming the file and the problem. Fixed case counts, so CI runs the same amount.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::sync::OnceLock;

use proptest::prelude::*;

use layerwise::checkpoint::{self, BatchOrder, Checkpoint, Optimizer};
use layerwise::data::{Mnist, OrderState, idx};
use layerwise::model::{AdamState, Arch, Params, Phase};
use layerwise::train::{Hyperparams, Trainer};

// ---- the largest single allocation made by this thread while tracking ----

struct Tracking;

thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the thread may be tearing down its locals.
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
        }
    });
}

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f` and returns its result with the largest allocation it made.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|m| m.set(0));
    TRACK.with(|t| t.set(true));
    let r = f();
    TRACK.with(|t| t.set(false));
    (r, LARGEST.with(|m| m.get()))
}

/// What a file of `len` bytes can justify: a gzip stream inflates at most ~1032x, plus
/// the decoder's fixed state.
fn justified(len: usize, gz: bool) -> usize {
    let data = if gz { len * 1032 } else { len };
    data + (256 << 10)
}

// ---- real files to mutate ----

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Real IDX files, raw and gzipped: the test labels, and the first 64 test images
/// (header rewritten to say 64).
fn real_files() -> &'static [(&'static str, Vec<u8>)] {
    static FILES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mnist/");
        let labels = gunzip(&std::fs::read(format!("{dir}t10k-labels-idx1-ubyte.gz")).unwrap());
        let images = gunzip(&std::fs::read(format!("{dir}t10k-images-idx3-ubyte.gz")).unwrap());
        let mut few = images[..16 + 64 * 784].to_vec();
        few[4..8].copy_from_slice(&64u32.to_be_bytes());
        vec![
            ("t10k-labels-idx1-ubyte", labels.clone()),
            ("t10k-labels-idx1-ubyte.gz", gzip(&labels)),
            ("t10k-images-idx3-ubyte", few.clone()),
            ("t10k-images-idx3-ubyte.gz", gzip(&few)),
        ]
    })
}

/// How a real file is damaged.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(Vec<(usize, u8)>),
    Append(Vec<u8>),
    /// IDX: overwrite a 4-byte big-endian header field (magic, or a dimension).
    IdxField(usize, u32),
    /// safetensors: rewrite the 8-byte little-endian header length.
    HeaderLength(u64),
    /// safetensors: replace a run of digits in the JSON header (a shape, an offset).
    Number(usize, u64),
}

/// Damage any file can take.
fn cut_flip_append() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        prop::collection::vec((any::<usize>(), 1..=255u8), 1..8).prop_map(Mutation::Flip),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
    ]
}

fn idx_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => cut_flip_append(),
        1 => (0..4usize, any::<u32>()).prop_map(|(f, v)| Mutation::IdxField(f, v)),
    ]
}

fn checkpoint_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => cut_flip_append(),
        1 => any::<u64>().prop_map(Mutation::HeaderLength),
        1 => (any::<usize>(), any::<u64>()).prop_map(|(i, v)| Mutation::Number(i, v)),
    ]
}

fn apply(m: &Mutation, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match m {
        Mutation::Truncate(at) => b.truncate(at % b.len()),
        Mutation::Flip(flips) => {
            for &(at, x) in flips {
                let n = b.len();
                b[at % n] ^= x;
            }
        }
        Mutation::Append(junk) => b.extend(junk),
        Mutation::IdxField(field, v) => {
            b[4 * field..4 * field + 4].copy_from_slice(&v.to_be_bytes())
        }
        Mutation::HeaderLength(v) => b[..8].copy_from_slice(&v.to_le_bytes()),
        Mutation::Number(which, v) => b = replace_number(&b, *which, *v),
    }
    b
}

/// The safetensors file with the `which`-th run of digits in its header set to `v`.
fn replace_number(b: &[u8], which: usize, v: u64) -> Vec<u8> {
    let header_len = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&b[8..8 + header_len]).into_owned();
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|&(i, c)| {
            c.is_ascii_digit() && !header[..i].ends_with(|p: char| p.is_ascii_digit())
        })
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        return b.to_vec();
    }
    let start = starts[which % starts.len()];
    let end = header[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(header.len(), |e| start + e);
    let new_header = format!("{}{v}{}", &header[..start], &header[end..]);
    let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
    out.extend(new_header.as_bytes());
    out.extend(&b[8 + header_len..]);
    out
}

fn check_idx(name: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let gz = name.ends_with(".gz");
    let (result, largest) = largest_allocation(|| idx::parse(name, bytes));
    prop_assert!(
        largest <= justified(bytes.len(), gz),
        "{name}: allocated {largest} bytes for a {}-byte file",
        bytes.len()
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) => names_file_and_problem(&e.to_string(), name),
    }
}

/// An error reads "FILE: what is wrong".
fn names_file_and_problem(msg: &str, file: &str) -> Result<(), TestCaseError> {
    let problem = msg.strip_prefix(&format!("{file}: "));
    prop_assert!(
        problem.is_some_and(|p| p.len() > 5),
        "unhelpful message: {msg}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn idx_reader_survives_mutated_real_files(file in 0..4usize, m in idx_mutation()) {
        let (name, bytes) = &real_files()[file];
        let mutated = apply(&m, bytes);
        check_idx(name, &mutated)?;
        // A file cut short or with junk after it never parses.
        if matches!(m, Mutation::Append(_)) || (matches!(m, Mutation::Truncate(_)) && mutated.len() < bytes.len()) {
            prop_assert!(idx::parse(name, &mutated).is_err());
        }
    }

    #[test]
    fn idx_reader_survives_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), gz in any::<bool>()) {
        let name = if gz { "noise.gz" } else { "noise" };
        check_idx(name, &bytes)?;
    }

    #[test]
    fn idx_reader_survives_gzipped_noise(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        // Valid gzip around nonsense: the IDX checks must catch it after inflating.
        check_idx("noise.gz", &gzip(&bytes))?;
    }
}

// ---- checkpoints ----

const SMALL: Arch = Arch::two(12, 6, 3);

/// A format-3 stack of four autoencoders: its header claims eight layers' shapes.
fn deep() -> Arch {
    Arch::new(12, layerwise::model::Widths::new(&[6, 5, 4, 3]).unwrap())
}

fn real_checkpoint() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| checkpoint_bytes(SMALL))
}

fn deep_checkpoint() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| checkpoint_bytes(deep()))
}

fn checkpoint_bytes(arch: Arch) -> Vec<u8> {
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let order = |seed: u32, pos| OrderState {
            perm: (0..40).map(|i| (i * 7 + seed) % 40).collect(),
            pos,
            started: true,
            rng: [5, 6, 7, 8],
        };
        let ck = Checkpoint {
            params: Params::he_init(arch, 4),
            optimizer: Optimizer::Full(Box::new(AdamState {
                steps: 12,
                powers: [0.28242955, 0.98806],
                m: Params::he_init(arch, 5),
                v: Params::zeros(arch),
            })),
            order: Some(BatchOrder {
                epochs: order(1, 13),
                subset: order(3, 0),
            }),
            epochs_done: [1, 0, 0, 0].into(),
            settings: Some(r#"{"seed":7}"#.into()),
        };
        checkpoint::save(&path, &ck).unwrap();
        std::fs::read(&path).unwrap()
    }
}

/// Runs `f` on another thread and fails if it takes longer than a few seconds: a
/// number read from a file must never make the reader spin.
fn in_bounded_time<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .expect("took more than 5 s: something read from the file is replayed or looped on")
}

fn check_checkpoint(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_checkpoint_of(bytes, SMALL)
}

fn check_checkpoint_of(bytes: &[u8], arch: Arch) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("case.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let p = path.clone();
    let (result, largest) =
        in_bounded_time(move || largest_allocation(|| checkpoint::load(&p, Some(arch))));
    prop_assert!(
        largest <= 2 * bytes.len() + (256 << 10),
        "allocated {largest} bytes for a {}-byte checkpoint",
        bytes.len()
    );
    match result {
        Ok(ck) => {
            prop_assert!(ck.params.all_finite() && ck.params.arch() == arch);
            Ok(())
        }
        Err(e) => names_file_and_problem(&e.to_string(), &path.display().to_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn checkpoint_loader_survives_mutated_real_checkpoints(m in checkpoint_mutation()) {
        check_checkpoint(&apply(&m, real_checkpoint()))?;
    }

    #[test]
    fn checkpoint_loader_survives_mutated_deep_checkpoints(m in checkpoint_mutation()) {
        check_checkpoint_of(&apply(&m, deep_checkpoint()), deep())?;
    }

    #[test]
    fn checkpoint_loader_survives_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        check_checkpoint(&bytes)?;
    }
}

// ---- a checkpoint that loads can be trained from ----

/// A real checkpoint of a small network on MNIST's pixels, after a few steps of both
/// phases: the optimiser's moments and the batch order over all 55,000 images.
fn trained_checkpoint() -> &'static (Vec<u8>, std::sync::Arc<Mnist>) {
    static CK: OnceLock<(Vec<u8>, std::sync::Arc<Mnist>)> = OnceLock::new();
    CK.get_or_init(|| {
        let data = std::sync::Arc::new(Mnist::embedded().unwrap());
        let mut t = Trainer::new(data.clone(), tiny()).unwrap();
        for phase in [Phase::ONE, Phase::TWO] {
            t.begin_phase(phase, false).unwrap();
            t.step().unwrap();
            t.stop();
        }
        (checkpoint::to_bytes(&t.checkpoint()).unwrap(), data)
    })
}

fn tiny() -> Hyperparams {
    Hyperparams {
        layers: layerwise::model::Widths::two(6, 3),
        batch_size: 5000,
        ..Hyperparams::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_checkpoint_that_loads_can_be_trained_from(m in checkpoint_mutation()) {
        let (bytes, data) = trained_checkpoint();
        let mutated = apply(&m, bytes);
        let data = data.clone();
        in_bounded_time(move || {
            if let Ok(ck) = checkpoint::from_bytes(&mutated, None) {
                let mut t = Trainer::new(data, tiny()).unwrap();
                if t.restore(ck).is_ok() {
                    for phase in [Phase::ONE, Phase::TWO] {
                        t.begin_phase(phase, true).unwrap();
                        // A blow-up is a result, not a failure; a panic or a hang is.
                        let _ = t.step();
                        t.stop();
                    }
                    assert!(t.params().all_finite());
                }
            }
        });
    }
}

#[test]
fn the_real_files_are_valid_to_start_with() {
    for (name, bytes) in real_files() {
        assert!(idx::parse(name, bytes).is_ok(), "{name}");
    }
    assert!(checkpoint::from_bytes(real_checkpoint(), Some(SMALL)).is_ok());
    assert!(checkpoint::from_bytes(deep_checkpoint(), Some(deep())).is_ok());
    let ck = checkpoint::from_bytes(&trained_checkpoint().0, None).unwrap();
    assert!(matches!(ck.optimizer, Optimizer::Full(_)) && ck.order.is_some());
}

#[test]
fn the_allocation_probe_sees_allocations() {
    let (v, largest) = largest_allocation(|| vec![0u8; 3 << 20]);
    assert_eq!(v.len(), 3 << 20);
    assert!(largest >= 3 << 20);
    // A header that claims 4 GB in a tiny raw file is refused without allocating it.
    let mut b = vec![0, 0, 8, 1];
    b.extend(u32::MAX.to_be_bytes());
    let (r, largest) = largest_allocation(|| idx::parse("claims-4GB", &b));
    assert!(r.is_err() && largest < 1 << 20);
}
