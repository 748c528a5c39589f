//! `zengzhi seed`: the seed's worked example (SPEC §9), order by order, to the first exit.

use std::borrow::Cow;
use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use zengzhi_core::command::Command;
use zengzhi_core::num::{format_money, format_points, format_price, parse_money, Fen};
use zengzhi_core::{Engine, Rules};

#[derive(Args)]
pub struct SeedArgs {
    /// Amount of every order, yuan.
    #[arg(long, default_value = "1000")]
    amount: String,
    /// Print every order (by default: the first 10, every 100th, and the exit).
    #[arg(long)]
    all: bool,
    /// Stop after this many orders if nobody has exited yet.
    #[arg(long, default_value_t = 100_000)]
    max_orders: u64,
}

fn apply(engine: &mut Engine, command: Command<'_>) -> Result<zengzhi_core::Applied> {
    engine.apply(&command).map_err(|e| anyhow::anyhow!("{} rejected: {e}", command.op()))
}

pub fn run(args: SeedArgs) -> Result<()> {
    let Some(amount_fen) = parse_money(&args.amount).filter(|&a| a > Fen::ZERO) else {
        bail!("--amount must be a positive amount with at most 2 decimals, got {:?}", args.amount);
    };
    let mut out = std::io::stdout().lock();
    let mut engine = Engine::new(Rules::default());
    apply(
        &mut engine,
        Command::RegisterMerchant {
            merchant: "store1".into(),
            commission_ppm: None,
            owner: None,
            recruiter: None,
            region: None,
        },
    )?;
    writeln!(
        out,
        "消费增值模型演算 — the seed's projection (store commission 20%, each new member buys {})",
        format_money(amount_fen)
    )?;
    writeln!(
        out,
        "{:>7}  {:>16}  {:>14}  {:>18}  {:>12}",
        "订单 order", "铸造 minted", "盈利池 pool", "流通积分 supply", "价格 price"
    )?;
    for n in 1..=args.max_orders {
        let member = format!("u{n}");
        apply(&mut engine, Command::RegisterMember { member: Cow::Owned(member.clone()), referrer: None })?;
        let applied = apply(
            &mut engine,
            Command::Order {
                order: Cow::Owned(format!("o{n}")),
                member: Cow::Owned(member),
                merchant: Some("store1".into()),
                amount_fen,
                commission_fen: None,
                pay_cash_fen: Fen::ZERO,
                pay_coins_fen: Fen::ZERO,
            },
        )?;
        if args.all || n <= 10 || n % 100 == 0 || applied.exits > 0 {
            writeln!(
                out,
                "{n:>7}  {:>16}  {:>14}  {:>18}  {:>12}",
                format_points(applied.minted),
                format_money(engine.pool_fen()),
                format_points(engine.supply_units()),
                format_price(engine.pool_fen(), engine.supply_units())
            )?;
        }
        if applied.exits > 0 {
            let first = engine.member("u1").expect("u1 was registered");
            writeln!(out)?;
            writeln!(
                out,
                "第 {n} 笔订单后 u1 封顶出局：积分被强制卖出，到账 {} 元（消费 {} 元的 {}%），其余留在盈利池推高价格。",
                format_money(first.cash_fen),
                format_money(amount_fen),
                first.cash_fen.to_fen() * 100 / amount_fen.to_fen()
            )?;
            writeln!(
                out,
                "After order {n}, u1 reached the 1.2x cap: its points were force-sold for {} ({}% of the {} it spent); the rest stays in the pool.",
                format_money(first.cash_fen),
                first.cash_fen.to_fen() * 100 / amount_fen.to_fen(),
                format_money(amount_fen)
            )?;
            writeln!(
                out,
                "Members exited so far: {}; still waiting: {}.",
                engine.totals().exits,
                n - engine.totals().exits
            )?;
            return Ok(());
        }
    }
    writeln!(out, "No exit within {} orders.", args.max_orders)?;
    Ok(())
}
