//! Step 3 of a suggestion: sets still running enter the model with believed results, so
//! parallel workers propose different points: the model's mean (kriging believer), or the
//! lowest, mean or highest observed result (constant liar), added by a block extension of the
//! Cholesky factor; or they are ignored.

use super::PendingRule;
use super::encoding::Encoder;
use crate::gp::Gp;
use ndarray::Array2;

/// The model with the `pending` points added under `rule`, and a note for the row when they
/// could not be (the model is then returned as it was).
pub(super) fn add(
    model: Gp,
    pending: &[&Vec<f64>],
    enc: &Encoder,
    rule: PendingRule,
) -> (Gp, String) {
    if pending.is_empty() || rule == PendingRule::Ignore {
        return (model, String::new());
    }
    let mut xp = Array2::<f64>::zeros((pending.len(), enc.width()));
    for (row, p) in pending.iter().enumerate() {
        if let Some(r) = xp.row_mut(row).as_slice_mut() {
            enc.encode(p, r);
        }
    }
    let yv = model.targets();
    let believed: Vec<f64> = match rule {
        PendingRule::KrigingBeliever => model.predict(xp.view()).0,
        PendingRule::ConstantLiarMin => {
            vec![yv.iter().copied().fold(f64::INFINITY, f64::min); pending.len()]
        }
        PendingRule::ConstantLiarMax => {
            vec![yv.iter().copied().fold(f64::NEG_INFINITY, f64::max); pending.len()]
        }
        PendingRule::ConstantLiarMean => {
            vec![yv.iter().sum::<f64>() / yv.len() as f64; pending.len()]
        }
        PendingRule::Ignore => Vec::new(),
    };
    match model.extend(xp.view(), &believed) {
        Ok(m) => (m, String::new()),
        Err(e) => (model, format!(", pending not modelled ({e})")),
    }
}
