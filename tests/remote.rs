//! `multigrid serve` and `--remote`: a server on loopback hosts the CPU backend, and the CLI
//! trains on it through Burn's remote backend (the GPU server issue's acceptance, natively).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const TOKEN: &str = "test-token-7f3a";

/// `multigrid serve` on a free loopback port, and the address it printed.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    /// Over WebSocket, on a free port.
    fn start() -> Server {
        Server::with(&["--port", "0"])
    }

    /// Over Iroh, dialled directly (no relays), on a UDP port that was free a moment ago.
    fn iroh() -> Server {
        let port = std::net::UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port().to_string();
        Server::with(&["--transport", "iroh", "--relays", "disabled", "--port", &port])
    }

    /// Over Iroh, through the relay the server runs (`--relays here`: the page's route), on free ports.
    fn relayed() -> Server {
        Server::with(&["--transport", "iroh", "--relays", "here", "--port", "0"])
    }

    fn with(transport: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_multigrid"))
            .args(["serve", "--device", "cpu", "--token", TOKEN])
            .args(transport)
            .env_remove("MULTIGRID_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        // Read the rest as it comes: a closed pipe would fail the server's next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let address = first.trim().rsplit(' ').next().unwrap().replace("@HOST:", "@127.0.0.1:");
        assert!(address.starts_with("ws://127.0.0.1:") || address.starts_with("iroh:"), "serve printed {first:?}");
        Server { child, address }
    }

    /// Stop the server and return what it wrote to standard error.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let mut log = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        log
    }
}

/// A scratch folder, a small image folder in it, and a server.
fn setup(name: &str, server: fn() -> Server) -> (std::path::PathBuf, std::path::PathBuf, Server) {
    let dir = common::tempdir(name);
    let data = dir.join("data");
    common::stripes_folder(&data, 8, 32);
    (dir, data, server())
}

fn train(data: &Path, out: &Path, device: &[&str]) -> Output {
    let mut args = vec!["train", "--data", s(data), "--preset", "tiny", "--iters", "4", "--seed", "3", "--quiet"];
    args.extend(["--out", s(out)]);
    args.extend(device);
    Command::new(env!("CARGO_BIN_EXE_multigrid")).args(&args).env_remove("MULTIGRID_TOKEN").output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every parameter of a checkpoint, in name order.
fn parameters(path: &Path) -> Vec<(String, Vec<f32>)> {
    let learner = multigrid_ebm::checkpoint::load(path, &common::cpu()).unwrap();
    let host = multigrid_ebm::device::block_on(multigrid_ebm::checkpoint::parameters_to_host(&learner)).unwrap();
    host.into_iter().map(|(name, (_, values))| (name, values)).collect()
}

/// Two checkpoints hold the same parameters, to 1e-5.
fn assert_same(local: &Path, remote: &Path) {
    let (a, b) = (parameters(local), parameters(remote));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-5, "{name}: the remote run differs from the local one by {worst}");
    }
}

#[test]
fn training_on_a_served_cpu_gives_the_local_checkpoint_and_a_wrong_token_is_refused() {
    matches_local_and_refuses_a_wrong_token("remote", Server::start, "WebSocket client 127.0.0.1:");
}

/// Over Iroh (encrypted; dialled directly here, without relays), the same.
#[test]
fn over_iroh_a_remote_run_matches_the_local_one_and_a_wrong_token_is_refused() {
    matches_local_and_refuses_a_wrong_token("remote-iroh", Server::iroh, "Iroh client ");
}

/// Through the relay `serve --relays here` runs (`iroh:ID?relay=URL`, as the page connects), the same.
#[test]
fn through_the_servers_own_relay_a_remote_run_matches_the_local_one() {
    matches_local_and_refuses_a_wrong_token("remote-relay", Server::relayed, "Iroh client ");
}

