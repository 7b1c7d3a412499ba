package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestThresholdsFor(t *testing.T) {
	t.Parallel()
	for _, v := range ThresholdVersions() {
		th, err := ThresholdsFor(v)
		if err != nil {
			t.Fatalf("ThresholdsFor(%q): %v", v, err)
		}
		if th.Version != v || th.Source == "" || len(th.Levels) < 3 {
			t.Errorf("ThresholdsFor(%q) = version %q, source %q, %d levels", v, th.Version, th.Source, len(th.Levels))
		}
	}
	if th, err := ThresholdsFor(""); err != nil || th.Version != DefaultThresholdsVersion {
		t.Errorf(`ThresholdsFor("") = %q, %v; want the default %q`, th.Version, err, DefaultThresholdsVersion)
	}
	if _, err := ThresholdsFor("2021"); err == nil || !strings.Contains(err.Error(), "thresholds") || !strings.Contains(err.Error(), "2021") {
		t.Errorf(`ThresholdsFor("2021") error = %v; want one naming the field and the value`, err)
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	th := func(v string) Thresholds {
		x, err := ThresholdsFor(v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	type rate func(Thresholds) Level
	df := func(days int, sinceLast time.Duration) rate {
		return func(t Thresholds) Level { return t.DeploymentFrequencyLevel(days, sinceLast) }
	}
	lead := func(h float64) rate { return func(t Thresholds) Level { return t.LeadTimeLevel(&h) } }
	cfr := func(r float64) rate { return func(t Thresholds) Level { return t.ChangeFailureLevel(&r) } }
	rec := func(h float64) rate { return func(t Thresholds) Level { return t.RecoveryLevel(&h) } }

	tests := []struct {
		name    string
		version string
		rate    rate
		want    Level
	}{
		{"2024 deployment on 3 days is on demand", "2024", df(3, day), LevelElite},
		{"2024 deployment on 2 days", "2024", df(2, day), LevelHigh},
		{"2024 deployment on 1 day", "2024", df(1, 2*day), LevelHigh},
		{"2024 no deployment this week, one 20 days ago", "2024", df(0, 20*day), LevelMedium},
		{"2024 last deployment 31 days ago is still monthly", "2024", df(0, 31*day), LevelMedium},
		{"2024 last deployment 90 days ago", "2024", df(0, 90*day), LevelLow},
		{"2024 nothing deployed in half a year: no level", "2024", df(0, 200*day), ""},
		{"2024 never deployed: no level", "2024", df(0, -1), ""},
		{"2022 deployment on 3 days", "2022", df(3, day), LevelHigh},
		{"2022 deployment on 1 day is weekly to monthly", "2022", df(1, day), LevelMedium},
		{"2022 last deployment 20 days ago", "2022", df(0, 20*day), LevelMedium},

		{"2024 lead time 23h", "2024", lead(23), LevelElite},
		{"2024 lead time exactly one day is not below a day", "2024", lead(24), LevelHigh},
		{"2024 lead time 10 days", "2024", lead(240), LevelMedium},
		{"2024 lead time 2 months", "2024", lead(1460), LevelLow},
		{"2022 lead time 2h (no elite cluster)", "2022", lead(2), LevelHigh},

		{"2024 CFR 5% is elite", "2024", cfr(0.05), LevelElite},
		{"2024 CFR 8%: the high cluster's 20% bound wins over medium's 10%", "2024", cfr(0.08), LevelHigh},
		{"2024 CFR 20%", "2024", cfr(0.20), LevelHigh},
		{"2024 CFR 30% falls in the gap: the worse cluster", "2024", cfr(0.30), LevelLow},
		{"2023 CFR 8%", "2023", cfr(0.08), LevelHigh},
		{"2023 CFR 12%", "2023", cfr(0.12), LevelMedium},
		{"2023 CFR 20%", "2023", cfr(0.20), LevelLow},
		{"2022 CFR 15%", "2022", cfr(0.15), LevelHigh},
		{"2022 CFR 16%", "2022", cfr(0.16), LevelMedium},
		{"2022 CFR 40%", "2022", cfr(0.40), LevelLow},

		{"2024 recovery 30 min", "2024", rec(0.5), LevelElite},
		{"2024 recovery 5h", "2024", rec(5), LevelHigh},
		{"2024 recovery 3 days (between clusters)", "2024", rec(72), LevelLow},
		{"2023 recovery 3 days", "2023", rec(72), LevelMedium},
		{"2023 recovery 2 weeks", "2023", rec(336), LevelLow},
	}
	for _, tt := range tests {
		if got := tt.rate(th(tt.version)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}

	t2024 := th("2024")
	if got := t2024.LeadTimeLevel(nil); got != "" {
		t.Errorf("LeadTimeLevel(nil) = %q, want no level", got)
	}
	overall := []struct {
		levels []Level
		want   Level
	}{
		{[]Level{LevelElite, LevelElite, LevelHigh, ""}, LevelHigh},
		{[]Level{LevelMedium, "", "", ""}, LevelMedium},
		{[]Level{LevelElite, LevelLow, LevelElite, LevelElite}, LevelLow},
		{[]Level{"", "", "", ""}, ""},
	}
	for _, tt := range overall {
		if got := t2024.OverallLevel(tt.levels...); got != tt.want {
			t.Errorf("OverallLevel(%v) = %q, want %q", tt.levels, got, tt.want)
		}
	}
}
