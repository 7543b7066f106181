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
