//! `multigrid serve`: host this machine's device for `--remote` runs on other machines, through
//! Burn's remote backend over WebSocket. The client keeps the model's state, checkpoints and
//! logs; the server runs the tensor operations and sends back only what the client reads.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};

use burn::server::{AuthorizationRequest, PeerAuthorizer, RemoteServer, TokenAuthorizer, WebSocketTransport};
use multigrid_ebm::Error;
use multigrid_ebm::device::BackendKind;

#[derive(clap::Args)]
pub struct Args {
    /// The device to host: wgpu (Vulkan/Metal/DX12), cuda (needs `--features cuda`) or cpu.
    #[arg(long, default_value = "wgpu")]
    device: String,
    /// The address to listen on: this machine only unless told otherwise (0.0.0.0 for every
    /// interface; see the README on what WebSocket exposes).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The token every client must present. Without it (or MULTIGRID_TOKEN) one is generated and
    /// printed.
    #[arg(long, env = "MULTIGRID_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = multigrid_ebm::device::create(args.device.parse::<BackendKind>()?)?;
    let token = match args.token {
        Some(token) if token.trim().is_empty() => return Err(Error::Config("--token must not be empty".into())),
        Some(token) => token,
        None => new_token()?,
    };
    let address = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(address).map_err(|e| Error::io(format!("listening on {address}"), e))?;
    let address = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;
    let authorizer = Logged(TokenAuthorizer::new(token.as_str()).map_err(|e| Error::Config(e.to_string()))?);
    // The first line is the address, for scripts that start a server on port 0.
    println!("multigrid serve: listening on ws://{address}");
    println!("hosting device 0: {device:?}");
    if !args.bind.is_loopback() {
        println!("warning: WebSocket is unencrypted; on a network you do not trust, put a TLS proxy in front");
    }
    println!("clients connect with: --remote ws://{address} and the token {token} (or MULTIGRID_TOKEN)");
    println!("stop with Ctrl+C");
    std::io::stdout().flush().map_err(|e| Error::io("writing to standard output", e))?;
    RemoteServer::new([device])
        .with_authorizer(authorizer)
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| Error::Device(format!("serving on ws://{address}: {e}")))
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
