//! The `[bayesian]` table: which acquisition, how running sets enter the model. Closed choices
//! are enums, parsed once (by the configuration, or built by a caller of the engine).
//!
//! A leaf: it imports nothing from the rest of the crate, so the configuration can parse it
//! without depending on the engine.

use serde::{Deserialize, Serialize};

/// The `[bayesian]` table of the configuration, and the options of a suggestion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BayesOptions {
    pub acquisition: Acquisition,
    /// Exploration weight of the lower confidence bound (`>= 0`; the configuration checks it).
    pub kappa: f64,
    pub pending: PendingRule,
    /// How several objectives are searched.
    pub multi_objective: MultiObjective,
    /// Whether a Bayesian set waits for the proposals before it (the scheduler's rule).
    pub proposals: Proposals,
}

impl Default for BayesOptions {
    fn default() -> Self {
        BayesOptions {
            acquisition: Acquisition::Ei,
            kappa: 2.0,
            pending: PendingRule::KrigingBeliever,
            multi_objective: MultiObjective::PerObjective,
            proposals: Proposals::Auto,
        }
    }
}

/// When the workers of Bayesian sets propose: one after the other, each seeing the points
/// proposed before it (sequential quality, the pool waits), or all at once, each taking its
/// own point of a spread batch (no wait, a batch's lesser points).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proposals {
    /// In turn while waiting costs the pool little (measured: proposal and evaluation times),
    /// else together.
    #[default]
    Auto,
    /// Each waits for the proposals before it.
    InTurn,
    /// Never wait.
    Together,
}

/// How a Bayesian set of an experiment with several objectives is proposed; both draw
/// augmented Chebyshev scalarization weights per proposal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiObjective {
    /// ParEGO: one model of the scalarized objectives, with `acquisition`.
    Parego,
    /// One model per objective; the expected improvement of the scalarization (qParEGO).
    #[default]
    PerObjective,
}

/// What the suggestion maximizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acquisition {
    /// Expected improvement (computed as its logarithm).
    #[default]
    Ei,
    /// Lower confidence bound `mean - kappa sd`.
    Lcb,
}

/// How sets still running enter the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingRule {
    /// With the model's mean as their believed result.
    #[default]
    KrigingBeliever,
    /// With the lowest observed result.
    ConstantLiarMin,
    /// With the mean observed result.
    ConstantLiarMean,
    /// With the highest observed result.
    ConstantLiarMax,
    /// Not at all.
    Ignore,
}

impl PendingRule {
    /// Every rule.
    pub const ALL: [PendingRule; 5] = [
        PendingRule::KrigingBeliever,
        PendingRule::ConstantLiarMin,
        PendingRule::ConstantLiarMean,
        PendingRule::ConstantLiarMax,
        PendingRule::Ignore,
    ];

    /// The word of the configuration (`kriging_believer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PendingRule::KrigingBeliever => "kriging_believer",
            PendingRule::ConstantLiarMin => "constant_liar_min",
            PendingRule::ConstantLiarMean => "constant_liar_mean",
            PendingRule::ConstantLiarMax => "constant_liar_max",
            PendingRule::Ignore => "ignore",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_of_the_configuration() {
        for rule in PendingRule::ALL {
            let text = format!("pending = \"{}\"", rule.as_str());
            let parsed: BayesOptions = toml::from_str(&text).expect("parses");
            assert_eq!(parsed.pending, rule);
        }
        let parsed: BayesOptions = toml::from_str("acquisition = \"lcb\"").expect("parses");
        assert_eq!(parsed.acquisition, Acquisition::Lcb);
        let parsed: BayesOptions =
            toml::from_str("multi_objective = \"per_objective\"").expect("parses");
        assert_eq!(parsed.multi_objective, MultiObjective::PerObjective);
        assert!(toml::from_str::<BayesOptions>("multi_objective = \"nsga\"").is_err());
    }
}
