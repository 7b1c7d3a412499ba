package metrics

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const shop = "acme/shop"

// testOptions computes the three weeks starting Monday 2025-03-03.
func testOptions(t testing.TB) Options {
	return Options{
		Enterprise:    "contoso",
		From:          at(t, "2025-03-03T00:00:00Z"),
		To:            at(t, "2025-03-17T00:00:00Z"),
		HotfixPattern: regexp.MustCompile(`(?i)^hotfix`),
		Bots:          NewBotClassifier([]string{"release-robot"}),
	}
}

// rowFor returns the row of a scope and week, failing the test when there is none.
func rowFor[R any](t *testing.T, rows []R, scope string, week string, key func(R) (string, time.Time)) R {
	t.Helper()
	for _, r := range rows {
		s, w := key(r)
		if s == scope && w.Equal(at(t, week)) {
			return r
		}
	}
	t.Fatalf("no row for %s week %s", scope, week)
	var zero R
	return zero
}

func doraKey(r DORARow) (string, time.Time) { return r.Scope, r.WeekStart }

var approx = cmpopts.EquateApprox(0, 1e-9)

func TestCalculateDORAEdges(t *testing.T) {
	t.Parallel()
	c := func(sha, authored string) Commit { return commit(t, sha, "dev", authored, "change "+sha) }

	tests := []struct {
		name string
		repo RepoActivity
		week string
		want DORARow // scope, week, versions are filled in
	}{
		{
			name: "a week without deployments: counts 0, metrics NULL, frequency from the last deployment",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-04T11:00:00Z", "success", "2025-03-04T12:00:00Z"),
			}},
			week: "2025-03-10T00:00:00Z",
			want: DORARow{DeploymentFrequencyLevel: LevelMedium, PerformanceLevel: LevelMedium},
		},
		{
			name: "nothing deployed for half a year: no frequency level at all",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2024-06-01T11:00:00Z", "success", "2024-06-01T12:00:00Z"),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{},
		},
		{
			name: "a deployment before the range still dates the last deployment",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-02-20T11:00:00Z", "success", "2025-02-20T12:00:00Z"),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{DeploymentFrequencyLevel: LevelMedium, PerformanceLevel: LevelMedium},
		},
		{
			name: "a deployment with no new commits counts, with no lead time; staging is ignored",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-04T11:00:00Z", "success", "2025-03-04T12:00:00Z"),
				{ID: 2, SHA: "b", Environment: "staging", CreatedAt: at(t, "2025-03-05T11:00:00Z"),
					Statuses: []DeploymentStatus{{State: "success", CreatedAt: at(t, "2025-03-05T12:00:00Z")}}},
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			name: "a failed first deployment is no deployment and blames none; it is a failed attempt",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-03T09:00:00Z", "failure", "2025-03-03T10:00:00Z"),
				prodDeploy(t, 2, "a", "2025-03-03T11:00:00Z", "success", "2025-03-03T12:00:00Z", c("c1", "2025-03-02T12:00:00Z")),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, LeadTimeP50Hours: ptr(24.0), LeadTimeP90Hours: ptr(24.0), LeadTimeN: 1,
				ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0), FailedAttempts: 1,
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			name: "an incident before any deployment links to none",
			repo: RepoActivity{
				Deployments: []Deployment{prodDeploy(t, 1, "a", "2025-03-03T11:00:00Z", "success", "2025-03-03T12:00:00Z")},
				Incidents:   []Incident{{Number: 9, CreatedAt: at(t, "2025-03-03T08:00:00Z"), ClosedAt: ptr(at(t, "2025-03-03T09:00:00Z"))}},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			// v1 measured from the incident's opening: 3 h.
			name: "an incident that closes without a deployment: recovery from the deployment's finish to the close",
			repo: RepoActivity{
				Deployments: []Deployment{prodDeploy(t, 1, "a", "2025-03-04T09:00:00Z", "success", "2025-03-04T10:00:00Z")},
				Incidents:   []Incident{{Number: 9, CreatedAt: at(t, "2025-03-04T12:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T15:00:00Z"))}},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, FailedDeployments: 1, ChangeFailureRate: ptr(1.0),
				RecoveryTimeP50Hours: ptr(5.0), RecoveryN: 1, ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh, PerformanceLevel: LevelLow},
		},
		{
			// v1 also counted the next deployment as rework (1 of 2), though it restored nothing.
			name: "an incident still open: failed, unrecovered, no recovery sample",
			repo: RepoActivity{
				Deployments: []Deployment{
					prodDeploy(t, 1, "a", "2025-03-04T09:00:00Z", "success", "2025-03-04T10:00:00Z"),
					prodDeploy(t, 2, "b", "2025-03-05T09:00:00Z", "success", "2025-03-05T10:00:00Z"),
				},
				Incidents: []Incident{{Number: 9, CreatedAt: at(t, "2025-03-04T12:00:00Z")}},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 2, FailedDeployments: 1, ChangeFailureRate: ptr(0.5),
				UnrecoveredFailures: 1, ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelLow, PerformanceLevel: LevelLow},
		},
		{
			// The revert PR names nothing but its title, so it reverts the PR of that title.
			// v1 measured recovery from the revert's merge: 2 h.
			name: "a revert: the reverted deployment failed until the revert was deployed, which is rework",
			repo: RepoActivity{
				Deployments: []Deployment{
					prodDeploy(t, 1, "s1", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z", c("s1", "2025-03-04T09:00:00Z")),
					prodDeploy(t, 2, "s2", "2025-03-04T15:50:00Z", "success", "2025-03-04T16:00:00Z", c("s2", "2025-03-04T14:00:00Z")),
				},
				PullRequests: []PullRequest{
					mergedPR(t, 1, "ana", "Add caching", "2025-03-03T12:00:00Z", "2025-03-04T09:00:00Z", "s1", c("p1", "2025-03-03T10:00:00Z")),
					mergedPR(t, 2, "ana", `Revert "Add caching"`, "2025-03-04T13:40:00Z", "2025-03-04T14:00:00Z", "s2", c("p2", "2025-03-04T13:30:00Z")),
				},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 1,
				LeadTimeP50Hours: ptr(13.25), LeadTimeP90Hours: ptr(21.85), LeadTimeN: 2,
				FailedDeployments: 1, ChangeFailureRate: ptr(0.5), RecoveryTimeP50Hours: ptr(6.0), RecoveryN: 1,
				ReworkDeployments: 1, ReworkRate: ptr(0.5),
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh,
				PerformanceLevel: LevelLow},
		},
		{
			name: "a revert merged into another branch is no failure signal",
			repo: RepoActivity{
				DefaultBranch: "main",
				Deployments:   []Deployment{prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z")},
				PullRequests: []PullRequest{func() PullRequest {
					pr := mergedPR(t, 2, "ana", `Revert "x"`, "2025-03-04T13:40:00Z", "2025-03-04T14:00:00Z", "r2")
					pr.BaseRef = "release/1.2"
					return pr
				}()},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			// v1 made the hotfix deployment rework but failed nothing: change failure rate 0.
			name: "a hotfix fails the deployment before it and is rework",
			repo: RepoActivity{
				Deployments: []Deployment{
					prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z"),
					prodDeploy(t, 2, "h", "2025-03-04T11:50:00Z", "success", "2025-03-04T12:00:00Z", c("h", "2025-03-04T11:00:00Z")),
				},
				PullRequests: []PullRequest{
					mergedPR(t, 3, "bo", "Hotfix: login", "2025-03-04T11:10:00Z", "2025-03-04T11:30:00Z", "h", c("p3", "2025-03-04T11:00:00Z")),
				},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 1, LeadTimeP50Hours: ptr(1.0), LeadTimeP90Hours: ptr(1.0), LeadTimeN: 1,
				FailedDeployments: 1, ChangeFailureRate: ptr(0.5), RecoveryTimeP50Hours: ptr(2.0), RecoveryN: 1,
				ReworkDeployments: 1, ReworkRate: ptr(0.5),
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh,
				PerformanceLevel: LevelLow},
		},
		{
			name: "two deployments of the same SHA: both count, the change is measured once, no rollback",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z", c("a", "2025-03-04T08:00:00Z")),
				prodDeploy(t, 2, "a", "2025-03-05T09:50:00Z", "success", "2025-03-05T10:00:00Z", c("a", "2025-03-04T08:00:00Z")),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 2, LeadTimeP50Hours: ptr(2.0), LeadTimeP90Hours: ptr(2.0), LeadTimeN: 1,
				ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			// v1 measured recovery from the rollback's creation (11:00 → 11:15): 0.25 h, elite.
			name: "a rollback to an older SHA fails the deployment it replaces and is rework; recovery from that one's finish",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z", c("a", "2025-03-04T09:00:00Z")),
				prodDeploy(t, 2, "b", "2025-03-05T09:50:00Z", "success", "2025-03-05T10:00:00Z", c("b", "2025-03-05T09:00:00Z")),
				prodDeploy(t, 3, "a", "2025-03-05T11:00:00Z", "success", "2025-03-05T11:15:00Z"),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 3, DeploymentDays: 2, LeadTimeP50Hours: ptr(1.0), LeadTimeP90Hours: ptr(1.0), LeadTimeN: 2,
				FailedDeployments: 1, ChangeFailureRate: ptr(1.0 / 3), RecoveryTimeP50Hours: ptr(1.25), RecoveryN: 1,
				ReworkDeployments: 1, ReworkRate: ptr(1.0 / 3),
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh,
				PerformanceLevel: LevelLow},
		},
		{
			// v1: recovery 0.5 h (from the rollback's creation), elite.
			name: "a rollback to a commit only seen in an earlier compare",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "b", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z", c("a", "2025-03-04T08:00:00Z"), c("b", "2025-03-04T09:00:00Z")),
				prodDeploy(t, 2, "a", "2025-03-04T12:00:00Z", "success", "2025-03-04T12:30:00Z"),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 1, LeadTimeP50Hours: ptr(1.5), LeadTimeP90Hours: ptr(1.9), LeadTimeN: 2,
				FailedDeployments: 1, ChangeFailureRate: ptr(0.5), RecoveryTimeP50Hours: ptr(2.5), RecoveryN: 1,
				ReworkDeployments: 1, ReworkRate: ptr(0.5),
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh,
				PerformanceLevel: LevelLow},
		},
		{
			// Issue case 1. v1 blamed A (change failure rate 0.5, recovery 3 h) and made the
			// retry rework, though nothing bad reached production.
			name: "a failed attempt and its successful retry: no failure, no rework, one failed attempt",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z"),
				prodDeploy(t, 2, "b", "2025-03-05T08:50:00Z", "error", "2025-03-05T09:00:00Z"),
				prodDeploy(t, 3, "b", "2025-03-05T11:50:00Z", "success", "2025-03-05T12:00:00Z"),
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 2, ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0), FailedAttempts: 1,
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			name: "a signal after the failure window blames nothing",
			repo: RepoActivity{
				Deployments: []Deployment{prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z")},
				Incidents:   []Incident{{Number: 9, CreatedAt: at(t, "2025-03-11T10:00:01Z"), ClosedAt: ptr(at(t, "2025-03-11T12:00:00Z"))}},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			// v1: recovery 2 h, from the incident's opening.
			name: "an incident after the next deployment blames that one",
			repo: RepoActivity{
				Deployments: []Deployment{
					prodDeploy(t, 1, "a", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z"),
					prodDeploy(t, 2, "b", "2025-03-05T09:50:00Z", "success", "2025-03-05T10:00:00Z"),
				},
				Incidents: []Incident{{Number: 9, CreatedAt: at(t, "2025-03-05T11:00:00Z"), ClosedAt: ptr(at(t, "2025-03-05T13:00:00Z"))}},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 2, DeploymentDays: 2, FailedDeployments: 1, ChangeFailureRate: ptr(0.5),
				RecoveryTimeP50Hours: ptr(3.0), RecoveryN: 1, ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh, PerformanceLevel: LevelLow},
		},
		{
			// A revert (deployed 14:00) and an incident (closed 20:00) blame A once; it was
			// restored by the earlier of the two. The failed attempt at 12:00 blames nothing.
			// v1: recovery 3.5 h, from the revert's merge to the next deployment.
			name: "several signals fail a deployment once; restored by the earliest restoration",
			repo: RepoActivity{
				Deployments: []Deployment{
					prodDeploy(t, 1, "a1b2c3d", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z", c("a1b2c3d", "2025-03-04T09:00:00Z")),
					prodDeploy(t, 2, "f00f00f", "2025-03-04T11:50:00Z", "failure", "2025-03-04T12:00:00Z"),
					prodDeploy(t, 3, "e5e5e5e", "2025-03-04T13:50:00Z", "success", "2025-03-04T14:00:00Z", c("e5e5e5e", "2025-03-04T10:30:00Z")),
				},
				PullRequests: []PullRequest{
					mergedPR(t, 1, "ana", "Add caching", "2025-03-03T10:00:00Z", "2025-03-04T09:00:00Z", "a1b2c3d"),
					func() PullRequest {
						pr := mergedPR(t, 2, "ana", `Revert "Add caching"`, "2025-03-04T10:20:00Z", "2025-03-04T10:30:00Z", "e5e5e5e")
						pr.RevertsNumber = 1
						return pr
					}(),
				},
				Incidents: []Incident{{Number: 9, CreatedAt: at(t, "2025-03-04T11:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T20:00:00Z"))}},
			},
			week: "2025-03-03T00:00:00Z",
			// Lead times: PR 1 from its creation, 24 h; PR 2, 3 h 40 min.
			want: DORARow{Deployments: 2, DeploymentDays: 1, LeadTimeP50Hours: ptr((24 + 11.0/3) / 2), LeadTimeP90Hours: ptr(11.0/3 + 0.9*(24-11.0/3)),
				LeadTimeN: 2, FailedDeployments: 1, ChangeFailureRate: ptr(0.5), RecoveryTimeP50Hours: ptr(4.0), RecoveryN: 1,
				ReworkDeployments: 1, ReworkRate: ptr(0.5), FailedAttempts: 1,
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh,
				PerformanceLevel: LevelLow},
		},
		{
			name: "lead time per change across merge strategies; non-positive values dropped",
			repo: RepoActivity{
				Deployments: []Deployment{prodDeploy(t, 1, "z", "2025-03-04T09:50:00Z", "success", "2025-03-04T10:00:00Z",
					c("s1", "2025-03-03T20:00:00Z"),                                              // squash of PR 1
					c("p2a", "2025-03-02T10:00:00Z"),                                             // PR 2's own commit (merge-commit merge)
					Commit{SHA: "m2", AuthoredAt: at(t, "2025-03-03T21:00:00Z"), ParentCount: 2}, // PR 2's merge commit
					commit(t, "r3a", "cy", "2025-03-03T04:00:00Z", "docs: typo"),                 // rebased PR 3 commit
					c("d1", "2025-03-04T08:00:00Z"),                                              // direct push
					c("d2", "2025-03-04T11:00:00Z"),                                              // authored after the deployment
				)},
				PullRequests: []PullRequest{
					mergedPR(t, 1, "ana", "Search", "2025-03-02T10:00:00Z", "2025-03-03T20:00:00Z", "s1", c("p1", "2025-03-01T10:00:00Z")),
					mergedPR(t, 2, "bo", "Export", "2025-03-02T11:00:00Z", "2025-03-03T21:00:00Z", "m2", c("p2a", "2025-03-02T10:00:00Z")),
					mergedPR(t, 3, "cy", "Typo", "2025-03-03T05:00:00Z", "2025-03-03T22:00:00Z", "r3a-new", commit(t, "p3a", "cy", "2025-03-03T04:00:00Z", "docs: typo")),
				},
			},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 1, DeploymentDays: 1, LeadTimeP50Hours: ptr(39.0), LeadTimeP90Hours: ptr(64.8), LeadTimeN: 4,
				ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelHigh, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelHigh},
		},
		{
			name: "deployments on three days are on demand",
			repo: RepoActivity{Deployments: []Deployment{
				prodDeploy(t, 1, "a", "2025-03-03T09:50:00Z", "success", "2025-03-03T10:00:00Z"),
				prodDeploy(t, 2, "b", "2025-03-05T09:50:00Z", "success", "2025-03-05T10:00:00Z"),
				prodDeploy(t, 3, "c", "2025-03-09T23:50:00Z", "success", "2025-03-09T23:59:00Z"),
				prodDeploy(t, 4, "d", "2025-03-09T23:59:30Z", "success", "2025-03-10T00:00:00Z"), // next week
			}},
			week: "2025-03-03T00:00:00Z",
			want: DORARow{Deployments: 3, DeploymentDays: 3, ChangeFailureRate: ptr(0.0), ReworkRate: ptr(0.0),
				DeploymentFrequencyLevel: LevelElite, ChangeFailureLevel: LevelElite, PerformanceLevel: LevelElite},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.repo.FullName = shop
			rows, err := CalculateDORA([]RepoActivity{tt.repo}, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			got := rowFor(t, rows, shop, tt.week, doraKey)
			want := tt.want
			want.ScopeType, want.Scope, want.WeekStart = ScopeRepository, shop, at(t, tt.week)
			want.ThresholdsVersion, want.MetricVersion = "2024", MetricVersion
			setRepoLevelCount(&want)
			if diff := cmp.Diff(want, got, approx); diff != "" {
				t.Errorf("row mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// setRepoLevelCount fills a repository row's level distribution: 1 in the column of its
// own performance level.
func setRepoLevelCount(r *DORARow) {
	switch r.PerformanceLevel {
	case LevelElite:
		r.ReposElite = 1
	case LevelHigh:
		r.ReposHigh = 1
	case LevelMedium:
		r.ReposMedium = 1
	case LevelLow:
		r.ReposLow = 1
	}
}

func TestCalculateDORAScopes(t *testing.T) {
	t.Parallel()
	c := func(sha, authored string) Commit { return commit(t, sha, "dev", authored, "change "+sha) }
	repos := []RepoActivity{
		{FullName: "beta/api", Deployments: []Deployment{
			prodDeploy(t, 1, "x", "2025-03-06T09:00:00Z", "success", "2025-03-06T10:00:00Z", c("x", "2025-03-06T04:00:00Z")),
		}},
		{FullName: "acme/web", Deployments: []Deployment{
			prodDeploy(t, 1, "a", "2025-03-03T09:00:00Z", "success", "2025-03-03T10:00:00Z", c("a", "2025-03-03T08:00:00Z")),
			prodDeploy(t, 2, "b", "2025-03-04T09:00:00Z", "success", "2025-03-04T10:00:00Z", c("b", "2025-03-04T07:00:00Z")),
		}, Incidents: []Incident{{Number: 1, CreatedAt: at(t, "2025-03-04T11:00:00Z"), ClosedAt: ptr(at(t, "2025-03-04T12:00:00Z"))}}},
		{FullName: "acme/shop", Deployments: []Deployment{
			prodDeploy(t, 1, "s", "2025-03-04T15:00:00Z", "success", "2025-03-04T16:00:00Z", c("s", "2025-03-04T12:00:00Z")),
			prodDeploy(t, 2, "t", "2025-03-05T15:00:00Z", "success", "2025-03-05T16:00:00Z", c("t", "2025-03-05T11:00:00Z")),
		}},
		{FullName: "acme/docs"}, // no activity at all: still has rows
	}
	opts := testOptions(t)
	opts.Orgs = []string{"acme", "gamma"} // gamma has no repository yet: it still has rows
	rows, err := CalculateDORA(repos, opts)
	if err != nil {
		t.Fatal(err)
	}

	var order []string
	for _, r := range rows {
		if r.WeekStart.Equal(at(t, "2025-03-03T00:00:00Z")) {
			order = append(order, r.ScopeType+":"+r.Scope)
		}
	}
	wantOrder := []string{"enterprise:contoso", "organization:acme", "organization:beta", "organization:gamma",
		"repository:acme/docs", "repository:acme/shop", "repository:acme/web", "repository:beta/api"}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("scope order mismatch (-want +got):\n%s", diff)
	}
	if want := 3 * len(wantOrder); len(rows) != want {
		t.Errorf("got %d rows, want %d (every scope × every week)", len(rows), want)
	}

	w1 := "2025-03-03T00:00:00Z"
	// acme: web deployed Mon and Tue, shop Tue and Wed: 4 deployments on 3 days, lead
	// times 1, 3, 4, 5 h pooled, web's Tuesday deployment (10:00) failed (the incident,
	// closed 12:00): 2 h. Each repository deployed on 2 days (high), so the organization's
	// frequency is high — v1 rated the 3 pooled days elite. web is low (its failure), shop
	// high: the median of two is the worse, low.
	acme := rowFor(t, rows, "acme", w1, doraKey)
	wantAcme := DORARow{ScopeType: ScopeOrganization, Scope: "acme", WeekStart: at(t, w1),
		Deployments: 4, DeploymentDays: 3, LeadTimeP50Hours: ptr(3.5), LeadTimeP90Hours: ptr(4.7), LeadTimeN: 4,
		FailedDeployments: 1, ChangeFailureRate: ptr(0.25), RecoveryTimeP50Hours: ptr(2.0), RecoveryN: 1,
		ReworkDeployments: 0, ReworkRate: ptr(0.0),
		DeploymentFrequencyLevel: LevelHigh, LeadTimeLevel: LevelElite, ChangeFailureLevel: LevelLow, RecoveryLevel: LevelHigh,
		PerformanceLevel: LevelLow, ThresholdsVersion: "2024", MetricVersion: MetricVersion,
		ReposHigh: 1, ReposLow: 1}
	if diff := cmp.Diff(wantAcme, acme, approx); diff != "" {
		t.Errorf("organization row mismatch (-want +got):\n%s", diff)
	}
	ent := rowFor(t, rows, "contoso", w1, doraKey)
	if ent.ScopeType != ScopeEnterprise || ent.Deployments != 5 || ent.DeploymentDays != 4 || ent.LeadTimeN != 5 || ent.FailedDeployments != 1 {
		t.Errorf("enterprise row = %+v; want 5 deployments on 4 days, 5 lead times, 1 failed", ent)
	}
	if got := *ent.LeadTimeP50Hours; got != 4 {
		t.Errorf("enterprise lead time p50 = %v, want 4 (pooled 1, 3, 4, 5, 6)", got)
	}
	if gamma := rowFor(t, rows, "gamma", w1, doraKey); gamma.Deployments != 0 || gamma.ChangeFailureRate != nil || gamma.MetricVersion != MetricVersion {
		t.Errorf("organization without repositories = %+v; want an empty row", gamma)
	}
	docs := rowFor(t, rows, "acme/docs", w1, doraKey)
	if docs.Deployments != 0 || docs.ChangeFailureRate != nil || docs.LeadTimeP50Hours != nil || docs.DeploymentFrequencyLevel != "" || docs.MetricVersion != MetricVersion {
		t.Errorf("empty repository row = %+v; want zero counts, NULL metrics, no level, metric version set", docs)
	}
}

func TestCalculateDORAThresholdsVersion(t *testing.T) {
	t.Parallel()
	repo := RepoActivity{FullName: shop, Deployments: []Deployment{
		prodDeploy(t, 1, "a", "2025-03-04T09:00:00Z", "success", "2025-03-04T10:00:00Z"),
	}}
	opts := testOptions(t)
	opts.ThresholdsVersion = "2022"
	rows, err := CalculateDORA([]RepoActivity{repo}, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rowFor(t, rows, shop, "2025-03-03T00:00:00Z", doraKey)
	if r.ThresholdsVersion != "2022" || r.DeploymentFrequencyLevel != LevelMedium || r.ChangeFailureLevel != LevelHigh || r.PerformanceLevel != LevelMedium {
		t.Errorf("2022 row = version %q, levels %q/%q/%q; want 2022, medium, high, medium",
			r.ThresholdsVersion, r.DeploymentFrequencyLevel, r.ChangeFailureLevel, r.PerformanceLevel)
	}
}

func TestCalculateDORAFailureWindow(t *testing.T) {
	t.Parallel()
	repo := RepoActivity{FullName: shop,
		Deployments: []Deployment{prodDeploy(t, 1, "a", "2025-03-04T09:00:00Z", "success", "2025-03-04T10:00:00Z")},
		Incidents:   []Incident{{Number: 1, CreatedAt: at(t, "2025-03-06T10:00:00Z")}},
	}
	for _, tt := range []struct {
		window time.Duration
		failed int
	}{{0, 1}, {48 * time.Hour, 1}, {47 * time.Hour, 0}} {
		opts := testOptions(t)
		opts.FailureWindow = tt.window
		rows, err := CalculateDORA([]RepoActivity{repo}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := rowFor(t, rows, shop, "2025-03-03T00:00:00Z", doraKey).FailedDeployments; got != tt.failed {
			t.Errorf("window %s: failed deployments = %d, want %d", tt.window, got, tt.failed)
		}
	}
}

func TestCalculateBadInput(t *testing.T) {
	t.Parallel()
	good := testOptions(t)
	tests := []struct {
		name  string
		repos []RepoActivity
		opts  func(*Options)
		want  []string
	}{
		{"no enterprise", nil, func(o *Options) { o.Enterprise = " " }, []string{"enterprise: required"}},
		{"no dates", nil, func(o *Options) { o.From, o.To = time.Time{}, time.Time{} }, []string{"from: required", "to: required"}},
		{"reversed dates", nil, func(o *Options) { o.From, o.To = o.To, o.From }, []string{"to: 2025-03-03T00:00:00Z is before from 2025-03-17T00:00:00Z"}},
		{"too many weeks", nil, func(o *Options) { o.From = o.From.AddDate(-11, 0, 0) }, []string{"to: the range spans", "at most 520"}},
		{"negative window", nil, func(o *Options) { o.FailureWindow = -time.Hour }, []string{"failure_window: -1h0m0s is negative"}},
		{"unknown thresholds", nil, func(o *Options) { o.ThresholdsVersion = "2019" }, []string{`thresholds: unknown version "2019"`}},
		{"repository without org", []RepoActivity{{FullName: "shop"}}, nil, []string{`repositories[0].full_name: "shop" is not "org/name"`}},
		{"repository twice", []RepoActivity{{FullName: "acme/shop"}, {FullName: "Acme/Shop"}}, nil, []string{`repositories[1].full_name: "Acme/Shop" repeats repositories[0]`}},
		{"blank organization", nil, func(o *Options) { o.Orgs = []string{"acme", " "} }, []string{"orgs[1]: empty organization login"}},
		{"repository as organization", nil, func(o *Options) { o.Orgs = []string{"acme/shop"} }, []string{`orgs[0]: "acme/shop" is not an organization login`}},
		{"item under the wrong repository", []RepoActivity{{FullName: "acme/shop", Incidents: []Incident{{RepoFullName: "acme/web"}}}}, nil,
			[]string{`repositories[0].incidents[0].repo_full_name: "acme/web" does not match "acme/shop"`}},
	}
	for _, tt := range tests {
		opts := good
		if tt.opts != nil {
			tt.opts(&opts)
		}
		_, derr := CalculateDORA(tt.repos, opts)
		_, verr := CalculateVelocity(tt.repos, opts)
		for _, err := range []error{derr, verr} {
			if err == nil {
				t.Errorf("%s: no error", tt.name)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
				}
			}
		}
	}
}
