package github

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"metrics-collector/internal/metrics"
)

// CopilotSeats is a complete seat listing of one scope.
type CopilotSeats struct {
	// TotalSeats is GitHub's total_seats.
	TotalSeats int64
	// Seats as listed. The enterprise listing repeats a user once per organization
	// that grants the seat: de-duplicating by AssigneeID is the caller's job (it
	// decides which grant to keep). A seat whose assignee is null has AssigneeID 0.
	Seats []metrics.CopilotSeat
}

// seatsPage is one page of /…/copilot/billing/seats. We decode seats ourselves
// rather than with go-github's CopilotSeatDetails, which rejects assignee types it
// does not know and drops organization and last_authenticated_at.
type seatsPage struct {
	TotalSeats int64      `json:"total_seats"`
	Seats      []seatJSON `json:"seats"`
}

type seatJSON struct {
	Assignee *struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Slug  string `json:"slug"` // team assignees
		Type  string `json:"type"`
	} `json:"assignee"`
	Organization *struct {
		Login string `json:"login"`
	} `json:"organization"`
	AssigningTeam *struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	} `json:"assigning_team"`
	PlanType                string     `json:"plan_type"`
	CreatedAt               *time.Time `json:"created_at"`
	UpdatedAt               *time.Time `json:"updated_at"`
	PendingCancellationDate *string    `json:"pending_cancellation_date"`
	LastActivityAt          *time.Time `json:"last_activity_at"`
	LastActivityEditor      *string    `json:"last_activity_editor"`
	LastAuthenticatedAt     *time.Time `json:"last_authenticated_at"`
}

// ListCopilotSeats lists every Copilot seat of an organization
// (/orgs/{org}/copilot/billing/seats) or an enterprise
// (/enterprises/{e}/copilot/billing/seats; GitHub accepts only a classic PAT there),
// 100 a page, with conditional requests.
func (c *Client) ListCopilotSeats(ctx context.Context, scope metrics.CopilotScope) (CopilotSeats, error) {
	base, err := copilotScopePath(scope)
	if err != nil {
		return CopilotSeats{}, err
	}
	op := fmt.Sprintf("list copilot seats of %s %s", scope.Type, scope.Name)
	first := withQuery(base+"/copilot/billing/seats", url.Values{"per_page": {perPage}})
	var out CopilotSeats
	err = pages(conditional(ctx), c, op, first, func(page *seatsPage) (bool, error) {
		if page == nil {
			return false, nil
		}
		out.TotalSeats = page.TotalSeats
		for i, s := range page.Seats {
			seat, err := toSeat(s)
			if err != nil {
				return false, fmt.Errorf("%s: seat %d of a page: %w", op, i+1, err)
			}
			out.Seats = append(out.Seats, seat)
		}
		return true, nil
	})
	if err != nil {
		return CopilotSeats{}, err
	}
	return out, nil
}

func toSeat(s seatJSON) (metrics.CopilotSeat, error) {
	seat := metrics.CopilotSeat{
		PlanType:            s.PlanType,
		UpdatedAt:           utcTime(s.UpdatedAt),
		LastActivityAt:      utcTime(s.LastActivityAt),
		LastAuthenticatedAt: utcTime(s.LastAuthenticatedAt),
	}
	if s.CreatedAt != nil {
		seat.CreatedAt = s.CreatedAt.UTC()
	}
	if a := s.Assignee; a != nil {
		seat.AssigneeID, seat.AssigneeLogin, seat.AssigneeType = a.ID, a.Login, a.Type
		if seat.AssigneeLogin == "" {
			seat.AssigneeLogin = a.Slug
		}
	}
	if s.Organization != nil {
		seat.Organization = s.Organization.Login
	}
	if t := s.AssigningTeam; t != nil {
		seat.AssigningTeam = t.Slug
		if seat.AssigningTeam == "" {
			seat.AssigningTeam = t.Name
		}
	}
	if s.LastActivityEditor != nil {
		seat.LastActivityEditor = *s.LastActivityEditor
	}
	if d := s.PendingCancellationDate; d != nil && *d != "" {
		t, err := time.Parse(time.DateOnly, *d)
		if err != nil {
			return metrics.CopilotSeat{}, fmt.Errorf("pending_cancellation_date: %q is not a YYYY-MM-DD date", *d)
		}
		seat.PendingCancellation = &t
	}
	return seat, nil
}

func utcTime(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}
