-- The test service's only table.
CREATE TABLE notes (id text PRIMARY KEY);
