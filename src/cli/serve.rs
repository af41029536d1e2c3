//! `multigrid serve`: host this machine's device for `--remote` runs on other machines, through
//! Burn's remote backend, over WebSocket (plain, for a trusted network) or Iroh (authenticated and
//! encrypted). The client keeps the model's state, checkpoints and logs; the server runs the
//! tensor operations and sends back only what the client reads.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use burn::server::{
    AuthorizationRequest, IrohIdentity, IrohRelays, IrohTransport, PeerAuthorizer, RemoteServer, TokenAuthorizer,
    Transport, WebSocketTransport,
};
use multigrid_ebm::Error;
use multigrid_ebm::device::BackendKind;

#[derive(clap::Args)]
pub struct Args {
    /// The device to host: wgpu (Vulkan/Metal/DX12), cuda (needs `--features cuda`) or cpu.
    #[arg(long, default_value = "wgpu")]
    device: String,
    /// websocket (plain: for this machine or a trusted network) or iroh (authenticated and
    /// encrypted, across any network; clients dial the server's printed id).
    #[arg(long, default_value = "websocket", value_parser = ["websocket", "iroh"])]
    transport: String,
    /// The address WebSocket listens on: this machine only unless told otherwise (0.0.0.0 for
    /// every interface; see the README on what WebSocket exposes). Iroh listens on every interface.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The port to listen on, TCP for WebSocket and UDP for Iroh (0: any free port).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Iroh: how clients reach the server: public (n0's relays; found by its id alone), here (a
    /// relay in this process, on --bind and the --port's TCP twin: for a network without the
    /// internet, and for the page, which reaches a server only through a relay), disabled (direct
    /// connections only: clients add the address, `iroh:ID@host:port`) or a relay's URL.
    #[arg(long, default_value = "public")]
    relays: String,
    /// Iroh: the server's key, read from this file or created there, so that its id stays the same
    /// across restarts (default: a new id at every start).
    #[arg(long)]
    identity: Option<PathBuf>,
    /// The token every client must present. Without it (or MULTIGRID_TOKEN) one is generated and
    /// printed.
    #[arg(long, env = "MULTIGRID_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve the built page (the dist/ folder `npm run build` writes) at the relay's address too: a
    /// browser that opens it there finds this server named in its Remote GPU form, and reaches it
    /// from the same origin (needs --transport iroh --relays here).
    #[arg(long, value_name = "DIR")]
    page: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), Error> {
    let relay_here = args.transport == "iroh" && args.relays == "here";
    if args.page.is_some() && !relay_here {
        return Err(Error::Config(
            "--page serves the page beside the relay that browsers reach the server through: add --transport iroh --relays here".into(),
        ));
    }
    let page = args.page.as_deref().map(read_page).transpose()?;
    let device = multigrid_ebm::device::create(args.device.parse::<BackendKind>()?)?;
    let token = match args.token.clone() {
        Some(token) if token.trim().is_empty() => return Err(Error::Config("--token must not be empty".into())),
        Some(token) => token,
        None => new_token()?,
    };
    // The relay of `--relays here` is bound first (clients are given its URL) and runs for as long
    // as the server serves.
    let relay = relay_here.then(|| Relay::bind(&args)).transpose()?;
    let relays = relay.as_ref().map_or(args.relays.clone(), |relay| relay.url.clone());
    let Listening { transport, address, note, server } =
        if args.transport == "iroh" { iroh(&args, &relays)? } else { websocket(&args)? };
    let _relay = relay.map(|relay| relay.serve(routes(page, &server)));
    let authorizer = Logged(TokenAuthorizer::new(token.as_str()).map_err(|e| Error::Config(e.to_string()))?);
    // The first line is the address, for scripts that start a server on port 0.
    println!("multigrid serve: listening on {address}");
    println!("hosting device 0: {device:?}");
    if let Some(note) = note {
        println!("{note}");
    }
    println!("clients connect with: --remote {address} and the token {token} (or MULTIGRID_TOKEN)");
    if args.page.is_some() {
        println!("the page: {relays}/ (give it the token under Remote GPU)");
    }
    println!("stop with Ctrl+C");
    std::io::stdout().flush().map_err(|e| Error::io("writing to standard output", e))?;
    RemoteServer::new([device])
        .with_authorizer(authorizer)
        .serve(transport)
        .map_err(|e| Error::Device(format!("serving on {address}: {e}")))
}

