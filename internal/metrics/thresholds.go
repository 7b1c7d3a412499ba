package metrics

import (
	"fmt"
	"slices"
	"time"
)

// Level is a DORA performance level. The empty Level means "no level": the metric had
// no data, and the store writes NULL.
type Level string

// Performance levels, as the DORA reports name their clusters.
const (
	LevelElite  Level = "elite"
	LevelHigh   Level = "high"
	LevelMedium Level = "medium"
	LevelLow    Level = "low"
)

// DefaultThresholdsVersion is the threshold set used when none is configured.
const DefaultThresholdsVersion = "2024"

// DeploymentLookbackDays is how far back a week's deployment-frequency level looks for
// the last deployment: the slowest DORA band is "once every six months". A scope with no
// successful production deployment in this many days before a week's end gets no
// deployment-frequency level. Callers load deployments from this far before the first
// week (see LoadFrom).
const DeploymentLookbackDays = 182

// Thresholds is one DORA report's performance clusters turned into rules for rating a
// single week. Levels runs from best to worst; a value gets the first level whose bound
// it meets, and the last level catches everything else. So a value in a gap between two
// clusters gets the worse one, and where the report's clusters are not ordered (2024: the
// high cluster's change failure rate, 20%, is worse than the medium cluster's, 10%) the
// better cluster's looser bound wins and the stricter bound below it is never reached.
type Thresholds struct {
	Version string
	Source  string // the report the clusters come from
	Levels  []LevelThresholds
}

// LevelThresholds holds one cluster's bounds. A zero bound is not a rule (the last level,
// the catch-all, has bounds only for documentation).
type LevelThresholds struct {
	Level Level

	// Deployment frequency: the level is met when the week has at least
	// MinDeploymentDays deployment days, or when the scope's latest deployment is at
	// most DeployedWithinDays days before the week's end.
	MinDeploymentDays  int
	DeployedWithinDays int

	LeadTimeBelowHours  float64 // p50 change lead time strictly below
	ChangeFailureAtMost float64 // change failure rate (fraction) at most
	RecoveryBelowHours  float64 // p50 failed deployment recovery time strictly below
}

const (
	hoursPerDay   = 24
	hoursPerWeek  = 7 * 24
	hoursPerMonth = 730 // 365 × 24 ÷ 12, as Four Keys buckets "one month"
)

// ThresholdsFor returns the threshold set of a DORA report year: "2024" (the default),
// "2023" or "2022". The tables are built on every call, so callers cannot alter them.
func ThresholdsFor(version string) (Thresholds, error) {
	switch version {
	case "", "2024":
		return Thresholds{
			Version: "2024",
			Source:  "DORA, Accelerate State of DevOps Report 2024, software delivery performance levels",
			Levels: []LevelThresholds{
				{Level: LevelElite, MinDeploymentDays: 3, LeadTimeBelowHours: hoursPerDay, ChangeFailureAtMost: 0.05, RecoveryBelowHours: 1},
				{Level: LevelHigh, MinDeploymentDays: 1, LeadTimeBelowHours: hoursPerWeek, ChangeFailureAtMost: 0.20, RecoveryBelowHours: hoursPerDay},
				{Level: LevelMedium, DeployedWithinDays: 31, LeadTimeBelowHours: hoursPerMonth, ChangeFailureAtMost: 0.10, RecoveryBelowHours: hoursPerDay},
				{Level: LevelLow, DeployedWithinDays: DeploymentLookbackDays, LeadTimeBelowHours: 6 * hoursPerMonth, ChangeFailureAtMost: 0.40, RecoveryBelowHours: hoursPerMonth},
			},
		}, nil
	case "2023":
		return Thresholds{
			Version: "2023",
			Source:  "DORA, Accelerate State of DevOps Report 2023, software delivery performance levels",
			Levels: []LevelThresholds{
				{Level: LevelElite, MinDeploymentDays: 3, LeadTimeBelowHours: hoursPerDay, ChangeFailureAtMost: 0.05, RecoveryBelowHours: 1},
				{Level: LevelHigh, MinDeploymentDays: 1, LeadTimeBelowHours: hoursPerWeek, ChangeFailureAtMost: 0.10, RecoveryBelowHours: hoursPerDay},
				{Level: LevelMedium, DeployedWithinDays: 31, LeadTimeBelowHours: hoursPerMonth, ChangeFailureAtMost: 0.15, RecoveryBelowHours: hoursPerWeek},
				{Level: LevelLow, DeployedWithinDays: DeploymentLookbackDays, LeadTimeBelowHours: hoursPerMonth, ChangeFailureAtMost: 0.64, RecoveryBelowHours: 6 * hoursPerMonth},
			},
		}, nil
	case "2022":
		return Thresholds{
			Version: "2022",
			Source:  "DORA, Accelerate State of DevOps Report 2022, software delivery performance clusters (no elite cluster emerged)",
			Levels: []LevelThresholds{
				{Level: LevelHigh, MinDeploymentDays: 3, LeadTimeBelowHours: hoursPerWeek, ChangeFailureAtMost: 0.15, RecoveryBelowHours: hoursPerDay},
				{Level: LevelMedium, MinDeploymentDays: 1, DeployedWithinDays: 31, LeadTimeBelowHours: hoursPerMonth, ChangeFailureAtMost: 0.30, RecoveryBelowHours: hoursPerWeek},
				{Level: LevelLow, DeployedWithinDays: DeploymentLookbackDays, LeadTimeBelowHours: 6 * hoursPerMonth, ChangeFailureAtMost: 0.60, RecoveryBelowHours: hoursPerMonth},
			},
		}, nil
	}
	return Thresholds{}, fmt.Errorf("thresholds: unknown version %q; use one of %v", version, ThresholdVersions())
}

