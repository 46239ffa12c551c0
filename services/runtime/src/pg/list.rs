//! One page of a list, the same way for every table: the rows matching a filter counted, then
//! read in a chosen order with the primary key breaking ties, `LIMIT`/`OFFSET` from the page.
//!
//! The SQL around the filter is fixed text ([`Listing`]); the filter adds conditions with bind
//! parameters only, and the order is a column picked from a fixed list ([`Order`]), so no
//! input ever becomes SQL text.

use contract::page::{Page, PageSpec, Sort};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

/// What a list reads from one table.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// `SELECT <columns> FROM <table> [joins]`: the rows of a page.
    pub select: &'static str,
    /// `SELECT count(*) FROM <table>`: how many rows match (the same alias as `select`).
    pub count: &'static str,
    /// The primary key column, which breaks ties so pages never overlap or skip rows.
    pub key: &'static str,
}

/// The order of a list: a column from a fixed list, never user text.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// The column sorted by.
    pub column: &'static str,
    /// Whether the order is descending.
    pub descending: bool,
}

impl Order {
    /// The order a parsed `sort` asks for, its key turned into a column by `column`.
    pub fn of<K>(sort: Sort<K>, column: fn(K) -> &'static str) -> Self {
        Self {
            column: column(sort.key),
            descending: sort.descending,
        }
    }
}

impl Listing {
    /// Ascending by the primary key: the order of a list without a `sort`.
    pub fn by_key(&self) -> Order {
        Order {
            column: self.key,
            descending: false,
        }
    }

    /// One page of the rows `filter` keeps, in `order`, as items `T` read from rows `R`, with
    /// how many rows it keeps in all. `filter` adds its conditions as ` AND …` (bind
    /// parameters only) after a `WHERE`.
    pub async fn page<R, T>(
        &self,
        pool: &PgPool,
        filter: impl Fn(&mut QueryBuilder<Postgres>),
        order: Order,
        page: PageSpec,
    ) -> Result<Page<T>, sqlx::Error>
    where
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
        T: From<R>,
    {
        // One connection for both statements: each connection returned to sqlx's pool costs a
        // round trip to PostgreSQL (the pool pings it on release), so a page pays that once.
        let mut connection = pool.acquire().await?;
        let mut count = QueryBuilder::new(self.count);
        count.push(" WHERE TRUE");
        filter(&mut count);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&mut *connection)
            .await?;

        let mut query = QueryBuilder::new(self.select);
        query.push(" WHERE TRUE");
        filter(&mut query);
        let direction = if order.descending { "DESC" } else { "ASC" };
        query.push(format_args!(" ORDER BY {} {direction}", order.column));
        if order.column != self.key {
            query.push(format_args!(", {} ASC", self.key));
        }
        query
            .push(" LIMIT ")
            .push_bind(i64::from(page.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
        let rows: Vec<R> = query.build_query_as().fetch_all(&mut *connection).await?;
        let items = rows.into_iter().map(T::from).collect();
        Ok(Page::new(
            items,
            page,
            u64::try_from(total).unwrap_or_default(),
        ))
    }
}

/// `%text%` for ILIKE with the pattern characters of `text` escaped, so `50%` matches the
/// literal string rather than everything starting with 50.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_characters_are_matched_literally() {
        assert_eq!(contains_pattern("chai"), "%chai%");
        assert_eq!(contains_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
