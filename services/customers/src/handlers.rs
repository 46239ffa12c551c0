//! One handler per operation. The runtime has already enforced the operation's declared auth
//! level on the caller (the gateway does too; services do not trust that every NATS client is
//! the gateway); each handler validates its input into 422 field errors, then queries the database
//! (`db`: one statement, or a count and a page for lists). A create runs once per
//! `Idempotency-Key` ([`runtime::idempotency`]). Every change stores its domain event
//! (`customers.created|updated|deleted`) in the same transaction ([`runtime::outbox`]); a
//! patch that changes nothing has none.

use contract::contact::Contact;
use contract::customers::{
    CreateCustomer, Customer, CustomerIdParams, CustomerPatch, CustomerSort, DeleteCustomer,
    GetCustomer, ListCustomers, UpdateCustomer, limits,
};
use contract::events::EventType;
use contract::page::{Page, Sort};
use contract::{FieldErrors, RequestOf, ServiceError};
use runtime::idempotency::Idempotency;
use runtime::outbox;
use runtime::pg::{found, reply_error};
use runtime::{RequestContext, ServiceBuilder};
use sqlx::PgPool;

use crate::db;
use crate::validate::{self, MAX_FILTER_CHARS};

/// The service with every endpoint, over `pool`.
pub fn service(pool: PgPool) -> ServiceBuilder<PgPool> {
    ServiceBuilder::new(
        crate::SERVICE,
        env!("CARGO_PKG_VERSION"),
        "Northwind customers",
        pool,
    )
    .endpoint::<ListCustomers, _>(list)
    .endpoint::<GetCustomer, _>(get)
    .endpoint::<CreateCustomer, _>(create)
    .endpoint::<UpdateCustomer, _>(update)
    .endpoint::<DeleteCustomer, _>(delete)
}

/// The customer id of the request's path; one that cannot exist is simply not found.
fn customer_id(params: &CustomerIdParams) -> Result<String, ServiceError> {
    validate::customer_id(&params.id).ok_or_else(|| not_found(&params.id))
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found(format!("no customer with id `{id}`"))
}

async fn list(
    pool: PgPool,
    _: RequestContext,
    req: RequestOf<ListCustomers>,
) -> Result<Page<Customer>, ServiceError> {
    let query = req.query;
    let mut errors = FieldErrors::default();
    for (field, value) in [
        ("q", &query.q),
        ("country", &query.country),
        ("city", &query.city),
    ] {
        errors.text(field, value.as_deref(), MAX_FILTER_CHARS);
    }
    let sort = errors.sort(
        query.sort.as_deref(),
        Sort::ascending(CustomerSort::CustomerId),
    );
    let page = errors.page(query.paging());
    errors.finish()?;
    fn non_empty(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.is_empty())
    }
    let filter = db::Filter {
        q: non_empty(&query.q),
        country: non_empty(&query.country),
        city: non_empty(&query.city),
    };
    db::list(&pool, &filter, sort, page)
        .await
        .map_err(reply_error)
}

async fn get(
    pool: PgPool,
    _: RequestContext,
    req: RequestOf<GetCustomer>,
) -> Result<Customer, ServiceError> {
    let id = customer_id(&req.params)?;
    found(db::get(&pool, &id).await, || not_found(&id))
}

/// The length and character checks of the optional text columns, each with its limit.
fn check_optional_columns(errors: &mut FieldErrors, columns: &[(&str, &Option<String>, usize)]) {
    for &(field, value, max) in columns {
        errors.text(field, value.as_deref(), max);
    }
}

