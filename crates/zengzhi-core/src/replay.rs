//! Replay of a JSON Lines command file (SPEC §8).

use crate::command::parse_line;
use crate::engine::Engine;
use crate::error::Rejection;
use crate::invariants::{Checker, Violation};

/// Splits input into lines per SPEC §10: lines end at `\n`, and a final newline does not start
/// another line. (A trailing `\r` is dropped by the command reader.)
pub fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    let empty = input.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

/// The outcome of a replay.
pub struct Replayed {
    pub engine: Engine,
    /// One per input line.
    pub results: Vec<Result<(), Rejection>>,
}

/// An invariant broken after a line (1-based).
#[derive(Debug)]
pub struct BrokenAt {
    pub line: usize,
    pub violation: Violation,
}

/// Runs every line of `input` through `engine`. With `check`, every invariant is checked after
/// every line and the first violation stops the run. `progress` is called with the bytes
/// consumed so far every 65,536 lines.
pub fn replay(
    mut engine: Engine,
    input: &[u8],
    check: bool,
    mut progress: impl FnMut(usize),
) -> Result<Replayed, Box<BrokenAt>> {
    let mut results = Vec::new();
    let mut checker = Checker::new();
    if check {
        checker.check(&engine).map_err(|violation| Box::new(BrokenAt { line: 0, violation }))?;
    }
    let base = input.as_ptr() as usize;
    for (n, line) in lines(input).enumerate() {
        let result = parse_line(line).and_then(|p| engine.apply_at(&p.command, p.at.as_deref())).map(|_| ());
        results.push(result);
        if check {
            checker.check(&engine).map_err(|violation| Box::new(BrokenAt { line: n + 1, violation }))?;
        }
        if n % 65_536 == 65_535 {
            progress(line.as_ptr() as usize - base);
        }
    }
    progress(input.len());
    Ok(Replayed { engine, results })
}
