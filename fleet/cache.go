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

// The reports' caches, each per registry version.

// periodCache keeps every device's periods as of one registry version. Periods change only
// with the registry (every change of a device's site or status, by the API, a transfer or a
// move, is a registry change that increments its version), so the reports read them again only
// when the directory they are given is of another version, not for each request: a city's
// 100,000 devices have more than 100,000 periods.
type periodCache struct {
	mu      sync.Mutex
	version int64
	periods []devices.Period // nil: none read yet
	// The directory's devices and their loans, as of devicesOf: listed once per version too.
	devicesOf int64
	devices   []devices.Device
	loans     []devices.Assignment
}

// Bounds that take every period.
var (
	beginning = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	endOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// allPeriods returns every device's periods, by device and start, as of dir's version. A
// directory without a version (below 0) has its periods read each time. The slice is shared:
// callers copy the periods they change.
func (r *Reports) allPeriods(ctx context.Context, dir *devices.Directory) ([]devices.Period, error) {
	v := dir.Version()
	if v < 0 {
		return r.store.DevicePeriods(ctx, beginning, endOfTime)
	}
	c := &r.periods
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.periods != nil && c.version == v {
		return c.periods, nil
	}
	ps, err := r.store.DevicePeriods(ctx, beginning, endOfTime)
	if err != nil {
		return nil, err
	}
	if ps == nil {
		ps = []devices.Period{}
	}
	c.version, c.periods = v, ps
	return ps, nil
}

// allDevices returns the directory's devices, by id, and their loans, by device and start. For
// a directory with a version, the lists are made once and shared: callers must not change them.
func (r *Reports) allDevices(dir *devices.Directory) ([]devices.Device, []devices.Assignment) {
	list := func() ([]devices.Device, []devices.Assignment) {
		var ps []*devices.Device
		var as []devices.Assignment
		dir.Devices(func(d *devices.Device, assigns []devices.Assignment) bool {
			ps = append(ps, d)
			as = append(as, assigns...)
			return true
		})
		// By id, which the utilisation's ordering is quickest with; pointers sort faster.
		slices.SortFunc(ps, func(a, b *devices.Device) int { return strings.Compare(a.ID, b.ID) })
		ds := make([]devices.Device, len(ps))
		for i, d := range ps {
			ds[i] = *d
		}
		return ds, as
	}
	v := dir.Version()
	if v < 0 {
		return list()
	}
	c := &r.periods
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.devices == nil || c.devicesOf != v {
		c.devices, c.loans = list()
		if c.devices == nil {
			c.devices = []devices.Device{}
		}
		c.devicesOf = v
	}
	return c.devices, c.loans
}

// startedCache keeps computations started (usage.NewComputation: the devices' periods and loans
// laid out over the days) for windows of complete months, per registry version: the
// assessment, the plan and alternatives look at the same three months all month, and the
// devices' days in them change only with the registry. Each request adds its uses to a clone.
type startedCache struct {
	mu      sync.Mutex
	version int64
	started map[startedKey]*usage.Computation
}

type startedKey struct {
	from, to usage.Month
	kind     devices.Kind
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
		c.mu.Lock()
		if c.version == v && c.started[k] != nil {
			x := c.started[k]
			c.mu.Unlock()
			return x.Clone(), nil
		}
		c.mu.Unlock()
	}
	in, err := r.input(ctx, from, to, Scope{Kind: kind})
	if err != nil || len(in.Devices) == 0 {
		return nil, err
	}
	x := usage.NewComputation(in, from, to)
	if !keep {
		return x, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != v || len(c.started) >= maxStarted {
		c.version, c.started = v, map[startedKey]*usage.Computation{}
	}
	c.started[k] = x
	return x.Clone(), nil
}
