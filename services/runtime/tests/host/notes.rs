//! `notes`: the smallest database-backed service, hosted the way customers and products are.

use contract::{Empty, RequestOf, ServiceError, operation};
use runtime::config::NatsArgs;
use runtime::host::{Host, HostError};
use runtime::pg::{self, PgArgs};
use runtime::test_support::{PgStack, ServiceApp, Stop};
use runtime::{RequestContext, ServiceBuilder};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

/// The service name and the database name.
pub const NAME: &str = "notes";

static MIGRATOR: Migrator = sqlx::migrate!("./tests/host/migrations");

/// A note: only its id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct Note {
    /// The key.
    pub id: String,
}

/// How many notes there are.
#[derive(Debug, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct Count {
    /// The number of rows.
    pub total: u64,
}

operation! {
    /// Add a note
    pub AddNote: "notes"."add", POST "/notes", auth Public, status 201,
        params Empty, query Empty, body Note, response Note;

    /// Count the notes
    pub CountNotes: "notes"."count", GET "/notes", auth Public, status 200,
        params Empty, query Empty, body (), response Count
}

async fn add(
    pool: PgPool,
    _ctx: RequestContext,
    request: RequestOf<AddNote>,
) -> Result<Note, ServiceError> {
    sqlx::query("INSERT INTO notes (id) VALUES ($1)")
        .bind(&request.body.id)
        .execute(&pool)
        .await
        .map_err(pg::reply_error)?;
    Ok(request.body)
}

async fn count(
    pool: PgPool,
    _ctx: RequestContext,
    _request: RequestOf<CountNotes>,
) -> Result<Count, ServiceError> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
        .fetch_one(&pool)
        .await
        .map_err(pg::reply_error)?;
    Ok(Count {
        total: total.unsigned_abs(),
    })
}

/// The service's `run`, shaped like every database-backed service's.
pub async fn run(
    nats: NatsArgs,
    database: PgArgs,
    health_listener: TcpListener,
    shutdown: Stop,
) -> Result<(), HostError> {
    Host::new(NAME, &nats)
        .run_with_database(
            &database,
            false,
            &MIGRATOR,
            health_listener,
            shutdown,
            |pool| {
                ServiceBuilder::new(NAME, "1.0.0", "Notes", pool)
                    .endpoint::<AddNote, _>(add)
                    .endpoint::<CountNotes, _>(count)
            },
        )
        .await
}

/// Starts an instance on `stack` without waiting for readiness.
pub async fn spawn(stack: &PgStack) -> ServiceApp {
    let database = stack.database();
    ServiceApp::spawn(&stack.nats, |nats, health, stop| {
        run(nats, database, health, stop)
    })
    .await
}

/// Starts the servers and one ready instance.
pub async fn start() -> (PgStack, ServiceApp) {
    let stack = PgStack::start(NAME).await;
    let app = spawn(&stack).await;
    app.wait_ready().await;
    (stack, app)
}

/// Adds the note `id`.
pub async fn add_note(app: &ServiceApp, id: &str) -> Result<Note, ServiceError> {
    app.call::<AddNote>(contract::Envelope::body(Note { id: id.to_owned() }))
        .await
}

/// The number of notes.
pub async fn total(app: &ServiceApp) -> u64 {
    app.call::<CountNotes>(contract::Envelope::body(()))
        .await
        .unwrap()
        .total
}

/// Runs `sql` in the notes database with `psql`, for what the service's API does not show
/// (its migration bookkeeping, its rows); the output, trimmed.
pub async fn psql(stack: &PgStack, sql: &str) -> String {
    stack.pg.psql(NAME, sql).await.unwrap()
}
