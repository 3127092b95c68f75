//! Each rule's decisions on hand-made curves.

use super::*;

fn options(rule: RuleName, min_step: u64, max_step: Option<u64>, eta: u64) -> PruningOptions {
    PruningOptions {
        rule,
        min_step,
        max_step,
        reduction_factor: eta,
        output: None,
    }
}

/// Feeds whole curves one set after the other; returns the step each set was stopped at.
fn run(pruner: &mut Pruner, curves: &[Vec<f64>]) -> Vec<Option<u64>> {
    curves
        .iter()
        .enumerate()
        .map(|(i, curve)| {
            curve.iter().enumerate().find_map(|(s, v)| {
                let step = s as u64 + 1;
                (pruner.report(i, 1, step, *v) == Verdict::Stop).then_some(step)
            })
        })
        .collect()
}

#[test]
fn without_a_rule_nothing_stops() {
    let mut p = Pruner::new(None);
    let stops = run(&mut p, &vec![vec![1.0, 2.0, f64::NAN]; 10]);
    assert!(stops.iter().all(Option::is_none), "{stops:?}");
}

#[test]
fn median_waits_for_its_warm_up_then_stops_the_worse_half() {
    let mut p = Pruner::new(Some(options(RuleName::Median, 2, None, 3)));
    // Five sets decreasing from 10 - i: the startup sets, never judged.
    let mut curves: Vec<Vec<f64>> = (0..5)
        .map(|i| (0..4).map(|s| 10.0 - i as f64 - s as f64).collect())
        .collect();
    // Worse than every other at every step: stopped at step 2 (not 1, the warm-up).
    curves.push(vec![100.0, 100.0, 100.0, 100.0]);
    // Better than the median: runs on.
    curves.push(vec![1.0, 1.0, 1.0, 1.0]);
    // Bad at step 1 but its best so far at step 2 (7.0) beats the median there (7.0 is not
    // worse than 7.0).
    curves.push(vec![50.0, 7.0, 3.0, 2.0]);
    // A NaN after the warm-up stops.
    curves.push(vec![1.0, f64::NAN]);
    let stops = run(&mut p, &curves);
    assert_eq!(
        stops,
        [None, None, None, None, None, Some(2), None, None, Some(2)]
    );
}

#[test]
fn median_needs_five_others_at_the_step() {
    let mut p = Pruner::new(Some(options(RuleName::Median, 1, None, 3)));
    let mut curves: Vec<Vec<f64>> = (0..4).map(|_| vec![1.0, 1.0]).collect();
    curves.push(vec![9.0, 9.0]);
    curves.push(vec![9.0, 9.0]);
    let stops = run(&mut p, &curves);
    // The fifth set has four others: not judged; the sixth has five: stopped.
    assert_eq!(stops, [None, None, None, None, None, Some(1)]);
}

#[test]
fn asha_keeps_the_top_third_of_each_rung_so_far() {
    // Rungs at 1, 3, 9 (27 is max_step: no rung there).
    let mut p = Pruner::new(Some(options(RuleName::Asha, 1, Some(27), 3)));
    assert_eq!(
        (0..4).map(|k| p.rung_step(0, k)).collect::<Vec<_>>(),
        [Some(1), Some(3), Some(9), None]
    );
    let flat = |v: f64| vec![v; 27];
    let stops = run(
        &mut p,
        &[
            flat(5.0),
            flat(6.0),
            flat(4.0),
            flat(7.0),
            flat(1.0),
            flat(3.0),
        ],
    );
    // Set 0 is alone at every rung: the best, promoted. Set 1 (6.0) is second of two at rung
    // 1: fewer than eta sets keep the best one only. Set 2 (4.0) is the best of three. Set 3
    // (7.0): top 1 of 4 is 4.0. Set 4 (1.0) the best. Set 5 (3.0) second of six at rung 1: the
    // top 2 of 6 are 1.0 and 3.0, promoted; at rung 3 the values are 5, 4, 1, 3: top 1 is
    // 1.0, stopped at step 3.
    assert_eq!(stops, [None, Some(1), None, Some(1), None, Some(3)]);
}

