//! # zengzhi-sim — the simulator on the engine core
//!
//! Planners describe a [`scenario::Scenario`] (who arrives, how they buy and sell, what the
//! operator does, the rules); [`run::run_once`] plays it day by day through the real
//! [`zengzhi_core::Engine`], so the model simulated is the model that runs.
//! [`montecarlo::simulate`] runs it many times in parallel (and once per value of a sweep) and
//! fills the report's [`zengzhi_report::model::ReportData`], whose honest metrics
//! ([`honest`]) are always computed; [`output::write_all`] writes `summary.json`,
//! `timeseries.csv`, `sweep.csv` and the report. [`presets`] holds the built-in scenarios and
//! the seed's projection (SPEC §9); [`whatif`] replays a real history under other rules.
//!
//! ```
//! use zengzhi_sim::{montecarlo, scenario};
//!
//! let loaded = scenario::load_str(
//!     "horizon_days = 60\n[arrivals]\nrate = 5.0\n",
//!     std::path::Path::new("."),
//! ).unwrap();
//! let sim = montecarlo::simulate(&loaded, 2, 7, &|| {}).unwrap();
//! assert_eq!(sim.report.days.len(), 60);
//! // The honest metrics are always there.
//! assert!(sim.report.honest.net_rebate_bound > 0.0);
//! ```

pub mod honest;
pub mod montecarlo;
pub mod output;
pub mod presets;
pub mod random;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod whatif;
