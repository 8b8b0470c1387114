// drivers.t program for the MariaDB Node connector (npm mariadb): HOST PORT USER PASSWORD
// DB DB2. One line per check, "ok NAME" or "not ok NAME: REASON". execute() is a
// server-side prepared statement; the batch is batch() (COM_STMT_BULK_EXECUTE against
// MariaDB) and 200 execute() calls pipelined; reset is reset() (COM_RESET_CONNECTION),
// ping() and changeUser(); a result is abandoned by leaving a queryStream() after 10 rows.
'use strict';
const mariadb = require('mariadb');
const { args, check, within, progressing, TYPES, show, TABLES, CREATE, BIG } = require('./nodecommon.js');

const opts = {
  host: args.host, port: args.port, user: args.user, password: args.password,
  database: args.db, charset: 'utf8mb4', multipleStatements: true, dateStrings: true,
  bigIntAsNumber: false, decimalAsNumber: false, insertIdAsNumber: true, connectTimeout: 10000,
  maxAllowedPacket: 64 * 1024 * 1024,
};
const connect = () => mariadb.createConnection(opts);

async function main() {
  const c = await connect();
  const one = async (sql, params, conn) => {
    const rows = await (conn || c).query({ sql, rowsAsArray: true }, params);
    return rows[0] ? rows[0][0] : undefined;
  };
  for (const t of TABLES) await c.query('DROP TABLE IF EXISTS ' + t);
  for (const s of CREATE) await c.query(s);

  let row, typeErr;
  try {
    await c.execute(`INSERT INTO types VALUES (1, ${TYPES.map(() => '?').join(', ')})`,
      TYPES.map(([, , v]) => v));
    const rows = await c.execute({
      sql: `SELECT ${TYPES.map(([n]) => 'c_' + n).join(', ')} FROM types WHERE id = ?`,
      rowsAsArray: true,
    }, [1]);
    row = rows[0];
  } catch (e) {
    typeErr = `${e.code}: ${e.message}`;
  }
  for (let i = 0; i < TYPES.length; i++) {
    const [n, , , want] = TYPES[i];
    await check('type_' + n, () => typeErr ||
      (show(row[i]) === want ? null : `got ${show(row[i])} (${typeof row[i]}), want ${want}`));
  }

  await check('blob_20mb', async () => {
    await c.execute('INSERT INTO big VALUES (1, ?)', [BIG]);
    const rows = await c.execute('SELECT b FROM big WHERE id = ?', [1]);
    const b = rows[0].b;
    return b.equals(BIG) ? null : `read back ${b.length} bytes, differ`;
  });
  const txn = (commit) => async () => {
    const k = commit ? 1 : 2;
    await c.beginTransaction();
    await c.execute('INSERT INTO tx VALUES (?)', [k]);
    if (commit) await c.commit(); else await c.rollback();
    const o = await connect();
    const n = await one('SELECT COUNT(*) FROM tx WHERE id = ?', [k], o);
    await o.end();
    return Number(n) === (commit ? 1 : 0) ? null : `another connection sees ${n} rows`;
  };
  await check('txn_commit', txn(true));
  await check('txn_rollback', txn(false));
  const err = (code, sql) => async () => {
    let got = null;
    try { await c.query(sql); } catch (e) { got = e.errno; }
    if (got !== code) return `error ${got}, want ${code}`;
    return (await one('SELECT 1')) === 1 ? null : 'connection unusable after';
  };
  await check('err_1062', err(1062, 'INSERT INTO tx VALUES (1)'));
  await check('err_1064', err(1064, 'SELEC 1'));
  await check('session_vars', async () => {
    await c.query("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'");
    await c.query("SET SESSION time_zone = '+05:30'");
    for (let i = 0; i < 3; i++) await one('SELECT 1');
    const rows = await c.query('SELECT @@SESSION.sql_mode AS m, @@SESSION.time_zone AS z');
    await c.query('SET SESSION sql_mode = DEFAULT');
    await c.query('SET SESSION time_zone = DEFAULT');
    const { m, z } = rows[0];
    return m === 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION' && z === '+05:30' ? null :
      `read back ${m} ${z}`;
  });
  await check('use_db', async () => {
    await c.query('USE ' + args.db2);
    const a = await one('SELECT DATABASE()');
    await c.query('USE ' + args.db);
    const b = await one('SELECT DATABASE()');
    return a === args.db2 && b === args.db ? null : `DATABASE() ${a} then ${b}`;
  });
  // LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between the
  // insert and the reads another connection inserts (id 1001) and leaves.
  const l = await connect();
  await check('insert_id_api', async () => {
    const r = await l.execute('INSERT INTO lid (v) VALUES (?)', [1]);
    const o = await connect();
    await o.query('INSERT INTO lid (v) VALUES (2)');
    await o.end();
    return Number(r.insertId) === 1000 ? null : `insertId ${r.insertId}, want 1000`;
  });
  await check('last_insert_id_select', async () => {
    const rows = await l.query({ sql: 'SELECT LAST_INSERT_ID()', rowsAsArray: true });
    const v = String(rows[0][0]);
    const name = rows.meta[0].name();
    return v === '1000' && name === 'LAST_INSERT_ID()' ? null : `${v} named ${name}`;
  });
  await check('last_insert_id_child', async () => {
    await l.query('INSERT INTO child (pid) VALUES (LAST_INSERT_ID())');
    const v = String(await one('SELECT pid FROM child ORDER BY id DESC LIMIT 1'));
    return v === '1000' ? null : `child.pid ${v}, want 1000`;
  });
  await l.end();
  await check('thread_id_api', async () => {
    const id = await one('SELECT CONNECTION_ID()');
    return Number(id) === c.threadId ? null : `threadId ${c.threadId}, CONNECTION_ID() ${id}`;
  });
  await check('temp_table', async () => {
    await c.query('CREATE TEMPORARY TABLE tmp1 (v INT)');
    await c.execute('INSERT INTO tmp1 VALUES (?), (?)', [1, 2]);
    await one('SELECT 1');
    await c.query('INSERT INTO tmp1 VALUES (3)');
    const s = String(await one('SELECT SUM(v) FROM tmp1'));
    await c.query('DROP TEMPORARY TABLE tmp1');
    return s === '6' ? null : `sum ${s}, want 6`;
  });
  const stream = async (limit) => {
    let n = 0;
    let s = 0;
    const st = c.queryStream('SELECT seq FROM seq_1_to_100000');
    for await (const r of st) {
      n++;
      s += Number(r.seq);
      if (n === limit) {
        st.close();
        break;
      }
    }
    return [n, s];
  };
  await check('stream_100k', async () => {
    const [n, s] = await stream(0);
    return n === 100000 && s === 5000050000 ? null : `${n} rows, sum ${s}`;
  });
  await check('multi_statements', async () => {
    await c.query('CREATE TEMPORARY TABLE ms (v INT)');
    await c.query('INSERT INTO ms VALUES (1)');
    const res = await c.query({
      sql: "SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2", rowsAsArray: true,
    });
    await c.query('DROP TEMPORARY TABLE ms');
    const got = JSON.stringify(res.map((r) => (Array.isArray(r) ? r : r.affectedRows)));
    return got === '[[[1]],1,[[2]],[["x",2]]]' ? null : `got ${got}`;
  });
  await check('batch', async () => {
    const r = await c.batch('INSERT INTO bat (v) VALUES (?)', [...Array(200).keys()].map((i) => [i]));
    const cnt = String(await one('SELECT COUNT(*) FROM bat'));
    return r.affectedRows === 200 && cnt === '200' ? null :
      `affectedRows ${r.affectedRows}, rows ${cnt}`;
  });
  await check('pipelining', async () => {
    const ps = [];
    for (let i = 0; i < 200; i++) ps.push(c.execute('INSERT INTO bat (v) VALUES (?)', [i]));
    for (let i = 0; i < 40; i++) ps.push(c.ping());
    const rs = await within(20000, Promise.all(ps), () => null);
    if (!rs) return 'no answer to 240 pipelined commands within 20 s';
    const n = rs.slice(0, 200).reduce((a, r) => a + r.affectedRows, 0);
    const cnt = String(await one('SELECT COUNT(*) FROM bat'));
    return n === 200 && cnt === '400' ? null : `affected ${n}, rows ${cnt}`;
  });
  await check('reset', async () => {
    await c.ping();
    await c.query('SET @gone = 1');
    await c.reset();
    const g1 = await one('SELECT @gone');
    await c.query('SET @gone = 1');
    await c.changeUser({ user: args.user, password: args.password, database: args.db });
    const g2 = await one('SELECT @gone');
    const d = await one('SELECT DATABASE()');
    return g1 === null && g2 === null && d === args.db ? null :
      `after reset @gone=${g1}, after changeUser @gone=${g2} db=${d}`;
  });
  await check('abandon_result', async () => {
    const [n, s] = await stream(10);
    const v = await one('SELECT 42');
    return n === 10 && s === 55 && v === 42 ? null : `${n} rows sum ${s}, then ${v}`;
  });
  await check('kill_query', async () => {
    const k = await connect();
    const id = await one('SELECT CONNECTION_ID()', [], k);
    const t0 = Date.now();
    const sleeping = k.query('SELECT SLEEP(10)').then(() => 'returned', (e) => `error ${e.errno}`);
    await new Promise((r) => setTimeout(r, 500));
    const o = await connect();
    try { await o.query('KILL QUERY ' + id); } finally { await o.end(); }
    const how = await within(15000, sleeping, () => 'still running');
    const ms = Date.now() - t0;
    if (ms > 5000) return `SLEEP(10) not interrupted (${ms} ms, ${how})`;
    const after = await one('SELECT 1', [], k);
    await k.end();
    return after === 1 ? null : 'connection unusable after';
  });
  await check('parallel_16x50', async () => {
    let done = 0;
    const open = [];
    // Like an application's pool, every connection stays open until all are done.
    const worker = async (t) => {
      const k = await connect();
      open.push(k);
      for (let i = 0; i < 50; i++) {
        await k.query('BEGIN');
        await k.query(`SET @x = ${t * 1000 + i}`);
        await k.query('INSERT INTO par (v) VALUES (@x)');
        await k.query('COMMIT');
        done++;
      }
    };
    const all = Promise.all([...Array(16).keys()].map(worker));
    const why = await progressing(all, () => done, 800);
    if (why) return why;
    for (const k of open) await k.end();
    const n = String(await one('SELECT COUNT(*) FROM par'));
    return n === '800' ? null : `${n} rows, want 800`;
  });
}

main().then(() => process.exit(0), (e) => {
  console.log(`not ok setup: ${e.message}`);
  process.exit(0);
});
