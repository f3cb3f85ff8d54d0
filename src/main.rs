use clap::Parser;

/// The encoder allocates frame-sized buffers every frame (pictures, search planes, coded
/// data). mimalloc keeps freed memory for reuse where the system allocator often hands it
/// back to the kernel and then takes page faults to get it again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
