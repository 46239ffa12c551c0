//! The products SQL. Every value travels as a bind parameter; the only SQL text chosen at run
//! time is a column name picked from a fixed list by [`ProductSort`] or by the handler.

use contract::contact::Contact;
use contract::page::{Page, PageSpec, Sort};
use contract::products::{Category, Price, Product, ProductSort, Supplier};
use runtime::pg::list::{Listing, Order, contains_pattern};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

/// The product columns with the category and supplier names, selected from `p` (products or
/// a CTE over it) joined to `c` and `s`. A macro so statements stay `&'static str`.
macro_rules! product_select {
    ($from:literal) => {
        concat!(
            "SELECT p.product_id, p.product_name, p.supplier_id, s.company_name AS supplier_name, \
             p.category_id, c.category_name, p.quantity_per_unit, p.unit_price, \
             p.units_in_stock, p.units_on_order, p.reorder_level, p.discontinued FROM ",
            $from,
            " p LEFT JOIN categories c ON c.category_id = p.category_id \
             LEFT JOIN suppliers s ON s.supplier_id = p.supplier_id"
        )
    };
}

runtime::row! {
    #[derive(Debug)]
    struct Row {
        product_id: i64,
        product_name: String,
        supplier_id: Option<i16>,
        supplier_name: Option<String>,
        category_id: Option<i16>,
        category_name: Option<String>,
        quantity_per_unit: Option<String>,
        unit_price: Option<Decimal>,
        units_in_stock: Option<i16>,
        units_on_order: Option<i16>,
        reorder_level: Option<i16>,
        discontinued: bool,
    }
}

/// Formats a stored price with exactly two decimals.
fn price(d: Decimal) -> Price {
    format!("{:.2}", d.round_dp(2))
        .parse()
        .expect("a formatted decimal is a valid price")
}

impl From<Row> for Product {
    fn from(r: Row) -> Self {
        Self {
            product_id: r.product_id,
            product_name: r.product_name,
            supplier_id: r.supplier_id,
            supplier_name: r.supplier_name,
            category_id: r.category_id,
            category_name: r.category_name,
            quantity_per_unit: r.quantity_per_unit,
            unit_price: r.unit_price.map(price),
            units_in_stock: r.units_in_stock,
            units_on_order: r.units_on_order,
            reorder_level: r.reorder_level,
            discontinued: r.discontinued,
        }
    }
}

/// The filters of a list, already validated.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    /// Substring of the name.
    pub q: Option<&'a str>,
    /// Category id.
    pub category_id: Option<i64>,
    /// Supplier id.
    pub supplier_id: Option<i64>,
    /// Discontinued or not.
    pub discontinued: Option<bool>,
    /// Lowest price.
    pub min_price: Option<Decimal>,
    /// Highest price.
    pub max_price: Option<Decimal>,
    /// With stock (`true`) or without (`false`).
    pub in_stock: Option<bool>,
}

/// The products list: rows (with category and supplier names), count and key.
const LISTING: Listing = Listing {
    select: product_select!("products"),
    count: "SELECT count(*) FROM products p",
    key: "p.product_id",
};

fn push_filter(query: &mut QueryBuilder<Postgres>, f: &Filter<'_>) {
    if let Some(q) = f.q {
        query
            .push(" AND p.product_name ILIKE ")
            .push_bind(contains_pattern(q));
    }
    if let Some(id) = f.category_id {
        query.push(" AND p.category_id = ").push_bind(id);
    }
    if let Some(id) = f.supplier_id {
        query.push(" AND p.supplier_id = ").push_bind(id);
    }
    if let Some(discontinued) = f.discontinued {
        query.push(" AND p.discontinued = ").push_bind(discontinued);
    }
    if let Some(min) = f.min_price {
        query.push(" AND p.unit_price >= ").push_bind(min);
    }
    if let Some(max) = f.max_price {
        query.push(" AND p.unit_price <= ").push_bind(max);
    }
    match f.in_stock {
        Some(true) => query.push(" AND p.units_in_stock > 0"),
        Some(false) => query.push(" AND coalesce(p.units_in_stock, 0) = 0"),
        None => query,
    };
}

fn sort_column(key: ProductSort) -> &'static str {
    match key {
        ProductSort::ProductId => "p.product_id",
        ProductSort::ProductName => "p.product_name",
        ProductSort::UnitPrice => "p.unit_price",
        ProductSort::UnitsInStock => "p.units_in_stock",
        ProductSort::CategoryId => "p.category_id",
        ProductSort::SupplierId => "p.supplier_id",
    }
}

/// One page of the products matching the filter.
pub async fn list(
    pool: &PgPool,
    filter: &Filter<'_>,
    sort: Sort<ProductSort>,
    page: PageSpec,
) -> Result<Page<Product>, sqlx::Error> {
    let order = Order::of(sort, sort_column);
    LISTING
        .page::<Row, _>(pool, |query| push_filter(query, filter), order, page)
        .await
}

