use clap::Parser;

/// ModelPick's backend.
#[derive(Debug, Parser)]
#[command(name = "modelpick", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
