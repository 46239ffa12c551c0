//! Pagination shared by every list operation.
//!
//! A list query carries `page` (1-based, default 1) and `limit` (default [`DEFAULT_LIMIT`],
//! at most [`MAX_LIMIT`]). A limit over the cap, or a zero page or limit, is refused with 422
//! rather than silently changed, so a client never receives fewer rows than it believes it
//! asked for. A page past the end is not an error: it has no rows, and `total`/`pages` say
//! where the data ends.
//!
//! ```
//! use contract::page::{Page, PageQuery};
//! let spec = PageQuery { page: Some(5), limit: Some(20) }.resolve().unwrap();
//! assert_eq!(spec.offset(), 80);
//! let page: Page<u8> = Page::new(vec![], spec, 91);
//! assert_eq!((page.page, page.limit, page.total, page.pages), (5, 20, 91, 5));
//! assert!(PageQuery { page: None, limit: Some(101) }.resolve().is_err());
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrors};

/// Rows per page when the query gives no `limit`.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 100;
/// The longest search or filter value (`q`, `country`, …) accepted in a list query, in
/// characters.
pub const MAX_FILTER_CHARS: usize = 100;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Page_{T}")]
pub struct Page<T> {
    /// The rows of this page, in the requested order.
    pub data: Vec<T>,
    /// This page's number, from 1.
    pub page: u32,
    /// The page size used.
    pub limit: u32,
    /// Rows matching the filters, over all pages.
    pub total: u64,
    /// Pages of `limit` rows needed for `total` (0 when nothing matches).
    pub pages: u64,
}

impl<T> Page<T> {
    /// A page of `data` for `spec`, out of `total` matching rows.
    pub fn new(data: Vec<T>, spec: PageSpec, total: u64) -> Self {
        Self {
            data,
            page: spec.page,
            limit: spec.limit,
            total,
            pages: total.div_ceil(u64::from(spec.limit)),
        }
    }
}

/// Declares a list operation's query: the struct as written, with the `page` and `limit`
/// every list takes appended, so the paging fields, their bounds and defaults are declared
/// once, and `paging()` hands them to [`FieldErrors::page`]. (`#[serde(flatten)]` cannot share
/// them: list queries refuse unknown fields, and serde does not combine `deny_unknown_fields`
/// with `flatten`.)
macro_rules! list_query {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        $vis struct $name {
            $($fields)*
            /// Page number, from 1.
            #[serde(default, deserialize_with = "crate::de::opt_from_str")]
            #[schemars(range(min = 1), extend("default" = 1))]
            pub page: Option<u32>,
            /// Rows per page.
            #[serde(default, deserialize_with = "crate::de::opt_from_str")]
            #[schemars(
                range(min = 1, max = crate::page::MAX_LIMIT),
                extend("default" = crate::page::DEFAULT_LIMIT)
            )]
            pub limit: Option<u32>,
        }

        impl $name {
            /// The query's `page` and `limit`, as received.
            #[must_use]
            pub fn paging(&self) -> crate::page::PageQuery {
                crate::page::PageQuery {
                    page: self.page,
                    limit: self.limit,
                }
            }
        }
    };
}
pub(crate) use list_query;

list_query! {
    /// The `page` and `limit` of a list query, as received; also the whole query of a list that
    /// has no filters. Numbers may arrive as strings (`"2"`), as the gateway sends them.
    #[serde_with::skip_serializing_none]
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct PageQuery {}
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpec {
    /// Page number, from 1.
    pub page: u32,
    /// Page size, 1..=[`MAX_LIMIT`].
    pub limit: u32,
}

impl PageSpec {
    /// Rows to skip.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }
}

impl PageQuery {
    /// Applies the defaults and checks the bounds; the errors name `page` or `limit`.
    pub fn resolve(self) -> Result<PageSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        let page = self.page.unwrap_or(1);
        if page == 0 {
            errors.push(FieldError::new("page", "must be at least 1"));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if errors.is_empty() {
            Ok(PageSpec { page, limit })
        } else {
            Err(errors)
        }
    }
}

/// The sortable columns of one list: a closed set, so a sort never reaches SQL as user text.
pub trait SortKey: Copy + Sized + 'static {
    /// Every key, in the order the error message lists them.
    const ALL: &'static [Self];
    /// The key's name in the `sort` parameter.
    fn name(self) -> &'static str;
}

/// A parsed `sort` parameter: `name` ascending or `-name` descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<K> {
    /// The column.
    pub key: K,
    /// Whether the order is descending.
    pub descending: bool,
}

impl<K> Sort<K> {
    /// `key` ascending: a list's default order.
    pub const fn ascending(key: K) -> Self {
        Self {
            key,
            descending: false,
        }
    }
}

