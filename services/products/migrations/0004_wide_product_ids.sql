-- A smallint identity runs out after id 32,767, and one busy client can get there in seconds:
-- widen the id (PostgreSQL widens its identity sequence with it). Category and supplier ids
-- stay smallint: those tables are the seeded Northwind ones, with no way to add rows.
ALTER TABLE products ALTER COLUMN product_id TYPE bigint;
