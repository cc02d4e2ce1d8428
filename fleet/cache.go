package fleet

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The reports' caches, each brought from one registry version to the next by the devices the
// change touched.

// DeviceChanges is what a store that records which devices each registry change touched
// provides (the store's DevicesChangedSince). A Store without it has every device read again at
// each registry version.
type DeviceChanges interface {
	// DevicesChangedSince returns, by id, the devices whose row, periods or loans changed after
	// the registry version, at most limit of them.
	DevicesChangedSince(ctx context.Context, version int64, limit int) ([]string, error)
}

// registryState is what the reports read of the registry as of one version: the devices and
// their loans from the directory, their periods from the store. Shared: nobody changes it.
type registryState struct {
	version int64
	devices []devices.Device     // by id
	loans   []devices.Assignment // by device, then start
	periods []devices.Period     // by device, then start
}

// lentAt says, for each of st.devices, whether it was lent to a patient at t (as the
// directory's PatientAt), from the loans in the same order as the devices.
func (st *registryState) lentAt(t time.Time) []bool {
	lent := make([]bool, len(st.devices))
	j := 0
	for i := range st.devices {
		id := st.devices[i].ID
		for j < len(st.loans) && st.loans[j].DeviceID < id {
			j++
		}
		for ; j < len(st.loans) && st.loans[j].DeviceID == id; j++ {
			if st.loans[j].Covers(t) {
				lent[i] = true
			}
		}
	}
	return lent
}

// periodCache keeps the registry's state as of the last version read. Periods change only with
// the registry (every change of a device's site or status, by the API, a transfer or a move, is
// a registry change that increments its version), and so do the devices and loans. At a new
// version, the devices the change touched are read again (a city's 100,000 devices have more
// than 100,000 periods, and it lends devices all day); all of them only when the store does not
// say which, or when many changed.
type periodCache struct {
	mu    sync.Mutex
	state *registryState // nil: none read yet
	used  time.Time      // when a report last read state
}

// Bounds that take every period.
var (
	beginning = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	endOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxChanged is how many devices changed since the state kept are read again one by one, of n
// devices; beyond, every device is.
func maxChanged(n int) int { return max(1000, n/20) }

// periodsPerQuery bounds the devices whose periods one query reads.
const periodsPerQuery = 500

// registry returns the registry's state as of dir's version. A directory without a version
// (below 0) has its state read each time.
func (r *Reports) registry(ctx context.Context, dir *devices.Directory) (*registryState, error) {
	v := dir.Version()
	if v < 0 {
		return r.readState(ctx, dir)
	}
	c := &r.periods
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = r.now()
	if c.state != nil && c.state.version == v {
		return c.state, nil
	}
	if c.state != nil && c.state.version > v {
		return r.readState(ctx, dir) // an older directory than the state kept: not kept
	}
	if c.state != nil {
		ids, ok, err := r.changedSince(ctx, c.state.version, len(c.state.devices))
		if err != nil {
			return nil, err
		}
		if ok {
			st, err := r.patchState(ctx, c.state, dir, ids)
			if err != nil {
				return nil, err
			}
			c.state = st
			return st, nil
		}
	}
	st, err := r.readState(ctx, dir)
	if err != nil {
		return nil, err
	}
	c.state = st
	return st, nil
}

// changedSince returns the devices changed after version, by id, and whether the store says
// which and they are few enough (of n) to read one by one.
func (r *Reports) changedSince(ctx context.Context, version int64, n int) ([]string, bool, error) {
	ch, ok := r.store.(DeviceChanges)
	if !ok {
		return nil, false, nil
	}
	limit := maxChanged(n)
	ids, err := ch.DevicesChangedSince(ctx, version, limit+1)
	if err != nil || len(ids) > limit {
		return nil, false, err
	}
	return ids, true, nil
}

// readState reads the registry's state: every device and loan of dir, every period.
func (r *Reports) readState(ctx context.Context, dir *devices.Directory) (*registryState, error) {
	st := &registryState{version: dir.Version()}
	st.devices, st.loans = listDevices(dir)
	ps, err := r.store.DevicePeriods(ctx, beginning, endOfTime)
	if err != nil {
		return nil, err
	}
	st.periods = ps
	return st, nil
}

// listDevices returns dir's devices, by id, and their loans, by device and start.
func listDevices(dir *devices.Directory) ([]devices.Device, []devices.Assignment) {
	type entry struct {
		d  *devices.Device
		as []devices.Assignment
	}
	var es []entry
	n := 0
	dir.Devices(func(d *devices.Device, assigns []devices.Assignment) bool {
		es = append(es, entry{d, assigns})
		n += len(assigns)
		return true
	})
	// By id, which the utilisation's ordering is quickest with; pointers sort faster.
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.d.ID, b.d.ID) })
	ds := make([]devices.Device, len(es))
	as := make([]devices.Assignment, 0, n)
	for i, e := range es {
		ds[i] = *e.d
		as = append(as, e.as...)
	}
	return ds, as
}

