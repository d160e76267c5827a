// node-postgres against a PostgreSQL server: prints one line per check (rows as node-postgres
// parses them, row counts, column type OIDs, error fields), so the output for terrarium and for the
// real PostgreSQL can be diffed line by line (clients/node/run_pg.sh does that).
//
//   node pg_check.js PORT [DATABASE]
//
// node-postgres speaks the simple protocol for a query without values, and the extended one
// (Parse with no parameter types, Bind with every value as text, Describe portal, Execute, Sync)
// for a query with values, so the server must infer each parameter's type from where it is used.
'use strict';

const { Client, Pool } = require('pg');
const Cursor = require('pg-cursor');

const port = Number(process.argv[2]);
const database = process.argv[3] || 'postgres';
const config = { host: '127.0.0.1', port, user: 'postgres', database };

function show(label, value) {
  console.log(`${label}: ${JSON.stringify(value)}`);
}

// What a query returned, as the caller sees it: command tag, row count, type OIDs, rows.
function result(r) {
  return { command: r.command, rowCount: r.rowCount, types: r.fields.map((f) => `${f.name}:${f.dataTypeID}`), rows: r.rows };
}

// The fields of an error that both servers fill in; `position`, `constraint`, `table`, `schema` and the
// source-location fields are left out (terrarium does not send them).
function error(e) {
  return { code: e.code, severity: e.severity, message: e.message, detail: e.detail, hint: e.hint };
}

async function check(label, fn) {
  try {
    show(label, await fn());
  } catch (e) {
    if (e.code) show(`${label} error`, error(e));
    else throw e;
  }
}

