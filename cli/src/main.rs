//! The `auroradb` command: see the `auroradb_cli` crate.

fn main() {
    let code = auroradb_cli::run(std::env::args_os(), &mut std::io::stdout().lock(), &mut std::io::stderr());
    std::process::exit(code);
}
