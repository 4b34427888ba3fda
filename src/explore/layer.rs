//! Which activations a map shows and how it is made, with the names the command
//! line and the files use.

use serde::{Deserialize, Serialize};

use crate::model::MAX_STAGES;

/// Which activations a map shows. Serialised by its name, as the command line spells
/// it (the names of the two-stage era, "Code", "Hidden1", "Pixels", still read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Layer {
    /// The innermost code, h(K) of a K-stage stack (the recipe's hidden2).
    #[default]
    Code,
    /// Hidden layer k of the encoder, 1 <= k <= K (k = K is the code by another name).
    Hidden(u8),
    /// The raw images, for comparison: what the network starts from.
    Pixels,
}

impl Layer {
    pub const HIDDEN1: Layer = Layer::Hidden(1);

    /// How many layers `index` tells apart: the code, hidden 1..K-1 of the deepest
    /// stack, the pixels.
    pub const COUNT: usize = MAX_STAGES + 1;

    /// What a map of a `depth`-stage stack offers: the code, each hidden layer below
    /// it, the pixels.
    pub fn offered(depth: usize) -> impl Iterator<Item = Layer> {
        let below = (1..depth.min(MAX_STAGES)).map(|k| Layer::Hidden(k as u8));
        std::iter::once(Layer::Code)
            .chain(below)
            .chain(std::iter::once(Layer::Pixels))
    }

    /// Whether a `depth`-stage stack has this layer.
    pub fn fits(self, depth: usize) -> bool {
        match self {
            Layer::Hidden(k) => (1..=depth).contains(&(k as usize)),
            Layer::Code | Layer::Pixels => true,
        }
    }

    /// The encoder level it is in a `depth`-stage stack: 0 the pixels, `depth` the code.
    pub fn level(self, depth: usize) -> usize {
        match self {
            Layer::Code => depth,
            Layer::Hidden(k) => k as usize,
            Layer::Pixels => 0,
        }
    }

    /// The name on the command line and in files.
    pub fn name(self) -> String {
        match self {
            Layer::Code => "code".into(),
            Layer::Hidden(k) => format!("hidden{k}"),
            Layer::Pixels => "pixels".into(),
        }
    }

    /// The name in the app, for a `depth`-stage stack.
    pub fn title(self, depth: usize) -> String {
        match self {
            Layer::Code => format!("codes (hidden{depth})"),
            Layer::Hidden(k) => format!("hidden{k}"),
            Layer::Pixels => "pixels".into(),
        }
    }

    /// A slot per layer, for arrays of `COUNT`.
    pub fn index(self) -> usize {
        match self {
            Layer::Code => 0,
            Layer::Hidden(k) => (k as usize).clamp(1, Self::COUNT - 2),
            Layer::Pixels => Self::COUNT - 1,
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Layer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let hidden = lower
            .strip_prefix("hidden")
            .and_then(|k| k.parse::<u8>().ok())
            .filter(|&k| (1..=MAX_STAGES).contains(&(k as usize)));
        match (lower.as_str(), hidden) {
            ("code", _) => Ok(Layer::Code),
            ("pixels", _) => Ok(Layer::Pixels),
            (_, Some(k)) => Ok(Layer::Hidden(k)),
            _ => Err(format!(
                "'{s}' is not one of: code, hidden1 to hidden{MAX_STAGES}, pixels"
            )),
        }
    }
}

impl From<Layer> for String {
    fn from(l: Layer) -> String {
        l.name()
    }
}

impl TryFrom<String> for Layer {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// How a map is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Method {
    #[default]
    Pca,
    Tsne,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Pca => "pca",
            Method::Tsne => "tsne",
        }
    }
}

macro_rules! named {
    ($t:ty, $all:expr, $list:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $all.into_iter()
                    .find(|v| v.name() == s)
                    .ok_or_else(|| format!("'{s}' is not one of: {}", $list))
            }
        }
    };
}

named!(Method, [Method::Pca, Method::Tsne], "pca, tsne");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_are_listed() {
        for l in Layer::offered(MAX_STAGES) {
            assert_eq!(l.name().parse::<Layer>(), Ok(l));
        }
        assert_eq!("tsne".parse::<Method>(), Ok(Method::Tsne));
        for bad in ["codes", "hidden0", "hidden9", "hidden"] {
            let err = bad.parse::<Layer>().unwrap_err();
            assert!(err.contains("code, hidden1 to hidden8, pixels"), "{err}");
        }
    }

    #[test]
    fn a_deep_stack_offers_each_hidden_layer_and_every_slot_is_its_own() {
        let names: Vec<String> = Layer::offered(4).map(Layer::name).collect();
        assert_eq!(names, ["code", "hidden1", "hidden2", "hidden3", "pixels"]);
        assert_eq!(
            Layer::offered(1).count(),
            2,
            "one stage: its hidden1 is the code"
        );
        let slots: std::collections::HashSet<usize> =
            Layer::offered(MAX_STAGES).map(Layer::index).collect();
        assert_eq!(slots.len(), MAX_STAGES + 1);
        assert!(slots.iter().all(|&i| i < Layer::COUNT));
        assert_eq!(Layer::Hidden(3).level(4), 3);
        assert_eq!(Layer::Code.level(4), 4);
        assert!(!Layer::Hidden(3).fits(2));
    }

    #[test]
    fn settings_of_the_two_stage_era_still_read() {
        for (old, want) in [
            ("\"Code\"", Layer::Code),
            ("\"Hidden1\"", Layer::HIDDEN1),
            ("\"Pixels\"", Layer::Pixels),
            ("\"hidden3\"", Layer::Hidden(3)),
        ] {
            assert_eq!(serde_json::from_str::<Layer>(old).unwrap(), want);
        }
        assert_eq!(
            serde_json::to_string(&Layer::Hidden(2)).unwrap(),
            "\"hidden2\""
        );
    }
}
