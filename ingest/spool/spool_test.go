package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// MustOpen opens a spool and closes it when the test ends.
func MustOpen(tb testing.TB, opts Options) *Spool {
	tb.Helper()
	s, err := Open(opts)
	if err != nil {
		tb.Fatalf("Open(%+v): %v", opts, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// MustReopen closes s and opens its directory again.
func MustReopen(tb testing.TB, s *Spool, opts Options) *Spool {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return MustOpen(tb, opts)
}

func MustAppend(tb testing.TB, s *Spool, recs ...[]byte) {
	tb.Helper()
	for _, rec := range recs {
		if err := s.Append(rec); err != nil {
			tb.Fatalf("Append(%.20q): %v", rec, err)
		}
	}
}

// MustNext peeks the oldest record, checks that a second Peek agrees, and consumes it.
func MustNext(tb testing.TB, s *Spool) []byte {
	tb.Helper()
	rec, ok, err := s.Peek()
	if err != nil || !ok {
		tb.Fatalf("Peek() = _, %v, %v; want a record", ok, err)
	}
	again, ok, err := s.Peek()
	if err != nil || !ok || !bytes.Equal(again, rec) {
		tb.Fatalf("second Peek() = %.20q, %v, %v; want %.20q", again, ok, err, rec)
	}
	if err := s.Consume(); err != nil {
		tb.Fatalf("Consume: %v", err)
	}
	return rec
}

// Drain consumes every pending record.
func Drain(tb testing.TB, s *Spool) [][]byte {
	tb.Helper()
	var recs [][]byte
	for {
		_, ok, err := s.Peek()
		if err != nil {
			tb.Fatalf("Peek after %d records: %v", len(recs), err)
		}
		if !ok {
			return recs
		}
		recs = append(recs, MustNext(tb, s))
	}
}

// testRecord is record i, size bytes long (at least its label), its content
// derived from i so that a swapped or damaged record shows.
func testRecord(i, size int) []byte {
	label := fmt.Sprintf("rec %d;", i)
	b := []byte(label)
	for len(b) < size {
		b = append(b, byte('a'+(i+len(b))%26))
	}
	return b
}

func testRecords(n int, size func(i int) int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = testRecord(i, size(i))
	}
	return recs
}

func segmentFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

func frameLen(rec []byte) int64 { return recHeaderLen + int64(len(rec)) }

func totalFrames(recs [][]byte) int64 {
	var n int64
	for _, r := range recs {
		n += frameLen(r)
	}
	return n
}

func assertRecords(tb testing.TB, got, want [][]byte) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d records; want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			tb.Fatalf("record %d = %.30q; want %.30q", i, got[i], want[i])
		}
	}
}

func assertPending(tb testing.TB, s *Spool, recs [][]byte) {
	tb.Helper()
	if got, want := s.Len(), len(recs); got != want {
		tb.Errorf("Len() = %d; want %d", got, want)
	}
	if got, want := s.Bytes(), totalFrames(recs); got != want {
		tb.Errorf("Bytes() = %d; want %d", got, want)
	}
}

func TestAppendPeekConsumeAcrossSegments(t *testing.T) {
	opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 1 << 10}
	s := MustOpen(t, opts)
	want := testRecords(60, func(i int) int { return 50 + i*7%250 })
	MustAppend(t, s, want...)
	assertPending(t, s, want)
	full := len(segmentFiles(t, opts.Dir))
	if full < 5 {
		t.Fatalf("%d segment files after appending %d bytes with SegmentBytes %d; want at least 5",
			full, totalFrames(want), opts.SegmentBytes)
	}

	var got [][]byte
	for i := range want {
		got = append(got, MustNext(t, s))
		if i == len(want)/2 {
			if n := len(segmentFiles(t, opts.Dir)); n >= full {
				t.Errorf("%d segment files after consuming half; want fewer than %d", n, full)
			}
			assertPending(t, s, want[i+1:])
		}
	}
	assertRecords(t, got, want)
	assertPending(t, s, nil)
	if rec, ok, err := s.Peek(); ok || err != nil {
		t.Errorf("Peek() on a drained spool = %.20q, %v, %v; want nil, false, nil", rec, ok, err)
	}
	if n := len(segmentFiles(t, opts.Dir)); n != 1 {
		t.Errorf("%d segment files after draining; want 1", n)
	}
}

