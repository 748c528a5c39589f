//! `zengzhi users`: the operator accounts (后台账号) of a store. Passwords are read from
//! standard input only (one line), never from the command line, and stored as Argon2id hashes.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use zengzhi_server::accounts::{self, Role};

#[derive(Subcommand)]
pub enum UsersCmd {
    /// Create a user: `users add NAME --role superadmin|operator|finance|auditor --password-stdin`.
    Add(AddArgs),
    /// List the users (name, role, disabled, created).
    List(ListArgs),
    /// Disable a user: its sessions end at once and it cannot sign in.
    Disable(NameArgs),
    /// Set a user's password (`--password-stdin`); its sessions end.
    Passwd(PasswdArgs),
}

#[derive(Args)]
pub struct AddArgs {
    name: String,
    /// superadmin, operator, finance or auditor.
    #[arg(long)]
    role: String,
    /// Read the password (one line, at least 10 characters) from standard input.
    #[arg(long, required = true)]
    password_stdin: bool,
    #[command(flatten)]
    store: crate::store::StoreArgs,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: crate::store::StoreArgs,
}

#[derive(Args)]
pub struct NameArgs {
    name: String,
    #[command(flatten)]
    store: crate::store::StoreArgs,
}

#[derive(Args)]
pub struct PasswdArgs {
    name: String,
    /// Read the new password (one line) from standard input.
    #[arg(long, required = true)]
    password_stdin: bool,
    #[command(flatten)]
    store: crate::store::StoreArgs,
}

/// One line of standard input, without its line ending, hashed.
fn password_hash_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    accounts::hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn run(cmd: UsersCmd) -> Result<ExitCode> {
    match cmd {
        UsersCmd::Add(args) => {
            accounts::check_name(&args.name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let role = Role::parse(&args.role).with_context(|| {
                format!("--role must be superadmin, operator, finance or auditor, not {:?}", args.role)
            })?;
            let password_hash = password_hash_from_stdin()?;
            let mut store = args.store.open_service()?;
            let user = zengzhi_server::store::User {
                name: args.name.clone(),
                role: role.as_str().into(),
                password_hash,
                disabled: false,
                created_at: zengzhi_journal::time_fmt::now_rfc3339(),
            };
            if !store.user_insert(&user)? {
                bail!("user {} already exists / 该用户名已存在", args.name);
            }
            let change =
                crate::serve::Change { target: format!("user:{}", args.name), before: None, after: role.as_str() };
            store.audit(&crate::serve::cli_audit("users_create", format!("role {}", role.as_str()), Some(change)))?;
            eprintln!("已创建 created user {} ({})", args.name, role.as_str());
            Ok(ExitCode::SUCCESS)
        }
        UsersCmd::List(args) => {
            let mut store = args.store.open_service()?;
            for u in store.users()? {
                let state = if u.disabled { "disabled" } else { "active" };
                out!("{}\t{}\t{state}\t{}", u.name, u.role, u.created_at);
            }
            Ok(ExitCode::SUCCESS)
        }
        UsersCmd::Disable(args) => {
            let mut store = args.store.open_service()?;
            if !store.user_set_disabled(&args.name, true)? {
                bail!("no user {} / 没有这个账号", args.name);
            }
            let change =
                crate::serve::Change { target: format!("user:{}", args.name), before: None, after: "disabled" };
            store.audit(&crate::serve::cli_audit("users_disable", String::new(), Some(change)))?;
            eprintln!("已停用 disabled user {}; its sessions have ended", args.name);
            Ok(ExitCode::SUCCESS)
        }
        UsersCmd::Passwd(args) => {
            let password_hash = password_hash_from_stdin()?;
            let mut store = args.store.open_service()?;
            if !store.user_set_password(&args.name, &password_hash)? {
                bail!("no user {} / 没有这个账号", args.name);
            }
            let change =
                crate::serve::Change { target: format!("user:{}", args.name), before: None, after: "new password" };
            store.audit(&crate::serve::cli_audit("users_passwd", String::new(), Some(change)))?;
            eprintln!("已修改 password changed for {}; its sessions have ended", args.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}
