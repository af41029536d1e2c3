//! `multigrid serve`: host this machine's device for `--remote` runs on other machines, through
//! Burn's remote backend, over WebSocket (plain, for a trusted network) or Iroh (authenticated and
//! encrypted). The client keeps the model's state, checkpoints and logs; the server runs the
//! tensor operations and sends back only what the client reads.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;

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
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = multigrid_ebm::device::create(args.device.parse::<BackendKind>()?)?;
    let token = match args.token.clone() {
        Some(token) if token.trim().is_empty() => return Err(Error::Config("--token must not be empty".into())),
        Some(token) => token,
        None => new_token()?,
    };
    // The relay of `--relays here` runs for as long as the server serves; clients are given its URL.
    let relay = (args.transport == "iroh" && args.relays == "here").then(|| relay(&args)).transpose()?;
    let relays = relay.as_ref().map_or(args.relays.as_str(), |(_, url)| url);
    let (transport, address, note) = if args.transport == "iroh" { iroh(&args, relays)? } else { websocket(&args)? };
    let authorizer = Logged(TokenAuthorizer::new(token.as_str()).map_err(|e| Error::Config(e.to_string()))?);
    // The first line is the address, for scripts that start a server on port 0.
    println!("multigrid serve: listening on {address}");
    println!("hosting device 0: {device:?}");
    if let Some(note) = note {
        println!("{note}");
    }
    println!("clients connect with: --remote {address} and the token {token} (or MULTIGRID_TOKEN)");
    println!("stop with Ctrl+C");
    std::io::stdout().flush().map_err(|e| Error::io("writing to standard output", e))?;
    RemoteServer::new([device])
        .with_authorizer(authorizer)
        .serve(transport)
        .map_err(|e| Error::Device(format!("serving on {address}: {e}")))
}

/// The WebSocket listener, bound now so that port 0 can be read back, and its address.
fn websocket(args: &Args) -> Result<(Transport, String, Option<&'static str>), Error> {
    let address = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(address).map_err(|e| Error::io(format!("listening on {address}"), e))?;
    let address = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;
    let note = (!args.bind.is_loopback()).then_some(
        "warning: WebSocket is unencrypted; across a network you do not trust, use --transport iroh or an SSH tunnel",
    );
    Ok((WebSocketTransport::from_listener(listener).into(), format!("ws://{address}"), note))
}

/// An Iroh relay on `--bind`, at the TCP port of `--port` (any free one for 0), on a runtime of its
/// own, and its URL. It speaks plain HTTP and WebSocket: Iroh encrypts end to end through it.
fn relay(args: &Args) -> Result<(Relay, String), Error> {
    use iroh_relay::server::{RelayConfig, Server, ServerConfig};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the relay's runtime", e))?;
    let mut config = ServerConfig::default();
    config.relay = Some(RelayConfig::new((args.bind, args.port)));
    let server = runtime
        .block_on(Server::spawn(config))
        .map_err(|e| Error::Device(format!("starting the relay on {}:{}: {e}", args.bind, args.port)))?;
    let bound = server.http_addr().ok_or_else(|| Error::Device("the relay has no HTTP address".into()))?;
    Ok((Relay { _server: server, _runtime: runtime }, format!("http://{bound}")))
}

/// A running relay: dropping it stops it.
struct Relay {
    _server: iroh_relay::server::Server,
    _runtime: tokio::runtime::Runtime,
}

/// The Iroh endpoint's settings, and the address clients dial: its id, with relays disabled the
/// host and port too (which they fill in), and with a relay of our own its URL.
fn iroh(args: &Args, relays: &str) -> Result<(Transport, String, Option<&'static str>), Error> {
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
    let id = transport.id();
    Ok(if direct {
        (transport.into(), format!("iroh:{id}@HOST:{}", args.port), Some("clients put this machine's address for HOST"))
    } else if let IrohRelays::Private { url } = &relays {
        let relay = url.to_string();
        let note = relay.contains("0.0.0.0").then_some("clients put this machine's address for 0.0.0.0");
        (transport.into(), format!("iroh:{id}?relay={relay}"), note)
    } else {
        (transport.into(), format!("iroh:{id}"), None)
    })
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