// ThresholdVersions lists the selectable threshold sets, newest first.
func ThresholdVersions() []string { return []string{"2024", "2023", "2022"} }

// DeploymentFrequencyLevel rates a week from its deployment days and the time from the
// scope's latest deployment (at or before the week's end) to the week's end; sinceLast is
// negative when there was none. With no deployment within DeploymentLookbackDays there
// is no level.
func (t Thresholds) DeploymentFrequencyLevel(deploymentDays int, sinceLast time.Duration) Level {
	if sinceLast < 0 || sinceLast > DeploymentLookbackDays*24*time.Hour {
		return ""
	}
	for i, l := range t.Levels {
		if i == len(t.Levels)-1 ||
			(l.MinDeploymentDays > 0 && deploymentDays >= l.MinDeploymentDays) ||
			(l.DeployedWithinDays > 0 && sinceLast <= time.Duration(l.DeployedWithinDays)*24*time.Hour) {
			return l.Level
		}
	}
	return ""
}

// WindowDeploymentFrequencyLevel rates the deployment frequency of a window of several
// weeks (dora_rolling) from the deployment days of each of its weeks, oldest first, and
// the time from the latest deployment to the window's end (negative: none). The weekly
// rules carried over to a window:
//   - a level with MinDeploymentDays (on demand, daily to weekly) is met when at least
//     three quarters of the window's weeks met it: "weekly" means most weeks, so one
//     missed week in four keeps a weekly team high, and one busy week does not lift a
//     quiet month;
//   - a level with DeployedWithinDays (weekly to monthly) is met when the window had a
//     deployment day per DeployedWithinDays days on average: at least one in 4 weeks, 3
//     in 13;
//   - the last level takes the rest, and with no deployment within
//     DeploymentLookbackDays there is no level, as for a week.
//
// A repository deploying every other week deploys in half the weeks of any window (6 or
// 7 of 13) and rates medium in every one, where its weekly rows alternate between high
// and medium. (A median of the weekly days would flip with 7 of 13.)
func (t Thresholds) WindowDeploymentFrequencyLevel(weeklyDays []int, sinceLast time.Duration) Level {
	if len(weeklyDays) == 0 || sinceLast < 0 || sinceLast > DeploymentLookbackDays*24*time.Hour {
		return ""
	}
	total := 0
	for _, d := range weeklyDays {
		total += d
	}
	windowDays := 7 * len(weeklyDays)
	mostWeeks := func(minDays int) bool {
		n := 0
		for _, d := range weeklyDays {
			if d >= minDays {
				n++
			}
		}
		return 4*n >= 3*len(weeklyDays)
	}
	for i, l := range t.Levels {
		if i == len(t.Levels)-1 ||
			(l.MinDeploymentDays > 0 && mostWeeks(l.MinDeploymentDays)) ||
			(l.DeployedWithinDays > 0 && total*l.DeployedWithinDays >= windowDays) {
			return l.Level
		}
	}
	return ""
}

// LeadTimeLevel rates a p50 change lead time in hours; nil rates nothing.
func (t Thresholds) LeadTimeLevel(p50Hours *float64) Level {
	return t.rate(p50Hours, func(l LevelThresholds, v float64) bool { return v < l.LeadTimeBelowHours })
}

// ChangeFailureLevel rates a change failure rate (a fraction); nil rates nothing.
func (t Thresholds) ChangeFailureLevel(rate *float64) Level {
	return t.rate(rate, func(l LevelThresholds, v float64) bool { return v <= l.ChangeFailureAtMost })
}

// RecoveryLevel rates a p50 failed deployment recovery time in hours; nil rates nothing.
func (t Thresholds) RecoveryLevel(p50Hours *float64) Level {
	return t.rate(p50Hours, func(l LevelThresholds, v float64) bool { return v < l.RecoveryBelowHours })
}

func (t Thresholds) rate(v *float64, meets func(LevelThresholds, float64) bool) Level {
	if v == nil {
		return ""
	}
	for i, l := range t.Levels {
		if i == len(t.Levels)-1 || meets(l, *v) {
			return l.Level
		}
	}
	return ""
}

// OverallLevel is the worst of the given per-metric levels, skipping empty ones: a scope
// performs at a level only when every metric we could measure reaches it. It is empty
// when no metric has a level.
func (t Thresholds) OverallLevel(levels ...Level) Level {
	worst := -1
	for _, l := range levels {
		if l == "" {
			continue
		}
		if i := slices.IndexFunc(t.Levels, func(x LevelThresholds) bool { return x.Level == l }); i > worst {
			worst = i
		}
	}
	if worst < 0 {
		return ""
	}
	return t.Levels[worst].Level
}

// MedianLevel is the median of the given levels, skipping empty ones: the level of an
// organization or the enterprise, from its repositories' levels. With an even number the
// worse of the two middle levels is taken, as the overall level takes the worst. It is
// empty when no level is set.
func (t Thresholds) MedianLevel(levels []Level) Level {
	ranks := make([]int, 0, len(levels))
	for _, l := range levels {
		if i := slices.IndexFunc(t.Levels, func(x LevelThresholds) bool { return x.Level == l }); i >= 0 {
			ranks = append(ranks, i)
		}
	}
	if len(ranks) == 0 {
		return ""
	}
	slices.Sort(ranks)
	return t.Levels[ranks[len(ranks)/2]].Level
}
