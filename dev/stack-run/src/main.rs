//! `stack-run`: brings up a stack file on this machine as the operator would configure it, and
//! keeps it running until Ctrl-C or SIGTERM (`make stack-run STACK=...`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use operator::render::{self, Values};
use stack_run::program::Images;
use stack_run::{Cluster, Options, state};

/// Run a MicroserviceStack without a cluster.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The stack file: one MicroserviceStack and the Secrets it references.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Namespace of the stack; the file's, or `default`.
    #[arg(short, long)]
    namespace: Option<String>,
    /// Where pods keep their files, logs and volumes (kept between runs).
    #[arg(long, default_value = ".run/stack-run")]
    state_dir: PathBuf,
    /// Directory of the project's binaries (the stand-ins of its images).
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Run an image as a program: `IMAGE=PROGRAM` (repeatable).
    #[arg(long = "image", value_parser = parse_image)]
    images: Vec<(String, PathBuf)>,
    /// Run the project's images as containers (`make images` first) with the container's
    /// exact env, args, mounts, user and a read-only root, instead of as binaries.
    #[arg(long)]
    containers: bool,
    /// The container wrapper used with `--containers`.
    #[arg(long, default_value = "dev/scripts/images/podman.sh")]
    container_wrapper: PathBuf,
}

fn parse_image(value: &str) -> Result<(String, PathBuf), String> {
    value
        .split_once('=')
        .map(|(image, program)| (image.to_owned(), PathBuf::from(program)))
        .ok_or_else(|| format!("expected IMAGE=PROGRAM, got {value:?}"))
}

// The gateway address and the admin login are this program's output.
#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    // Pods run in directories of their own, so every path handed to them must be absolute:
    // a relative state directory (the default) would name another file from a pod's cwd.
    for dir in [&mut args.state_dir, &mut args.bin_dir] {
        *dir = std::path::absolute(&*dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let input = render::parse(&text, args.namespace.as_deref())?;
    let stack_name = input.stack.metadata.name.clone().unwrap_or_default();
    let namespace = input.stack.metadata.namespace.clone().unwrap_or_default();
    let root = args.state_dir.join(&namespace).join(&stack_name);
    let kept = state::load(&root)?;
    let rendered = render::render_keeping(&input, Values::Random, &kept)?;
    state::save(&root, &rendered)?;
    let mut images = Images::new(&args.bin_dir);
    if args.containers {
        let wrapper = std::fs::canonicalize(&args.container_wrapper).with_context(|| {
            format!("no container wrapper {}", args.container_wrapper.display())
        })?;
        images = images.in_containers(wrapper);
    }
    for (image, program) in args.images {
        images = images.with(&image, program);
    }
    let mut options = Options::new(&root, images);
    options.verbose = true;
    eprintln!(
        "[stack-run] starting stack {namespace}/{stack_name} (state in {})",
        root.display()
    );
    // Listen for Ctrl-C and SIGTERM before anything starts: returning from `main` drops every
    // container process (they are killed on drop), however far the start got.
    let mut shutdown = std::pin::pin!(runtime::shutdown::signal());
    let cluster = tokio::select! {
        started = Cluster::start(rendered.clone(), options) => started?,
        () = &mut shutdown => {
            eprintln!("[stack-run] stopped while starting");
            return Ok(());
        }
    };
    for note in cluster.notes() {
        eprintln!("[stack-run] note: {note}");
    }
    println!("Gateway: {}", cluster.gateway_url().unwrap_or_default());
    if let Some((email, password)) = rendered.admin_login() {
        println!("Admin email: {email}");
        println!("Admin password: {password}");
    }
    println!("Press Ctrl-C to stop.");
    shutdown.await;
    eprintln!("[stack-run] stopping");
    cluster.stop().await;
    Ok(())
}