// patchState returns old with the devices ids (sorted) as dir and the store have them now.
func (r *Reports) patchState(ctx context.Context, old *registryState, dir *devices.Directory, ids []string) (*registryState, error) {
	var ps []devices.Period
	for i := 0; i < len(ids); i += periodsPerQuery {
		part, err := r.store.DevicePeriods(ctx, beginning, endOfTime, ids[i:min(i+periodsPerQuery, len(ids))]...)
		if err != nil {
			return nil, err
		}
		ps = append(ps, part...)
	}
	var ds []devices.Device
	var as []devices.Assignment
	for _, id := range ids {
		if d, ok := dir.Device(id); ok {
			ds = append(ds, *d)
			as = append(as, dir.Assignments(id)...)
		}
	}
	return &registryState{
		version: dir.Version(),
		devices: replaced(old.devices, ids, ds, func(d *devices.Device) string { return d.ID }),
		loans:   replaced(old.loans, ids, as, func(a *devices.Assignment) string { return a.DeviceID }),
		periods: replaced(old.periods, ids, ps, func(p *devices.Period) string { return p.DeviceID }),
	}, nil
}

// replaced returns a copy of old (ordered by key) without the items of the keys ids (sorted)
// and with repl (the new items of those keys, ordered by key) in their place.
func replaced[T any](old []T, ids []string, repl []T, key func(*T) string) []T {
	out := make([]T, 0, len(old)+len(repl))
	j, k := 0, 0
	for i := range old {
		kk := key(&old[i])
		for j < len(ids) && ids[j] < kk {
			j++
		}
		if j < len(ids) && ids[j] == kk {
			continue
		}
		for k < len(repl) && key(&repl[k]) < kk {
			out = append(out, repl[k])
			k++
		}
		out = append(out, old[i])
	}
	return append(out, repl[k:]...)
}

// of returns the items of key id in items, ordered by key.
func of[T any](items []T, id string, key func(*T) string) []T {
	lo, _ := slices.BinarySearchFunc(items, id, func(x T, id string) int { return strings.Compare(key(&x), id) })
	hi := lo
	for hi < len(items) && key(&items[hi]) == id {
		hi++
	}
	return items[lo:hi]
}

// allPeriods returns every device's periods, by device and start, as of dir's version. The
// slice is shared: callers copy the periods they change.
func (r *Reports) allPeriods(ctx context.Context, dir *devices.Directory) ([]devices.Period, error) {
	st, err := r.registry(ctx, dir)
	if err != nil {
		return nil, err
	}
	return st.periods, nil
}

// allDevices returns the directory's devices, by id, and their loans, by device and start:
// those of the state kept when it is of dir's version, shared (callers must not change them),
// or else listed anew.
func (r *Reports) allDevices(dir *devices.Directory) ([]devices.Device, []devices.Assignment) {
	v := dir.Version()
	if v >= 0 {
		c := &r.periods
		c.mu.Lock()
		st := c.state
		c.mu.Unlock()
		if st != nil && st.version == v {
			return st.devices, st.loans
		}
	}
	return listDevices(dir)
}

