-- Categories, suppliers and products as in Northwind's northwind.sql, so the seed rows load
-- unchanged; 0003 then turns the legacy types into what the API needs.
CREATE TABLE categories (
    category_id   smallint    NOT NULL,
    category_name varchar(15) NOT NULL,
    description   text,
    picture       bytea,
    CONSTRAINT pk_categories PRIMARY KEY (category_id)
);

CREATE TABLE suppliers (
    supplier_id   smallint    NOT NULL,
    company_name  varchar(40) NOT NULL,
    contact_name  varchar(30),
    contact_title varchar(30),
    address       varchar(60),
    city          varchar(15),
    region        varchar(15),
    postal_code   varchar(10),
    country       varchar(15),
    phone         varchar(24),
    fax           varchar(24),
    homepage      text,
    CONSTRAINT pk_suppliers PRIMARY KEY (supplier_id)
);

CREATE TABLE products (
    product_id        smallint    NOT NULL,
    product_name      varchar(40) NOT NULL,
    supplier_id       smallint,
    category_id       smallint,
    quantity_per_unit varchar(20),
    unit_price        real,
    units_in_stock    smallint,
    units_on_order    smallint,
    reorder_level     smallint,
    discontinued      integer     NOT NULL,
    CONSTRAINT pk_products PRIMARY KEY (product_id),
    CONSTRAINT fk_products_categories FOREIGN KEY (category_id) REFERENCES categories,
    CONSTRAINT fk_products_suppliers FOREIGN KEY (supplier_id) REFERENCES suppliers
);