/// What a server listens with: its transport, the address clients dial (and a note on it), and
/// the server's own name: with Iroh its id (`iroh:ID`, which the page's index carries), with
/// WebSocket its address.
struct Listening {
    transport: Transport,
    address: String,
    note: Option<&'static str>,
    server: String,
}

/// The WebSocket listener, bound now so that port 0 can be read back, and its address.
fn websocket(args: &Args) -> Result<Listening, Error> {
    let address = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(address).map_err(|e| Error::io(format!("listening on {address}"), e))?;
    let address = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;
    let note = (!args.bind.is_loopback()).then_some(
        "warning: WebSocket is unencrypted; across a network you do not trust, use --transport iroh or an SSH tunnel",
    );
    let address = format!("ws://{address}");
    Ok(Listening {
        transport: WebSocketTransport::from_listener(listener).into(),
        server: address.clone(),
        address,
        note,
    })
}

/// The relay of `--relays here`: an Iroh relay on `--bind`, at the TCP port of `--port` (any free one
/// for 0), on a runtime of its own. It speaks plain HTTP and WebSocket (Iroh encrypts end to end
/// through it). iroh-relay's `RelayService` is served here rather than its ready-made server, so
/// that the relay's address can also serve the page (`--page`).
struct Relay {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    url: String,
}

impl Relay {
    fn bind(args: &Args) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the relay's runtime", e))?;
        let at = SocketAddr::new(args.bind, args.port);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(at))
            .map_err(|e| Error::io(format!("starting the relay on {at}"), e))?;
        let bound = listener.local_addr().map_err(|e| Error::io("reading the relay's address", e))?;
        Ok(Relay { runtime, listener, url: format!("http://{bound}") })
    }

    /// Answer connections from now on: the relay's WebSocket (`/relay`) and `routes`. The relay
    /// stops when the returned runtime is dropped.
    fn serve(self, routes: Handlers) -> tokio::runtime::Runtime {
        use iroh_relay::KeyCache;
        use iroh_relay::server::http_server::RelayService;
        use iroh_relay::server::{AllowAll, Metrics};
        // As iroh-relay's own server: 1,024 cached client keys, no rate limit, and connections that
        // have not become a relay session (or finished their page downloads) after a while closed.
        const ESTABLISH: Duration = Duration::from_secs(60);
        let service = RelayService::new(
            routes,
            Default::default(),
            None,
            KeyCache::new(1024),
            Arc::new(AllowAll),
            Arc::new(Metrics::default()),
        );
        let listener = self.listener;
        self.runtime.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(service.clone().handle_connection(stream, None, ESTABLISH));
                    }
                    // Out of file descriptors, say: wait, and go on serving the sessions open.
                    Err(e) => {
                        eprintln!("relay: accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        self.runtime
    }
}

type Handlers = iroh_relay::server::http_server::Handlers;
type Response = hyper::Response<iroh_relay::server::http_server::BytesBody>;

/// What the relay answers besides its WebSocket: the latency probe that Iroh clients time
/// (`/ping`, answered as iroh-relay's own server does) and, with `--page`, each of the page's files
/// at its path, with `/` its index.html. The index names the server (`iroh:ID`) in a
/// `<meta name="multigrid-serve">`, which the page offers in its Remote GPU form with the relay at
/// its own origin.
fn routes(page: Option<Vec<(String, Vec<u8>)>>, server: &str) -> Handlers {
    use hyper::Method;
    let mut routes = Handlers::default();
    routes.insert(
        (Method::GET, "/ping"),
        Box::new(|_, response: hyper::http::response::Builder| {
            response.header("Access-Control-Allow-Origin", "*").body(body(Vec::new())).map_err(Into::into)
        }),
    );
    for (path, bytes) in page.into_iter().flatten() {
        let index = path == "index.html";
        let bytes = hyper::body::Bytes::from(match index {
            true => String::from_utf8_lossy(&bytes)
                .replacen("</head>", &format!("<meta name=\"multigrid-serve\" content=\"{server}\">\n</head>"), 1)
                .into_bytes(),
            false => bytes,
        });
        let content_type = content_type(&path);
        let serve = move |_, response: hyper::http::response::Builder| -> Result<Response, _> {
            // The page's wasm threads need cross-origin isolation; the server's id changes at
            // restart, so the browser asks again each time.
            response
                .header("Content-Type", content_type)
                .header("Cross-Origin-Opener-Policy", "same-origin")
                .header("Cross-Origin-Embedder-Policy", "require-corp")
                .header("Cross-Origin-Resource-Policy", "same-origin")
                .header("Cache-Control", "no-cache")
                .body(body(bytes.clone()))
                .map_err(Into::into)
        };
        if index {
            routes.insert((Method::GET, "/"), Box::new(serve.clone()));
        }
        // The routes live as long as the server: each path is leaked once, at start.
        routes.insert((Method::GET, String::leak(format!("/{path}"))), Box::new(serve));
    }
    routes
}

