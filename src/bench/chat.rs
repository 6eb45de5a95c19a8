#[derive(clap::Args)]
pub struct ChatBenchArgs {}
pub async fn run(_a: ChatBenchArgs, _s: crate::config::Settings) -> anyhow::Result<()> {
    todo!()
}