async fn create(
    pool: PgPool,
    ctx: RequestContext,
    req: RequestOf<CreateCustomer>,
) -> Result<Customer, ServiceError> {
    let idempotency = Idempotency::of::<CreateCustomer>(&ctx, &req)?;
    let new = req.body;
    let mut errors = FieldErrors::default();
    let id = match new.customer_id.as_deref() {
        None => {
            errors.add("customer_id", "is required");
            None
        }
        Some(raw) => {
            let id = validate::customer_id(raw);
            if id.is_none() {
                errors.add("customer_id", "must be exactly 5 letters (A-Z)");
            }
            id
        }
    };
    errors.required_text(
        "company_name",
        new.company_name.as_deref(),
        limits::COMPANY_NAME,
    );
    check_optional_columns(
        &mut errors,
        &[
            ("contact_name", &new.contact_name, limits::CONTACT_NAME),
            ("contact_title", &new.contact_title, limits::CONTACT_TITLE),
            ("address", &new.address, limits::ADDRESS),
            ("city", &new.city, limits::CITY),
            ("region", &new.region, limits::REGION),
            ("postal_code", &new.postal_code, limits::POSTAL_CODE),
            ("country", &new.country, limits::COUNTRY),
            ("phone", &new.phone, limits::PHONE),
            ("fax", &new.fax, limits::FAX),
        ],
    );
    errors.finish()?;
    // Both are present: finish() refused the request otherwise.
    let customer = Customer {
        customer_id: id.unwrap_or_default(),
        company_name: new.company_name.unwrap_or_default(),
        contact: Contact {
            contact_name: new.contact_name,
            contact_title: new.contact_title,
            address: new.address,
            city: new.city,
            region: new.region,
            postal_code: new.postal_code,
            country: new.country,
            phone: new.phone,
            fax: new.fax,
        },
    };
    outbox::created(
        idempotency,
        &pool,
        &ctx,
        EventType::CustomerCreated,
        |created: &Customer| created.customer_id.clone(),
        move |conn| {
            Box::pin(async move {
                db::insert(conn, &customer).await.map_err(|e| {
                    let err = reply_error(e);
                    if err.status() == 409 {
                        ServiceError::conflict(format!(
                            "a customer with id `{}` already exists",
                            customer.customer_id
                        ))
                        .with_details(err.details.unwrap_or_default())
                    } else {
                        err
                    }
                })
            })
        },
    )
    .await
}

async fn update(
    pool: PgPool,
    ctx: RequestContext,
    req: RequestOf<UpdateCustomer>,
) -> Result<Customer, ServiceError> {
    let patch: CustomerPatch = req.body;
    let mut errors = FieldErrors::default();
    let mut changes = Vec::new();
    if let Some(name) = errors.not_null("company_name", patch.company_name) {
        errors.required_text("company_name", Some(&name), limits::COMPANY_NAME);
        changes.push(("company_name", Some(name)));
    }
    let nullable = [
        ("contact_name", patch.contact_name, limits::CONTACT_NAME),
        ("contact_title", patch.contact_title, limits::CONTACT_TITLE),
        ("address", patch.address, limits::ADDRESS),
        ("city", patch.city, limits::CITY),
        ("region", patch.region, limits::REGION),
        ("postal_code", patch.postal_code, limits::POSTAL_CODE),
        ("country", patch.country, limits::COUNTRY),
        ("phone", patch.phone, limits::PHONE),
        ("fax", patch.fax, limits::FAX),
    ];
    for (column, value, max) in nullable {
        if let Some(value) = value {
            errors.text(column, value.as_deref(), max);
            changes.push((column, value));
        }
    }
    errors.finish()?;
    let id = customer_id(&req.params)?;
    if changes.is_empty() {
        return found(db::get(&pool, &id).await, || not_found(&id));
    }
    outbox::changed(
        &pool,
        &ctx,
        EventType::CustomerUpdated,
        &id,
        async |db| db::update(db, &id, changes).await,
        || not_found(&id),
    )
    .await
}

async fn delete(
    pool: PgPool,
    ctx: RequestContext,
    req: RequestOf<DeleteCustomer>,
) -> Result<(), ServiceError> {
    let id = customer_id(&req.params)?;
    outbox::changed(
        &pool,
        &ctx,
        EventType::CustomerDeleted,
        &id,
        async |db| db::delete(db, &id).await,
        || not_found(&id),
    )
    .await
    .map(drop)
}