/// The product with `id`, if any.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Product>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(concat!(
        product_select!("products"),
        " WHERE p.product_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Product::from))
}

/// A validated new product.
#[derive(Debug)]
pub struct NewRow {
    pub product_name: String,
    pub supplier_id: Option<i16>,
    pub category_id: Option<i16>,
    pub quantity_per_unit: Option<String>,
    pub unit_price: Option<Decimal>,
    pub units_in_stock: Option<i16>,
    pub units_on_order: Option<i16>,
    pub reorder_level: Option<i16>,
    pub discontinued: bool,
}

/// Inserts `p` (the id comes from the identity) and returns it with its names.
pub async fn insert(db: &mut PgConnection, p: NewRow) -> Result<Product, sqlx::Error> {
    let row: Row = sqlx::query_as(concat!(
        "WITH inserted AS (INSERT INTO products (product_name, supplier_id, category_id, \
         quantity_per_unit, unit_price, units_in_stock, units_on_order, reorder_level, \
         discontinued) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *) ",
        product_select!("inserted")
    ))
    .bind(p.product_name)
    .bind(p.supplier_id)
    .bind(p.category_id)
    .bind(p.quantity_per_unit)
    .bind(p.unit_price)
    .bind(p.units_in_stock)
    .bind(p.units_on_order)
    .bind(p.reorder_level)
    .bind(p.discontinued)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// A new value for one column.
#[derive(Debug)]
pub enum Value {
    /// Text or NULL.
    Text(Option<String>),
    /// A smallint or NULL.
    Small(Option<i16>),
    /// A price or NULL.
    Money(Option<Decimal>),
    /// A flag.
    Flag(bool),
}

/// Sets `changes` on product `id` in one statement and returns the updated product, or
/// `None` when there is no such product. Column names come from the handler's fixed list.
pub async fn update(
    db: &mut PgConnection,
    id: i64,
    changes: Vec<(&'static str, Value)>,
) -> Result<Option<Product>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("WITH updated AS (UPDATE products SET ");
    let mut set = query.separated(", ");
    for (column, value) in changes {
        set.push(column).push_unseparated(" = ");
        match value {
            Value::Text(v) => set.push_bind_unseparated(v),
            Value::Small(v) => set.push_bind_unseparated(v),
            Value::Money(v) => set.push_bind_unseparated(v),
            Value::Flag(v) => set.push_bind_unseparated(v),
        };
    }
    query
        .push(" WHERE product_id = ")
        .push_bind(id)
        .push(" RETURNING *) ")
        .push(product_select!("updated"));
    let row: Option<Row> = query.build_query_as().fetch_optional(db).await?;
    Ok(row.map(Product::from))
}

/// Deletes product `id`; the product as it was (with its names), or `None` when there was
/// none.
pub async fn delete(db: &mut PgConnection, id: i64) -> Result<Option<Product>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "WITH deleted AS (DELETE FROM products WHERE product_id = $1 RETURNING *) ",
        product_select!("deleted")
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Product::from))
}

runtime::row! {
    /// A category row as selected.
    #[derive(Debug)]
    pub struct CategoryRow {
        category_id: i16,
        category_name: String,
        description: Option<String>,
    }
}

impl Reference for Category {
    type Row = CategoryRow;
    const LISTING: Listing = Listing {
        select: "SELECT category_id, category_name, description FROM categories",
        count: "SELECT count(*) FROM categories",
        key: "category_id",
    };
}

impl From<CategoryRow> for Category {
    fn from(r: CategoryRow) -> Self {
        Self {
            category_id: r.category_id,
            category_name: r.category_name,
            description: r.description,
        }
    }
}

runtime::row! {
    /// A supplier row as selected.
    #[derive(Debug)]
    pub struct SupplierRow {
        supplier_id: i16,
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
        homepage: Option<String>,
    }
}

impl Reference for Supplier {
    type Row = SupplierRow;
    const LISTING: Listing = Listing {
        select: "SELECT supplier_id, company_name, contact_name, contact_title, address, city, \
                 region, postal_code, country, phone, fax, homepage FROM suppliers",
        count: "SELECT count(*) FROM suppliers",
        key: "supplier_id",
    };
}

impl From<SupplierRow> for Supplier {
    fn from(r: SupplierRow) -> Self {
        Self {
            supplier_id: r.supplier_id,
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
            homepage: r.homepage,
        }
    }
}

/// A read-only reference table (categories, suppliers), listed by id a page at a time.
pub trait Reference: From<Self::Row> + Sized + Send {
    /// The table's row as selected.
    type Row: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin;
    /// What its list reads, in id order.
    const LISTING: Listing;
}

/// One page of reference table `T`.
pub async fn reference_page<T: Reference>(
    pool: &PgPool,
    page: PageSpec,
) -> Result<Page<T>, sqlx::Error> {
    let listing = T::LISTING;
    listing
        .page::<T::Row, T>(pool, |_| {}, listing.by_key(), page)
        .await
}