#[test]
fn asha_judges_every_rung_a_report_passes_at_once() {
    let mut p = Pruner::new(Some(options(RuleName::Asha, 1, Some(100), 2)));
    assert_eq!(p.report(0, 1, 1, 1.0), Verdict::Continue);
    assert_eq!(p.report(0, 1, 2, 1.0), Verdict::Continue);
    assert_eq!(p.report(0, 1, 4, 1.0), Verdict::Continue);
    // Set 1 reports every 5 steps: its report at step 5 reaches rungs 1, 2 and 4 at once; at
    // rung 1 it is second of two (top 1: set 0), stopped.
    assert_eq!(p.report(1, 1, 5, 2.0), Verdict::Stop);
    // Once stopped, always stopped.
    assert_eq!(p.report(1, 1, 10, 0.0), Verdict::Stop);
}

#[test]
fn a_newer_attempt_takes_back_the_older_one_and_an_older_one_is_ignored() {
    let mut p = Pruner::new(Some(options(RuleName::Asha, 1, Some(9), 3)));
    // Attempt 1 of set 0 put 1.0 at rung 1; then set 0 runs again (attempt 2) with 5.0.
    assert_eq!(p.report(0, 1, 1, 1.0), Verdict::Continue);
    assert_eq!(p.report(0, 2, 1, 5.0), Verdict::Continue);
    // Set 1 at 4.0 is the best of rung 1 now that 1.0 was taken back.
    assert_eq!(p.report(1, 1, 1, 4.0), Verdict::Continue);
    // A late report of attempt 1 changes nothing.
    assert_eq!(p.report(0, 1, 3, 0.0), Verdict::Continue);
    assert_eq!(p.rungs[0][0].sorted, [4.0, 5.0]);
    // A step that does not grow is not judged.
    assert_eq!(p.report(1, 1, 1, 100.0), Verdict::Continue);
}

#[test]
fn a_stopped_set_that_runs_again_starts_afresh() {
    let mut p = Pruner::new(Some(options(RuleName::Asha, 1, Some(9), 3)));
    assert_eq!(p.report(0, 1, 1, 1.0), Verdict::Continue);
    assert_eq!(p.report(1, 1, 1, 2.0), Verdict::Stop);
    assert_eq!(p.report(1, 2, 1, 0.5), Verdict::Continue);
}

#[test]
fn asha_stops_a_non_finite_value_at_a_rung() {
    let mut p = Pruner::new(Some(options(RuleName::Asha, 2, Some(9), 3)));
    // Step 1 is before the first rung: nothing judged, even a NaN.
    assert_eq!(p.report(0, 1, 1, f64::NAN), Verdict::Continue);
    assert_eq!(p.report(0, 1, 2, f64::INFINITY), Verdict::Stop);
}

#[test]
fn hyperband_brackets_start_at_different_rungs_and_judge_apart() {
    let o = options(RuleName::Hyperband, 1, Some(27), 3);
    // Rungs 1, 3, 9, 27: four brackets.
    assert_eq!(o.brackets(), 4);
    let p = Pruner::new(Some(o));
    // Hyperband's allocation for eta = 3, s_max = 3: 27, 12, 6, 4 (times 4/(s+1) rounding).
    assert_eq!(p.weights, [27, 12, 6, 4]);
    assert_eq!(p.rung_step(0, 0), Some(1));
    assert_eq!(p.rung_step(2, 0), Some(9));
    assert_eq!(p.rung_step(3, 0), None);
    // Every bracket gets sets, roughly in proportion, and always the same ones.
    let mut count = [0usize; 4];
    for i in 0..4900 {
        count[p.bracket(i)] += 1;
    }
    for (b, c) in count.iter().enumerate() {
        let expected = 4900.0 * p.weights[b] as f64 / 49.0;
        assert!((*c as f64 - expected).abs() < 0.15 * expected, "{count:?}");
    }
    assert_eq!(p.bracket(17), Pruner::new(p.options.clone()).bracket(17));
}

#[test]
fn hyperband_compares_a_set_only_within_its_bracket() {
    let mut p = Pruner::new(Some(options(RuleName::Hyperband, 1, Some(27), 3)));
    let in_bracket = |p: &Pruner, b: usize| (0..).find(|&i| p.bracket(i) == b).expect("a set");
    let (a, c) = (in_bracket(&p, 0), in_bracket(&p, 2));
    // The set of bracket 0 is judged at step 1; the set of bracket 2 first at step 9.
    assert_eq!(p.report(a, 1, 1, 1.0), Verdict::Continue);
    assert_eq!(p.report(c, 1, 1, 50.0), Verdict::Continue);
    assert_eq!(p.report(c, 1, 9, 50.0), Verdict::Continue);
    // A worse set of bracket 0 at step 1 is stopped; its rung holds only bracket 0's values.
    let d = (a + 1..).find(|&i| p.bracket(i) == 0).expect("a set");
    assert_eq!(p.report(d, 1, 1, 2.0), Verdict::Stop);
    assert_eq!(p.rungs[2][0].sorted, [50.0]);
}

