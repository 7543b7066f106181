//! The `leadgate` binary for command-line tests, started from an environment without any `LEADGATE_`
//! variable: a developer's own `LEADGATE_DATABASE__URL` or secret never leaks into a test, and each test sets
//! exactly the variables it is about.

/// The binary as a plain command (for a server spawned in the background), without `LEADGATE_*` variables.
pub fn leadgate_process() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate"));
    for (key, _) in std::env::vars_os() {
        // The configuration reads its overrides without regard to case.
        if key
            .to_string_lossy()
            .to_ascii_uppercase()
            .starts_with("LEADGATE_")
        {
            command.env_remove(key);
        }
    }
    command
}

/// The binary as an `assert_cmd` command, without `LEADGATE_*` variables.
pub fn leadgate() -> assert_cmd::Command {
    assert_cmd::Command::from_std(leadgate_process())
}

/// Runs `command` to its end and returns what it wrote, without blocking the test's runtime. A server the
/// test started runs on that runtime (one thread under `#[tokio::test]`): blocked while the command runs, it
/// would hold whatever it had begun, a SQLite write transaction included, and the command would wait for the
/// database until its busy timeout ran out ("database is locked").
pub async fn output(command: std::process::Command) -> std::process::Output {
    tokio::process::Command::from(command)
        .output()
        .await
        .expect("leadgate starts")
}
