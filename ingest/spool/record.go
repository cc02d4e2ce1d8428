package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk format. A segment file starts with segMagic and holds records back
// to back; each record is
//
//	length uint32 LE | crc uint32 LE | payload [length]byte
//
// where crc is CRC-32C (Castagnoli) over the four length bytes and the payload,
// so a damaged length is caught as surely as a damaged payload.
const (
	segMagic     = "vwspool1"
	segHeaderLen = int64(len(segMagic))
	recHeaderLen = 8

	// MaxRecordBytes is the largest record Append accepts.
	MaxRecordBytes = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptError reports a record that fails its length or CRC check somewhere a
// torn write cannot explain, such as the middle of a sealed segment.
type CorruptError struct {
	Path   string // segment file
	Offset int64  // byte offset of the record header in Path
	Reason string
}

// Error names the file and offset, so an operator can find the damage.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool: corrupt record in %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// encodeRecord returns rec framed with its length and CRC, ready to write.
func encodeRecord(rec []byte) []byte {
	buf := make([]byte, recHeaderLen+len(rec))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(rec)))
	copy(buf[recHeaderLen:], rec)
	binary.LittleEndian.PutUint32(buf[4:8], recordCRC(buf[0:4], rec))
	return buf
}

func recordCRC(length, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, length), castagnoli, payload)
}

// readHeader reads the record header at off and checks that the record it
// announces fits before end. It returns the payload length.
func readHeader(f io.ReaderAt, path string, off, end int64) (n int64, hdr [recHeaderLen]byte, err error) {
	if end-off < recHeaderLen {
		return 0, hdr, &CorruptError{path, off, fmt.Sprintf("%d bytes left, short of a record header", end-off)}
	}
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return 0, hdr, readErr(path, off, err)
	}
	n = int64(binary.LittleEndian.Uint32(hdr[0:4]))
	if n > MaxRecordBytes {
		return 0, hdr, &CorruptError{path, off, fmt.Sprintf("length %d exceeds the %d limit", n, MaxRecordBytes)}
	}
	// Checked before any allocation, so a damaged length cannot make us allocate 4 GiB.
	if off+recHeaderLen+n > end {
		return 0, hdr, &CorruptError{path, off, fmt.Sprintf("length %d runs past the end of the data at %d", n, end)}
	}
	return n, hdr, nil
}

// readRecord reads and verifies the record at off, which must end at or before
// end. It returns the payload in buf (grown if needed) and the next record's offset.
func readRecord(f io.ReaderAt, path string, off, end int64, buf []byte) (payload []byte, next int64, err error) {
	n, hdr, err := readHeader(f, path, off, end)
	if err != nil {
		return nil, 0, err
	}
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err := f.ReadAt(payload, off+recHeaderLen); err != nil {
		return nil, 0, readErr(path, off, err)
	}
	if got, want := recordCRC(hdr[0:4], payload), binary.LittleEndian.Uint32(hdr[4:8]); got != want {
		return nil, 0, &CorruptError{path, off, fmt.Sprintf("crc %08x, want %08x", got, want)}
	}
	return payload, off + recHeaderLen + n, nil
}

// readErr turns a short read into corruption (the file is shorter than its
// index says) and wraps anything else as an I/O error.
func readErr(path string, off int64, err error) error {
	if errors.Is(err, io.EOF) {
		return &CorruptError{path, off, "file ends inside the record"}
	}
	return fmt.Errorf("spool: read %s at %d: %w", path, off, err)
}

// scanResult is what a walk over a segment's records found.
type scanResult struct {
	end      int64 // offset just past the last good record
	records  int   // good records in [start, end)
	markRecs int   // records before mark, when markHit
	markHit  bool  // mark is a record boundary within [start, end]
	bad      *CorruptError
}

// scan walks the records of f from start towards end. With verify it reads
// every payload and checks its CRC; without, it only follows the length
// fields, which is enough to count records in a sealed segment cheaply (Peek
// checks the CRC when it gets there). It stops at the first bad record and
// reports it in bad; err is for I/O failures only.
func scan(f io.ReaderAt, path string, start, end int64, verify bool, mark int64) (scanResult, error) {
	var (
		res = scanResult{end: start}
		buf []byte
	)
	for {
		if res.end == mark {
			res.markRecs, res.markHit = res.records, true
		}
		if res.end == end {
			return res, nil
		}
		var next int64
		var err error
		if verify {
			var payload []byte
			payload, next, err = readRecord(f, path, res.end, end, buf)
			buf = payload[:0:cap(payload)]
		} else {
			var n int64
			n, _, err = readHeader(f, path, res.end, end)
			next = res.end + recHeaderLen + n
		}
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				res.bad = ce
				return res, nil
			}
			return res, err
		}
		res.end = next
		res.records++
	}
}
