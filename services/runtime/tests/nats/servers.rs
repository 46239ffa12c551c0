//! The harness's database servers start, serve and clean up.

use runtime::test_support::{MongoServer, PgServer};

#[tokio::test]
async fn postgres_starts_creates_databases_and_survives_a_restart() {
    let mut pg = PgServer::start().await.expect("PostgreSQL starts");
    let url = pg.create_database("harness_a").await.unwrap();
    assert!(url.ends_with("/harness_a"), "{url}");
    pg.psql(
        "harness_a",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')",
    )
    .await
    .unwrap();
    pg.restart().await.unwrap();
    assert_eq!(
        pg.psql("harness_a", "SELECT v FROM t").await.unwrap(),
        "kept"
    );
    assert!(pg.psql("harness_a", "SELECT nope").await.is_err());
    let dir_probe = pg.url("harness_a");
    drop(pg);
    // Once dropped, nothing listens there any more.
    let port: u16 = dir_probe
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn mongo_wire_server_starts_and_stops() {
    let mongo = MongoServer::start().await.expect("nx-27017 starts");
    assert!(mongo.url().starts_with("mongodb://127.0.0.1:"));
    let port = mongo.port();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    );
    drop(mongo);
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}
