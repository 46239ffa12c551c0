//! The CloudNativePG stand-in on its own: a primary and a streaming replica with the managed
//! roles and databases, reached through `-rw`/`-ro`/`-r` with `sslmode=verify-full` against
//! the generated CA, and a switchover that keeps every committed write and closes the
//! connections open to the old primary.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::PgConnection;
use stack_run::cnpg::{Addresses, Database, PgCluster, Plan, Role, SERVICES};
use stack_run::net::Subnet;
use testbed::wait_until;

fn url(ip: Ipv4Addr, ca: &std::path::Path, password: &str) -> String {
    format!(
        "postgres://shop_customers:{password}@{ip}:5432/customers?sslmode=verify-full&sslrootcert={}",
        ca.display()
    )
}

/// Whether the server at `url` can be reached and holds exactly `rows` orders (a replica
/// that has caught up).
async fn holds_orders(url: String, rows: i64) -> bool {
    let Ok(mut c) = PgConnection::connect(&url).await else {
        return false;
    };
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders")
        .fetch_one(&mut c)
        .await
        .is_ok_and(|n| n == rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_services_tls_and_a_switchover_that_loses_no_commit() {
    let dir = std::env::temp_dir().join(format!("natstack-cnpg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let plan = Plan {
        name: "shop-postgres".into(),
        namespace: "team-a".into(),
        instances: 3,
        parameters: BTreeMap::from([("max_connections".into(), "50".into())]),
        roles: vec![Role {
            name: "shop_customers".into(),
            password_secret: "shop-customers-db".into(),
        }],
        databases: vec![Database {
            name: "customers".into(),
            owner: "shop_customers".into(),
        }],
        ..Plan::default()
    };
    let mut subnet = Subnet::random();
    let addresses = Addresses {
        services: SERVICES
            .iter()
            .map(|s| ((*s).to_owned(), subnet.service()))
            .collect(),
        instances: vec![subnet.pod(), subnet.pod()],
    };
    let (certs, mut secrets) = PgCluster::secrets(&plan, &dir, &addresses).expect("certificates");
    assert!(secrets["shop-postgres-ca"].contains_key("ca.crt"));
    let password = "s3cret'pw";
    secrets.insert(
        "shop-customers-db".into(),
        BTreeMap::from([
            ("username".into(), "shop_customers".into()),
            ("password".into(), password.into()),
        ]),
    );
    let cluster = PgCluster::start(plan, dir.clone(), &addresses, certs, &secrets)
        .await
        .expect("the Cluster starts");
    let ca = cluster.ca_file().to_owned();
    let (rw, ro) = (addresses.services["rw"], addresses.services["ro"]);
    assert_eq!(cluster.endpoints("r").len(), 2, "-r: every instance");

    let mut writer = PgConnection::connect(&url(rw, &ca, password))
        .await
        .expect("verify-full through -rw with the role's password");
    sqlx::query("CREATE TABLE orders (id int PRIMARY KEY)")
        .execute(&mut writer)
        .await
        .expect("the role owns its database");
    for id in 0..100 {
        sqlx::query("INSERT INTO orders VALUES ($1)")
            .bind(id)
            .execute(&mut writer)
            .await
            .expect("insert");
    }
    // The replica follows the primary, and refuses writes.
    let mut reader = PgConnection::connect(&url(ro, &ca, password))
        .await
        .expect("-ro reaches the replica");
    wait_until("the replica has every row", Duration::from_secs(30), || {
        holds_orders(url(ro, &ca, password), 100)
    })
    .await;
    let refused = sqlx::query("INSERT INTO orders VALUES (1000)")
        .execute(&mut reader)
        .await
        .expect_err("a replica takes no writes");
    assert!(refused.to_string().contains("read-only"), "{refused}");
    // A client with another CA is refused: verify-full is checked.
    let wrong_ca = dir.join("other-ca");
    let other = stack_run::cnpg::tls::generate(&wrong_ca, "other", &["other".to_owned()], &[rw])
        .expect("other CA");
    assert!(
        PgConnection::connect(&url(rw, &other.ca_crt, password))
            .await
            .is_err(),
        "a server certificate from another CA was accepted"
    );

    let old_primary = cluster.primary().await;
    let switched = cluster.switchover().await.expect("switchover");
    eprintln!(
        "[cnpg] switchover {} -> {}: -rw without a primary for {:?}, old primary rejoined \
         after {:?}",
        switched.from, switched.to, switched.without_primary, switched.total
    );
    assert_eq!(switched.from, old_primary);
    assert_ne!(cluster.primary().await, old_primary);
    assert!(
        sqlx::query("SELECT 1").execute(&mut writer).await.is_err(),
        "the connection to the old primary was closed"
    );
    let mut writer = PgConnection::connect(&url(rw, &ca, password))
        .await
        .expect("-rw reaches the new primary");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut writer)
        .await
        .expect("count");
    assert_eq!(count, 100, "every committed row is on the new primary");
    sqlx::query("INSERT INTO orders VALUES (100)")
        .execute(&mut writer)
        .await
        .expect("the new primary takes writes");
    // The old primary rejoined as a replica of the new one: it has the new write.
    assert_eq!(
        cluster.endpoints("ro").len(),
        1,
        "the old primary is a replica"
    );
    assert_eq!(cluster.endpoints("r").len(), 2);
    wait_until(
        "the rejoined replica has the write made after the switchover",
        Duration::from_secs(30),
        || holds_orders(url(ro, &ca, password), 101),
    )
    .await;
    cluster.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
