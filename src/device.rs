//! Compute devices and host readback. Burn's CPU backend (flex) runs everywhere; wgpu runs
//! natively on Vulkan/Metal/DX12 and in the browser on WebGPU, where the device must be created
//! and read back asynchronously.

use burn::prelude::*;
use burn::tensor::Transaction;

use crate::Error;

/// Which backend runs the nets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (flex), native and wasm.
    Cpu,
    /// wgpu: the native GPU APIs, or WebGPU in a browser.
    Wgpu,
    /// CUDA (native, behind the `cuda` feature).
    Cuda,
}

impl std::str::FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "cpu" => Ok(BackendKind::Cpu),
            "wgpu" | "webgpu" => Ok(BackendKind::Wgpu),
            "cuda" => Ok(BackendKind::Cuda),
            _ => Err(Error::Device(format!("unknown device '{s}': use cpu, wgpu or cuda"))),
        }
    }
}

/// The CPU device (always available).
pub fn cpu() -> Device {
    Device::flex()
}

/// Create a device of the given kind (natively). The GPU kinds fail with a readable message
/// when no adapter is found or when the build lacks the backend.
#[cfg(not(target_arch = "wasm32"))]
pub fn create(kind: BackendKind) -> Result<Device, Error> {
    match kind {
        BackendKind::Cpu => Ok(cpu()),
        BackendKind::Wgpu => Device::wgpu_options()
            .init()
            .map_err(|e| Error::Device(format!("no usable wgpu adapter ({e}); use --device cpu"))),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => Ok(Device::cuda(0)),
        #[cfg(not(feature = "cuda"))]
        BackendKind::Cuda => Err(Error::Device(
            "this build has no CUDA backend: rebuild with `cargo build --release --features cuda`".into(),
        )),
    }
}

/// The device 0 of the `multigrid serve` server at `url`, reached with its token through Burn's
/// remote backend: tensor operations run there, and only what is read comes back. `url` is
/// `ws://host:port` (WebSocket), `iroh:ID` (Iroh, found through n0's public relays),
/// `iroh:ID@host:port` (Iroh, dialled directly) or `iroh:ID?relay=URL` (Iroh, through the relay a
/// `multigrid serve --relays here` runs, or any other). Fails with the reason (unreachable, wrong
/// token) before anything runs.
#[cfg(not(target_arch = "wasm32"))]
pub fn remote(url: &str, token: &str) -> Result<Device, Error> {
    let host = remote_host(url, token)?;
    batch_remote_operations();
    Device::remote_options(&host).init().map_err(|e| Error::Device(format!("the remote device at {url}: {e}")))
}

/// [`remote`] for the browser, where connecting is asynchronous and only Iroh reaches a server
/// (through a relay: `iroh:ID` or `iroh:ID?relay=URL`).
#[cfg(all(target_arch = "wasm32", feature = "browser-remote"))]
pub async fn remote(url: &str, token: &str) -> Result<Device, Error> {
    let host = remote_host(url, token)?;
    batch_remote_operations();
    Device::remote_options(&host)
        .init_async()
        .await
        .map_err(|e| Error::Device(format!("the remote device at {url}: {e}")))
}

/// The server that a `--remote` address names, with the token.
#[cfg(any(not(target_arch = "wasm32"), feature = "browser-remote"))]
fn remote_host(url: &str, token: &str) -> Result<burn::tensor::remote::RemoteHost, Error> {
    use burn::tensor::remote::RemoteHost;
    if token.trim().is_empty() {
        return Err(Error::Config(format!(
            "the remote device at {url} needs the token `multigrid serve` printed (--token or MULTIGRID_TOKEN)"
        )));
    }
    #[cfg(not(target_arch = "wasm32"))]
    if url.starts_with("ws://") {
        return Ok(RemoteHost::websocket(url).with_credential(token));
    }
    let Some(server) = url.strip_prefix("iroh:") else {
        #[cfg(not(target_arch = "wasm32"))]
        let forms = "ws://host:port, iroh:SERVER_ID, iroh:SERVER_ID@host:port or iroh:SERVER_ID?relay=URL";
        #[cfg(target_arch = "wasm32")]
        let forms = "iroh:SERVER_ID or iroh:SERVER_ID?relay=URL (a page reaches a server through an Iroh relay)";
        return Err(Error::Config(format!("remote address {url}: give {forms}")));
    };
    Ok(RemoteHost::iroh(iroh_host(url, server)?).with_credential(token))
}

