//! One handler per operation. The runtime has already enforced the operation's declared auth
//! level on the caller (the gateway does too; services do not trust that every NATS client is
//! the gateway); each handler validates its input into 422 field errors, then queries the database
//! (`db`: one statement, or a count and a page for lists). A create runs once per
//! `Idempotency-Key` ([`runtime::idempotency`]). Every change stores its domain event
//! (`products.created|updated|deleted`) in the same transaction ([`runtime::outbox`]); a
//! patch that changes nothing has none.

use std::str::FromStr;

use contract::events::EventType;
use contract::page::{Page, PageQuery, Sort};
use contract::products::{
    Category, CreateProduct, DeleteProduct, GetProduct, ListCategories, ListProducts,
    ListSuppliers, NewProduct, Product, ProductPatch, ProductSort, Supplier, UpdateProduct, limits,
};
use contract::{FieldErrors, Operation, RequestOf, ServiceError};
use runtime::idempotency::Idempotency;
use runtime::outbox;
use runtime::pg::{found, reply_error};
use runtime::{RequestContext, ServiceBuilder};
use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::db::{self, Value};
use crate::validate::{self, MAX_FILTER_CHARS};

/// The service with every endpoint, over `pool`.
pub fn service(pool: PgPool) -> ServiceBuilder<PgPool> {
    ServiceBuilder::new(
        crate::SERVICE,
        env!("CARGO_PKG_VERSION"),
        "Northwind products, categories and suppliers",
        pool,
    )
    .endpoint::<ListProducts, _>(list)
    .endpoint::<GetProduct, _>(get)
    .endpoint::<CreateProduct, _>(create)
    .endpoint::<UpdateProduct, _>(update)
    .endpoint::<DeleteProduct, _>(delete)
    .endpoint::<ListCategories, _>(reference::<ListCategories, Category>)
    .endpoint::<ListSuppliers, _>(reference::<ListSuppliers, Supplier>)
}

/// The product id of the path: 400 when missing.
fn product_id(id: Option<i64>) -> Result<i64, ServiceError> {
    id.ok_or_else(|| ServiceError::bad_request("the product id is missing"))
}

fn not_found(id: impl std::fmt::Display) -> ServiceError {
    ServiceError::not_found(format!("no product with id {id}"))
}

async fn list(
    pool: PgPool,
    _: RequestContext,
    req: RequestOf<ListProducts>,
) -> Result<Page<Product>, ServiceError> {
    let query = req.query;
    let mut errors = FieldErrors::default();
    errors.text("q", query.q.as_deref(), MAX_FILTER_CHARS);
    // A filter value is any decimal a price can hold (`numeric(10,2)`), either sign; beyond
    // that it is out of range rather than silently matching everything or nothing.
    let max = Decimal::from_str(limits::PRICE_MAX).expect("a valid constant");
    let bound = |p: &Option<contract::products::Price>| {
        p.as_ref()
            .and_then(|p| Decimal::from_str(p.as_str()).ok())
            .filter(|d| d.abs() <= max)
    };
    for (field, value) in [
        ("min_price", &query.min_price),
        ("max_price", &query.max_price),
    ] {
        if value.is_some() && bound(value).is_none() {
            errors.add(field, "is out of range");
        }
    }
    let sort = errors.sort(
        query.sort.as_deref(),
        Sort::ascending(ProductSort::ProductId),
    );
    let page = errors.page(query.paging());
    errors.finish()?;
    let filter = db::Filter {
        q: query.q.as_deref().filter(|q| !q.is_empty()),
        category_id: query.category_id,
        supplier_id: query.supplier_id,
        discontinued: query.discontinued,
        min_price: bound(&query.min_price),
        max_price: bound(&query.max_price),
        in_stock: query.in_stock,
    };
    db::list(&pool, &filter, sort, page)
        .await
        .map_err(reply_error)
}

async fn get(
    pool: PgPool,
    _: RequestContext,
    req: RequestOf<GetProduct>,
) -> Result<Product, ServiceError> {
    let id = product_id(req.params.id)?;
    found(db::get(&pool, id).await, || not_found(id))
}