async function main() {
  const c = new Client(config);
  await c.connect();

  // Simple queries.
  await c.query('DROP TABLE IF EXISTS node_items');
  await check('create', async () => result(await c.query(
    'CREATE TABLE node_items (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric, big bigint, ok boolean, ratio double precision)')));
  await check('insert', async () => result(await c.query(
    "INSERT INTO node_items VALUES (1, 'apple', 3, 1.50, 9007199254740993, true, 0.25), (2, 'pear', NULL, 2, -1, false, NULL)")));
  await check('select', async () => result(await c.query('SELECT * FROM node_items ORDER BY id')));
  await check('literals', async () => result(await c.query(
    "SELECT 1 AS i, 2::int8 AS b, 1.5::float8 AS f, 2.50::numeric AS n, true AS t, 'x' AS s, NULL AS z, 7::smallint AS h")));
  await check('aggregates', async () => result(await c.query(
    'SELECT count(*), sum(qty), min(name), max(price), avg(id) FROM node_items')));
  await check('multi', async () => (await c.query('SELECT 1 AS a; SELECT 2 AS b')).map(result));
  await check('empty', async () => {
    const r = await c.query('');
    return { command: r.command, rowCount: r.rowCount, rows: r.rows };
  });

  // Parameterized queries: every value travels as text with no declared type.
  await check('param insert', async () => result(await c.query(
    'INSERT INTO node_items (id, name, qty, price, big, ok, ratio) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [3, 'plum', 7, '10.125', '-9223372036854775808', false, 1e-3])));
  await check('param nulls', async () => result(await c.query(
    'INSERT INTO node_items (id, name, qty, price, big, ok, ratio) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [4, 'fig', null, null, null, null, null])));
  await check('param where', async () => result(await c.query(
    'SELECT id, name FROM node_items WHERE qty > $1 OR name = $2 ORDER BY id', [5, 'pear'])));
  await check('param bool', async () => result(await c.query('SELECT id FROM node_items WHERE ok = $1 ORDER BY id', [true])));
  await check('param limit', async () => result(await c.query('SELECT id FROM node_items ORDER BY id LIMIT $1 OFFSET $2', [2, 1])));
  await check('param in', async () => result(await c.query('SELECT id FROM node_items WHERE id IN ($1, $2) ORDER BY id', [1, '4'])));
  await check('param is null', async () => result(await c.query('SELECT id FROM node_items WHERE qty IS NULL ORDER BY id')));
  await check('param select', async () => result(await c.query('SELECT $1::int4 + 1 AS n, $2::text AS s, $3::numeric AS d', [41, 'hi', '0.10'])));
  await check('param update', async () => result(await c.query('UPDATE node_items SET qty = qty + $1 WHERE id <= $2', [10, 3])));
  await check('param returning', async () => result(await c.query(
    'UPDATE node_items SET price = $1 WHERE id = $2 RETURNING id, price, qty', ['3.75', 2])));
  await check('param delete', async () => result(await c.query('DELETE FROM node_items WHERE id = $1 RETURNING name', [4])));
  await check('param bad int', async () => result(await c.query('SELECT id FROM node_items WHERE id = $1', ['one'])));
  await check('param count', async () => result(await c.query('SELECT id FROM node_items WHERE id = $1', [1, 2])));

  // rowMode 'array'.
  await check('array mode', async () => result(await c.query({ text: 'SELECT id, name, ok FROM node_items ORDER BY id', rowMode: 'array' })));
  await check('array mode params', async () => result(await c.query({
    text: 'SELECT name, price FROM node_items WHERE id = $1', values: [1], rowMode: 'array' })));

  // Named prepared statements, parsed once per connection and then reused.
  const named = { name: 'node_by_id', text: 'SELECT id, name, qty FROM node_items WHERE id = $1' };
  for (const id of [1, 2, 3, 9, 1]) {
    await check(`named ${id}`, async () => result(await c.query({ ...named, values: [id] })));
  }
  await check('named insert', async () => result(await c.query({
    name: 'node_ins', text: 'INSERT INTO node_items (id, name) VALUES ($1, $2)', values: [10, 'kiwi'] })));
  await check('named insert again', async () => result(await c.query({
    name: 'node_ins', text: 'INSERT INTO node_items (id, name) VALUES ($1, $2)', values: [10, 'kiwi'] })));
  await check('named after error', async () => result(await c.query({ ...named, values: [10] })));

  // Transactions.
  await c.query('BEGIN');
  await c.query('UPDATE node_items SET qty = 0 WHERE id = 1');
  await c.query('COMMIT');
  await check('committed', async () => result(await c.query('SELECT qty FROM node_items WHERE id = 1')));
  await c.query('BEGIN');
  await c.query('DELETE FROM node_items');
  await check('inside', async () => result(await c.query('SELECT count(*) FROM node_items')));
  await c.query('ROLLBACK');
  await check('rolled back', async () => result(await c.query('SELECT count(*) FROM node_items')));
  await c.query('BEGIN');
  await check('in block error', async () => result(await c.query('INSERT INTO node_items (id, name) VALUES (1, $1)', ['dup'])));
  await check('aborted block', async () => result(await c.query('SELECT 1')));
  await check('rollback tag', async () => result(await c.query('ROLLBACK')));
  await c.query('BEGIN');
  await c.query("INSERT INTO node_items (id, name) VALUES (20, 'kept')");
  await c.query('SAVEPOINT s1');
  await c.query("INSERT INTO node_items (id, name) VALUES (21, 'undone')");
  await c.query('ROLLBACK TO SAVEPOINT s1');
  await check('commit tag', async () => result(await c.query('COMMIT')));
  await check('savepoint', async () => result(await c.query('SELECT id, name FROM node_items WHERE id >= 20 ORDER BY id')));

  // Errors: code, severity, message, detail.
  await check('unique', async () => result(await c.query("INSERT INTO node_items (id, name) VALUES (1, 'again')")));
  await check('not null', async () => result(await c.query('INSERT INTO node_items (id) VALUES ($1)', [30])));
  await check('syntax', async () => result(await c.query('SELEC 1')));
  await check('no table', async () => result(await c.query('SELECT * FROM node_nowhere')));
  await check('no column', async () => result(await c.query('SELECT nosuchcolumn FROM node_items')));
  await check('division', async () => result(await c.query('SELECT 1/0')));
  await check('bad text', async () => result(await c.query("SELECT 'x'::int4")));
  await check('still fine', async () => result(await c.query('SELECT count(*) FROM node_items')));

  // Types as node-postgres parses them: int8 and numeric stay strings, bool and floats convert.
  await check('types', async () => {
    const r = await c.query(
      "SELECT 9223372036854775807::int8 AS i8, 123456789.123456789::numeric AS n, -0.5::numeric AS neg, false AS b, 1e300::float8 AS f, 32767::int2 AS s, 'é'::varchar AS v");
    return r.rows.map((row) => Object.entries(row).map(([k, v]) => `${k}=${typeof v}:${v}`));
  });

  // A cursor (pg-cursor): Execute with a row limit, PortalSuspended, Flush instead of Sync.
  await check('cursor', async () => {
    const cursor = c.query(new Cursor('SELECT id FROM node_items WHERE id < $1 ORDER BY id', [100]));
    const batches = [];
    for (;;) {
      const rows = await cursor.read(2);
      batches.push(rows.map((r) => r.id));
      if (rows.length === 0) break;
    }
    await cursor.close();
    return batches;
  });

  // A pool of four clients updating the same rows at once: row locks serialise the writers.
  await c.query('DROP TABLE IF EXISTS node_counters');
  await c.query('CREATE TABLE node_counters (id int PRIMARY KEY, n int NOT NULL)');
  await c.query('INSERT INTO node_counters VALUES (1, 0), (2, 0)');
  const pool = new Pool({ ...config, max: 4 });
  const work = [];
  for (let i = 0; i < 40; i++) {
    work.push(pool.query('UPDATE node_counters SET n = n + $1 WHERE id = $2', [1, (i % 2) + 1]));
  }
  for (let i = 0; i < 8; i++) {
    work.push((async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('UPDATE node_counters SET n = n + 100 WHERE id = 1');
        await client.query('UPDATE node_counters SET n = n + 100 WHERE id = 2');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    })());
  }
  const counts = await Promise.all(work);
  show('pool updates', counts.filter((r) => r).map((r) => r.rowCount).reduce((a, b) => a + b, 0));
  await check('pool result', async () => result(await pool.query('SELECT id, n FROM node_counters ORDER BY id')));
  await pool.end();

  await c.query('DROP TABLE node_counters');
  await c.query('DROP TABLE node_items');
  await c.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
