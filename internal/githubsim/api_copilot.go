package githubsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Report kinds served by the usage-metrics reports API.
const (
	reportEnterpriseDay = "enterprise-1-day"
	reportOrgDay        = "organization-1-day"
	reportUsersDay      = "users-1-day"
	reportUserTeamsDay  = "user-teams-1-day"
	reportEnterprise28  = "enterprise-28-day"
	reportOrg28         = "organization-28-day"
	reportUsers28       = "users-28-day"
)

func (c *call) enterpriseReport() reply {
	e, found := c.enterpriseParam()
	if !found {
		return notFound()
	}
	return c.report(reportScope{e: e})
}

func (c *call) orgReport() reply {
	o, found := c.org(c.r.PathValue("org"))
	if !found {
		return notFound()
	}
	if o.cfg.CopilotPolicyDisabled {
		return forbidden("Copilot Usage Metrics API access is disabled for this organization. An organization owner can enable it in the Copilot policies.")
	}
	return c.report(reportScope{e: o.ent, o: o})
}

// report answers a report request with an envelope of signed download links, or 204
// when there is no report.
func (c *call) report(s reportScope) reply {
	kind := c.r.PathValue("report")
	latest := strings.HasSuffix(c.r.URL.Path, "/latest")
	aggregateDay, aggregate28 := reportEnterpriseDay, reportEnterprise28
	if s.o != nil {
		aggregateDay, aggregate28 = reportOrgDay, reportOrg28
	}
	w := c.s.w
	if latest {
		if kind != aggregate28 && kind != reportUsers28 {
			return notFound()
		}
		end := w.lastReportDay(c.now)
		start := end.AddDate(0, 0, -27)
		if !w.reportExists(s.o != nil, end, c.now) {
			return reply{status: http.StatusNoContent}
		}
		shards := 1
		if kind == reportUsers28 {
			n := 0
			for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
				if w.reportExists(s.o != nil, d, c.now) {
					n += len(s.e.scopeUsers(s.o, d))
				}
			}
			shards = c.s.shardCount(n)
		}
		return ok(map[string]any{
			"download_links":   c.s.downloadLinks(s, kind, "latest-"+end.Format(dayLayout), shards, c.now),
			"report_start_day": start.Format(dayLayout),
			"report_end_day":   end.Format(dayLayout),
		})
	}
	if kind != aggregateDay && kind != reportUsersDay && kind != reportUserTeamsDay {
		return notFound()
	}
	v := c.r.URL.Query().Get("day")
	if v == "" {
		return validationFailed("day", "day is required (YYYY-MM-DD)")
	}
	day, err := time.Parse(dayLayout, v)
	if err != nil {
		return validationFailed("day", fmt.Sprintf("%q is not a date (YYYY-MM-DD)", v))
	}
	if !w.reportExists(s.o != nil, day, c.now) {
		return reply{status: http.StatusNoContent}
	}
	shards := 1
	switch kind {
	case reportUsersDay:
		shards = c.s.shardCount(len(s.e.scopeUsers(s.o, day)))
	case reportUserTeamsDay:
		shards = c.s.shardCount(len(w.userTeamRecords(s, day)))
	}
	return ok(map[string]any{
		"download_links": c.s.downloadLinks(s, kind, v, shards, c.now),
		"report_day":     v,
	})
}

// shardCount splits n lines into files of Config.UserShardSize lines.
func (s *Simulator) shardCount(n int) int {
	return max(1, (n+s.w.cfg.UserShardSize-1)/s.w.cfg.UserShardSize)
}

type teamJSON struct {
	ID                  int64  `json:"id"`
	NodeID              string `json:"node_id"`
	URL                 string `json:"url"`
	HTMLURL             string `json:"html_url"`
	Name                string `json:"name"`
	Slug                string `json:"slug"`
	Description         string `json:"description"`
	Privacy             string `json:"privacy"`
	NotificationSetting string `json:"notification_setting"`
	Permission          string `json:"permission"`
	MembersURL          string `json:"members_url"`
	RepositoriesURL     string `json:"repositories_url"`
	Parent              any    `json:"parent"`
}

type seatJSON struct {
	CreatedAt               ts        `json:"created_at"`
	UpdatedAt               ts        `json:"updated_at"`
	PendingCancellationDate *string   `json:"pending_cancellation_date"`
	LastActivityAt          ts        `json:"last_activity_at"`
	LastActivityEditor      *string   `json:"last_activity_editor"`
	LastAuthenticatedAt     ts        `json:"last_authenticated_at"`
	PlanType                string    `json:"plan_type"`
	Assignee                *userJSON `json:"assignee"`
	AssigningTeam           *teamJSON `json:"assigning_team"`
	Organization            *userJSON `json:"organization,omitempty"`
}

func (c *call) seatJSON(v seatView, withOrg bool) seatJSON {
	j := seatJSON{
		CreatedAt: ts(v.s.createdAt), UpdatedAt: ts(v.updatedAt), LastActivityAt: ts(v.lastActivity),
		LastAuthenticatedAt: ts(v.lastAuthenticated), PlanType: v.s.plan,
	}
	if !v.pendingCancel.IsZero() {
		d := v.pendingCancel.Format(dayLayout)
		j.PendingCancellationDate = &d
	}
	if v.lastActivityEditor != "" {
		j.LastActivityEditor = &v.lastActivityEditor
	}
	if v.s.holder != nil {
		j.Assignee = c.userJSON(v.s.holder.u)
	}
	if t := v.s.team; t != nil {
		o := v.s.org
		j.AssigningTeam = &teamJSON{
			ID: t.id, NodeID: nodeID("T_", t.id), URL: c.absolute(fmt.Sprintf("/organizations/%d/team/%d", o.id, t.id)),
			HTMLURL: htmlBase + "/orgs/" + o.login + "/teams/" + t.slug, Name: t.name, Slug: t.slug,
			Privacy: "closed", NotificationSetting: "notifications_enabled", Permission: "pull",
			MembersURL:      c.absolute(fmt.Sprintf("/organizations/%d/team/%d/members{/member}", o.id, t.id)),
			RepositoriesURL: c.absolute(fmt.Sprintf("/organizations/%d/team/%d/repos", o.id, t.id)),
		}
	}
	if withOrg {
		j.Organization = c.orgOwnerJSON(v.s.org)
	}
	return j
}

func (c *call) seats(o *org) reply {
	views := c.s.w.seatsAt(c.ent, o, c.now)
	pageItems, link := paginate(c, views, c.pageParams(50, 100))
	out := make([]seatJSON, 0, len(pageItems))
	for _, v := range pageItems {
		out = append(out, c.seatJSON(v, o == nil))
	}
	rep := ok(map[string]any{"total_seats": len(views), "seats": out})
	rep.link = link
	return rep
}

// orgSeats is GET /orgs/{org}/copilot/billing/seats.
func (c *call) orgSeats() reply {
	o, found := c.org(c.r.PathValue("org"))
	if !found {
		return notFound()
	}
	return c.seats(o)
}

// enterpriseSeats is GET /enterprises/{enterprise}/copilot/billing/seats.
func (c *call) enterpriseSeats() reply {
	if _, found := c.enterpriseParam(); !found {
		return notFound()
	}
	return c.seats(nil)
}