func TestEmpty(t *testing.T) {
	s := MustOpen(t, Options{Dir: t.TempDir(), MaxBytes: 1 << 20})
	if rec, ok, err := s.Peek(); ok || err != nil {
		t.Errorf("Peek() = %q, %v, %v; want nil, false, nil", rec, ok, err)
	}
	if err := s.Consume(); !errors.Is(err, ErrEmpty) {
		t.Errorf("Consume() = %v; want ErrEmpty", err)
	}
	MustAppend(t, s, []byte{}) // an empty record is still a record
	if got := MustNext(t, s); len(got) != 0 {
		t.Errorf("empty record read back as %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v; want ErrClosed", err)
	}
	if _, _, err := s.Peek(); !errors.Is(err, ErrClosed) {
		t.Errorf("Peek after Close = %v; want ErrClosed", err)
	}
	if err := s.Consume(); !errors.Is(err, ErrClosed) {
		t.Errorf("Consume after Close = %v; want ErrClosed", err)
	}
}

func TestReopenKeepsPendingInOrder(t *testing.T) {
	opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 512}
	s := MustOpen(t, opts)
	want := testRecords(40, func(i int) int { return 30 + i%100 })
	MustAppend(t, s, want...)

	s = MustReopen(t, s, opts)
	assertPending(t, s, want)
	if r := s.Recovery(); r.Records != len(want) || r.TruncatedBytes != 0 || r.CursorLost {
		t.Errorf("Recovery() = %+v; want %d records, nothing truncated, cursor kept", r, len(want))
	}
	assertRecords(t, Drain(t, s), want)
}

func TestReopenAfterConsuming(t *testing.T) {
	opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 512}
	s := MustOpen(t, opts)
	want := testRecords(40, func(i int) int { return 30 + i%100 })
	MustAppend(t, s, want...)
	for range 20 {
		MustNext(t, s)
	}

	// Consume made each of those durable: none is delivered again.
	s = MustReopen(t, s, opts)
	assertPending(t, s, want[20:])

	// A record that was peeked but not consumed is delivered again.
	if rec, _, err := s.Peek(); err != nil || !bytes.Equal(rec, want[20]) {
		t.Fatalf("Peek() = %.20q, %v; want %.20q", rec, err, want[20])
	}
	s = MustReopen(t, s, opts)
	assertRecords(t, Drain(t, s), want[20:])

	s = MustReopen(t, s, opts)
	assertPending(t, s, nil)
}

func TestTornTailIsCut(t *testing.T) {
	recs := testRecords(10, func(int) int { return 100 })
	last := frameLen(recs[9])
	tests := []struct {
		name string
		tear func(t *testing.T, path string)
		kept int   // complete records that survive
		cut  int64 // Recovery().TruncatedBytes
	}{
		{"last record short by 3 bytes", truncateBy(3), 9, last - 3},
		{"last record header only half written", truncateBy(last - 4), 9, 4},
		{"garbage after the last record", appendBytes([]byte("\x17garbage that is not a record")), 10, 29},
		{"zeros after the last record", appendBytes(make([]byte, 4096)), 10, 4096},
		{"bad crc in the last record", flipByte(-1), 9, last},
		{"bad length in the last record", flipByte(-last + 1), 9, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 700}
			s := MustOpen(t, opts)
			MustAppend(t, s, recs...)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files := segmentFiles(t, opts.Dir)
			tt.tear(t, files[len(files)-1])

			s = MustOpen(t, opts)
			if got := s.Recovery().TruncatedBytes; got != tt.cut {
				t.Errorf("Recovery().TruncatedBytes = %d; want %d", got, tt.cut)
			}
			assertPending(t, s, recs[:tt.kept])
			extra := []byte("appended after recovery")
			MustAppend(t, s, extra)
			assertRecords(t, Drain(t, s), append(recs[:tt.kept:tt.kept], extra))

			s = MustReopen(t, s, opts)
			if got := s.Recovery().TruncatedBytes; got != 0 {
				t.Errorf("second reopen: Recovery().TruncatedBytes = %d; want 0", got)
			}
		})
	}
}

func truncateBy(n int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()-n); err != nil {
			t.Fatal(err)
		}
	}
}

