//! # zengzhi-core — the consumption-appreciation points engine
//!
//! The exact, deterministic state machine of SPEC: members buy, part of each commission fills a
//! profit pool, buyers get points priced at pool ÷ supply, members sell at a retention discount,
//! and a capped exit force-sells a member's points. No clock, no I/O, no floating point.
//!
//! - [`num`]: money ([`num::Fen`]), points ([`num::Units`], 10^-8 point) and rates ([`num::Ppm`]):
//!   newtypes with checked sums and the rounding direction in every method's name; strict
//!   parsing, exact formatting.
//! - [`rules`]: the rules, TOML loading, validation and the compliance lint.
//! - [`command`]: commands and their strict reading from JSON lines.
//! - [`engine`]: the state machine, with O(1) sums over members ([`engine::Aggregates`]) and
//!   cheap invariants asserted after every accepted command; [`cascade`]: the exit index.
//! - [`invariants`]: the checks of SPEC §7; [`state`]: the state JSON; [`replay`]: the driver.
//!
//! ```
//! use zengzhi_core::{command::parse_line, engine::Engine, rules::Rules, num::format_price};
//!
//! let mut engine = Engine::new(Rules::default());
//! for line in [
//!     r#"{"op":"register_merchant","merchant":"store1"}"#,
//!     r#"{"op":"register_member","member":"u1"}"#,
//!     r#"{"op":"order","order":"o1","member":"u1","amount":"1000","merchant":"store1"}"#,
//! ] {
//!     let parsed = parse_line(line.as_bytes()).unwrap();
//!     engine.apply(&parsed.command).unwrap();
//! }
//! // The seed's first row: pool 160, supply 112, price 1.42857142.
//! assert_eq!(format_price(engine.pool_fen(), engine.supply_units()), "1.42857142");
//! ```

pub mod cascade;
pub mod command;
pub mod engine;
pub mod error;
pub mod ids;
pub mod invariants;
pub mod json;
pub mod num;
pub mod replay;
pub mod rules;
pub mod snapshot;
pub mod state;
pub mod workload;

pub use command::{parse_line, Command};
pub use engine::{Applied, CascadeMode, Engine};
pub use error::Rejection;
pub use rules::Rules;
