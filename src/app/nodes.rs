//! The agents feeding the flow list, one per node: their reports as they arrive, and the
//! flows per second each sends, over the last five seconds.

use std::collections::VecDeque;

use crate::flow::agents::NodeReport;

/// How far back the per-node rate looks.
const RATE_WINDOW_MS: u64 = 5000;

#[derive(Debug, Clone, Default)]
pub struct Nodes {
    /// By address, in the order the agents were given.
    pub reports: Vec<NodeReport>,
    /// Flows per second, per report.
    pub rates: Vec<f64>,
    windows: Vec<VecDeque<(u64, u64)>>,
}

impl Nodes {
    /// Takes a node's new report; a node is never removed (one that stopped reporting is
    /// shown as such).
    pub fn update(&mut self, report: NodeReport) {
        match self.reports.iter().position(|r| r.addr == report.addr) {
            Some(i) => self.reports[i] = report,
            None => {
                self.reports.push(report);
                self.rates.push(0.0);
                self.windows.push(VecDeque::new());
            }
        }
    }

    pub fn tick(&mut self, now_ms: u64) {
        for (i, report) in self.reports.iter().enumerate() {
            let w = &mut self.windows[i];
            w.push_back((now_ms, report.flows));
            while w.len() > 2
                && w.front()
                    .is_some_and(|&(t, _)| now_ms.saturating_sub(t) > RATE_WINDOW_MS)
            {
                w.pop_front();
            }
            if let (Some(&(t0, n0)), Some(&(t1, n1))) = (w.front(), w.back()) {
                if t1 > t0 {
                    self.rates[i] = n1.saturating_sub(n0) as f64 * 1000.0 / (t1 - t0) as f64;
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }

    pub fn connected(&self) -> usize {
        self.reports.iter().filter(|r| r.connected()).count()
    }

    /// Events lost on the nodes (ring full) and by this reader (too slow), summed.
    pub fn lost(&self) -> u64 {
        self.reports
            .iter()
            .map(|r| r.counters.kernel_lost + r.counters.reader_lost)
            .sum()
    }
}
