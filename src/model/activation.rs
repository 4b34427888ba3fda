//! How a stack's layers turn their pre-activations into outputs: the recipe's ELU, or
//! one of the chapter's other choices, and where the stack makes an exception (a linear
//! code, as in the 2006 paper; the output, always linear).

use serde::{Deserialize, Serialize};

use super::kernels::{
    bias_add, bias_elu, bias_relu, bias_sigmoid, elu_backward, relu_backward, sigmoid_backward,
};

/// A hidden layer's nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// The recipe's.
    #[default]
    Elu,
    Relu,
    /// The logistic function of the 2006 paper and of Vincent et al.
    Sigmoid,
    /// None: a stack of linear layers spans what PCA does.
    Linear,
}

impl Activation {
    pub const ALL: [Activation; 4] = [
        Activation::Elu,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Linear,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Elu => "elu",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Linear => "linear",
        }
    }

    /// `z = f(z + b)` for each row of `z` (row-major, `b.len()` wide).
    pub fn bias_apply(self, z: &mut [f32], b: &[f32]) {
        match self {
            Activation::Elu => bias_elu(z, b),
            Activation::Relu => bias_relu(z, b),
            Activation::Sigmoid => bias_sigmoid(z, b),
            Activation::Linear => bias_add(z, b),
        }
    }

    /// Turns the gradient at the layer's output `a` into the gradient at its
    /// pre-activation, in place.
    pub fn backward(self, g: &mut [f32], a: &[f32]) {
        match self {
            Activation::Elu => elu_backward(g, a),
            Activation::Relu => relu_backward(g, a),
            Activation::Sigmoid => sigmoid_backward(g, a),
            Activation::Linear => {}
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s.trim())
            .ok_or_else(|| format!("'{s}' is not one of: elu, relu, sigmoid, linear"))
    }
}

/// Every dense layer's activation in a stack of 2K layers: the hidden layers' own, the
/// code's (linear if asked), the output's (linear: the reconstruction loss is MSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Activations {
    pub hidden: Activation,
    /// The code layer (encoder layer K) is linear whatever `hidden` is.
    pub linear_code: bool,
    /// The output layer is a sigmoid, and every reconstruction loss binary
    /// cross-entropy (the second edition's and Vincent et al.'s); else linear and MSE.
    pub sigmoid_output: bool,
}

impl Activations {
    /// ELU everywhere but the output.
    pub const RECIPE: Activations = Activations {
        hidden: Activation::Elu,
        linear_code: false,
        sigmoid_output: false,
    };

    /// Dense layer `j`'s activation, of `layers` (2K).
    pub fn layer(self, j: usize, layers: usize) -> Activation {
        if j + 1 == layers && self.sigmoid_output {
            Activation::Sigmoid
        } else if j + 1 == layers || (self.linear_code && j + 1 == layers / 2) {
            Activation::Linear
        } else {
            self.hidden
        }
    }

    pub fn is_recipe(&self) -> bool {
        *self == Self::RECIPE
    }
}

/// "elu", "sigmoid, linear code".
impl std::fmt::Display for Activations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.hidden.name())?;
        if self.linear_code && self.hidden != Activation::Linear {
            f.write_str(", linear code")?;
        }
        if self.sigmoid_output {
            f.write_str(", sigmoid output (BCE)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_layers_are_placed() {
        for a in Activation::ALL {
            assert_eq!(a.to_string().parse::<Activation>(), Ok(a));
        }
        assert!("tanh".parse::<Activation>().is_err());
        let r = Activations::RECIPE;
        let got: Vec<_> = (0..4).map(|j| r.layer(j, 4)).collect();
        use Activation::*;
        assert_eq!(got, [Elu, Elu, Elu, Linear]);
        let coded = Activations {
            hidden: Sigmoid,
            linear_code: true,
            sigmoid_output: false,
        };
        let got: Vec<_> = (0..8).map(|j| coded.layer(j, 8)).collect();
        assert_eq!(
            got,
            [
                Sigmoid, Sigmoid, Sigmoid, Linear, Sigmoid, Sigmoid, Sigmoid, Linear
            ]
        );
        assert_eq!(coded.to_string(), "sigmoid, linear code");
    }

    #[test]
    fn each_activation_is_its_definition_and_derivative() {
        let z: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) * 0.37).collect();
        let b = vec![0.25f32; 16];
        for act in Activation::ALL {
            let f = |x: f64| match act {
                Activation::Elu => {
                    if x < 0.0 {
                        x.exp() - 1.0
                    } else {
                        x
                    }
                }
                Activation::Relu => x.max(0.0),
                Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
                Activation::Linear => x,
            };
            let mut a = z.clone();
            act.bias_apply(&mut a, &b);
            let mut g = vec![1.0f32; a.len()];
            act.backward(&mut g, &a);
            for (i, (&a, &g)) in a.iter().zip(&g).enumerate() {
                let x = (z[i] + 0.25) as f64;
                assert!((a as f64 - f(x)).abs() < 1e-6, "{act} f({x})");
                let h = 1e-4;
                let fd = (f(x + h) - f(x - h)) / (2.0 * h);
                if x.abs() > 1e-3 {
                    assert!((g as f64 - fd).abs() < 1e-5, "{act} f'({x}): {g} vs {fd}");
                }
            }
        }
        let mut nan = [f32::NAN];
        for act in Activation::ALL {
            act.bias_apply(&mut nan, &[0.0]);
            assert!(
                nan[0].is_nan(),
                "{act} must let NaN through for divergence checks"
            );
        }
    }
}