/// A remote run writes the local run's checkpoint and its log; a wrong token is refused, and the
/// server logs it as from `client`; a missing one is bad input.
fn matches_local_and_refuses_a_wrong_token(name: &str, server: fn() -> Server, client: &str) {
    let (dir, data, server) = setup(name, server);

    let local = train(&data, &dir.join("local"), &["--device", "cpu"]);
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let remote = train(&data, &dir.join("remote"), &["--remote", &server.address, "--token", TOKEN]);
    assert!(remote.status.success(), "{}", String::from_utf8_lossy(&remote.stderr));
    assert_same(&dir.join("local/checkpoint.bpk"), &dir.join("remote/checkpoint.bpk"));
    assert_eq!(std::fs::read_to_string(dir.join("remote/log.jsonl")).unwrap().lines().count(), 4);

    let refused = train(&data, &dir.join("refused"), &["--remote", &server.address, "--token", "not-the-token"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("rejected the credential") && !stderr.contains("panicked"), "{stderr}");
    assert!(!dir.join("refused/checkpoint.bpk").exists());
    let missing = train(&data, &dir.join("missing"), &["--remote", &server.address]);
    assert_eq!(missing.status.code(), Some(2), "{}", String::from_utf8_lossy(&missing.stderr));

    let log = server.stop();
    assert!(log.contains(&format!("refused: {client}")) && log.contains("wrong token"), "{log}");
    assert!(log.contains("session opened"), "{log}");
}

/// The server stops mid-run: the CLI ends with a clear error within seconds, and the folder keeps
/// its last saved checkpoint, which loads.
#[test]
fn a_server_killed_mid_run_costs_the_client_nothing_saved() {
    let (dir, data, server) = setup("remote-killed", Server::start);
    let out = dir.join("run");
    let mut client = Command::new(env!("CARGO_BIN_EXE_multigrid"))
        .args(["train", "--data", s(&data), "--preset", "tiny", "--iters", "1000000", "--save-every", "5", "--quiet"])
        .args(["--out", s(&out), "--remote", &server.address, "--token", TOKEN])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let learned = || std::fs::read_to_string(out.join("log.jsonl")).map_or(0, |log| log.lines().count());
    let started = std::time::Instant::now();
    while learned() < 12 {
        assert!(started.elapsed().as_secs() < 120, "the remote run learned {} iterations in 2 minutes", learned());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server.stop();
    let stopped = std::time::Instant::now();
    let status = loop {
        if let Some(status) = client.try_wait().unwrap() {
            break status;
        }
        if stopped.elapsed().as_secs() > 60 {
            client.kill().unwrap();
            panic!("the client still ran 60 s after its server stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    client.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: the remote device at ws://") && !stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("checkpoint.bpk keeps iteration"), "{stderr}");
    let learner = multigrid_ebm::checkpoint::load(&out.join("checkpoint.bpk"), &common::cpu()).unwrap();
    assert!(learner.iteration >= 10 && learner.iteration % 5 == 0, "iteration {}", learner.iteration);
}

/// Garbage on the port, and malformed messages on a WebSocket session before any handshake (from
/// empty to 4 MB, binary and text), neither crash the server nor stop it serving the next client.
#[test]
fn malformed_messages_leave_the_server_serving() {
    use std::io::Write;
    let (dir, data, server) = setup("remote-malformed", Server::start);
    let host = server.address.trim_start_matches("ws://").to_string();

    let mut raw = std::net::TcpStream::connect(&host).unwrap();
    let _ = raw.write_all(&[0xff; 4096]);
    drop(raw);
    for (i, size) in [0usize, 1, 7, 1 << 10, 4 << 20].into_iter().enumerate() {
        let (mut socket, _) = tungstenite::connect(format!("{}/session", server.address)).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
            stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        }
        let bytes = common::pseudo_random(size, i as u64, 0.0, 256.0).into_iter().map(|v| v as u8).collect::<Vec<_>>();
        let _ = socket.send(tungstenite::Message::binary(bytes));
        let _ = socket.send(tungstenite::Message::text("{\"not\": \"a handshake\"}"));
        let _ = socket.read(); // the server's answer or its closing the session
    }

    let after = train(&data, &dir.join("after"), &["--remote", &server.address, "--token", TOKEN]);
    assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));
    let log = server.stop();
    assert!(!log.contains("panicked"), "{log}");
}

/// `serve --page DIR` answers the built page at the relay's address, cross-origin isolated, its
/// index naming the server, beside the relay's latency probe; `--page` needs the relay it serves
/// beside, and a folder with an index.html.
#[test]
fn serve_page_answers_the_page_beside_its_relay() {
    let dir = common::tempdir("remote-page");
    let page = dir.join("dist");
    std::fs::create_dir_all(page.join("pkg")).unwrap();
    std::fs::write(page.join("index.html"), "<html><head><title>t</title></head><body></body></html>").unwrap();
    std::fs::write(page.join("pkg/m.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let server = Server::with(&["--transport", "iroh", "--relays", "here", "--port", "0", "--page", s(&page)]);
    let (id, relay) = server.address.split_once("?relay=").unwrap();
    let host = relay.trim_start_matches("http://").trim_end_matches('/').to_string();
    let get = |path: &str| {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    };
    for path in ["/", "/index.html"] {
        let index = get(path);
        assert!(index.starts_with("HTTP/1.1 200"), "{path}: {index}");
        assert!(index.contains(&format!("<meta name=\"multigrid-serve\" content=\"{id}\">")), "{index}");
        let headers = index.to_ascii_lowercase();
        assert!(headers.contains("cross-origin-embedder-policy: require-corp"), "{index}");
        assert!(headers.contains("cross-origin-opener-policy: same-origin"), "{index}");
    }
    let wasm = get("/pkg/m.wasm");
    assert!(
        wasm.to_ascii_lowercase().contains("content-type: application/wasm") && wasm.ends_with("\0asm\x01\0\0\0"),
        "{wasm}"
    );
    assert!(get("/ping").starts_with("HTTP/1.1 200"));
    assert!(get("/pkg/missing.js").starts_with("HTTP/1.1 404"));
    server.stop();

    let serve = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_multigrid"))
            .args(["serve", "--device", "cpu", "--token", TOKEN])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = serve(&["--port", "0", "--page", s(&page)]);
    assert!(code == Some(2) && stderr.contains("--transport iroh --relays here"), "{stderr}");
    let (code, stderr) = serve(&["--transport", "iroh", "--relays", "here", "--port", "0", "--page", s(&dir)]);
    assert!(code == Some(2) && stderr.contains("no index.html"), "{stderr}");
}
