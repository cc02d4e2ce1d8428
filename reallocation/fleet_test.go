package reallocation

import (
	"fmt"
	"math/rand/v2"

	"github.com/vitalwatch/vitalwatch/devices"
)

// fleet is planner input generated from random usage, through Assess.
type fleet struct {
	centres   []Centre
	donors    []Donor
	receivers []Receiver
	stock     []Stock
	devices   int
}

var fleetTypes = []devices.Kind{devices.BPCuff, devices.GlucoseMeter, devices.Oximeter, devices.Thermometer, devices.Scale}

// randomFleet spreads centres over a province-sized area (about 500 x 500 km). For each type, a
// centre is idle (30%: 15-55% used for months), overloaded (20%: 95-140% last month) or normal,
// with about devicesPerType devices on average.
func randomFleet(r *rand.Rand, centres, devicesPerType int, th Thresholds) fleet {
	var f fleet
	for c := range centres {
		f.centres = append(f.centres, Centre{ID: fmt.Sprintf("c%04d", c), Lat: 28 + 4.5*r.Float64(), Lon: 118 + 5*r.Float64()})
	}
	for _, k := range fleetTypes {
		for _, c := range f.centres {
			n := 1 + r.IntN(2*devicesPerType-1)
			rated := float64(10 + r.IntN(30))
			var u float64
			switch x := r.Float64(); {
			case x < 0.3:
				u = 0.15 + 0.4*r.Float64()
			case x < 0.5:
				u = 0.95 + 0.45*r.Float64()
			default:
				u = 0.6 + 0.3*r.Float64()
			}
			demand := u * rated * float64(n)
			usage := Usage{Stock: Stock{Site: c.ID, Type: k, Devices: n, Rated: rated, Demand: demand}, History: []float64{u, u, u}}
			f.stock = append(f.stock, usage.Stock)
			ids := make([]string, n)
			for d := range ids {
				ids[d] = fmt.Sprintf("%s-%s-%03d", c.ID, k, d)
			}
			f.devices += n
			switch a := Assess(usage, th); a.Status {
			case Spare:
				f.donors = append(f.donors, DonorOf(a, ids))
			case Short:
				f.receivers = append(f.receivers, ReceiverOf(a))
			}
		}
	}
	return f
}
