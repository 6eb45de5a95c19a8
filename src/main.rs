use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    xiaoer::cli::run(xiaoer::cli::Cli::parse()).await
}
