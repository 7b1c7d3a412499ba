package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CopilotTeamDay is one team's Copilot usage on one day, added up from its members'
// per-user report rows: a copilot_metrics row of scope type team. The figures GitHub
// reports only in aggregate (completions by feature, pull-request figures) and the seat
// counts are not derived for teams.
type CopilotTeamDay struct {
	Scope string // "org/team-slug"
	Day   time.Time

	Members int // members on the day

	DailyActiveUsers        int64 // members active that day (CopilotUserUsage.Active)
	WeeklyActiveUsers       int64 // … on the day or the 6 days before
	MonthlyActiveUsers      int64 // … on the day or the 27 days before (GitHub's 28-day window)
	MonthlyActiveChatUsers  int64 // members whose rows say used_chat in those 28 days
	MonthlyActiveAgentUsers int64 // … used_agent

	UserInitiatedInteractions int64
	CodeGenerations           int64
	CodeAcceptances           int64
	LOCSuggestedToAdd         int64
	LOCSuggestedToDelete      int64
	LOCAdded                  int64
	LOCDeleted                int64
	ChatInteractions          int64
	AgentInteractions         int64
}

// copilotMonth is GitHub's monthly active window.
const copilotMonth = 28

// CalculateCopilotTeamDays computes the Copilot usage of every team for every day from
// from to to (UTC dates, both included) that has per-user report rows: a day without any
// report has no team row (NULL is not 0). A person's day is read from one report — the
// enterprise's when it lists them, else the first organization's by name — since every
// report a person appears in repeats the same person's day. Members are matched to
// report users by user id, falling back to login (Person); a member without a row that
// day did not use Copilot (the report exists), so sums count them as 0. usage must
// reach 27 days before from for the weekly and monthly figures. Rows come by team name,
// then day. It is pure.
func CalculateCopilotTeamDays(usage []CopilotUserUsage, teams []Team, from, to time.Time) ([]CopilotTeamDay, error) {
	var errs []error
	if from.IsZero() || to.IsZero() || to.Before(from) {
		errs = append(errs, fmt.Errorf("to: %s is before from %s", to.Format(time.DateOnly), from.Format(time.DateOnly)))
	} else if days := int(dayOf(to).Sub(dayOf(from))/(24*time.Hour)) + 1; days > 7*maxWeeks {
		errs = append(errs, fmt.Errorf("to: the range spans %d days; at most %d are computed at once", days, 7*maxWeeks))
	}
	if err := checkTeams(teams); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	from, to = dayOf(from), dayOf(to)

	// One row per person and day.
	type personDay struct {
		key string
		day time.Time
	}
	chosen := map[personDay]int{}
	reported := map[time.Time]bool{}
	for i, u := range usage {
		if u.UserID == 0 && u.UserLogin == "" {
			return nil, fmt.Errorf("usage[%d]: neither user id nor login", i)
		}
		d := dayOf(u.Day)
		if !d.After(to) && !d.Before(from) {
			reported[d] = true
		}
		k := personDay{Person{u.UserID, u.UserLogin}.key(), d}
		if j, ok := chosen[k]; !ok || preferredReport(u, usage[j]) {
			chosen[k] = i
		}
	}
	// Per person: their days, found by the matching rule.
	people := newPersonIndex()
	var byPerson []map[time.Time]*CopilotUserUsage
	personOf := map[string]int{}
	for k, i := range chosen {
		u := &usage[i]
		p, ok := personOf[k.key]
		if !ok {
			p = len(byPerson)
			personOf[k.key] = p
			byPerson = append(byPerson, map[time.Time]*CopilotUserUsage{})
			people.add(Person{u.UserID, u.UserLogin}, p)
		}
		byPerson[p][k.day] = u
	}

	days := make([]time.Time, 0, len(reported))
	for d := range reported {
		days = append(days, d)
	}
	slices.SortFunc(days, time.Time.Compare)
	var rows []CopilotTeamDay
	var found []int
	for _, t := range sortedTeams(teams) {
		team := teams[t]
		for _, d := range days {
			r := CopilotTeamDay{Scope: team.Scope(), Day: d}
			next := d.AddDate(0, 0, 1)
			found = found[:0]
			members := map[string]bool{}
			for _, m := range team.Members {
				k := Person{m.UserID, m.Login}.key()
				if !m.covers(d, next) || members[k] {
					continue
				}
				members[k] = true
				r.Members++
				for _, p := range people.find(Person{m.UserID, m.Login}) {
					if !slices.Contains(found, p) {
						found = append(found, p)
					}
				}
			}
			for _, p := range found {
				r.addPerson(byPerson[p], d)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// preferredReport reports whether row a should stand for the person's day rather than
// b: the enterprise's report first, then the organization first by name.
func preferredReport(a, b CopilotUserUsage) bool {
	rank := func(u CopilotUserUsage) int {
		if u.ScopeType == ScopeEnterprise {
			return 0
		}
		return 1
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Scope, b.Scope)) < 0
}

// addPerson adds one member's figures for day d from their rows.
func (r *CopilotTeamDay) addPerson(rows map[time.Time]*CopilotUserUsage, d time.Time) {
	var weekly, monthly, chat, agent bool
	for back := range copilotMonth {
		u, ok := rows[d.AddDate(0, 0, -back)]
		if !ok {
			continue
		}
		if u.Active() {
			monthly = true
			weekly = weekly || back < 7
		}
		chat = chat || u.UsedChat
		agent = agent || u.UsedAgent
	}
	if u, ok := rows[d]; ok {
		if u.Active() {
			r.DailyActiveUsers++
		}
		add := func(sum *int64, v *int64) {
			if v != nil {
				*sum += *v
			}
		}
		add(&r.UserInitiatedInteractions, u.UserInitiatedInteractions)
		add(&r.CodeGenerations, u.CodeGenerations)
		add(&r.CodeAcceptances, u.CodeAcceptances)
		add(&r.LOCSuggestedToAdd, u.LOCSuggestedToAdd)
		add(&r.LOCSuggestedToDelete, u.LOCSuggestedToDelete)
		add(&r.LOCAdded, u.LOCAdded)
		add(&r.LOCDeleted, u.LOCDeleted)
		add(&r.ChatInteractions, u.ChatInteractions)
		add(&r.AgentInteractions, u.AgentInteractions)
	}
	if weekly {
		r.WeeklyActiveUsers++
	}
	if monthly {
		r.MonthlyActiveUsers++
	}
	if chat {
		r.MonthlyActiveChatUsers++
	}
	if agent {
		r.MonthlyActiveAgentUsers++
	}
}