#[test]
fn replaying_the_reports_rebuilds_the_same_decisions() {
    // What resume does: the same reports in the same order through a fresh pruner give the
    // same verdicts, so a set stopped before the crash stays stopped and the rungs hold the
    // same values (resuming in the middle of a rung).
    let o = options(RuleName::Asha, 1, Some(27), 3);
    let mut reports = Vec::new();
    for step in 1..=9u64 {
        for i in 0..12usize {
            let v = ((i * 7919) % 13) as f64 + 1.0 / step as f64;
            reports.push((i, 1u32, step, v));
        }
    }
    let mut first = Pruner::new(Some(o.clone()));
    let verdicts: Vec<Verdict> = reports
        .iter()
        .map(|&(i, a, s, v)| first.report(i, a, s, v))
        .collect();
    assert!(verdicts.contains(&Verdict::Stop) && verdicts.contains(&Verdict::Continue));
    // Crash after half the reports; the new run replays them, then takes the rest.
    let half = reports.len() / 2;
    let mut resumed = Pruner::new(Some(o));
    for &(i, a, s, v) in &reports[..half] {
        resumed.report(i, a, s, v);
    }
    let rest: Vec<Verdict> = reports[half..]
        .iter()
        .map(|&(i, a, s, v)| resumed.report(i, a, s, v))
        .collect();
    assert_eq!(rest, verdicts[half..]);
}

#[test]
fn the_table_is_checked() {
    assert!(options(RuleName::Asha, 1, None, 3).check().is_ok());
    assert_eq!(
        options(RuleName::Asha, 0, None, 3).check().map_err(|e| e.0),
        Err("pruning.min_step")
    );
    assert_eq!(
        options(RuleName::Asha, 1, None, 1).check().map_err(|e| e.0),
        Err("pruning.reduction_factor")
    );
    assert_eq!(
        options(RuleName::Asha, 5, Some(5), 3)
            .check()
            .map_err(|e| e.0),
        Err("pruning.max_step")
    );
    assert_eq!(
        options(RuleName::Hyperband, 1, None, 3)
            .check()
            .map_err(|e| e.0),
        Err("pruning.max_step")
    );
}

#[test]
fn the_ladder_keeps_each_sets_value_at_min_step_times_eta_powers_for_every_rule() {
    for rule in [RuleName::Median, RuleName::Asha, RuleName::Hyperband] {
        let mut p = Pruner::new(Some(options(rule, 2, Some(20), 3)));
        // Reports at steps 1, 3, 5, ..., 19: the ladder is 2, 6, 18 (54 is past max_step);
        // each takes the first report at or past it.
        for s in (1..20).step_by(2) {
            p.report(0, 1, s, 100.0 - s as f64);
        }
        assert_eq!(
            p.ladder(0, 1),
            [(2, 97.0), (6, 93.0), (18, 81.0)],
            "{rule:?}"
        );
        // Another attempt's, or an unknown set's: nothing.
        assert!(p.ladder(0, 2).is_empty());
        assert!(p.ladder(1, 1).is_empty());
        // A newer attempt starts its own ladder; a report that jumps past two steps fills both.
        p.report(0, 2, 7, f64::NAN);
        assert_eq!(p.ladder(0, 2), [(2, f64::INFINITY), (6, f64::INFINITY)]);
        assert!(p.ladder(0, 1).is_empty());
    }
    // Without a rule, no ladder.
    let mut p = Pruner::new(None);
    p.report(0, 1, 5, 1.0);
    assert!(p.ladder(0, 1).is_empty());
}

#[test]
fn a_stopped_set_has_no_ladder_value_past_its_stop() {
    let mut p = Pruner::new(Some(options(RuleName::Asha, 1, Some(27), 3)));
    run(&mut p, &[vec![1.0; 27], vec![5.0; 27]]);
    // Set 1 was stopped at rung 1 (worse than set 0): its ladder ends there.
    assert_eq!(p.ladder(1, 1), [(1, 5.0)]);
    assert_eq!(p.ladder(0, 1), [(1, 1.0), (3, 1.0), (9, 1.0)]);
}
