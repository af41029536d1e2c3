//! `multigrid`: train, sample, score, benchmark and convert multi-grid energy-based models.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// Let glibc's allocator keep freed tensor memory for reuse. By default it hands every block
/// over a few MB back to the kernel when it is freed, so each Langevin step's activations and
/// gradients (up to 26 MB each at grid 64, batch 100) are page-faulted and zeroed afresh: about
/// 13% of a batch-norm Langevin step went to page faults and TLB flushes. Blocks up to 32 MB
/// (glibc's ceiling for this threshold) now come from the heap, and the heap is not trimmed, so
/// the resident set stays at its peak instead of rising and falling every step.
#[cfg(not(target_arch = "wasm32"))]
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists. A refused setting (return value 0) leaves glibc's default, which is only slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

// The CLI is native only; the wasm build of this crate is its library (see src/web.rs).
#[cfg(target_arch = "wasm32")]
fn main() {}