// startedCache keeps computations started (usage.NewComputation: the devices' periods and loans
// laid out over the days) for windows of complete months, each as of a registry version: the
// assessment, the plan and alternatives look at the same three months all month, and the
// devices' days in them change only with the registry. Each request adds its uses to a clone.
// A computation of an older version is patched for the devices changed since
// (usage.Computation.Patch) when it is next asked for.
type startedCache struct {
	mu      sync.Mutex
	started map[startedKey]*started
	starts  int       // computations started, for tests: the others were patched
	used    time.Time // when a report last asked for one
}

type startedKey struct {
	from, to usage.Month
	kind     devices.Kind
}

// started is a computation kept and the registry version it is of.
type started struct {
	version int64
	x       *usage.Computation
}

// maxStarted bounds the computations kept.
const maxStarted = 8

// prepared returns a computation of from..to for the devices of kind ("": all) with their
// periods and loans but no uses yet, for the caller's own use; nil when there is no device.
func (r *Reports) prepared(ctx context.Context, from, to usage.Month, kind devices.Kind) (*usage.Computation, error) {
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, err
	}
	// A window whose last local day has ended everywhere (UTC-12 included) no longer changes
	// with the clock.
	v := dir.Version()
	settled := time.Date(to.Year, to.Month+1, 1, 12, 0, 0, 0, time.UTC).Add(24 * time.Hour)
	keep := v >= 0 && !r.now().Before(settled)
	k := startedKey{from, to, kind}
	c := &r.started
	if keep {
		x, err := r.startedAt(ctx, dir, k)
		if err != nil {
			return nil, err
		}
		if x != nil {
			return x.Clone(), nil
		}
	}
	in, err := r.inputAt(ctx, dir, from, to, Scope{Kind: kind})
	if err != nil || len(in.Devices) == 0 {
		return nil, err
	}
	x := usage.NewComputation(in, from, to)
	if !keep {
		return x, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.started[k]; e != nil && e.version > v {
		return x, nil // brought to a newer version meanwhile: x is not of it
	}
	if c.started == nil || len(c.started) >= maxStarted && c.started[k] == nil {
		c.started = map[startedKey]*started{}
	}
	c.started[k] = &started{version: v, x: x}
	c.starts++
	c.used = r.now()
	return x.Clone(), nil
}

// startedAt returns the computation kept for k, brought to dir's version; nil when none is
// kept, or it cannot be brought.
func (r *Reports) startedAt(ctx context.Context, dir *devices.Directory, k startedKey) (*usage.Computation, error) {
	v := dir.Version()
	c := &r.started
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = r.now()
	e := c.started[k]
	switch {
	case e == nil:
		return nil, nil
	case e.version == v:
		return e.x, nil
	case e.version > v:
		return nil, nil // of a newer version than dir
	}
	ids, ok, err := r.changedSince(ctx, e.version, dir.Len())
	if err != nil {
		return nil, err
	}
	if !ok {
		delete(c.started, k)
		return nil, nil
	}
	st, err := r.registry(ctx, dir)
	if err != nil {
		return nil, err
	}
	sites, err := r.store.AllSites(ctx)
	if err != nil {
		return nil, err
	}
	y := e.x.Patch(ids, r.inputOf(st, sites, k.from, k.to, k.kind, ids))
	if y == nil {
		delete(c.started, k)
		return nil, nil
	}
	c.started[k] = &started{version: v, x: y}
	return y, nil
}

// growthCache keeps the patients' records (the registry's audit log of patient changes) as of
// one registry version, and the counts of patients on each condition last made from them: an
// assessment replays a city's log twice, and the log changes only with the registry. Only a
// Patients that says its registry version (as the store does) has them kept.
type growthCache struct {
	mu      sync.Mutex
	version int64
	records []devices.PatientRecord
	read    bool
	// The counts last made, and how many records each replayed.
	beforeN, nowN int
	before, now   map[siteCondition]int
	used          time.Time // when a report last asked for the counts
}

// versioned is a Patients whose records change only with its registry version.
type versioned interface {
	RegistryVersion(ctx context.Context) (int64, error)
}

