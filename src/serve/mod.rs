//! The HTTP service: configuration, the swappable serving state, auth, errors, metrics
//! and routes.
//!
//! [`run`] is what `propensity-serve` calls; [`start`] runs the same server on a
//! background thread (tests bind `127.0.0.1:0` and talk HTTP to it).

pub mod app;
pub mod auth;
pub mod config;
pub mod customer;
pub mod error;
pub mod item_json;
pub mod listing;
pub mod metrics;
pub mod routes;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, web};

pub use app::create_app;
pub use config::{ServeArgs, ServeConfig};
pub use state::{AppState, ServingModels, ServingState};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configured bundle exists but was refused.
    #[error("loading {}: {source}", path.display())]
    Load {
        /// The bundle.
        path: PathBuf,
        /// Why it was refused.
        #[source]
        source: state::LoadError,
    },
    /// The listening address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The event journal could not be opened or replayed.
    #[error("event journal {}: {source}", dir.display())]
    Journal {
        /// The journal directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: crate::journal::JournalError,
    },
    /// The server thread or runtime failed.
    #[error("server: {0}")]
    Io(#[source] std::io::Error),
}

/// Loads the configured bundle if it exists. A missing file is not an error (the server
/// starts unready and says so); a file that exists but is refused is, because serving
/// nothing from a broken bundle would hide the problem.
fn initial_state(config: ServeConfig) -> Result<web::Data<AppState>, ServeError> {
    let mut state = AppState::new(config, routes::ROUTE_NAMES);
    let dir = state.config.journal_dir();
    state.open_journal().map_err(|source| ServeError::Journal {
        dir: dir.clone(),
        source,
    })?;
    tracing::info!(journal = %dir.display(), "event journal open");
    if state.keys.is_open() {
        tracing::warn!(
            "no API keys configured: the API is open to every client that can reach it, and /admin/* answers loopback clients only; set api_keys or PROPENSITY_API_KEYS"
        );
    }
    let path = state.config.bundle.clone();
    if path.exists() {
        match state.reload(None) {
            Ok(_) => {}
            Err(state::ReloadError::Refused { path, source }) => {
                return Err(ServeError::Load { path, source });
            }
            Err(state::ReloadError::Journal(source)) => {
                return Err(ServeError::Journal { dir, source });
            }
            Err(state::ReloadError::InProgress) => {
                unreachable!("no other reload can run before the server starts")
            }
        }
    } else {
        tracing::error!(
            path = %path.display(),
            "bundle not found: /readyz answers 503 until one is loaded (POST /admin/reload or SIGHUP once the file exists)"
        );
    }
    Ok(web::Data::new(state))
}

fn build_server(state: &web::Data<AppState>) -> Result<(Server, SocketAddr), ServeError> {
    let cfg = &state.config;
    let app_state = state.clone();
    let mut server = HttpServer::new(move || create_app(app_state.clone()))
        .shutdown_timeout(cfg.shutdown_timeout_secs);
    if cfg.workers > 0 {
        server = server.workers(cfg.workers);
    }
    let server = server.bind(&cfg.bind).map_err(|source| ServeError::Bind {
        addr: cfg.bind.clone(),
        source,
    })?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| ServeError::Bind {
            addr: cfg.bind.clone(),
            source: std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address bound"),
        })?;
    tracing::info!(%addr, "listening");
    Ok((server.run(), addr))
}

/// Runs the server until SIGTERM or SIGINT (graceful: in-flight requests get
/// `shutdown_timeout_secs` to finish). SIGHUP reloads the configured bundle.
pub fn run(config: ServeConfig) -> Result<(), ServeError> {
    actix_web::rt::System::new().block_on(async move {
        let state = initial_state(config)?;
        let (server, _) = build_server(&state)?;
        #[cfg(unix)]
        actix_web::rt::spawn(reload_on_sighup(state));
        server.await.map_err(ServeError::Io)
    })
}

#[cfg(unix)]
async fn reload_on_sighup(state: web::Data<AppState>) {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with POST /admin/reload");
            return;
        }
    };
    while hup.recv().await.is_some() {
        tracing::info!(path = %state.config.bundle.display(), "SIGHUP: reloading");
        let st = state.clone();
        // The outcome is logged by `reload`; a refused bundle leaves the old one serving.
        let _ = web::block(move || st.reload(None)).await;
    }
}

/// A server running on its own thread; stopped (not gracefully) when dropped.
pub struct RunningServer {
    addr: SocketAddr,
    handle: ServerHandle,
    state: web::Data<AppState>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The bound address (the real port when `bind` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (metrics, current model).
    pub fn state(&self) -> &web::Data<AppState> {
        &self.state
    }

    /// The actix handle (pause, resume, stop).
    pub fn handle(&self) -> &ServerHandle {
        &self.handle
    }

    /// Stops the server, letting in-flight requests finish, and waits for its thread.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown(true)
    }

    fn shutdown(&mut self, graceful: bool) -> Result<(), ServeError> {
        // `stop` sends the command immediately; the returned future only waits for it.
        drop(self.handle.stop(graceful));
        let joined = match self.thread.take().map(|t| t.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(ServeError::Io(e)),
            Some(Err(_)) => Err(ServeError::Io(std::io::Error::other(
                "server thread panicked",
            ))),
        };
        // The system thread can end before the worker threads have dropped their copies of
        // the state; wait for them (bounded), so that once `stop` returns the journal's LOCK
        // is free for a server started next in the same process.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&self.state) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        joined
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown(false);
    }
}

/// Starts the server on a background thread and returns once it listens. No SIGHUP
/// handler is installed (signals are process-wide); reload with `POST /admin/reload`.
pub fn start(config: ServeConfig) -> Result<RunningServer, ServeError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("propensity-serve".to_string())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let started = initial_state(config).and_then(|state| {
                    build_server(&state).map(|(server, addr)| (server, addr, state))
                });
                match started {
                    Ok((server, addr, state)) => {
                        let _ = tx.send(Ok((server.handle(), addr, state)));
                        server.await
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        Ok(())
                    }
                }
            })
        })
        .map_err(ServeError::Io)?;
    let (handle, addr, state) = rx.recv().map_err(|_| {
        ServeError::Io(std::io::Error::other(
            "server thread exited before listening",
        ))
    })??;
    Ok(RunningServer {
        addr,
        handle,
        state,
        thread: Some(thread),
    })
}
