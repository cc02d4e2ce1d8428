package usage

import (
	"cmp"
	"slices"
	"time"
)

// KeySet is the set of uses counted recently, by device and measurement time: what recognises
// a reading delivered again so that it is not counted twice. With each key it keeps when the
// use was recorded, to forget it after the deduplication window, and its day, so that a
// rebuild can replace the keys of whole days.
//
// It is kept in memory, about 19 bytes a key (BenchmarkKeySetMemory): a store loads it from
// the durable record of its uses and keeps it current. It is not safe for concurrent use.
type KeySet struct {
	devices map[string]*deviceKeys
	n       int
}

// deviceKeys are one device's keys, ordered by measurement time: fresh readings append, a
// late one is inserted in its place. A key's fields lie together, so that adding one touches
// one place in memory.
type deviceKeys []key

type key struct {
	at       int64  // measurement time, Unix milliseconds
	recorded uint32 // when it was recorded, Unix seconds
	day      uint16 // its Day.Number
}

// NewKeySet returns an empty set.
func NewKeySet() *KeySet { return &KeySet{devices: map[string]*deviceKeys{}} }

// Len returns how many keys the set holds.
func (s *KeySet) Len() int { return s.n }

// Has reports whether the use of device at atMS (Unix milliseconds) is in the set.
func (s *KeySet) Has(device string, atMS int64) bool {
	k := s.devices[device]
	if k == nil {
		return false
	}
	_, found := k.find(atMS)
	return found
}

// Add puts the use of device at atMS, on day (a Day.Number), recorded at recorded, in the
// set, and reports whether it was new; a key already there keeps its day and time recorded.
func (s *KeySet) Add(device string, atMS int64, day int, recorded time.Time) bool {
	k := s.devices[device]
	if k == nil {
		k = &deviceKeys{}
		s.devices[device] = k
	}
	i, found := k.find(atMS)
	if found {
		return false
	}
	e := key{at: atMS, recorded: uint32(max(recorded.Unix(), 0)), day: uint16(day)}
	if len(*k) == cap(*k) {
		// A quarter more, not append's double: the set is most of what counting uses costs
		// in memory, and a device's keys grow one at a time.
		grown := make(deviceKeys, len(*k), len(*k)+max(4, len(*k)/4))
		copy(grown, *k)
		*k = grown
	}
	if i == len(*k) {
		*k = append(*k, e)
	} else {
		*k = slices.Insert(*k, i, e)
	}
	s.n++
	return true
}

// find returns where atMS is or would go in k, and whether it is there. Fresh readings are
// the latest, so the last key is checked first.
func (k *deviceKeys) find(atMS int64) (int, bool) {
	keys := *k
	n := len(keys)
	if n == 0 || keys[n-1].at < atMS {
		return n, false
	}
	return slices.BinarySearchFunc(keys, atMS, func(e key, at int64) int { return cmp.Compare(e.at, at) })
}

// ForgetRecordedBefore removes the keys recorded before t and returns how many.
func (s *KeySet) ForgetRecordedBefore(t time.Time) int {
	cut := uint32(max(t.Unix(), 0))
	return s.forget(func(e key) bool { return e.recorded < cut })
}

// ForgetDays removes the keys of the days numbered from to to (Day.Number), and returns how
// many.
func (s *KeySet) ForgetDays(from, to int) int {
	return s.forget(func(e key) bool { d := int(e.day); return d >= from && d <= to })
}

// forget removes the keys that drop reports, and devices left without keys.
func (s *KeySet) forget(drop func(key) bool) int {
	gone := 0
	for dev, k := range s.devices {
		n := len(*k)
		*k = slices.DeleteFunc(*k, drop)
		gone += n - len(*k)
		if len(*k) == 0 {
			delete(s.devices, dev)
		}
	}
	s.n -= gone
	return gone
}

// Remove takes the use of device at atMS out of the set, if it is there: a use whose recording
// failed.
func (s *KeySet) Remove(device string, atMS int64) {
	k := s.devices[device]
	if k == nil {
		return
	}
	i, found := k.find(atMS)
	if !found {
		return
	}
	*k = slices.Delete(*k, i, i+1)
	if len(*k) == 0 {
		delete(s.devices, device)
	}
	s.n--
}
