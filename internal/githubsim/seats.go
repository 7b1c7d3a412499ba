package githubsim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// seatView is a seat as the listing shows it at now.
type seatView struct {
	s                  *seat
	updatedAt          time.Time
	pendingCancel      time.Time // zero: none
	lastActivity       time.Time // zero: never
	lastActivityEditor string
	lastAuthenticated  time.Time
}

// seatsAt lists the seats of an org (o set) or of the whole enterprise, as of now. The
// enterprise listing repeats a user once per org that grants them a seat and includes
// the seat whose assignee is null.
func (w *world) seatsAt(e *enterprise, o *org, now time.Time) []seatView {
	var out []seatView
	add := func(s *seat) {
		if !s.visibleAt(now) || (o != nil && s.org != o) {
			return
		}
		v := seatView{s: s, updatedAt: s.createdAt}
		if visible(s.cancelSetAt, now) {
			v.pendingCancel, v.updatedAt = s.cancelDate, s.cancelSetAt
		}
		if s.holder != nil {
			v.lastActivity, v.lastActivityEditor = w.lastActivity(s.holder, s.createdAt, now)
			v.lastAuthenticated = v.lastActivity
			if !v.lastActivity.IsZero() {
				v.lastAuthenticated = v.lastActivity.Add(-time.Duration(hashOf(uint64(s.holder.u.id), uint64(v.lastActivity.Unix()))%7200) * time.Second)
				v.lastAuthenticated = latest(v.lastAuthenticated, s.createdAt)
			}
		}
		out = append(out, v)
	}
	for _, cu := range e.copilot {
		for _, s := range cu.seats {
			add(s)
		}
	}
	add(&e.unassignedSeat)
	slices.SortStableFunc(out, func(a, b seatView) int {
		return cmp.Or(a.s.createdAt.Compare(b.s.createdAt), cmp.Compare(a.s.org.login, b.s.org.login), cmp.Compare(holderID(a.s), holderID(b.s)))
	})
	return out
}

func holderID(s *seat) int64 {
	if s.holder == nil {
		return 0
	}
	return s.holder.u.id
}

// lastActivity is the user's latest Copilot activity at or before now (and after from).
func (w *world) lastActivity(cu *copilotUser, from, now time.Time) (time.Time, string) {
	day := startOfDay(now)
	for back := 0; back < 120; back++ {
		d := day.AddDate(0, 0, -back)
		if d.Before(startOfDay(from)) {
			break
		}
		fl := cu.flags(w.cfg.Seed, d)
		if !fl.active {
			continue
		}
		h := hashOf(uint64(w.cfg.Seed), uint64(cu.u.id), dayNumber(d), 77)
		at := d.Add(7*time.Hour + time.Duration(h%(11*3600))*time.Second)
		if at.After(now) || at.Before(from) {
			continue
		}
		ide := cu.ide
		if unit(mix(h, 3)) < 0.15 {
			ide = cu.ide2
		}
		return at, fmt.Sprintf("%s/%s/%s/%s", ides[ide], ideVersions[ide], idePlugins[ide], pluginVers[ide])
	}
	return time.Time{}, ""
}
