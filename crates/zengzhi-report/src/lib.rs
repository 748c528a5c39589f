//! # zengzhi-report — charts and the report of a simulation
//!
//! [`model::ReportData`] is what the simulator produces; this crate draws it.

pub mod model;