fn body(bytes: impl Into<hyper::body::Bytes>) -> iroh_relay::server::http_server::BytesBody {
    Box::new(http_body_util::Full::new(bytes.into()))
}

/// The built page under `dir`: each file's path (with `/`) and bytes.
fn read_page(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, Error> {
    fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, Vec<u8>)>) -> Result<(), Error> {
        fn unreadable(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
            move |e| Error::io(format!("--page: reading {}", path.display()), e)
        }
        for entry in std::fs::read_dir(dir).map_err(unreadable(dir))? {
            let entry = entry.map_err(unreadable(dir))?;
            let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            if path.is_dir() {
                walk(&path, &format!("{prefix}{name}/"), files)?;
            } else {
                files.push((format!("{prefix}{name}"), std::fs::read(&path).map_err(unreadable(&path))?));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    if !files.iter().any(|(path, _)| path == "index.html") {
        return Err(Error::Config(format!(
            "--page {}: no index.html there (npm run build writes the page to dist/)",
            dir.display()
        )));
    }
    Ok(files)
}

/// The Content-Type of a page's file, by its extension (application/wasm matters: browsers compile
/// a module as it streams in only with it).
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, extension)| extension) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        "wasm" => "application/wasm",
        "json" | "webmanifest" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The Iroh endpoint's settings, and the address clients dial: its id, with relays disabled the
/// host and port too (which they fill in), and with a relay of our own its URL.
fn iroh(args: &Args, relays: &str) -> Result<Listening, Error> {
    let relays: IrohRelays = relays.parse().map_err(|e| Error::Config(format!("--relays: {e}")))?;
    let identity = match &args.identity {
        Some(path) => IrohIdentity::load_or_create(path)
            .map_err(|e| Error::io(format!("reading or creating the key {}", path.display()), e))?,
        None => IrohIdentity::random(),
    };
    let direct = relays == IrohRelays::Disabled;
    if direct && args.port == 0 {
        return Err(Error::Config("--relays disabled needs a --port that clients can dial".into()));
    }
    let mut transport = IrohTransport::new(identity).with_relays(relays.clone());
    if args.port != 0 {
        transport = transport.with_port(args.port);
    }
    let server = format!("iroh:{}", transport.id());
    let (address, note) = if direct {
        (format!("{server}@HOST:{}", args.port), Some("clients put this machine's address for HOST"))
    } else if let IrohRelays::Private { url } = &relays {
        let relay = url.to_string();
        let note = relay.contains("0.0.0.0").then_some("clients put this machine's address for 0.0.0.0");
        (format!("{server}?relay={relay}"), note)
    } else {
        (server.clone(), None)
    };
    Ok(Listening { transport: transport.into(), address, note, server })
}

/// 128 random bits from the operating system, in hex.
fn new_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Device(format!("no random source for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token check, with each session it opens or refuses written to standard error.
struct Logged(TokenAuthorizer);

impl PeerAuthorizer for Logged {
    fn authorize(&self, request: AuthorizationRequest<'_>) -> Result<(), String> {
        let (client, device) = (request.client, request.device_index);
        let verdict = self.0.authorize(request);
        match &verdict {
            Ok(()) => eprintln!("session opened: {client}, device {device}"),
            Err(why) => eprintln!("refused: {why}"),
        }
        verdict
    }
}