// growthCached is growth, with the records kept per registry version: the counts of patients
// on each condition now and GrowthPeriod months ago. The maps are shared: callers must not
// change them.
func (r *Reports) growthCached(ctx context.Context) (before, now map[siteCondition]int, err error) {
	src, ok := r.patients.(versioned)
	if !ok || r.thresholds.Growth <= 0 {
		return r.growth(ctx)
	}
	v, err := src.RegistryVersion(ctx)
	if err != nil {
		return nil, nil, err
	}
	g := &r.growthCounts
	g.mu.Lock()
	defer g.mu.Unlock()
	g.used = r.now()
	if !g.read || g.version != v {
		records, err := patientRecords(ctx, r.patients)
		if err != nil {
			return nil, nil, err
		}
		g.version, g.records, g.read, g.before, g.now = v, records, true, nil, nil
	}
	t := r.now()
	at := t.AddDate(0, -GrowthPeriod, 0)
	// patientsOn counts the records at or before its time: of the same records, those of an
	// earlier time are among those of a later one, so the same number is the same records.
	nb, nn := replayed(g.records, at), replayed(g.records, t)
	if g.before == nil || nb != g.beforeN || nn != g.nowN {
		g.before, g.now = patientsOn(g.records, at), patientsOn(g.records, t)
		g.beforeN, g.nowN = nb, nn
	}
	return g.before, g.now, nil
}

// replayed is how many of the records patientsOn counts at at.
func replayed(records []devices.PatientRecord, at time.Time) int {
	n := 0
	for _, rec := range records {
		if !rec.At.After(at) {
			n++
		}
	}
	return n
}

// CacheIdle is how long the reports keep what they read of the registry and the computations
// they started once no report asks for them (ForgetIdle): at a city's size they are some
// hundreds of megabytes. The daily growth check does not count as a report (GrowthNotices.Check).
const CacheIdle = 10 * time.Minute

// ForgetIdle drops each cache that no report has used for idle or longer, or ever (one that
// only the growth check filled): the registry's state, the computations started and the
// patients' records. The next report reads them again, as after a start. It reports whether it
// dropped any.
func (r *Reports) ForgetIdle(idle time.Duration) bool {
	now := r.now()
	stale := func(used time.Time) bool { return used.IsZero() || now.Sub(used) >= idle }
	dropped := false
	p := &r.periods
	p.mu.Lock()
	if p.state != nil && stale(p.used) {
		p.state, dropped = nil, true
	}
	p.mu.Unlock()
	c := &r.started
	c.mu.Lock()
	if len(c.started) > 0 && stale(c.used) {
		c.started, dropped = nil, true
	}
	c.mu.Unlock()
	g := &r.growthCounts
	g.mu.Lock()
	if g.read && stale(g.used) {
		g.records, g.read, g.before, g.now, dropped = nil, false, nil, nil, true
	}
	g.mu.Unlock()
	return dropped
}

// cacheUses are when reports last used each cache (zero: never).
type cacheUses struct{ periods, started, growth time.Time }

// uses returns when reports last used each cache.
func (r *Reports) uses() cacheUses {
	var u cacheUses
	r.periods.mu.Lock()
	u.periods = r.periods.used
	r.periods.mu.Unlock()
	r.started.mu.Lock()
	u.started = r.started.used
	r.started.mu.Unlock()
	r.growthCounts.mu.Lock()
	u.growth = r.growthCounts.used
	r.growthCounts.mu.Unlock()
	return u
}

// setUses sets when reports last used each cache back to u, as if the reads since had not
// been made.
func (r *Reports) setUses(u cacheUses) {
	r.periods.mu.Lock()
	r.periods.used = u.periods
	r.periods.mu.Unlock()
	r.started.mu.Lock()
	r.started.used = u.started
	r.started.mu.Unlock()
	r.growthCounts.mu.Lock()
	r.growthCounts.used = u.growth
	r.growthCounts.mu.Unlock()
}

// ForgetIdleEvery runs ForgetIdle(CacheIdle) every interval until ctx ends.
func (r *Reports) ForgetIdleEvery(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.ForgetIdle(CacheIdle)
		}
	}
}
