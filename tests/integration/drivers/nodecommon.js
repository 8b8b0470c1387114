// Shared by the node driver programs of drivers.t (mysql2.js, mariadb.js): the check
// runner, the arguments, the typed values and a bound on a check that may hang.
'use strict';

const [host, portStr, user, password, db, db2] = process.argv.slice(2);
const args = { host, port: Number(portStr), user, password, db, db2 };

async function check(name, fn) {
  let why;
  try {
    why = await fn();
  } catch (e) {
    why = `${e.code || e.name}${e.errno ? ' ' + e.errno : ''}: ${e.message}`;
  }
  if (why === undefined || why === null) console.log(`ok ${name}`);
  else console.log(`not ok ${name}: ${String(why).replace(/\n/g, ' ').slice(0, 400)}`);
}

function within(ms, promise, what) {
  let t;
  const timeout = new Promise((resolve) => {
    t = setTimeout(() => resolve(what()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

// Resolves null when promise does, or why not: no progress (progress() unchanged) for
// stallMs (a hang: waiting for connections that never free), or more than capMs.
function progressing(promise, progress, total, stallMs = 5000, capMs = 60000) {
  return new Promise((resolve) => {
    const start = Date.now();
    let last = start;
    let seen = progress();
    const t = setInterval(() => {
      const now = Date.now();
      if (progress() !== seen) {
        seen = progress();
        last = now;
      }
      if (now - last > stallMs || now - start > capMs) {
        clearInterval(t);
        resolve(`${progress()} of ${total} transactions done, none in the last ` +
          `${Math.round((now - last) / 1000)} s`);
      }
    }, 50);
    promise.then(() => { clearInterval(t); resolve(null); },
      (e) => { clearInterval(t); resolve(`${e.code || e.name}: ${e.message}`); });
  });
}

const blob256 = Buffer.from([...Array(256).keys()]);
// name, SQL type, bound value, expected value as text (see show())
const TYPES = [
  ['tinyint', 'TINYINT', -128, '-128'],
  ['smallint', 'SMALLINT', -32768, '-32768'],
  ['int', 'INT', -2147483648, '-2147483648'],
  ['bigint_max', 'BIGINT', 9223372036854775807n, '9223372036854775807'],
  ['bigint_unsigned_max', 'BIGINT UNSIGNED', 18446744073709551615n, '18446744073709551615'],
  ['decimal', 'DECIMAL(20,6)', '12345678901234.123456', '12345678901234.123456'],
  ['float', 'FLOAT', 1.5, '1.5'],
  ['double', 'DOUBLE', 3.141592653589793, '3.141592653589793'],
  ['date', 'DATE', '2024-02-29', '2024-02-29'],
  ['datetime6', 'DATETIME(6)', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456'],
  ['time', 'TIME', '13:14:15', '13:14:15'],
  ['timestamp', 'TIMESTAMP NULL', '2024-02-29 13:14:15', '2024-02-29 13:14:15'],
  ['varchar_emoji', 'VARCHAR(50) CHARACTER SET utf8mb4', 'h\u00e9llo \u{1F42C} w\u00f6rld',
    'h\u00e9llo \u{1F42C} w\u00f6rld'],
  ['char', 'CHAR(10) CHARACTER SET utf8mb4', 'abc', 'abc'],
  ['blob256', 'BLOB', blob256, blob256.toString('hex')],
  ['null', 'INT NULL', null, 'null'],
  // Both node drivers parse a column MariaDB's extended metadata marks format=json.
  ['json', 'JSON', '{"a": [1, 2, "\u00e9"]}', 'object {"a":[1,2,"\u00e9"]}'],
];

function show(v) {
  if (v === null || v === undefined) return String(v);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'object' && !(v instanceof Date)) return 'object ' + JSON.stringify(v);
  return String(v);
}

const TABLES = ['types', 'big', 'tx', 'lid', 'child', 'par', 'bat'];
const CREATE = [
  'CREATE TABLE types (id INT PRIMARY KEY, ' +
    TYPES.map(([n, t]) => `c_${n} ${t}`).join(', ') + ')',
  'CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)',
  'CREATE TABLE tx (id INT PRIMARY KEY)',
  'CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000',
  'CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)',
  'CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)',
  'CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)',
];
const BIG = Buffer.alloc(20 * 1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7 + (i >> 12)) & 0xff;

module.exports = { args, check, within, progressing, TYPES, show, TABLES, CREATE, BIG };
