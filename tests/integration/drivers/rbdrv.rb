# rbdrv.rb: the drivers.t program for Ruby's mysql2 (Debian ruby-mysql2): HOST PORT USER
# PASSWORD DB DB2. One line per check, "ok NAME" or "not ok NAME: REASON". prepare() is a
# server-side prepared statement (BIGINT UNSIGNED max and DECIMAL are bound as strings);
# mysql2 has no batch call (the batch is 200 executes of one statement) and no reset call
# (reset is ping); TIME reads back as a Time on 2000-01-01.
require 'mysql2'
require 'bigdecimal'
require 'date'

$stdout.sync = true
HOST, PORT, USER, PASS, DB, DB2 = ARGV
$c = nil

def check(name)
  why = begin
    yield
  rescue StandardError => e
    "#{e.class}: #{e.respond_to?(:error_number) ? e.error_number : ''} #{e.message}"
  end
  if why.nil?
    puts "ok #{name}"
  else
    puts "not ok #{name}: #{why.to_s.tr("\n", ' ')[0, 400]}"
  end
end

def connect(**kw)
  Mysql2::Client.new(host: HOST, port: PORT.to_i, username: USER, password: PASS, database: DB,
                     encoding: 'utf8mb4', connect_timeout: 10, read_timeout: 60,
                     write_timeout: 60, **kw)
end

def one(sql, k = $c)
  r = k.query(sql, as: :array)
  r.first && r.first[0]
end

def show(v)
  case v
  when nil then 'NULL'
  when BigDecimal then v.to_s('F')
  when Time then v.strftime('%Y-%m-%d %H:%M:%S.%6N')
  when String then v.encoding == Encoding::BINARY ? v.unpack1('H*') : v
  else v.to_s
  end
end

