//! The `hearth` binary under another name, so that this crate's tests get
//! `CARGO_BIN_EXE_hearth-under-test` from the same build as themselves.

fn main() -> std::process::ExitCode {
    hearth_cli::main()
}