/// The Iroh server `server` of the address `url`: `ID` (found through the public relays),
/// `ID?relay=URL` (through that relay) or, natively, `ID@host:port` (dialled directly at every
/// address the host name resolves to).
#[cfg(any(not(target_arch = "wasm32"), feature = "browser-remote"))]
fn iroh_host(url: &str, server: &str) -> Result<burn::tensor::remote::IrohHost, Error> {
    use burn::tensor::remote::{EndpointId, IrohHost, IrohRelays};
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::Config(format!("remote address {url}: {what}: {e}"));
    if let Some((id, relay)) = server.split_once("?relay=") {
        let id: EndpointId = id.parse().map_err(|e| bad("the server id", &e))?;
        let relays: IrohRelays = relay.parse().map_err(|e| bad("the relay", &e))?;
        return Ok(IrohHost::new(id).with_relays(relays));
    }
    #[cfg(not(target_arch = "wasm32"))]
    if let Some((id, address)) = server.split_once('@') {
        use std::net::ToSocketAddrs;
        let id: EndpointId = id.parse().map_err(|e| bad("the server id", &e))?;
        let addresses = address.to_socket_addrs().map_err(|e| bad(&format!("the address {address}"), &e))?;
        return Ok(addresses.fold(IrohHost::new(id).with_relays(IrohRelays::Disabled), IrohHost::with_address));
    }
    Ok(IrohHost::new(server.parse::<EndpointId>().map_err(|e| bad("the server id", &e))?))
}

/// Let the remote client send its operations when it must (at a read, a sync or an upload) rather
/// than every 4 of them, Burn's default: a Langevin step is then a few messages, not dozens
/// (reports/remote.md). A `[remote] flush_threshold` other than Burn's default, from a
/// `burn.toml`, is kept, as is a configuration Burn has already read; Burn's environment
/// overrides apply as when Burn loads the configuration itself. (The browser has no
/// configuration file: it starts from Burn's defaults.)
#[cfg(any(not(target_arch = "wasm32"), feature = "browser-remote"))]
fn batch_remote_operations() {
    use burn::BurnConfig;
    use burn_std::config::RuntimeConfig;
    #[cfg(not(target_arch = "wasm32"))]
    let config = BurnConfig::from_current_dir().override_from_env();
    #[cfg(target_arch = "wasm32")]
    let config = BurnConfig::default();
    let mut config = serde_json::to_value(config).unwrap_or_default();
    if config["remote"]["flush_threshold"] == serde_json::json!(4) {
        config["remote"]["flush_threshold"] = serde_json::json!(1 << 20);
        if let Ok(config) = serde_json::from_value::<BurnConfig>(config) {
            BurnConfig::try_set(config);
        }
    }
}

/// The browser's WebGPU device, created on first use and shared afterwards (Burn's runtime can be
/// initialised once per page). Call only after JavaScript found an adapter.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub async fn webgpu() -> Result<Device, Error> {
    use burn::tensor::wgpu::WgpuBackend;
    thread_local! {
        static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(device) = WEBGPU.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    let device = Device::wgpu_options()
        .graphics_api(WgpuBackend::WebGpu)
        .init_async()
        .await
        .map_err(|e| Error::Device(format!("WebGPU could not be initialised: {e}")))?;
    WEBGPU.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// The threaded browser build has no WebGPU (see Cargo.toml): the page uses the other build for it.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub async fn webgpu() -> Result<Device, Error> {
    Err(Error::Device(
        "this is the threaded CPU build, which has no WebGPU; load the single-threaded build for WebGPU".into(),
    ))
}

