//! Which activations a map shows and how it is made, with the names the command
//! line and the files use.

use serde::{Deserialize, Serialize};

/// Which activations a map shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Layer {
    /// hidden2, the 150-unit code.
    #[default]
    Code,
    Hidden1,
    /// The raw images, for comparison: what the network starts from.
    Pixels,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Code, Layer::Hidden1, Layer::Pixels];

    /// The name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Code => "code",
            Layer::Hidden1 => "hidden1",
            Layer::Pixels => "pixels",
        }
    }

    /// The name in the app.
    pub fn title(self) -> &'static str {
        match self {
            Layer::Code => "codes (hidden2)",
            Layer::Hidden1 => "hidden1",
            Layer::Pixels => "pixels",
        }
    }

    pub fn index(self) -> usize {
        self as usize
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

named!(Layer, Layer::ALL, "code, hidden1, pixels");
named!(Method, [Method::Pca, Method::Tsne], "pca, tsne");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_are_listed() {
        for l in Layer::ALL {
            assert_eq!(l.name().parse::<Layer>(), Ok(l));
        }
        assert_eq!("tsne".parse::<Method>(), Ok(Method::Tsne));
        let err = "codes".parse::<Layer>().unwrap_err();
        assert!(err.contains("code, hidden1, pixels"), "{err}");
    }
}
