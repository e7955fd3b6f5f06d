//! `uswim completions SHELL`: a completion script for the shell, generated from the argument definitions.

use clap::Args;
use clap_complete::Shell;

/// Arguments of `uswim completions`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
uswim completions bash > ~/.local/share/bash-completion/completions/uswim\n  \
uswim completions zsh > ~/.zfunc/_uswim      # with fpath+=~/.zfunc in ~/.zshrc\n  \
uswim completions fish > ~/.config/fish/completions/uswim.fish")]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes the completion script of `command` for the chosen shell to stdout.
pub fn run(args: CompletionsArgs, command: &mut clap::Command) -> anyhow::Result<()> {
    let name = command.get_name().to_string();
    clap_complete::generate(args.shell, command, name, &mut std::io::stdout());
    Ok(())
}
