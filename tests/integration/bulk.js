// bulk.js PORT USER PASSWORD DB: the MariaDB Node connector's batch() (COM_STMT_BULK_EXECUTE
// when the server offers MARIADB_CLIENT_STMT_BULK_OPERATIONS), one check per line as
// "name: value", so that bulk.t can compare a run through sluice with one straight to
// MariaDB. Needs the npm package "mariadb" (bulk.t finds it).
'use strict';
const mariadb = require('mariadb');

const [port, user, password, database] = process.argv.slice(2);
const opts = { host: '127.0.0.1', port: +port, user, password, database, connectTimeout: 10000 };
const json = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? x.toString() : x));
// Without bulk the connector answers one result per row: say so briefly.
const str = (v) => (Array.isArray(v) && v.length > 2
  ? 'one result per row (' + v.length + '), the first ' + json(v[0]) : json(v));

async function main() {
  const c = await mariadb.createConnection(opts);
  const bulk = (BigInt(c.info.serverCapabilities) & (1n << 34n)) !== 0n;
  console.log('server offers bulk operations: ' + bulk);
  await c.query('DROP TABLE IF EXISTS bk');
  await c.query('CREATE TABLE bk (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(20)) ' +
                'AUTO_INCREMENT=1001');
  const rows = [];
  for (let i = 0; i < 200; i++) rows.push([i, 's' + i]);
  try {
    const r = await c.batch('INSERT INTO bk (v, s) VALUES (?, ?)', rows);
    console.log('batch insert of 200: ' + str(r));
  } catch (e) {
    console.log('batch insert of 200: ERR ' + e.errno + ' ' + e.sqlMessage);
  }
  const upd = [];
  for (let i = 0; i < 100; i++) upd.push([i]);
  try {
    const r = await c.batch('UPDATE bk SET v = v + 1000 WHERE v = ?', upd);
    console.log('batch update of 100 rows: ' + str(r));
  } catch (e) {
    console.log('batch update of 100 rows: ERR ' + e.errno + ' ' + e.sqlMessage);
  }
  try {
    // NULLs and a parameter of each kind the connector binds
    const r = await c.batch('INSERT INTO bk (v, s) VALUES (?, ?)', [[null, 'n'], [7, null]]);
    console.log('batch with NULLs: ' + str(r));
  } catch (e) {
    console.log('batch with NULLs: ERR ' + e.errno + ' ' + e.sqlMessage);
  }
  try {
    await c.batch('INSERT INTO bk (id, v) VALUES (?, ?)', [[5000, 1], [5000, 2]]);
    console.log('batch with a duplicate key: no error');
  } catch (e) {
    console.log('batch with a duplicate key: ERR ' + e.errno);
  }
  const sum = await c.query('SELECT COUNT(*) n, SUM(v) sv, SUM(s IS NULL) ns FROM bk');
  console.log('table: ' + str(sum[0]));

  // 8 connections, 5 batches of 50 each, at once (through a pool of 4 the statement
  // runs on connections that never prepared it)
  const conns = await Promise.all(Array.from({ length: 8 }, () => mariadb.createConnection(opts)));
  const results = await Promise.all(conns.map(async (cc, k) => {
    const out = [];
    for (let b = 0; b < 5; b++) {
      const vals = [];
      for (let i = 0; i < 50; i++) vals.push([10000 + k * 1000 + b * 50 + i, 'c' + k]);
      try {
        out.push((await cc.batch('INSERT INTO bk (v, s) VALUES (?, ?)', vals)).affectedRows);
      } catch (e) {
        out.push('ERR ' + e.errno);
      }
    }
    await cc.end();
    return out.join(',');
  }));
  console.log('8 connections x 5 batches of 50, affected rows: ' + json(results));
  const after = await c.query("SELECT COUNT(*) n, SUM(v) sv FROM bk WHERE s LIKE 'c%'");
  console.log('rows they inserted: ' + str(after[0]));
  await c.end();
  console.log('done');
}

main().catch((e) => {
  console.log('fatal: ' + e.message);
  process.exit(1);
});
