use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mailer::memory::Allocator = mailer::memory::Allocator;

#[tokio::main]
async fn main() -> ExitCode {
    api::cli::run().await
}
