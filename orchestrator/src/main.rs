//! The `genoprot` binary: parses the command line, sets up logging, and hands
//! off to the library. Errors leave here as one clear message and exit code 1.

use clap::Parser;
use genoprot::cli::Cli;

fn main() {
    let cli = Cli::parse();
    genoprot::logging::init(cli.verbose, cli.quiet);
    if let Err(e) = genoprot::cli::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
