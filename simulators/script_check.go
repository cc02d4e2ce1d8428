package simulators

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// scriptChecker reads the parts of a script in the order their references need: sites, teams,
// patients, devices, then steps and expectations.
type scriptChecker struct {
	p          *scriptParser
	s          *Script
	siteIDs    map[string]bool
	teamIDs    map[string]bool
	patientIDs map[string]bool
	deviceByID map[string]*ScriptDevice
}

func (c *scriptChecker) id(path string, n *yaml.Node, seen map[string]bool, what string) string {
	id := c.p.str(path, n)
	switch {
	case id == "":
	case !reading.ValidID(id):
		c.p.errorf(path, n, "%q is not a valid %s id: 1-64 characters of A-Z a-z 0-9 . _ : -", id, what)
	case seen[id]:
		c.p.errorf(path, n, "%s %q is declared twice", what, id)
	default:
		seen[id] = true
	}
	return id
}

// required reports the keys of want missing from got.
func (c *scriptChecker) required(path string, n *yaml.Node, got map[string]bool, want ...string) {
	for _, k := range want {
		if !got[k] {
			c.p.errorf(join(path, k), n, "required")
		}
	}
}

func (c *scriptChecker) sites(n *yaml.Node) {
	c.siteIDs = map[string]bool{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("sites", n, func(path string, _ int, item *yaml.Node) {
		var st devices.Site
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id":            func(path string, v *yaml.Node) { st.ID = c.id(path, v, ids, "site") },
			"name":          func(path string, v *yaml.Node) { st.Name = c.p.str(path, v) },
			"district":      func(path string, v *yaml.Node) { st.District = c.p.str(path, v) },
			"address":       func(path string, v *yaml.Node) { st.Address = c.p.str(path, v) },
			"lat":           func(path string, v *yaml.Node) { st.Lat = c.p.number(path, v) },
			"lon":           func(path string, v *yaml.Node) { st.Lon = c.p.number(path, v) },
			"opening_hours": func(path string, v *yaml.Node) { st.OpeningHours = c.p.str(path, v) },
			"time_zone": func(path string, v *yaml.Node) {
				if st.TimeZone = c.p.str(path, v); st.TimeZone != "" {
					if _, err := time.LoadLocation(st.TimeZone); err != nil {
						c.p.errorf(path, v, "%q is not an IANA time zone", st.TimeZone)
					}
				}
			},
		})
		c.required(path, item, got, "id", "name")
		if err := st.Validate(); err == nil && st.ID != "" {
			c.s.Sites = append(c.s.Sites, st)
			c.siteIDs[st.ID] = true
		} else if st.ID != "" && st.Name != "" {
			c.p.errorf(path, item, "%v", err)
		}
	})
}

func (c *scriptChecker) teams(n *yaml.Node) {
	c.teamIDs = map[string]bool{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("teams", n, func(path string, _ int, item *yaml.Node) {
		var t devices.Team
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id":   func(path string, v *yaml.Node) { t.ID = c.id(path, v, ids, "team") },
			"name": func(path string, v *yaml.Node) { t.Name = c.p.str(path, v) },
			"site": func(path string, v *yaml.Node) {
				if t.SiteID = c.p.str(path, v); t.SiteID != "" && !c.siteIDs[t.SiteID] {
					c.p.errorf(path, v, "unknown site %q: declare it under sites", t.SiteID)
				}
			},
		})
		c.required(path, item, got, "id", "site", "name")
		c.s.Teams = append(c.s.Teams, t)
		c.teamIDs[t.ID] = true
	})
}

func (c *scriptChecker) patients(n *yaml.Node) {
	c.patientIDs = map[string]bool{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("patients", n, func(path string, _ int, item *yaml.Node) {
		var pt devices.Patient
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id": func(path string, v *yaml.Node) { pt.ID = c.id(path, v, ids, "patient") },
			"team": func(path string, v *yaml.Node) {
				if pt.TeamID = c.p.str(path, v); pt.TeamID != "" && !c.teamIDs[pt.TeamID] {
					c.p.errorf(path, v, "unknown team %q: declare it under teams", pt.TeamID)
				}
			},
			"plans": func(path string, v *yaml.Node) {
				pt.Plans = c.p.strs(path, v)
				for i, plan := range pt.Plans {
					if plan == "" || len(plan) > 200 || strings.Contains(plan, PlanSeparator) {
						c.p.errorf(fmt.Sprintf("%s[%d]", path, i), v, "a care plan is 1-200 characters without %q", PlanSeparator)
					}
				}
			},
		})
		c.required(path, item, got, "id", "team")
		c.s.Patients = append(c.s.Patients, pt)
		c.patientIDs[pt.ID] = true
	})
}

