//! `git-authenticate`: authenticate a channel's history from the command
//! line. Everything it decides comes from the `git_authenticate` library;
//! this binary only reads arguments and configuration and prints results.

mod cli;

fn main() -> std::process::ExitCode {
    // Before any other thread exists, as the function asks.
    git_authenticate::tune_libgit2();
    cli::run()
}
