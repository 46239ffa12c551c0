//! What `make run` prints once the system is up: the URL, the admin login and curl lines.

use std::io::Write as _;

/// Prints the banner for the gateway at `url`, its health listener at `health` (a closed
/// stdout is ignored, as in `say`).
pub fn print(url: &str, health: &str, email: &str, password: &str) {
    let _ = writeln!(
        std::io::stdout(),
        r#"
  natstack is up.   Gateway: {url}      Logs: .run/logs/      Stop: Ctrl-C

  Admin login:  {email}  /  {password}

  Try:
    TOKEN=$(curl -s -X POST {url}/auth/login -H 'content-type: application/json' \
      -d '{{"email":"{email}","password":"{password}"}}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    curl -s "{url}/customers?limit=3" -H "authorization: Bearer $TOKEN"
    curl -s "{url}/customers/ALFKI" -H "authorization: Bearer $TOKEN"
    curl -s "{url}/products?q=chai" -H "authorization: Bearer $TOKEN"
    curl -s "{url}/categories" -H "authorization: Bearer $TOKEN"
    curl -s -X POST {url}/auth/register -H 'content-type: application/json' \
      -d '{{"username":"ada","email":"ada@example.com","password":"correct-horse-battery"}}'
    curl -s {url}/openapi.json      # the API, assembled from the services
    curl -s {health}/services       # what discovery sees (health port only)
    curl -s {health}/metrics        # Prometheus metrics (health port only)
"#
    );
}
