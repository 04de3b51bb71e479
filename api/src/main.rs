use std::process::ExitCode;

fn main() -> ExitCode {
    mailer::memory::bound_allocator_arenas();
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    api::cli::run().await
}
