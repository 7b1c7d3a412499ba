// Package csvexport writes metric rows as the CSV files Power BI imports (DESIGN §6):
// UTF-8 with BOM, `;` delimiter, CRLF line ends, RFC 4180 quoting, ISO dates, `.`
// decimals with a fixed precision, an empty cell for NULL, and text cells neutralised
// against formula injection.
//
// The package knows nothing of the database: a Writer takes a column spec and rows of
// plain Go values and streams them through a buffer into its destination, hashing and
// counting as it goes, so memory stays flat however many rows there are.
package csvexport

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what a column holds; it decides how a value is rendered.
type Kind int

// Column kinds.
const (
	KindText      Kind = iota + 1 // any string; neutralised and quoted as needed
	KindInt                       // integer, no separators
	KindDecimal                   // fixed number of decimals, `.` as the point
	KindDate                      // YYYY-MM-DD
	KindTimestamp                 // YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)
	KindBool                      // true / false
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindInt:
		return "int"
	case KindDecimal:
		return "decimal"
	case KindDate:
		return "date"
	case KindTimestamp:
		return "timestamp"
	case KindBool:
		return "bool"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Column is one column of a file: its header name and kind. Precision is the number of
// decimals of a KindDecimal column.
type Column struct {
	Name      string
	Kind      Kind
	Precision int
}

// Text builds a text column.
func Text(name string) Column { return Column{Name: name, Kind: KindText} }

// Int builds an integer column.
func Int(name string) Column { return Column{Name: name, Kind: KindInt} }

// Decimal builds a decimal column rendered with precision decimals.
func Decimal(name string, precision int) Column {
	return Column{Name: name, Kind: KindDecimal, Precision: precision}
}

// Date builds a date column.
func Date(name string) Column { return Column{Name: name, Kind: KindDate} }

// Timestamp builds a timestamp column.
func Timestamp(name string) Column { return Column{Name: name, Kind: KindTimestamp} }

// Bool builds a boolean column.
func Bool(name string) Column { return Column{Name: name, Kind: KindBool} }

// Names returns the header names of cols, in order.
func Names(cols []Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

// Format constants of the export contract.
const (
	bom       = "\uFEFF"
	delimiter = ';'
	lineEnd   = "\r\n"
	// Power BI and Excel evaluate a cell starting with one of these as a formula; a
	// leading apostrophe makes it plain text again.
	formulaStarts = "=+-@\t\r"
	maxPrecision  = 9
)

// ErrBadValue marks a row the writer refused: a value of the wrong type for its column,
// a number that is not finite, or a row with the wrong number of values.
var ErrBadValue = errors.New("bad value")

// Summary describes a finished file: data rows (the header not counted), bytes and the
// SHA-256 of every byte written, BOM included — the checksum of the file on disk.
type Summary struct {
	Rows   int64
	Bytes  int64
	SHA256 string
}

// Writer streams one CSV file. It is not safe for concurrent use.
type Writer struct {
	cols   []Column
	out    *bufio.Writer
	digest *digestWriter
	line   []byte // the row being built, reused
	rows   int64
	err    error // sticky: the first write error
}

// NewWriter validates the columns and writes the BOM and the header row to dst.
func NewWriter(dst io.Writer, cols []Column) (*Writer, error) {
	if err := validateColumns(cols); err != nil {
		return nil, err
	}
	d := &digestWriter{dst: dst, hash: sha256.New()}
	w := &Writer{
		cols:   append([]Column(nil), cols...),
		out:    bufio.NewWriterSize(d, 64<<10),
		digest: d,
		line:   make([]byte, 0, 512),
	}
	w.line = append(w.line, bom...)
	for i, c := range cols {
		if i > 0 {
			w.line = append(w.line, delimiter)
		}
		w.line = append(w.line, c.Name...)
	}
	w.line = append(w.line, lineEnd...)
	if _, err := w.out.Write(w.line); err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	return w, nil
}

func validateColumns(cols []Column) error {
	if len(cols) == 0 {
		return errors.New("columns: none given")
	}
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		if !validName(c.Name) {
			return fmt.Errorf("column %d: name %q must be lower-case letters, digits and _", i+1, c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("column %q: given twice", c.Name)
		}
		seen[c.Name] = true
		if c.Kind < KindText || c.Kind > KindBool {
			return fmt.Errorf("column %q: unknown kind %d", c.Name, int(c.Kind))
		}
		if c.Kind == KindDecimal && (c.Precision < 0 || c.Precision > maxPrecision) {
			return fmt.Errorf("column %q: precision %d outside 0..%d", c.Name, c.Precision, maxPrecision)
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Columns returns the writer's header names.
func (w *Writer) Columns() []string { return Names(w.cols) }

// WriteRow writes one row. values must match the columns in number and kind; nil (or
// a nil pointer) is NULL and becomes an empty cell. Accepted Go types per kind:
//
//	text:      string
//	int:       int, int16, int32, int64
//	decimal:   float64, float32, the int types, or a string holding a decimal literal
//	           (e.g. PostgreSQL numeric as text — rounded exactly, half away from zero)
//	date:      time.Time (its calendar date, in its own location)
//	timestamp: time.Time (converted to UTC, truncated to the second)
//	bool:      bool
//
// plus pointers to each. A row with a bad value writes nothing and returns an error
// naming the column.
func (w *Writer) WriteRow(values []any) error {
	if w.err != nil {
		return w.err
	}
	if len(values) != len(w.cols) {
		return fmt.Errorf("%w: row %d: %d values for %d columns", ErrBadValue, w.rows+1, len(values), len(w.cols))
	}
	line := w.line[:0]
	for i, c := range w.cols {
		if i > 0 {
			line = append(line, delimiter)
		}
		var err error
		line, err = appendCell(line, c, values[i])
		if err != nil {
			w.line = line[:0]
			return fmt.Errorf("%w: row %d, column %s: %w", ErrBadValue, w.rows+1, c.Name, err)
		}
	}
	line = append(line, lineEnd...)
	w.line = line
	if _, err := w.out.Write(line); err != nil {
		w.err = fmt.Errorf("write row %d: %w", w.rows+1, err)
		return w.err
	}
	w.rows++
	return nil
}

// Finish flushes what is buffered and returns the file's summary. It does not close
// the destination.
func (w *Writer) Finish() (Summary, error) {
	if w.err != nil {
		return Summary{}, w.err
	}
	if err := w.out.Flush(); err != nil {
		w.err = fmt.Errorf("flush: %w", err)
		return Summary{}, w.err
	}
	return Summary{
		Rows:   w.rows,
		Bytes:  w.digest.n,
		SHA256: hex.EncodeToString(w.digest.hash.Sum(nil)),
	}, nil
}

// digestWriter counts and hashes exactly the bytes that reach dst.
type digestWriter struct {
	dst  io.Writer
	hash hash.Hash
	n    int64
}

func (d *digestWriter) Write(p []byte) (int, error) {
	n, err := d.dst.Write(p)
	d.hash.Write(p[:n])
	d.n += int64(n)
	return n, err
}

func appendCell(dst []byte, c Column, v any) ([]byte, error) {
	v = deref(v)
	if v == nil {
		return dst, nil
	}
	switch c.Kind {
	case KindText:
		s, ok := v.(string)
		if !ok {
			return dst, wrongType(c, v)
		}
		return appendText(dst, s), nil
	case KindInt:
		n, ok := asInt(v)
		if !ok {
			return dst, wrongType(c, v)
		}
		return strconv.AppendInt(dst, n, 10), nil
	case KindDecimal:
		return appendDecimalValue(dst, c, v)
	case KindDate:
		t, ok := v.(time.Time)
		if !ok {
			return dst, wrongType(c, v)
		}
		return t.AppendFormat(dst, time.DateOnly), nil
	case KindTimestamp:
		t, ok := v.(time.Time)
		if !ok {
			return dst, wrongType(c, v)
		}
		return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05Z"), nil
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return dst, wrongType(c, v)
		}
		return strconv.AppendBool(dst, b), nil
	}
	return dst, fmt.Errorf("unknown kind %d", int(c.Kind))
}

func wrongType(c Column, v any) error {
	return fmt.Errorf("a %s column cannot hold a %T", c.Kind, v)
}

// deref turns typed pointers into their values, and nil pointers into nil (NULL).
func deref(v any) any {
	switch p := v.(type) {
	case *string:
		if p == nil {
			return nil
		}
		return *p
	case *int64:
		if p == nil {
			return nil
		}
		return *p
	case *int32:
		if p == nil {
			return nil
		}
		return *p
	case *int:
		if p == nil {
			return nil
		}
		return *p
	case *float64:
		if p == nil {
			return nil
		}
		return *p
	case *time.Time:
		if p == nil {
			return nil
		}
		return *p
	case *bool:
		if p == nil {
			return nil
		}
		return *p
	}
	return v
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}

func appendDecimalValue(dst []byte, c Column, v any) ([]byte, error) {
	if n, ok := asInt(v); ok {
		return appendDecimal(dst, strconv.FormatInt(n, 10), c.Precision)
	}
	switch x := v.(type) {
	case string:
		return appendDecimal(dst, x, c.Precision)
	case float64:
		return appendFloat(dst, x, c.Precision)
	case float32:
		return appendFloat(dst, float64(x), c.Precision)
	}
	return dst, wrongType(c, v)
}

// appendFloat rounds the shortest decimal that represents f, so 2.675 becomes "2.68"
// like its PostgreSQL numeric twin and not "2.67" as its binary value would.
func appendFloat(dst []byte, f float64, precision int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%v is not a finite number", f)
	}
	return appendDecimal(dst, strconv.FormatFloat(f, 'f', -1, 64), precision)
}

// appendDecimal writes the decimal literal s ([-+]digits[.digits]) rounded half away
// from zero to precision decimals. A result of zero never carries a minus sign.
func appendDecimal(dst []byte, s string, precision int) ([]byte, error) {
	lit := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return dst, fmt.Errorf("%q is not a decimal number", lit)
	}
	// digits holds a spare leading zero (room for a carry), the integer part and then
	// exactly precision decimals.
	var scratch [48]byte
	digits := append(scratch[:0], '0')
	digits = append(digits, intPart...)
	kept := frac
	if len(kept) > precision {
		kept = kept[:precision]
	}
	digits = append(digits, kept...)
	for i := len(kept); i < precision; i++ {
		digits = append(digits, '0')
	}
	if len(frac) > precision && frac[precision] >= '5' {
		i := len(digits) - 1
		for digits[i] == '9' {
			digits[i] = '0'
			i--
		}
		digits[i]++
	}
	intDigits, fracDigits := digits[:len(digits)-precision], digits[len(digits)-precision:]
	for len(intDigits) > 1 && intDigits[0] == '0' {
		intDigits = intDigits[1:]
	}
	if neg && !(allZero(intDigits) && allZero(fracDigits)) {
		dst = append(dst, '-')
	}
	dst = append(dst, intDigits...)
	if precision > 0 {
		dst = append(dst, '.')
		dst = append(dst, fracDigits...)
	}
	return dst, nil
}

func allZero(digits []byte) bool {
	for _, d := range digits {
		if d != '0' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendText neutralises a would-be formula and quotes the cell when it holds the
// delimiter, a quote or a line break (RFC 4180: quotes inside are doubled).
func appendText(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	prefix := s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0
	if !strings.ContainsAny(s, ";\"\r\n") {
		if prefix {
			dst = append(dst, '\'')
		}
		return append(dst, s...)
	}
	dst = append(dst, '"')
	if prefix {
		dst = append(dst, '\'')
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// Digest counts and hashes what is written through it to dst: the size and SHA-256
// the manifest records of a file that is not a CSV (the HTML report).
type Digest struct{ d digestWriter }

// NewDigest writes through to dst.
func NewDigest(dst io.Writer) *Digest {
	return &Digest{d: digestWriter{dst: dst, hash: sha256.New()}}
}

// Write writes p to dst, counting and hashing what was written.
func (d *Digest) Write(p []byte) (int, error) { return d.d.Write(p) }

// Summary is the bytes written so far and their SHA-256 (Rows is 0).
func (d *Digest) Summary() Summary {
	return Summary{Bytes: d.d.n, SHA256: hex.EncodeToString(d.d.hash.Sum(nil))}
}
