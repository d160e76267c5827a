-- The catalogs as ORMs and tools read them: information_schema.tables / columns /
-- table_constraints / key_column_usage / schemata, and the pg_catalog tables, views, functions,
-- casts and operators their schema queries use. Each statement goes to terrarium and to
-- PostgreSQL 15; see src/diff/pg.rs. (psql's own \d queries are compared in
-- tests/pg_psql_catalog.rs.) OIDs differ between any two databases, so no query shows one.

CREATE TABLE accounts (id serial PRIMARY KEY, email varchar(120) NOT NULL UNIQUE,
    balance numeric(12,2) DEFAULT 0, active boolean NOT NULL DEFAULT true, note text DEFAULT 'n/a');
CREATE TABLE items (sku bigint, shop int, qty smallint NOT NULL DEFAULT 1, price double precision,
    ratio real, name char(8), added timestamp DEFAULT now(), PRIMARY KEY (sku, shop), UNIQUE (name));
CREATE TABLE plain (a int, b text);

-- information_schema: the tables and their columns.
SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name;
SELECT * FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name;
SELECT table_catalog = current_database() FROM information_schema.tables WHERE table_name = 'plain';
SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type,
       character_maximum_length, numeric_precision, numeric_scale
FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position;
SELECT * FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position;
SELECT column_name, udt_name, character_octet_length, numeric_precision_radix, datetime_precision
FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position;
SELECT column_name FROM information_schema.columns WHERE table_name = 'nosuch';

-- Keys and constraints (PostgreSQL 15 also lists NOT NULL columns as CHECK constraints, named
-- after OIDs, so only their number is compared).
SELECT constraint_name, table_name, constraint_type, is_deferrable, initially_deferred, enforced
FROM information_schema.table_constraints
WHERE table_schema = 'public' AND constraint_type <> 'CHECK' ORDER BY constraint_name;
SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = 'public' AND constraint_type = 'CHECK';
SELECT constraint_name, table_name, column_name, ordinal_position
FROM information_schema.key_column_usage WHERE table_schema = 'public' ORDER BY constraint_name, ordinal_position;
SELECT kcu.column_name FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
WHERE tc.table_name = 'items' AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position;
SELECT schema_name, schema_owner FROM information_schema.schemata ORDER BY schema_name;

-- pg_catalog: relations, columns, indexes, constraints.
SELECT c.relname, c.relkind, c.relnatts, c.relhasindex, c.relpersistence, c.relispartition
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' ORDER BY c.relname;
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, a.attnum
FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'accounts'::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;
SELECT a.attname, a.attnum FROM pg_attribute a WHERE a.attrelid = 'plain'::regclass ORDER BY a.attnum;
SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) AS plain_form, pg_get_expr(d.adbin, d.adrelid, true) AS pretty
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'items'::regclass ORDER BY a.attnum;
SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = 'items'::regclass AND i.indisprimary ORDER BY a.attnum;
SELECT c2.relname, i.indisprimary, i.indisunique, i.indnatts, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c2 ON c2.oid = i.indexrelid WHERE i.indrelid = 'items'::regclass ORDER BY c2.relname;
SELECT conname, contype, condeferrable, pg_get_constraintdef(oid), pg_get_constraintdef(oid, true)
FROM pg_constraint WHERE conrelid = 'items'::regclass ORDER BY conname;
SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname;
SELECT tablename, tableowner, hasindexes, hasrules, hastriggers FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename;
SELECT seqtypid::regtype::text, seqstart, seqincrement, seqmax, seqmin, seqcycle FROM pg_sequence;
SELECT pg_get_serial_sequence('accounts', 'id'), pg_get_serial_sequence('items', 'sku');

-- Casts to and from the object-identifier types.
SELECT 'accounts'::regclass::text, 'public.accounts'::regclass::text,
       'accounts'::regclass::oid = (SELECT oid FROM pg_class WHERE relname = 'accounts');
SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0;
SELECT 'nosuch'::regclass;
SELECT 'pg_catalog.pg_class'::regclass::oid::int, 'pg_namespace'::regclass::oid::int;
SELECT 23::regtype::text, 1043::regtype::text, 'integer'::regtype::oid::int;

-- Roles, databases, schemas, types, access methods.
SELECT current_user, current_schema(), current_schemas(false)::text, current_schemas(true)::text;
SELECT nspname, pg_get_userbyid(nspowner), obj_description(oid, 'pg_namespace') FROM pg_namespace ORDER BY nspname;
SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolconnlimit, rolbypassrls
FROM pg_roles WHERE rolname IN ('postgres', 'pg_database_owner', 'pg_monitor') ORDER BY rolname;
SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datistemplate, datallowconn, datconnlimit,
       array_to_string(datacl, ','), shobj_description(oid, 'pg_database')
FROM pg_database WHERE datname IN ('postgres', 'template0', 'template1') ORDER BY datname;
SELECT datname = current_database() FROM pg_database WHERE datname = current_database();
SELECT oid::int, typname, typlen, typbyval, typtype, typcategory, typelem::int, typarray::int
FROM pg_type WHERE oid IN (16, 19, 20, 21, 23, 25, 26, 700, 701, 1042, 1043, 1114, 1700, 1007) ORDER BY oid;
SELECT amname, amtype FROM pg_am WHERE amname IN ('heap', 'btree', 'hash') ORDER BY amname;
SELECT spcname FROM pg_tablespace ORDER BY 1;
SELECT format_type(1043, 24), format_type(1042, -1), format_type(1042, NULL), format_type(1700, 786438),
       format_type(23, NULL), format_type(1007, NULL), format_type(NULL, NULL);

-- The operators and functions psql's queries use.
SELECT 'abc' ~ '^a', 'abc' !~ 'z', 'ABC' ~* 'b', 'ABC' !~* 'b', 'x' OPERATOR(pg_catalog.~) '^x$' COLLATE pg_catalog.default;
SELECT relname FROM pg_class WHERE relname OPERATOR(pg_catalog.~) '^(acc.*)$' COLLATE pg_catalog.default ORDER BY 1;
SELECT 'a' ~ '(';
SELECT 'a' ~ '[a';
SELECT 'a' ~ 'a{3,1}';
SELECT pg_size_pretty(123456789::bigint), pg_size_pretty(10239::bigint), pg_size_pretty(10240::bigint),
       pg_size_pretty(-20971520::bigint);
SELECT array_to_string(ARRAY(SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1), ', ');
SELECT 1 = ANY('{1,2}'), 3 = ANY('{1,2}'), 'b' = ANY('{a,NULL}'), 1 <> ALL('{2,3}');
SELECT pg_table_is_visible('accounts'::regclass), pg_relation_size('plain'::regclass), pg_table_size('plain'::regclass);
SELECT quote_ident('plain'), quote_ident('Mixed'), quote_ident('select');
