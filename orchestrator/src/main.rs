//! The `genoprot` binary: parses the command line, sets up logging, and hands
//! off to the library. Errors leave here as one clear message and exit code 1.

use clap::Parser;
use genoprot::cli::Cli;

fn main() {
    genoprot::output::default_sigpipe();
    let cli = Cli::parse();
    genoprot::logging::init(cli.verbose, cli.quiet);
    let json = cli.json;
    if let Err(e) = genoprot::cli::run(cli) {
        if json {
            // A stdout that cannot be written gets nothing more.
            let _ = genoprot::output::stdout(&format!("{}\n", genoprot::output::error_json(&e)));
        }
        genoprot::output::stderr_line(&format!("error: {e:#}"));
        std::process::exit(1);
    }
}
