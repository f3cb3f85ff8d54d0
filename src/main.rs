use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = salsify::cli::Cli::parse();
    match salsify::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("salsify: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
