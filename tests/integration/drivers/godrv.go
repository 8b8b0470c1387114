// godrv.go: the drivers.t program for go-sql-driver/mysql (Debian
// golang-github-go-sql-driver-mysql-dev) through database/sql. Arguments: HOST PORT USER
// PASSWORD DB DB2. Prints "ok NAME" or "not ok NAME: REASON" per check. Parameters are
// bound server-side (interpolateParams is off); the date and time values and the DECIMAL
// are bound as strings (database/sql has no such types); the batch is 200 Execs of one
// prepared statement; the reset is a ping (the driver has no reset-connection call).
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

var (
	ctx         = context.Background()
	db          *sql.DB
	c           *sql.Conn
	dbName, db2 string
)

func check(name string, fn func() error) {
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		err = fn()
	}()
	if err == nil {
		fmt.Printf("ok %s\n", name)
	} else {
		s := strings.ReplaceAll(err.Error(), "\n", " ")
		if len(s) > 400 {
			s = s[:400]
		}
		fmt.Printf("not ok %s: %s\n", name, s)
	}
}

func str(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

func one(conn *sql.Conn, q string, args ...interface{}) (interface{}, error) {
	var v interface{}
	err := conn.QueryRowContext(ctx, q, args...).Scan(&v)
	return v, err
}

func oneStr(conn *sql.Conn, q string) string {
	v, err := one(conn, q)
	if err != nil {
		return "error: " + err.Error()
	}
	return str(v)
}

func exec(conn *sql.Conn, q string, args ...interface{}) {
	if _, err := conn.ExecContext(ctx, q, args...); err != nil {
		panic(fmt.Sprintf("%s: %v", q, err))
	}
}

func errno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

type typ struct {
	name, sql string
	bind      interface{}
	want      string
}

func main() {
	a := os.Args[1:]
	dbName, db2 = a[4], a[5]
	dsn := fmt.Sprintf("%s:%s@tcp(%s:%s)/%s?charset=utf8mb4&multiStatements=true"+
		"&timeout=10s&readTimeout=60s&writeTimeout=60s&maxAllowedPacket=0", a[2], a[3], a[0],
		a[1], dbName)
	var err error
	if db, err = sql.Open("mysql", dsn); err != nil {
		fmt.Println("not ok connect:", err)
		return
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	if c, err = db.Conn(ctx); err != nil {
		fmt.Println("not ok connect:", err)
		return
	}
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	types := []typ{
		{"tinyint", "TINYINT", int64(-128), "-128"},
		{"smallint", "SMALLINT", int64(-32768), "-32768"},
		{"int", "INT", int64(-2147483648), "-2147483648"},
		{"bigint_max", "BIGINT", int64(9223372036854775807), "9223372036854775807"},
		{"bigint_unsigned_max", "BIGINT UNSIGNED", uint64(18446744073709551615),
			"18446744073709551615"},
		{"decimal", "DECIMAL(20,6)", "12345678901234.123456", "12345678901234.123456"},
		{"float", "FLOAT", float32(1.5), "1.5"},
		{"double", "DOUBLE", 3.141592653589793, "3.141592653589793"},
		{"date", "DATE", "2024-02-29", "2024-02-29"},
		{"datetime6", "DATETIME(6)", "2024-02-29 13:14:15.123456", "2024-02-29 13:14:15.123456"},
		{"time", "TIME", "13:14:15", "13:14:15"},
		{"timestamp", "TIMESTAMP NULL", "2024-02-29 13:14:15", "2024-02-29 13:14:15"},
		{"varchar_emoji", "VARCHAR(50) CHARACTER SET utf8mb4", "h\u00e9llo \U0001F42C w\u00f6rld",
			"h\u00e9llo \U0001F42C w\u00f6rld"},
		{"char", "CHAR(10) CHARACTER SET utf8mb4", "abc", "abc"},
		{"blob256", "BLOB", blob, string(blob)},
		{"null", "INT NULL", nil, "NULL"},
		{"json", "JSON", `{"a": [1, 2, "é"]}`, `{"a": [1, 2, "é"]}`},
	}
	for _, t := range []string{"types", "big", "tx", "lid", "child", "par", "bat"} {
		exec(c, "DROP TABLE IF EXISTS "+t)
	}
	cols, marks, names := []string{}, []string{}, []string{}
	for _, t := range types {
		cols = append(cols, "c_"+t.name+" "+t.sql)
		marks = append(marks, "?")
		names = append(names, "c_"+t.name)
	}
	exec(c, "CREATE TABLE types (id INT PRIMARY KEY, "+strings.Join(cols, ", ")+")")
	exec(c, "CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)")
	exec(c, "CREATE TABLE tx (id INT PRIMARY KEY)")
	exec(c, "CREATE TABLE lid (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT=1000")
	exec(c, "CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT)")
	exec(c, "CREATE TABLE par (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	exec(c, "CREATE TABLE bat (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")

	binds := []interface{}{}
	for _, t := range types {
		binds = append(binds, t.bind)
	}
	insErr := func() error {
		_, err := c.ExecContext(ctx, "INSERT INTO types VALUES (1, "+strings.Join(marks, ", ")+")",
			binds...)
		return err
	}()
	got := make([]interface{}, len(types))
	ptrs := make([]interface{}, len(types))
	for i := range got {
		ptrs[i] = &got[i]
	}
	selErr := insErr
	if selErr == nil {
		selErr = c.QueryRowContext(ctx, "SELECT "+strings.Join(names, ", ")+
			" FROM types WHERE id = ?", 1).Scan(ptrs...)
	}
	for i, t := range types {
		i, t := i, t
		check("type_"+t.name, func() error {
			if selErr != nil {
				return selErr
			}
			if s := str(got[i]); s != t.want {
				return fmt.Errorf("got %q (%T), want %q", s, got[i], t.want)
			}
			return nil
		})
	}

	check("blob_20mb", func() error {
		big := bytes.Repeat([]byte{7, 0, 255, 39, 92, 10, 13, 26}, 20*1024*1024/8)
		if _, err := c.ExecContext(ctx, "INSERT INTO big VALUES (1, ?)", big); err != nil {
			return err
		}
		var back []byte
		if err := c.QueryRowContext(ctx, "SELECT b FROM big WHERE id = ?", 1).Scan(&back); err != nil {
			return err
		}
		if !bytes.Equal(back, big) {
			return fmt.Errorf("read back %d bytes, differ", len(back))
		}
		return nil
	})
	txn := func(commit bool) func() error {
		return func() error {
			k := 2
			if commit {
				k = 1
			}
			tx, err := c.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.Exec("INSERT INTO tx VALUES (?)", k); err != nil {
				return err
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				return err
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM tx WHERE id = ?", k).Scan(&n); err != nil {
				return err
			}
			if (commit && n != 1) || (!commit && n != 0) {
				return fmt.Errorf("another connection sees %d rows", n)
			}
			return nil
		}
	}
	check("txn_commit", txn(true))
	check("txn_rollback", txn(false))
	errCheck := func(code uint16, q string) func() error {
		return func() error {
			_, err := c.ExecContext(ctx, q)
			if errno(err) != code {
				return fmt.Errorf("error %v, want %d", err, code)
			}
			if s := oneStr(c, "SELECT 1"); s != "1" {
				return fmt.Errorf("connection unusable after: %s", s)
			}
			return nil
		}
	}
	check("err_1062", errCheck(1062, "INSERT INTO tx VALUES (1)"))
	check("err_1064", errCheck(1064, "SELEC 1"))
	check("session_vars", func() error {
		exec(c, "SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'")
		exec(c, "SET SESSION time_zone = '+05:30'")
		for i := 0; i < 3; i++ {
			oneStr(c, "SELECT 1")
		}
		var m, z string
		if err := c.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.time_zone").Scan(&m,
			&z); err != nil {
			return err
		}
		exec(c, "SET SESSION sql_mode = DEFAULT")
		exec(c, "SET SESSION time_zone = DEFAULT")
		if m != "ANSI_QUOTES,NO_ENGINE_SUBSTITUTION" || z != "+05:30" {
			return fmt.Errorf("read back %q %q", m, z)
		}
		return nil
	})
	check("use_db", func() error {
		exec(c, "USE "+db2)
		x := oneStr(c, "SELECT DATABASE()")
		exec(c, "USE "+dbName)
		y := oneStr(c, "SELECT DATABASE()")
		if x != db2 || y != dbName {
			return fmt.Errorf("DATABASE() %s then %s", x, y)
		}
		return nil
	})
	// LAST_INSERT_ID on a connection of its own, not pinned by the checks above; between
	// the insert and the reads another connection inserts (id 1001) and leaves.
	l, err := db.Conn(ctx)
	if err != nil {
		fmt.Println("not ok connect:", err)
		return
	}
	check("insert_id_api", func() error {
		r, err := l.ExecContext(ctx, "INSERT INTO lid (v) VALUES (?)", 1)
		if err != nil {
			return err
		}
		o, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		exec(o, "INSERT INTO lid (v) VALUES (2)")
		o.Close()
		id, err := r.LastInsertId()
		if err != nil || id != 1000 {
			return fmt.Errorf("LastInsertId %d %v, want 1000", id, err)
		}
		return nil
	})
	check("last_insert_id_select", func() error {
		rows, err := l.QueryContext(ctx, "SELECT LAST_INSERT_ID()")
		if err != nil {
			return err
		}
		defer rows.Close()
		cn, _ := rows.Columns()
		var v interface{}
		rows.Next()
		if err := rows.Scan(&v); err != nil {
			return err
		}
		if str(v) != "1000" || cn[0] != "LAST_INSERT_ID()" {
			return fmt.Errorf("%s named %s", str(v), cn[0])
		}
		return nil
	})
	check("last_insert_id_child", func() error {
		exec(l, "INSERT INTO child (pid) VALUES (LAST_INSERT_ID())")
		if s := oneStr(c, "SELECT pid FROM child ORDER BY id DESC LIMIT 1"); s != "1000" {
			return fmt.Errorf("child.pid %s, want 1000", s)
		}
		return nil
	})
	l.Close()
	check("temp_table", func() error {
		exec(c, "CREATE TEMPORARY TABLE tmp1 (v INT)")
		exec(c, "INSERT INTO tmp1 VALUES (?), (?)", 1, 2)
		oneStr(c, "SELECT 1")
		exec(c, "INSERT INTO tmp1 VALUES (3)")
		s := oneStr(c, "SELECT SUM(v) FROM tmp1")
		exec(c, "DROP TEMPORARY TABLE tmp1")
		if s != "6" {
			return fmt.Errorf("sum %s, want 6", s)
		}
		return nil
	})
	check("stream_100k", func() error {
		rows, err := c.QueryContext(ctx, "SELECT seq FROM seq_1_to_100000 WHERE seq > ?", 0)
		if err != nil {
			return err
		}
		defer rows.Close()
		n, s := 0, int64(0)
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return err
			}
			n++
			s += v
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n != 100000 || s != 5000050000 {
			return fmt.Errorf("%d rows, sum %d", n, s)
		}
		return nil
	})
	check("multi_statements", func() error {
		exec(c, "CREATE TEMPORARY TABLE ms (v INT)")
		exec(c, "INSERT INTO ms VALUES (1)")
		defer exec(c, "DROP TEMPORARY TABLE ms")
		rows, err := c.QueryContext(ctx, "SELECT 1; UPDATE ms SET v = v + 1; SELECT 2; SELECT 'x', 2")
		if err != nil {
			return err
		}
		defer rows.Close()
		var sets []string
		for {
			for rows.Next() {
				cn, _ := rows.Columns()
				vals := make([]interface{}, len(cn))
				p := make([]interface{}, len(cn))
				for i := range vals {
					p[i] = &vals[i]
				}
				if err := rows.Scan(p...); err != nil {
					return err
				}
				parts := []string{}
				for _, v := range vals {
					parts = append(parts, str(v))
				}
				sets = append(sets, strings.Join(parts, ","))
			}
			if !rows.NextResultSet() {
				break
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if g := strings.Join(sets, "|"); g != "1|2|x,2" {
			return fmt.Errorf("result sets %q, want 1|2|x,2", g)
		}
		if s := oneStr(c, "SELECT v FROM ms"); s != "2" {
			return fmt.Errorf("UPDATE not run: %s", s)
		}
		return nil
	})
	check("batch", func() error {
		st, err := c.PrepareContext(ctx, "INSERT INTO bat (v) VALUES (?)")
		if err != nil {
			return err
		}
		defer st.Close()
		var n int64
		for i := 0; i < 200; i++ {
			r, err := st.Exec(i)
			if err != nil {
				return err
			}
			a, _ := r.RowsAffected()
			n += a
		}
		if s := oneStr(c, "SELECT COUNT(*) FROM bat"); n != 200 || s != "200" {
			return fmt.Errorf("affected %d, rows %s", n, s)
		}
		return nil
	})
	check("reset", func() error {
		if err := c.PingContext(ctx); err != nil {
			return err
		}
		if s := oneStr(c, "SELECT 1"); s != "1" {
			return fmt.Errorf("after ping: %s", s)
		}
		return nil
	})
	check("abandon_result", func() error {
		rows, err := c.QueryContext(ctx, "SELECT seq FROM seq_1_to_100000 WHERE seq > ?", 0)
		if err != nil {
			return err
		}
		var v int64
		for i := 0; i < 10 && rows.Next(); i++ {
			rows.Scan(&v)
		}
		rows.Close()
		if s := oneStr(c, "SELECT 42"); v != 10 || s != "42" {
			return fmt.Errorf("%d then %s", v, s)
		}
		return nil
	})
	check("kill_query", func() error {
		k, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer k.Close()
		id := oneStr(k, "SELECT CONNECTION_ID()")
		type res struct {
			v   string
			err error
			d   time.Duration
		}
		ch := make(chan res, 1)
		go func() {
			t0 := time.Now()
			v, err := one(k, "SELECT SLEEP(10)")
			ch <- res{str(v), err, time.Since(t0)}
		}()
		time.Sleep(500 * time.Millisecond)
		if _, err := db.ExecContext(ctx, "KILL QUERY "+id); err != nil {
			return fmt.Errorf("KILL QUERY %s: %v", id, err)
		}
		select {
		case r := <-ch:
			if r.d > 5*time.Second {
				return fmt.Errorf("SLEEP(10) not interrupted (%v, %s %v)", r.d, r.v, r.err)
			}
		case <-time.After(15 * time.Second):
			return fmt.Errorf("SLEEP(10) still running")
		}
		if s := oneStr(k, "SELECT 1"); s != "1" {
			return fmt.Errorf("connection unusable after: %s", s)
		}
		return nil
	})
	check("parallel_16x50", func() error {
		var done int64
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for t := 0; t < 16; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				k, err := db.Conn(ctx)
				if err != nil {
					errs <- err
					return
				}
				for i := 0; i < 50; i++ {
					for _, q := range []string{"BEGIN", fmt.Sprintf("SET @x = %d", t*1000+i),
						"INSERT INTO par (v) VALUES (@x)", "COMMIT"} {
						if _, err := k.ExecContext(ctx, q); err != nil {
							errs <- err
							return
						}
					}
					atomic.AddInt64(&done, 1)
				}
			}(t)
		}
		fin := make(chan struct{})
		go func() { wg.Wait(); close(fin) }()
		// A hang (waiting for connections that never free): no transaction ends for 5 s.
		start, last, seen := time.Now(), time.Now(), int64(0)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-fin:
				break wait
			case err := <-errs:
				return err
			case now := <-tick.C:
				if d := atomic.LoadInt64(&done); d != seen {
					seen, last = d, now
				}
				if now.Sub(last) > 5*time.Second || now.Sub(start) > 60*time.Second {
					return fmt.Errorf("%d of 800 transactions done, none in the last %.0f s",
						atomic.LoadInt64(&done), now.Sub(last).Seconds())
				}
			}
		}
		select {
		case err := <-errs:
			return err
		default:
		}
		if s := oneStr(c, "SELECT COUNT(*) FROM par"); s != "800" {
			return fmt.Errorf("%s rows, want 800", s)
		}
		return nil
	})
	os.Exit(0)
}
