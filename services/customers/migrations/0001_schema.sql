-- The customers table with every Northwind column, as in northwind.sql (varchar lengths kept:
-- the service validates input against them). The CHECK mirrors the service's rule for new
-- ids: exactly five characters (Northwind's are five upper-case letters).
CREATE TABLE customers (
    customer_id   varchar(5)  NOT NULL,
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
    CONSTRAINT pk_customers PRIMARY KEY (customer_id),
    CONSTRAINT customers_customer_id_length CHECK (char_length(customer_id) = 5)
);

-- Filters by country and city are equality matches.
CREATE INDEX customers_country_city ON customers (country, city);
