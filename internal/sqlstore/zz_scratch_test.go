package sqlstore_test

import (
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"
)

func TestZZScratch(t *testing.T) {
	path := os.Getenv("ZZ_DB")
	if path == "" {
		t.Skip()
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	db.QueryRow("select sqlite_version()").Scan(&v)
	t.Log("version", v)
	for _, q := range strings.Split(os.Getenv("ZZ_Q"), ";;") {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		rows, err := db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(q)
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			t.Log("   ", d)
		}
		rows.Close()
		for range 2 {
			start := time.Now()
			rows, err = db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			t.Log("   rows", n, time.Since(start))
		}
	}
}
