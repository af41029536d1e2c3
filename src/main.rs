//! `multigrid`: train, sample, score, benchmark and convert multi-grid energy-based models.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

// The CLI is native only; the wasm build of this crate is its library (see src/web.rs).
#[cfg(target_arch = "wasm32")]
fn main() {}
