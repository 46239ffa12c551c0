//! The customers SQL. Every value travels as a bind parameter; the only SQL text chosen at
//! run time is a column name picked from a fixed list by [`CustomerSort`].

use contract::contact::Contact;
use contract::customers::{Customer, CustomerSort};
use contract::page::{Page, PageSpec, Sort};
use runtime::pg::list::{Listing, Order, contains_pattern};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

/// The column list, as a macro so statements are `concat!`-ed `&'static str`s (sqlx only
/// takes SQL it can see is not built from input).
macro_rules! columns {
    () => {
        "customer_id, company_name, contact_name, contact_title, address, city, region, \
         postal_code, country, phone, fax"
    };
}

runtime::row! {
    /// A row of `customers`.
    #[derive(Debug)]
    struct Row {
        customer_id: String,
        company_name: String,
        contact_name: Option<String>,
        contact_title: Option<String>,
        address: Option<String>,
        city: Option<String>,
        region: Option<String>,
        postal_code: Option<String>,
        country: Option<String>,
        phone: Option<String>,
        fax: Option<String>,
    }
}

impl From<Row> for Customer {
    fn from(r: Row) -> Self {
        Self {
            customer_id: r.customer_id,
            company_name: r.company_name,
            contact: Contact {
                contact_name: r.contact_name,
                contact_title: r.contact_title,
                address: r.address,
                city: r.city,
                region: r.region,
                postal_code: r.postal_code,
                country: r.country,
                phone: r.phone,
                fax: r.fax,
            },
        }
    }
}

/// The filters of a list, already validated.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    /// Substring of company or contact name.
    pub q: Option<&'a str>,
    /// Country, case-insensitive.
    pub country: Option<&'a str>,
    /// City, case-insensitive.
    pub city: Option<&'a str>,
}

/// The customers list: rows, count and key.
const LISTING: Listing = Listing {
    select: concat!("SELECT ", columns!(), " FROM customers"),
    count: "SELECT count(*) FROM customers",
    key: "customer_id",
};

fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &Filter<'_>) {
    if let Some(q) = filter.q {
        let pattern = contains_pattern(q);
        query
            .push(" AND (company_name ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR contact_name ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(country) = filter.country {
        query
            .push(" AND lower(country) = lower(")
            .push_bind(country)
            .push(")");
    }
    if let Some(city) = filter.city {
        query
            .push(" AND lower(city) = lower(")
            .push_bind(city)
            .push(")");
    }
}

fn sort_column(key: CustomerSort) -> &'static str {
    match key {
        CustomerSort::CustomerId => "customer_id",
        CustomerSort::CompanyName => "company_name",
        CustomerSort::ContactName => "contact_name",
        CustomerSort::City => "city",
        CustomerSort::Country => "country",
    }
}

/// One page of the customers matching the filter.
pub async fn list(
    pool: &PgPool,
    filter: &Filter<'_>,
    sort: Sort<CustomerSort>,
    page: PageSpec,
) -> Result<Page<Customer>, sqlx::Error> {
    let order = Order::of(sort, sort_column);
    LISTING
        .page::<Row, _>(pool, |query| push_filter(query, filter), order, page)
        .await
}

/// The customer with `id`, if any.
pub async fn get(pool: &PgPool, id: &str) -> Result<Option<Customer>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM customers WHERE customer_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Customer::from))
}

/// Inserts `c` and returns the stored row; on a connection, so it can run in a transaction.
pub async fn insert(db: &mut PgConnection, c: &Customer) -> Result<Customer, sqlx::Error> {
    let row: Row = sqlx::query_as(concat!(
        "INSERT INTO customers (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ",
        columns!()
    ))
    .bind(&c.customer_id)
    .bind(&c.company_name)
    .bind(&c.contact.contact_name)
    .bind(&c.contact.contact_title)
    .bind(&c.contact.address)
    .bind(&c.contact.city)
    .bind(&c.contact.region)
    .bind(&c.contact.postal_code)
    .bind(&c.contact.country)
    .bind(&c.contact.phone)
    .bind(&c.contact.fax)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// Sets `changes` (column, new value) on customer `id` in one statement and returns the
/// updated row, or `None` when there is no such customer. Column names come from the
/// handler's fixed list, never from the request. `changes` is not empty.
pub async fn update(
    db: &mut PgConnection,
    id: &str,
    changes: Vec<(&'static str, Option<String>)>,
) -> Result<Option<Customer>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("UPDATE customers SET ");
    let mut set = query.separated(", ");
    for (column, value) in changes {
        set.push(column)
            .push_unseparated(" = ")
            .push_bind_unseparated(value);
    }
    query
        .push(" WHERE customer_id = ")
        .push_bind(id)
        .push(concat!(" RETURNING ", columns!()));
    let row: Option<Row> = query.build_query_as().fetch_optional(db).await?;
    Ok(row.map(Customer::from))
}

/// Deletes customer `id`; the row as it was, or `None` when there was none.
pub async fn delete(db: &mut PgConnection, id: &str) -> Result<Option<Customer>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "DELETE FROM customers WHERE customer_id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Customer::from))
}