async fn create(
    pool: PgPool,
    ctx: RequestContext,
    req: RequestOf<CreateProduct>,
) -> Result<Product, ServiceError> {
    let idempotency = Idempotency::of::<CreateProduct>(&ctx, &req)?;
    let body: NewProduct = req.body;
    let mut errors = FieldErrors::default();
    errors.required_text(
        "product_name",
        body.product_name.as_deref(),
        limits::PRODUCT_NAME,
    );
    errors.text(
        "quantity_per_unit",
        body.quantity_per_unit.as_deref(),
        limits::QUANTITY_PER_UNIT,
    );
    let row = db::NewRow {
        supplier_id: validate::id(&mut errors, "supplier_id", body.supplier_id),
        category_id: validate::id(&mut errors, "category_id", body.category_id),
        unit_price: validate::price(&mut errors, "unit_price", body.unit_price.as_ref()),
        units_in_stock: validate::small(&mut errors, "units_in_stock", body.units_in_stock),
        units_on_order: validate::small(&mut errors, "units_on_order", body.units_on_order),
        reorder_level: validate::small(&mut errors, "reorder_level", body.reorder_level),
        discontinued: body.discontinued.unwrap_or(false),
        quantity_per_unit: body.quantity_per_unit,
        product_name: body.product_name.unwrap_or_default(),
    };
    errors.finish()?;
    // A category or supplier that does not exist is a foreign-key violation: 422 on its field.
    outbox::created(
        idempotency,
        &pool,
        &ctx,
        EventType::ProductCreated,
        |created: &Product| created.product_id.to_string(),
        move |conn| Box::pin(async move { db::insert(conn, row).await.map_err(reply_error) }),
    )
    .await
}

async fn update(
    pool: PgPool,
    ctx: RequestContext,
    req: RequestOf<UpdateProduct>,
) -> Result<Product, ServiceError> {
    let ProductPatch {
        product_name,
        supplier_id,
        category_id,
        quantity_per_unit,
        unit_price,
        units_in_stock,
        units_on_order,
        reorder_level,
        discontinued,
    } = req.body;
    let mut errors = FieldErrors::default();
    let mut changes = Vec::new();
    if let Some(name) = errors.not_null("product_name", product_name) {
        errors.required_text("product_name", Some(&name), limits::PRODUCT_NAME);
        changes.push(("product_name", Value::Text(Some(name))));
    }
    if let Some(quantity) = quantity_per_unit {
        errors.text(
            "quantity_per_unit",
            quantity.as_deref(),
            limits::QUANTITY_PER_UNIT,
        );
        changes.push(("quantity_per_unit", Value::Text(quantity)));
    }
    for (column, value) in [("supplier_id", supplier_id), ("category_id", category_id)] {
        if let Some(value) = value {
            let id = validate::id(&mut errors, column, value);
            changes.push((column, Value::Small(id)));
        }
    }
    for (column, value) in [
        ("units_in_stock", units_in_stock),
        ("units_on_order", units_on_order),
        ("reorder_level", reorder_level),
    ] {
        if let Some(value) = value {
            let small = validate::small(&mut errors, column, value);
            changes.push((column, Value::Small(small)));
        }
    }
    if let Some(price) = unit_price {
        let price = validate::price(&mut errors, "unit_price", price.as_ref());
        changes.push(("unit_price", Value::Money(price)));
    }
    if let Some(flag) = errors.not_null("discontinued", discontinued) {
        changes.push(("discontinued", Value::Flag(flag)));
    }
    errors.finish()?;
    let id = product_id(req.params.id)?;
    if changes.is_empty() {
        return found(db::get(&pool, id).await, || not_found(id));
    }
    outbox::changed(
        &pool,
        &ctx,
        EventType::ProductUpdated,
        &id.to_string(),
        async |db| db::update(db, id, changes).await,
        || not_found(id),
    )
    .await
}

async fn delete(
    pool: PgPool,
    ctx: RequestContext,
    req: RequestOf<DeleteProduct>,
) -> Result<(), ServiceError> {
    let id = product_id(req.params.id)?;
    outbox::changed(
        &pool,
        &ctx,
        EventType::ProductDeleted,
        &id.to_string(),
        async |db| db::delete(db, id).await,
        || not_found(id),
    )
    .await
    .map(drop)
}

/// Lists a page of reference table `T`: categories or suppliers.
async fn reference<O, T>(
    pool: PgPool,
    _: RequestContext,
    req: RequestOf<O>,
) -> Result<Page<T>, ServiceError>
where
    O: Operation<Query = PageQuery, Response = Page<T>>,
    T: db::Reference,
{
    let mut errors = FieldErrors::default();
    let page = errors.page(req.query);
    errors.finish()?;
    db::reference_page(&pool, page).await.map_err(reply_error)
}