impl<K: SortKey> Sort<K> {
    /// Parses `sort`; an unknown key is a field error on `sort` listing the allowed keys.
    pub fn parse(sort: &str) -> Result<Self, FieldError> {
        let (descending, name) = match sort.trim().strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, sort.trim()),
        };
        K::ALL
            .iter()
            .find(|k| k.name() == name)
            .map(|&key| Self { key, descending })
            .ok_or_else(|| {
                let names: Vec<_> = K::ALL.iter().map(|k| k.name()).collect();
                FieldError::new(
                    "sort",
                    format!(
                        "must be one of {} (prefix `-` for descending)",
                        names.join(", ")
                    ),
                )
            })
    }
}

impl FieldErrors {
    /// The `sort` parameter: `default` when it is absent or blank; an unknown key is recorded
    /// on `sort` (and `default` returned, so the other fields are still checked).
    pub fn sort<K: SortKey>(&mut self, sort: Option<&str>, default: Sort<K>) -> Sort<K> {
        match sort.filter(|s| !s.trim().is_empty()) {
            None => default,
            Some(sort) => Sort::parse(sort).unwrap_or_else(|e| {
                self.0.push(e);
                default
            }),
        }
    }

    /// `page` and `limit` with their defaults; a value out of bounds is recorded on its field
    /// (and the first page of the default size returned, which [`FieldErrors::finish`] then
    /// never lets through).
    pub fn page(&mut self, query: PageQuery) -> PageSpec {
        query.resolve().unwrap_or_else(|errors| {
            self.0.extend(errors);
            PageSpec {
                page: 1,
                limit: DEFAULT_LIMIT,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bounds_and_page_count() {
        let spec = PageQuery::default().resolve().unwrap();
        assert_eq!(
            (spec.page, spec.limit, spec.offset()),
            (1, DEFAULT_LIMIT, 0)
        );
        let max = PageQuery {
            page: Some(1),
            limit: Some(MAX_LIMIT),
        };
        assert_eq!(max.resolve().unwrap().limit, MAX_LIMIT);
        let bad = PageQuery {
            page: Some(0),
            limit: Some(0),
        }
        .resolve()
        .unwrap_err();
        let fields: Vec<_> = bad.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page", "limit"]);
        assert_eq!(Page::<u8>::new(vec![], spec, 0).pages, 0);
        assert_eq!(Page::<u8>::new(vec![], spec, 20).pages, 1);
        assert_eq!(Page::<u8>::new(vec![], spec, 21).pages, 2);
    }

    #[test]
    fn page_query_accepts_strings_and_rejects_strays() {
        let q: PageQuery = serde_json::from_str(r#"{"page":"2","limit":5}"#).unwrap();
        assert_eq!((q.page, q.limit), (Some(2), Some(5)));
        assert!(serde_json::from_str::<PageQuery>(r#"{"pgae":"2"}"#).is_err());
        assert!(serde_json::from_str::<PageQuery>(r#"{"page":"-1"}"#).is_err());
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Key {
        Id,
        Name,
    }

    impl SortKey for Key {
        const ALL: &'static [Self] = &[Self::Id, Self::Name];
        fn name(self) -> &'static str {
            match self {
                Self::Id => "id",
                Self::Name => "name",
            }
        }
    }

    #[test]
    fn sort_parses_direction_and_refuses_unknown_keys() {
        assert_eq!(
            Sort::parse("name"),
            Ok(Sort {
                key: Key::Name,
                descending: false
            })
        );
        assert_eq!(
            Sort::parse("-id"),
            Ok(Sort {
                key: Key::Id,
                descending: true
            })
        );
        let err = Sort::<Key>::parse("name; DROP TABLE x").unwrap_err();
        assert_eq!(err.field, "sort");
        assert!(err.message.contains("id, name"), "{}", err.message);
    }

    #[test]
    fn the_field_error_builder_checks_sort_and_page_together() {
        let by_id = Sort {
            key: Key::Id,
            descending: false,
        };
        let mut errors = FieldErrors::default();
        assert_eq!(errors.sort(None, by_id), by_id);
        assert_eq!(errors.sort(Some("  "), by_id), by_id);
        assert_eq!(errors.sort(Some("-name"), by_id).key, Key::Name);
        let page = errors.page(PageQuery {
            page: Some(3),
            limit: Some(5),
        });
        assert_eq!((page.page, page.limit), (3, 5));
        assert!(errors.0.is_empty());

        // Every problem recorded, in the order checked; the defaults stand in meanwhile.
        assert_eq!(errors.sort(Some("nope"), by_id), by_id);
        let page = errors.page(PageQuery {
            page: Some(0),
            limit: Some(MAX_LIMIT + 1),
        });
        assert_eq!((page.page, page.limit), (1, DEFAULT_LIMIT));
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sort", "page", "limit"]);
        assert!(errors.finish().is_err());
    }
}