func appendBytes(b []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// flipByte inverts the byte at off, counted from the end of the file if negative.
func flipByte(off int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 {
			off += int64(len(b))
		}
		b[off] ^= 0xff
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCorruptionInSealedSegmentIsReported(t *testing.T) {
	recs := testRecords(10, func(int) int { return 100 })
	second := segHeaderLen + frameLen(recs[0]) // offset of the second record
	tests := []struct {
		name     string
		damage   func(*testing.T, string)
		readable int   // records Peek returns before the error
		offset   int64 // CorruptError.Offset
	}{
		{"bad crc", flipByte(second + recHeaderLen + 10), 1, second},
		{"bad length", flipByte(second + 1), 1, second},
		{"bad segment header", flipByte(2), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 400}
			s := MustOpen(t, opts)
			MustAppend(t, s, recs...)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			files := segmentFiles(t, opts.Dir)
			if len(files) < 3 {
				t.Fatalf("%d segment files; want at least 3", len(files))
			}
			tt.damage(t, files[0])

			s = MustOpen(t, opts)
			for i := range tt.readable {
				if got := MustNext(t, s); !bytes.Equal(got, recs[i]) {
					t.Fatalf("record %d = %.20q; want %.20q", i, got, recs[i])
				}
			}
			_, ok, err := s.Peek()
			var ce *CorruptError
			if ok || !errors.As(err, &ce) {
				t.Fatalf("Peek() = _, %v, %v; want a *CorruptError", ok, err)
			}
			if ce.Path != files[0] || ce.Offset != tt.offset {
				t.Errorf("CorruptError at %s:%d; want %s:%d", ce.Path, ce.Offset, files[0], tt.offset)
			}
			if msg := err.Error(); !strings.Contains(msg, files[0]) || !strings.Contains(msg, fmt.Sprint(tt.offset)) {
				t.Errorf("error %q does not name the file and offset", msg)
			}
			if err := s.Consume(); !errors.As(err, &ce) {
				t.Errorf("Consume() = %v; want the same *CorruptError", err)
			}
			MustAppend(t, s, []byte("appends still work")) // ingest keeps spooling
		})
	}
}

func TestErrFull(t *testing.T) {
	rec := testRecord(0, 100)
	segBytes := segHeaderLen + 2*frameLen(rec) // two records per segment
	opts := Options{Dir: t.TempDir(), MaxBytes: 3*segBytes + segHeaderLen, SegmentBytes: segBytes}
	s := MustOpen(t, opts)
	for i := range 6 {
		MustAppend(t, s, testRecord(i, 100))
	}
	if err := s.Append(rec); !errors.Is(err, ErrFull) {
		t.Fatalf("Append to a full spool = %v; want ErrFull", err)
	}
	if err := s.Append(make([]byte, opts.MaxBytes)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append(%d bytes) = %v; want ErrTooLarge", opts.MaxBytes, err)
	}

	// Space comes back a segment at a time.
	MustNext(t, s)
	if err := s.Append(rec); !errors.Is(err, ErrFull) {
		t.Fatalf("Append after consuming half a segment = %v; want ErrFull", err)
	}
	MustNext(t, s)
	MustAppend(t, s, rec)
	if got := len(segmentFiles(t, opts.Dir)); got != 3 {
		t.Errorf("%d segment files; want 3", got)
	}
	if err := s.Append(rec); err != nil {
		t.Errorf("second Append into the new segment = %v; want nil", err)
	}
	if err := s.Append(rec); !errors.Is(err, ErrFull) {
		t.Errorf("Append to a full spool again = %v; want ErrFull", err)
	}

	// Draining frees the last segment too, however big its one record was.
	Drain(t, s)
	huge := make([]byte, opts.MaxBytes-2*segHeaderLen-recHeaderLen)
	MustAppend(t, s, huge)
	Drain(t, s)
	MustAppend(t, s, huge)
}

