//! A profiler's samples CPU by CPU: the spin workload runs one pinned
//! thread on each CPU, so a claim keyed by `cpu` is held to each thread's
//! own CPU time on its CPU, not only to the sum.

use super::reading::Reading;
use crate::spec::{samples_of, Claim, KeyKind};
use crate::verdict::{Diagnosis, Finding};
use tracecheck_model::{Layer, Tallies, Truth};

/// Each CPU's share as the workload measured it, against what the tool
/// printed under that CPU: `None` when every CPU is within the tolerance
/// (or the claim has no `cpu` key, or the run no pinned threads).
///
/// A wrong `cpu` key moves whole threads' time: a CPU left with under half
/// its thread's, or a CPU the workload never ran on holding more than a
/// tenth of the total, is `wrong_cpu`. A CPU off by less (one CI run: a
/// right total, CPU 1 6% over and CPU 0 under by as much, under a
/// virtualised timer) is a count's error, not a key's.
///
/// A CPU's truth is its thread's spin time, up to that plus everything
/// else the process ran (the main thread, the threads' start and exit),
/// which may have run on any CPU.
pub fn misfit(claim: &Claim, r: &Reading, truth: &Truth, t: &Tallies) -> Option<Diagnosis> {
    if claim.metric.layer != Layer::Cpu || !claim.has_key(KeyKind::Cpu) || t.cpu_ns.is_empty() {
        return None;
    }
    let spun: u64 = t.cpu_ns.values().sum();
    let rest = truth.hi.saturating_sub(spun);
    let hz = claim.sample_hz.unwrap_or(1);
    let mut off = Vec::new();
    let mut moved = false;
    let mut all = Vec::new();
    for (cpu, ns) in &t.cpu_ns {
        let got = r.per_cpu.get(cpu).copied().unwrap_or(0);
        let (lo, hi) = claim.tolerance.widen(*ns, ns + rest);
        let line = format!(
            "CPU {cpu}: {} samples ({:.3} s) where its thread ran {:.3} s",
            samples_of(got, hz),
            got as f64 / 1e9,
            *ns as f64 / 1e9
        );
        if !(lo..=hi).contains(&got) {
            off.push(cpu);
        }
        moved |= got < ns / 2;
        all.push(line);
    }
    let strays: Vec<(&u32, &u64)> = r
        .per_cpu
        .iter()
        .filter(|(cpu, _)| !t.cpu_ns.contains_key(cpu))
        .collect();
    if off.is_empty() && strays.is_empty() {
        return None;
    }
    moved |= strays.iter().map(|(_, ns)| **ns).sum::<u64>() > r.reported / 10;
    let strays = strays.into_iter().map(|(cpu, ns)| {
        format!(
            "CPU {cpu}: {} samples, and the workload had no CPU {cpu}",
            samples_of(*ns, hz)
        )
    });
    all.extend(strays);
    Some(if moved {
        Diagnosis {
            finding: Finding::WrongCpu,
            sentence: format!(
                "its samples of the workload add up to the truth, but not CPU by CPU: {}; the script's cpu key is \
                 not the CPU the sample was taken on (profile:hz's builtin cpu is)",
                all.join("; ")
            ),
        }
    } else {
        Diagnosis {
            finding: Finding::Unexplained,
            sentence: format!(
                "its samples of the workload add up to the truth, and each CPU holds most of its thread's, but \
                 not within the tolerance: {}; a wrong cpu key would move a whole thread's time, so this is the \
                 sampling's own error CPU by CPU (a timer that fired more often on one CPU than the other)",
                all.join("; ")
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ns_of, Tolerance};
    use tracecheck_model::{Metric, Source, Who};

    fn claim() -> Claim {
        Claim {
            name: "c".into(),
            map: "@s".into(),
            table: None,
            metric: Metric::parse("cpu.time").unwrap(),
            keys: vec![KeyKind::Comm, KeyKind::Cpu],
            tolerance: Tolerance::Percent(5.0),
            workloads: vec![],
            sample_hz: Some(997),
            hist_unit: None,
        }
    }

    #[test]
    fn each_cpu_is_held_to_its_own_thread() {
        let mut t = Tallies::default();
        t.cpu_ns.insert(0, 3_000_000_000);
        t.cpu_ns.insert(1, 2_000_000_000);
        let truth = Truth::bounded(
            claim().metric,
            Who::Workload,
            5_000_000_000,
            5_010_000_000,
            Source::Workload,
            "",
        );
        let mut r = Reading::default();
        r.per_cpu.insert(0, ns_of(2991, 997));
        r.per_cpu.insert(1, ns_of(1994, 997));
        assert!(misfit(&claim(), &r, &truth, &t).is_none());
        // The right sum, all of it under CPU 0.
        r.per_cpu.insert(0, ns_of(4985, 997));
        r.per_cpu.remove(&1);
        let d = misfit(&claim(), &r, &truth, &t).unwrap();
        assert_eq!(d.finding, Finding::WrongCpu);
        assert!(
            d.sentence
                .contains("CPU 1: 0 samples (0.000 s) where its thread ran 2.000 s"),
            "{}",
            d.sentence
        );
        // Off by 8% each way, but each CPU with most of its thread's time:
        // the sampling's error, not the key's.
        r.per_cpu.insert(0, ns_of(2991 - 240, 997));
        r.per_cpu.insert(1, ns_of(1994 + 240, 997));
        let d = misfit(&claim(), &r, &truth, &t).unwrap();
        assert_eq!(d.finding, Finding::Unexplained, "{}", d.sentence);
        // A tenth of the total on a CPU the workload never ran on is.
        r.per_cpu.insert(1, ns_of(1994 - 600, 997));
        r.per_cpu.insert(2, ns_of(600, 997));
        r.reported = ns_of(4985, 997);
        r.per_cpu.insert(0, ns_of(2991, 997));
        let d = misfit(&claim(), &r, &truth, &t).unwrap();
        assert_eq!(d.finding, Finding::WrongCpu, "{}", d.sentence);
        // Without a cpu key there is nothing to hold per CPU.
        let mut no_key = claim();
        no_key.keys = vec![KeyKind::Comm];
        assert!(misfit(&no_key, &r, &truth, &t).is_none());
    }
}