// zone sets the script's zone: time_zone, else its first site's.
func (c *scriptChecker) zone(n *yaml.Node) {
	name := ""
	if n != nil {
		name = c.p.str("time_zone", n)
	} else if len(c.s.Sites) > 0 {
		name = c.s.Sites[0].TimeZone
	}
	if name == "" {
		return
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		c.p.errorf("time_zone", n, "%q is not an IANA time zone", name)
		return
	}
	c.s.Zone = loc
}

// timeOfDay reads "HH:MM" as the time since midnight.
func (p *scriptParser) timeOfDay(path string, n *yaml.Node) (time.Duration, bool) {
	s := p.str(path, n)
	t, err := time.Parse("15:04", s)
	if s != "" && err != nil {
		p.errorf(path, n, "%q is not a time of day such as \"07:30\"", s)
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, s != ""
}

// DefaultStationUses is the rated uses per day of a script's station that does not give one.
const DefaultStationUses = StationRatedUsesPerDay

func (c *scriptChecker) devices(n *yaml.Node) {
	c.deviceByID = map[string]*ScriptDevice{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("devices", n, func(path string, _ int, item *yaml.Node) {
		d := ScriptDevice{Status: devices.Active, TimeFormat: RFC3339}
		mode := ""
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id": func(path string, v *yaml.Node) { d.ID = c.id(path, v, ids, "device") },
			"kind": func(path string, v *yaml.Node) {
				if d.Kind = Kind(c.p.str(path, v)); d.Kind != "" && !d.Kind.Valid() {
					c.p.errorf(path, v, "unknown device kind %q (known: %v)", d.Kind, Kinds)
				}
			},
			"site": func(path string, v *yaml.Node) {
				if d.Site = c.p.str(path, v); d.Site != "" && !c.siteIDs[d.Site] {
					c.p.errorf(path, v, "unknown site %q: declare it under sites", d.Site)
				}
			},
			"mode": func(path string, v *yaml.Node) {
				if mode = c.p.str(path, v); mode != string(devices.Home) && mode != string(devices.StationMode) {
					c.p.errorf(path, v, "mode %q is not home or station", mode)
				}
			},
			"status": func(path string, v *yaml.Node) {
				if d.Status = devices.Status(c.p.str(path, v)); !d.Status.Valid() || d.Status == devices.InTransit {
					c.p.errorf(path, v, "status %q is not active, maintenance or retired", d.Status)
				}
			},
			"patient": func(path string, v *yaml.Node) {
				if d.Patient = c.p.str(path, v); d.Patient != "" && !c.patientIDs[d.Patient] {
					c.p.errorf(path, v, "unknown patient %q: declare it under patients", d.Patient)
				}
			},
			"rated_uses_per_day": func(path string, v *yaml.Node) { d.RatedUsesPerDay = c.p.integer(path, v, 1, 10000) },
			"next_calibration": func(path string, v *yaml.Node) {
				d.NextCalibration, d.HasCalibration = c.p.duration(path, v, true), true
			},
			"heartbeat": func(path string, v *yaml.Node) {
				if d.Heartbeat = c.p.duration(path, v, false); d.Heartbeat < time.Minute {
					c.p.errorf(path, v, "a heartbeat is at least 1m")
				}
			},
			"time_format": func(path string, v *yaml.Node) {
				switch f := c.p.str(path, v); f {
				case "rfc3339":
				case "unix_ms":
					d.TimeFormat = UnixMilli
				default:
					c.p.errorf(path, v, "time format %q is not rfc3339 or unix_ms", f)
				}
			},
		})
		c.required(path, item, got, "id", "kind", "site")
		switch {
		case mode == "" && d.Kind == Station, mode == string(devices.StationMode):
			d.Mode = devices.StationMode
		default:
			d.Mode = devices.Home
		}
		if d.Mode == devices.StationMode {
			if d.Patient != "" {
				c.p.errorf(join(path, "patient"), item, "a station is not lent to a patient: each of its readings names one")
			}
			if d.RatedUsesPerDay == 0 {
				d.RatedUsesPerDay = DefaultStationUses
			}
		} else if got["rated_uses_per_day"] {
			c.p.errorf(join(path, "rated_uses_per_day"), item, "only a station has rated uses per day")
		}
		c.s.Devices = append(c.s.Devices, d)
	})
	for i := range c.s.Devices {
		c.deviceByID[c.s.Devices[i].ID] = &c.s.Devices[i]
	}
}