func TestConcurrentAppends(t *testing.T) {
	const writers, perWriter = 8, 200
	s := MustOpen(t, Options{Dir: t.TempDir(), MaxBytes: 64 << 20, SegmentBytes: 8 << 10})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := s.Append(fmt.Appendf(nil, "%d %d %s", w, i, strings.Repeat("x", i%300))); err != nil {
					t.Errorf("writer %d: Append %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := s.Len(), writers*perWriter; got != want {
		t.Fatalf("Len() = %d; want %d", got, want)
	}
	assertEachOnceInOrder(t, Drain(t, s), writers, perWriter)
}

// TestConcurrentAppendAndConsume runs a consumer against live writers, so that
// segments rotate, drain and are deleted while both sides are busy.
func TestConcurrentAppendAndConsume(t *testing.T) {
	const writers, perWriter = 4, 300
	s := MustOpen(t, Options{Dir: t.TempDir(), MaxBytes: 64 << 20, SegmentBytes: 4 << 10})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := s.Append(fmt.Appendf(nil, "%d %d %s", w, i, strings.Repeat("y", i%200))); err != nil {
					t.Errorf("writer %d: Append %d: %v", w, i, err)
					return
				}
			}
		})
	}
	var got [][]byte
	for len(got) < writers*perWriter {
		rec, ok, err := s.Peek()
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if !ok {
			runtime.Gosched()
			continue
		}
		if err := s.Consume(); err != nil {
			t.Fatalf("Consume: %v", err)
		}
		got = append(got, rec)
	}
	wg.Wait()
	assertEachOnceInOrder(t, got, writers, perWriter)
	assertPending(t, s, nil)
}

// assertEachOnceInOrder checks that recs, labelled "writer index ...", hold
// every writer's records exactly once and in the order each writer appended them.
func assertEachOnceInOrder(tb testing.TB, recs [][]byte, writers, perWriter int) {
	tb.Helper()
	next := make([]int, writers)
	for _, rec := range recs {
		var w, i int
		if _, err := fmt.Sscanf(string(rec), "%d %d", &w, &i); err != nil || w < 0 || w >= writers {
			tb.Fatalf("unexpected record %.30q", rec)
		}
		if i != next[w] {
			tb.Fatalf("writer %d: got record %d; want %d", w, i, next[w])
		}
		next[w]++
	}
	for w, n := range next {
		if n != perWriter {
			tb.Errorf("writer %d: read back %d records; want %d", w, n, perWriter)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"no dir", Options{MaxBytes: 1 << 20}, true},
		{"no bound", Options{Dir: dir}, true},
		{"segment bigger than the bound", Options{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 2 << 20}, true},
		{"segment too small for a record", Options{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 16}, true},
		{"defaults", Options{Dir: filepath.Join(dir, "created"), MaxBytes: 1 << 30}, false},
		{"small bound shrinks the default segment", Options{Dir: filepath.Join(dir, "small"), MaxBytes: 1 << 20}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Open(%+v) error = %v; want error %v", tt.opts, err, tt.wantErr)
			}
			if err == nil {
				s.Close()
			}
		})
	}
}

// TestSegmentIDsNeverGoBack covers segment files removed by hand, cursor
// left behind: new segments must sort after the saved cursor, or the next Open
// would take them for consumed segments and delete them.
func TestSegmentIDsNeverGoBack(t *testing.T) {
	opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20, SegmentBytes: 256}
	s := MustOpen(t, opts)
	recs := testRecords(20, func(int) int { return 100 })
	MustAppend(t, s, recs...)
	Drain(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range segmentFiles(t, opts.Dir) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}

	s = MustOpen(t, opts)
	MustAppend(t, s, recs[0])
	s = MustReopen(t, s, opts)
	assertRecords(t, Drain(t, s), recs[:1])
}

func FuzzOpenRecoversLastSegment(f *testing.F) {
	var valid []byte
	for i := range 5 {
		valid = append(valid, encodeRecord(testRecord(i, i*10))...)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(append(bytes.Clone(valid), 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 1), append([]byte(segMagic), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		s := MustOpen(t, Options{Dir: dir, MaxBytes: 1 << 30})
		cut := s.Recovery().TruncatedBytes
		var reencoded []byte
		for _, rec := range Drain(t, s) {
			reencoded = append(reencoded, encodeRecord(rec)...)
		}
		// What survives is exactly the valid prefix of the data.
		if !bytes.Equal(reencoded, data[:int64(len(data))-cut]) {
			t.Fatalf("kept %d bytes and cut %d of %d; the kept records are not the data's prefix",
				len(reencoded), cut, len(data))
		}
	})
}
