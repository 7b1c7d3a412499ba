package csvexport

import (
	"io"
	"testing"
	"time"

	"metrics-collector/internal/memwatch"
)

// BenchmarkWriteMillionRows writes a million copilot_user_metrics rows (the widest,
// largest file) to a real file and reports rows/s, MB/s and the heap's high-water mark
// during the write.
//
//	go test ./internal/csvexport -run '^$' -bench MillionRows -benchtime 3x
func BenchmarkWriteMillionRows(b *testing.B) {
	const rows = 1_000_000
	cols := copilotUserMetricsColumns()
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	logins := []string{"octocat", "hubot", "-dash-user", "mona;lisa"}
	row := make([]any, len(cols))
	dir := b.TempDir()
	var bytes int64
	peak := memwatch.Start(5 * time.Millisecond).Stop
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err := WriteFile(dir, "bench.csv", func(f io.Writer) error {
			w, err := NewWriter(f, cols)
			if err != nil {
				return err
			}
			for i := range rows {
				fillUserRow(row, day, i, logins)
				if err := w.WriteRow(row); err != nil {
					return err
				}
			}
			sum, err := w.Finish()
			bytes = sum.Bytes
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(rows/secs, "rows/s")
	b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
	b.ReportMetric(float64(bytes)/1e6, "file_MB")
	b.ReportMetric(float64(peak())/(1<<20), "peak_heap_MiB")
}

func fillUserRow(row []any, day time.Time, i int, logins []string) {
	n := int64(i)
	row[0], row[1], row[2] = "ent1", "organization", "octo-org"
	row[3] = day.AddDate(0, 0, -(i % 400))
	row[4], row[5] = n, logins[i%len(logins)]
	for c := 6; c <= 12; c++ {
		if i%7 == c-6 {
			row[c] = nil
		} else {
			row[c] = n % 997
		}
	}
	for c := 13; c <= 18; c++ {
		row[c] = (i+c)%3 == 0
	}
	row[19] = "12.345"
}
