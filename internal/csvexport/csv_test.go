package csvexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func writeAll(t *testing.T, cols []Column, rows ...[]any) (string, Summary) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, cols)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatalf("WriteRow(%v): %v", r, err)
		}
	}
	sum, err := w.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return buf.String(), sum
}

func TestWriterFormat(t *testing.T) {
	t.Parallel()
	cols := []Column{Text("name"), Int("n"), Decimal("rate", 4), Date("day"), Timestamp("at"), Bool("ok")}
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("CET", 3600))
	got, sum := writeAll(t, cols,
		[]any{"plain", int64(-12), "0.123456", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), at, true},
		[]any{nil, nil, nil, nil, nil, nil},
		[]any{"", int32(0), 0.5, (*time.Time)(nil), (*time.Time)(nil), false},
	)
	want := "\uFEFFname;n;rate;day;at;ok\r\n" +
		"plain;-12;0.1235;2026-01-02;2026-03-04T04:06:07Z;true\r\n" +
		";;;;;\r\n" +
		";0;0.5000;;;false\r\n"
	if got != want {
		t.Errorf("file:\n got %q\nwant %q", got, want)
	}
	h := sha256.Sum256([]byte(got))
	if sum.Rows != 3 || sum.Bytes != int64(len(got)) || sum.SHA256 != hex.EncodeToString(h[:]) {
		t.Errorf("summary = %+v, want rows 3, bytes %d, sha256 of the output", sum, len(got))
	}
}

func TestTextQuotingAndFormulaInjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"octo/repo", "octo/repo"},
		{"a;b", `"a;b"`},
		{`say "hi"`, `"say ""hi"""`},
		{"two\nlines", "\"two\nlines\""},
		{"cr\rlf", "\"cr\rlf\""},
		{"=SUM(A1:A9)", "'=SUM(A1:A9)"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@cmd", "'@cmd"},
		{"\tx", "'\tx"},
		{"\rx", "\"'\rx\""},
		{`=HYPERLINK("http://x";"y")`, `"'=HYPERLINK(""http://x"";""y"")"`},
		{"mid=dle", "mid=dle"},
		{" =lead space", " =lead space"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"ünïcödé", "ünïcödé"},
	}
	for _, tt := range tests {
		got, _ := writeAll(t, []Column{Text("v")}, []any{tt.in})
		want := "\uFEFFv\r\n" + tt.want + "\r\n"
		if got != want {
			t.Errorf("text %q: got %q, want %q", tt.in, got, want)
		}
	}
}

func TestNegativeNumbersAreNotNeutralised(t *testing.T) {
	t.Parallel()
	got, _ := writeAll(t, []Column{Int("i"), Decimal("d", 2)}, []any{int64(-5), "-1.005"})
	if want := "\uFEFFi;d\r\n-5;-1.01\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecimalRounding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		prec int
		want string
	}{
		{"1", 2, "1.00"},
		{"1.005", 2, "1.01"},
		{"1.004999", 2, "1.00"},
		{"9.995", 2, "10.00"},
		{"99.9999", 2, "100.00"},
		{"-0.004", 2, "0.00"},
		{"-0.005", 2, "-0.01"},
		{".5", 0, "1"},
		{"2.5", 0, "3"},
		{"+3.14159", 4, "3.1416"},
		{"0012.3", 1, "12.3"},
		{"123456789012345678901234567890.123", 2, "123456789012345678901234567890.12"},
		{2.675, 2, "2.68"},
		{0.125, 2, "0.13"},
		{1e21, 0, "1000000000000000000000"},
		{math.Copysign(0, -1), 2, "0.00"},
		{float32(0.25), 1, "0.3"},
		{int64(7), 4, "7.0000"},
		{int32(-7), 1, "-7.0"},
		{1.0 / 3, 4, "0.3333"},
	}
	for _, tt := range tests {
		got, err := appendDecimalValue(nil, Decimal("d", tt.prec), tt.in)
		if err != nil {
			t.Errorf("%v at %d: %v", tt.in, tt.prec, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%v at %d = %q, want %q", tt.in, tt.prec, got, tt.want)
		}
	}
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	cols := []Column{Text("t"), Int("i"), Decimal("d", 2), Date("day"), Timestamp("at"), Bool("b")}
	ok := []any{"x", int64(1), "1", time.Now(), time.Now(), true}
	tests := []struct {
		col  int
		v    any
		want string
	}{
		{0, 42, "column t: a text column cannot hold a int"},
		{1, "12", "column i: a int column cannot hold a string"},
		{1, 1.5, "column i: a int column cannot hold a float64"},
		{2, "NaN", `column d: "NaN" is not a decimal number`},
		{2, "1e5", `column d: "1e5" is not a decimal number`},
		{2, "", `column d: "" is not a decimal number`},
		{2, "-", `column d: "-" is not a decimal number`},
		{2, math.Inf(1), "column d: +Inf is not a finite number"},
		{2, math.NaN(), "column d: NaN is not a finite number"},
		{3, "2026-01-01", "column day: a date column cannot hold a string"},
		{4, int64(0), "column at: a timestamp column cannot hold a int64"},
		{5, "true", "column b: a bool column cannot hold a string"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, cols)
		if err != nil {
			t.Fatal(err)
		}
		row := append([]any(nil), ok...)
		row[tt.col] = tt.v
		err = w.WriteRow(row)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("value %#v in column %d: error %v, want it to contain %q", tt.v, tt.col, err, tt.want)
		}
		// A rejected row writes nothing; the writer stays usable.
		if err := w.WriteRow(ok); err != nil {
			t.Fatalf("good row after a bad one: %v", err)
		}
		sum, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Rows != 1 || strings.Count(buf.String(), "\r\n") != 2 {
			t.Errorf("after a rejected row: rows %d, file %q; want only the good row", sum.Rows, buf.String())
		}
	}
}

func TestRowLengthMismatch(t *testing.T) {
	t.Parallel()
	w, err := NewWriter(&bytes.Buffer{}, []Column{Text("a"), Text("b")})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRow([]any{"x"}); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "1 values for 2 columns") {
		t.Errorf("short row: %v", err)
	}
}

func TestBadColumns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cols []Column
		want string
	}{
		{nil, "columns: none given"},
		{[]Column{Text("")}, `column 1: name ""`},
		{[]Column{Text("Date")}, `column 1: name "Date"`},
		{[]Column{Text("a;b")}, `column 1: name "a;b"`},
		{[]Column{Text("a"), Int("a")}, `column "a": given twice`},
		{[]Column{{Name: "k", Kind: 0}}, `column "k": unknown kind 0`},
		{[]Column{Decimal("d", 10)}, `column "d": precision 10 outside 0..9`},
		{[]Column{Decimal("d", -1)}, `column "d": precision -1 outside 0..9`},
	}
	for _, tt := range tests {
		_, err := NewWriter(&bytes.Buffer{}, tt.cols)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("columns %v: error %v, want %q", tt.cols, err, tt.want)
		}
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWriteErrorIsSticky(t *testing.T) {
	t.Parallel()
	w, err := NewWriter(&failingWriter{}, []Column{Text("a")})
	if err != nil {
		t.Fatal(err) // the header is still buffered
	}
	long := strings.Repeat("x", 100<<10) // larger than the buffer: reaches the destination
	if err := w.WriteRow([]any{long}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write to a failing destination: %v", err)
	}
	if err := w.WriteRow([]any{"y"}); err == nil {
		t.Error("a write after a failure succeeded")
	}
	if _, err := w.Finish(); err == nil {
		t.Error("Finish after a failure succeeded")
	}
}