/// Read tensors back to the host in one transaction (asynchronous, as WebGPU requires).
pub async fn read_all<const D: usize>(tensors: Vec<Tensor<D>>) -> Result<Vec<Vec<f32>>, Error> {
    let mut transaction = Transaction::default();
    for t in tensors {
        transaction = transaction.register(t);
    }
    let data = transaction
        .execute_async()
        .await
        .map_err(|e| Error::Device(format!("reading tensors back from the device failed: {e:?}")))?;
    data.into_iter()
        .map(|d| d.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Device(format!("tensor readback: {e:?}"))))
        .collect()
}

/// Read one tensor back to the host.
pub async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, Error> {
    Ok(read_all(vec![tensor]).await?.remove(0))
}

/// Run a future to completion on native targets (the CLI and tests are synchronous) and in the
/// threaded browser build (which runs only the CPU backend, whose reads are ready at once).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    futures_lite::future::block_on(future)
}

/// Run `work` on one of the CPU backend's threads (rayon's global pool) and wait for it. The
/// caller (the CLI's main thread, the page's worker) is not one of them: work left there would
/// hand every parallel operation to the pool and sleep until it was done, two wake-ups across
/// threads per operation. On a pool thread the sequential parts run where the parallel ones
/// start. While `work` runs, the pool's other threads stay awake ([`keep_awake`]), so that the
/// short sequential stretches between convolutions do not put them to sleep. What each of the
/// two gains: reports/bench-history.md, *Threads in the browser*.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
pub fn on_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    use std::sync::atomic::AtomicBool;
    let done = &AtomicBool::new(false);
    rayon::scope(|scope| {
        let owner = rayon::current_thread_index();
        scope.spawn_broadcast(move |_, thread| {
            if Some(thread.index()) != owner {
                keep_awake(done);
            }
        });
        // Set when `work` returns or panics: the scope waits for every thread to see it.
        let _done = SetOnDrop(done);
        work()
    })
}

/// Keep a pool thread taking the pool's tasks until `done`, spinning between them instead of
/// sleeping (rayon puts an idle thread to sleep after a few microseconds of looking for work).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
fn keep_awake(done: &std::sync::atomic::AtomicBool) {
    while !done.load(std::sync::atomic::Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
}

/// Run `work` to completion on the CPU backend's thread pool ([`on_pool`]) where there is one
/// (native, and the threaded browser build), and in place in the single-threaded browser build.
/// Learning, sampling and recovery go through here.
pub async fn pooled<T: Send, F: Future<Output = T>>(work: impl FnOnce() -> F + Send) -> T {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    return on_pool(|| block_on(work()));
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    work().await
}

/// Sets its flag when dropped, on return or unwinding.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
struct SetOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Upload host images [n, 3, s, s] (pixels in [0, 255]) to a device.
pub fn images_tensor(values: Vec<f32>, n: usize, size: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, [n, 3, size, size]), device)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::on_pool;
    use rayon::prelude::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    #[test]
    fn on_pool_returns_the_work_and_its_parallel_parts_run() {
        for threads in [1, 2, 4] {
            let sum = pool(threads).install(|| on_pool(|| (0..100_000u64).into_par_iter().map(|i| i * i).sum::<u64>()));
            assert_eq!(sum, (0..100_000u64).map(|i| i * i).sum::<u64>(), "{threads} threads");
            // Called again, and nested: the threads kept awake by the first call were let go.
            let nested = pool(threads).install(|| on_pool(|| on_pool(|| rayon::join(|| 1, || 2))));
            assert_eq!(nested, (1, 2));
        }
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller_instead_of_hanging() {
        // The threads kept awake stop on unwinding too, or the scope would wait for them forever.
        let pool = pool(2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| on_pool(|| -> u32 { panic!("diverged") }))
        }));
        assert!(caught.is_err());
        assert_eq!(pool.install(|| on_pool(|| 7)), 7, "the pool still works afterwards");
    }
}