$c = connect(flags: Mysql2::Client::MULTI_STATEMENTS)
blob = (0..255).to_a.pack('C*')
TYPES = [
  ['tinyint', 'TINYINT', -128, '-128'],
  ['smallint', 'SMALLINT', -32_768, '-32768'],
  ['int', 'INT', -2_147_483_648, '-2147483648'],
  ['bigint_max', 'BIGINT', 9_223_372_036_854_775_807, '9223372036854775807'],
  ['bigint_unsigned_max', 'BIGINT UNSIGNED', '18446744073709551615', '18446744073709551615'],
  ['decimal', 'DECIMAL(20,6)', '12345678901234.123456', '12345678901234.123456'],
  ['float', 'FLOAT', 1.5, '1.5'],
  ['double', 'DOUBLE', 3.141592653589793, '3.141592653589793'],
  ['date', 'DATE', Date.new(2024, 2, 29), '2024-02-29'],
  ['datetime6', 'DATETIME(6)', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456'],
  ['time', 'TIME', '13:14:15', '2000-01-01 13:14:15.000000'],
  ['timestamp', 'TIMESTAMP NULL', '2024-02-29 13:14:15', '2024-02-29 13:14:15.000000'],
  ['varchar_emoji', 'VARCHAR(50) CHARACTER SET utf8mb4', "h\u00e9llo \u{1F42C} w\u00f6rld",
   "h\u00e9llo \u{1F42C} w\u00f6rld"],
  ['char', 'CHAR(10) CHARACTER SET utf8mb4', 'abc', 'abc'],
  ['blob256', 'BLOB', blob, blob.unpack1('H*')],
  ['null', 'INT NULL', nil, 'NULL'],
  ['json', 'JSON', '{"a": [1, 2, "é"]}', '{"a": [1, 2, "é"]}'],
].freeze
%w[types big tx lid child par bat].each { |t| $c.query("DROP TABLE IF EXISTS #{t}") }
$c.query("CREATE TABLE types (id INT PRIMARY KEY, #{TYPES.map { |n, t| "c_#{n} #{t}" }.join(', ')})")
$c.query('CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)')
$c.query('CREATE TABLE tx (id INT PRIMARY KEY)')
$c.query('CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000')
$c.query('CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)')
$c.query('CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')
$c.query('CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)')

row = nil
type_err = nil
begin
  st = $c.prepare("INSERT INTO types VALUES (1, #{(['?'] * TYPES.size).join(', ')})")
  st.execute(*TYPES.map { |t| t[2] })
  st.close
  st = $c.prepare("SELECT #{TYPES.map { |n| "c_#{n[0]}" }.join(', ')} FROM types WHERE id = ?")
  row = st.execute(1, as: :array).first
  st.close
rescue StandardError => e
  type_err = "#{e.class}: #{e.message}"
end
TYPES.each_with_index do |(name, _, _, want), i|
  check("type_#{name}") do
    next type_err if type_err

    g = show(row[i])
    g == want ? nil : "got #{g.inspect} (#{row[i].class}), want #{want.inspect}"
  end
end

check('blob_20mb') do
  big = (0..255).to_a.reverse.pack('C*') * (20 * 1024 * 4)
  st = $c.prepare('INSERT INTO big VALUES (1, ?)')
  st.execute(big)
  st.close
  back = one('SELECT b FROM big WHERE id = 1')
  back == big ? nil : "read back #{back.bytesize} bytes, differ"
end
[true, false].each do |commit|
  check(commit ? 'txn_commit' : 'txn_rollback') do
    k = commit ? 1 : 2
    $c.query('BEGIN')
    $c.query("INSERT INTO tx VALUES (#{k})")
    $c.query(commit ? 'COMMIT' : 'ROLLBACK')
    o = connect
    n = one("SELECT COUNT(*) FROM tx WHERE id = #{k}", o)
    o.close
    n == (commit ? 1 : 0) ? nil : "another connection sees #{n} rows"
  end
end
{ 1062 => 'INSERT INTO tx VALUES (1)', 1064 => 'SELEC 1' }.each do |code, sql|
  check("err_#{code}") do
    got = begin
      $c.query(sql)
      nil
    rescue Mysql2::Error => e
      e.error_number
    end
    next "error #{got.inspect}, want #{code}" if got != code

    one('SELECT 1') == 1 ? nil : 'connection unusable after'
  end
end
check('session_vars') do
  $c.query("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'")
  $c.query("SET SESSION time_zone = '+05:30'")
  3.times { one('SELECT 1') }
  r = $c.query('SELECT @@SESSION.sql_mode, @@SESSION.time_zone', as: :array).first
  $c.query('SET SESSION sql_mode = DEFAULT')
  $c.query('SET SESSION time_zone = DEFAULT')
  r == ['ANSI_QUOTES,NO_ENGINE_SUBSTITUTION', '+05:30'] ? nil : "read back #{r.inspect}"
end
check('use_db') do
  $c.query("USE #{DB2}")
  a = one('SELECT DATABASE()')
  $c.select_db(DB) # COM_INIT_DB
  b = one('SELECT DATABASE()')
  [a, b] == [DB2, DB] ? nil : "DATABASE() #{a} then #{b}"
end
# LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between the
# insert and the reads another connection inserts (id 1001) and leaves.
$l = connect
check('insert_id_api') do
  st = $l.prepare('INSERT INTO lid (v) VALUES (?)')
  st.execute(1)
  a = st.last_id
  st.close
  o = connect
  o.query('INSERT INTO lid (v) VALUES (2)')
  o.close
  a == 1000 && $l.last_id == 1000 ? nil : "last_id #{a} / #{$l.last_id}, want 1000"
end
check('last_insert_id_select') do
  r = $l.query('SELECT LAST_INSERT_ID()', as: :array)
  v = r.first[0]
  v == 1000 && r.fields[0] == 'LAST_INSERT_ID()' ? nil : "#{v} named #{r.fields[0]}"
end
check('last_insert_id_child') do
  $l.query('INSERT INTO child (pid) VALUES (LAST_INSERT_ID())')
  v = one('SELECT pid FROM child ORDER BY id DESC LIMIT 1')
  v == 1000 ? nil : "child.pid #{v}, want 1000"
end
$l.close
check('thread_id_api') do
  id = one('SELECT CONNECTION_ID()')
  id == $c.thread_id ? nil : "thread_id #{$c.thread_id}, CONNECTION_ID() #{id}"
end
check('temp_table') do
  $c.query('CREATE TEMPORARY TABLE tmp1 (v INT)')
  $c.query('INSERT INTO tmp1 VALUES (1), (2)')
  one('SELECT 1')
  $c.query('INSERT INTO tmp1 VALUES (3)')
  s = one('SELECT SUM(v) FROM tmp1')
  $c.query('DROP TEMPORARY TABLE tmp1')
  s == 6 ? nil : "sum #{s}, want 6"
end
check('stream_100k') do
  n = s = 0
  $c.query('SELECT seq FROM seq_1_to_100000', stream: true, cache_rows: false, as: :array).each do |r|
    n += 1
    s += r[0]
  end
  [n, s] == [100_000, 5_000_050_000] ? nil : "#{n} rows, sum #{s}"
end
check('multi_statements') do
  $c.query('CREATE TEMPORARY TABLE ms (v INT)')
  $c.query('INSERT INTO ms VALUES (1)')
  sets = []
  r = $c.query("SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2", as: :array)
  r.each { |x| sets << x.join(',') }
  while $c.next_result
    r = $c.store_result
    if r
      r.each(as: :array) { |x| sets << x.join(',') }
    else
      sets << "updated #{$c.affected_rows}"
    end
  end
  $c.query('DROP TEMPORARY TABLE ms')
  g = sets.join('|')
  g == '1|updated 1|2|x,2' ? nil : "got #{g}"
end
check('batch') do
  st = $c.prepare('INSERT INTO bat (v) VALUES (?)')
  n = 0
  200.times do |i|
    st.execute(i)
    n += st.affected_rows
  end
  st.close
  cnt = one('SELECT COUNT(*) FROM bat')
  n == 200 && cnt == 200 ? nil : "affected #{n}, rows #{cnt}"
end
check('reset') do
  next 'ping false' unless $c.ping

  one('SELECT 1') == 1 ? nil : 'no SELECT 1 after ping'
end
check('abandon_result') do
  v = nil
  r = $c.query('SELECT seq FROM seq_1_to_100000', stream: true, cache_rows: false, as: :array)
  r.each_with_index do |x, i|
    v = x[0]
    break if i == 9
  end
  r.free
  x = one('SELECT 42')
  v == 10 && x == 42 ? nil : "#{v} then #{x}"
end
check('kill_query') do
  k = connect
  id = one('SELECT CONNECTION_ID()', k)
  t0 = Time.now
  how = 'still running'
  th = Thread.new do
    k.query('SELECT SLEEP(10)')
    how = 'returned'
  rescue Mysql2::Error => e
    how = "error #{e.error_number}"
  end
  sleep 0.5
  o = connect
  o.query("KILL QUERY #{id}")
  o.close
  th.join(15)
  secs = Time.now - t0
  next format('SLEEP(10) not interrupted (%.1f s, %s)', secs, how) if secs > 5

  one('SELECT 1', k) == 1 ? nil : 'connection unusable after'
end
check('parallel_16x50') do
  done = 0
  lock = Mutex.new
  err = nil
  ths = (0...16).map do |t|
    Thread.new do
      k = connect
      50.times do |i|
        k.query('BEGIN')
        k.query("SET @x = #{t * 1000 + i}")
        k.query('INSERT INTO par (v) VALUES (@x)')
        k.query('COMMIT')
        lock.synchronize { done += 1 }
      end
    rescue StandardError => e
      err = "#{e.class}: #{e.message} #{e.backtrace.first}"
    end
  end
  # A hang (waiting for connections that never free): no transaction ends for 5 s.
  start = last = Time.now
  seen = 0
  while ths.any?(&:alive?) && err.nil?
    sleep 0.05
    now = Time.now
    d = lock.synchronize { done }
    if d != seen
      seen = d
      last = now
    end
    break if now - last > 5 || now - start > 60
  end
  next err if err
  next format('%d of 800 transactions done, none in the last %.0f s', done, Time.now - last) if done != 800

  n = one('SELECT COUNT(*) FROM par')
  n == 800 ? nil : "#{n} rows, want 800"
end
exit!(0)
