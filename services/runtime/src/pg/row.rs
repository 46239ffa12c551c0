//! Rows read by column position: [`row!`](crate::row) declares a row struct and its
//! `FromRow`, reading the fields in the order the `SELECT` lists their columns.
//!
//! sqlx's derived `FromRow` finds each column by name (a hash lookup) and checks each value's
//! type against the column's before decoding it. Both are per value, on every row, and the
//! type check of a `String` alone compares the column's type with six text types by name:
//! `make bench-instructions` counted the derived decoding at a third of the customers
//! service's instructions for a page of 20 rows. The columns of our statements are fixed
//! text, so the position and type of each are known when the statement is written.
//!
//! Debug builds (every test) still check each column's name against the field's and its type
//! as sqlx would, and that no column is left over, so a `SELECT` edited out of step with its
//! row fails the tests that run it. Release builds decode by position without the checks; a
//! value of another type then decodes to an error (or a wrong value), never to undefined
//! behaviour.

use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

#[doc(hidden)]
pub use sqlx::{Error as __Error, FromRow as __FromRow, postgres::PgRow as __PgRow};

/// Reads a row's columns one after another, in the order of the `SELECT`.
#[derive(Debug)]
pub struct Columns<'r> {
    row: &'r PgRow,
    next: usize,
}

impl<'r> Columns<'r> {
    /// Starts at the first column of `row`.
    pub fn new(row: &'r PgRow) -> Self {
        Self { row, next: 0 }
    }

    /// The next column's value, which debug builds check is called `name` and has a type
    /// `T` decodes.
    pub fn next<T>(&mut self, name: &str) -> Result<T, sqlx::Error>
    where
        T: Decode<'r, Postgres> + Type<Postgres>,
    {
        let index = self.next;
        self.next += 1;
        if cfg!(debug_assertions) {
            let column = self.row.try_column(index)?;
            if sqlx::Column::name(column) != name {
                return Err(out_of_step(format!(
                    "column {index} is `{}`, the row's field is `{name}`",
                    sqlx::Column::name(column)
                )));
            }
            return self.row.try_get(index);
        }
        self.row.try_get_unchecked(index)
    }

    /// Ends the row; debug builds check that every column was read.
    pub fn finish(self) -> Result<(), sqlx::Error> {
        let columns = self.row.len();
        if cfg!(debug_assertions) && self.next != columns {
            return Err(out_of_step(format!(
                "the statement selects {columns} columns, the row reads {}",
                self.next
            )));
        }
        Ok(())
    }
}

fn out_of_step(message: String) -> sqlx::Error {
    sqlx::Error::Decode(format!("row out of step with its SELECT: {message}").into())
}

/// Declares a row struct whose `FromRow` reads its fields by position, in the order they are
/// declared, which must be the order of the `SELECT`'s columns (see the [module
/// docs](crate::pg::row)):
///
/// ```
/// runtime::row! {
///     /// A category as selected.
///     #[derive(Debug)]
///     pub struct CategoryRow {
///         category_id: i16,
///         category_name: String,
///     }
/// }
/// ```
#[macro_export]
macro_rules! row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty,)*
        }

        impl<'r> $crate::pg::row::__FromRow<'r, $crate::pg::row::__PgRow> for $name {
            fn from_row(
                row: &'r $crate::pg::row::__PgRow,
            ) -> ::std::result::Result<Self, $crate::pg::row::__Error> {
                let mut columns = $crate::pg::row::Columns::new(row);
                // Struct fields are evaluated in the order written: the declared order.
                let value = Self {
                    $($field: columns.next(::std::stringify!($field))?,)*
                };
                columns.finish()?;
                Ok(value)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::test_support::PgServer;

    crate::row! {
        #[derive(Debug, PartialEq)]
        struct Pair {
            id: i64,
            name: Option<String>,
        }
    }

    #[tokio::test]
    async fn fields_are_read_in_order_and_a_select_out_of_step_is_an_error() {
        let pg = PgServer::start().await.expect("postgres starts");
        let url = pg.create_database("rows").await.expect("database");
        let pool = sqlx::PgPool::connect(&url).await.expect("pool");
        let read = |sql: &'static str| sqlx::query_as::<_, Pair>(sql).fetch_one(&pool);
        assert_eq!(
            read("SELECT 7::int8 AS id, 'x' AS name").await.unwrap(),
            Pair {
                id: 7,
                name: Some("x".into())
            }
        );
        assert_eq!(
            read("SELECT 8::int8 AS id, NULL::text AS name")
                .await
                .unwrap(),
            Pair { id: 8, name: None }
        );
        for (sql, expected) in [
            ("SELECT 'x' AS name, 7::int8 AS id", "column 0 is `name`"),
            ("SELECT 7::int8 AS id", "column"),
            ("SELECT 7::int8 AS id, 'x' AS name, 1 AS extra", "selects 3"),
            ("SELECT 7::int4 AS id, 'x' AS name", "mismatched types"),
        ] {
            let err = read(sql).await.unwrap_err().to_string();
            assert!(err.contains(expected), "{sql}: {err}");
        }
    }
}
