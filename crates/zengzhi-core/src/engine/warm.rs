//! Batches: the memory a batch of commands will touch is read first, in stages.

use super::{Applied, Engine, NONE};
use crate::cascade::HOT;
use crate::command::Command;
use crate::error::Rejection;

/// Commands warmed together by [`Engine::apply_batch`]: enough for the cache misses of many
/// commands to be in flight at once, few enough that the warmed lines stay in L2.
const WARM_BATCH: usize = 64;

impl Engine {
    /// Applies commands in order, as [`apply`](Self::apply) does one by one, pushing one result
    /// per command to `results`. Faster than a loop of `apply`: the memory the commands will
    /// touch (ids, buyers, their referrers, recruiters, the exit index) is read for the whole
    /// batch first, in stages, so the cache misses of different commands overlap instead of
    /// waiting one after another. The results are exactly those of applying one by one.
    pub fn apply_batch(&mut self, commands: &[Command<'_>], results: &mut Vec<Result<Applied, Rejection>>) {
        self.apply_batch_at(commands, &[], results);
    }

    /// [`apply_batch`](Self::apply_batch) with each command's `at` time, as
    /// [`apply_at`](Self::apply_at) takes it: `ats[k]` is the time of `commands[k]` (commands
    /// past the end of `ats` have none).
    pub fn apply_batch_at(
        &mut self,
        commands: &[Command<'_>],
        ats: &[Option<&str>],
        results: &mut Vec<Result<Applied, Rejection>>,
    ) {
        for (k, chunk) in commands.chunks(WARM_BATCH).enumerate() {
            std::hint::black_box(self.warm(chunk));
            let base = k * WARM_BATCH;
            results
                .extend(chunk.iter().enumerate().map(|(j, c)| self.apply_at(c, ats.get(base + j).copied().flatten())));
        }
    }

    /// Reads, stage by stage, the memory `commands` are likely to touch, and returns a value
    /// made from it (so the reads are not optimised away). Changes nothing: a command that
    /// refers to something an earlier command of the batch creates is simply not warmed.
    fn warm(&self, commands: &[Command<'_>]) -> u64 {
        let n = commands.len().min(WARM_BATCH);
        let mut acc = 0u64;
        // A record spans two cache lines when it is not aligned to one: read both ends.
        let touch = |i: u32| -> u64 {
            let m = &self.members[i as usize];
            m.points.to_units() as u64
                ^ m.rewards_fen.to_fen() as u64
                ^ u64::from(m.place_pos)
                ^ u64::from(m.agent_levels)
        };
        // Stage 1: id tables (each lookup independent of the others).
        let mut buyer = [NONE; WARM_BATCH];
        let mut recruiter = [NONE; WARM_BATCH];
        for (k, command) in commands[..n].iter().enumerate() {
            match command {
                Command::Order { order, member, merchant, .. } => {
                    acc ^= u64::from(self.order_ids.contains_hashed(self.order_ids.hash(order), order));
                    buyer[k] = self.member_ids.get(member).unwrap_or(NONE);
                    if let Some(s) = merchant.as_deref().and_then(|id| self.merchant_ids.get(id)) {
                        recruiter[k] = self.merchants[s as usize].recruiter;
                    }
                }
                Command::Sell { member, .. } | Command::Redeem { member, .. } | Command::Withdraw { member, .. } => {
                    buyer[k] = self.member_ids.get(member).unwrap_or(NONE);
                }
                _ => {}
            }
        }
        // Stage 2: the members themselves, and the recruiters.
        let mut direct = [NONE; WARM_BATCH];
        let mut tail = [NONE; WARM_BATCH];
        for k in 0..n {
            if buyer[k] != NONE {
                acc ^= touch(buyer[k]);
                let m = &self.members[buyer[k] as usize];
                direct[k] = m.referrer;
                if m.place < HOT {
                    tail[k] = self.index.cold_tail(m.place, m.place_pos).unwrap_or(NONE);
                }
            }
            if recruiter[k] != NONE {
                acc ^= touch(recruiter[k]);
            }
        }
        // Stage 3: direct referrers and the members a re-key will move.
        let mut indirect = [NONE; WARM_BATCH];
        for k in 0..n {
            if direct[k] != NONE {
                acc ^= touch(direct[k]);
                indirect[k] = self.members[direct[k] as usize].referrer;
            }
            if tail[k] != NONE {
                acc ^= touch(tail[k]);
            }
        }
        // Stage 4: indirect referrers.
        for &i in indirect[..n].iter().filter(|&&i| i != NONE) {
            acc ^= touch(i);
        }
        acc
    }
}
