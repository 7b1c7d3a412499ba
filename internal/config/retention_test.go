package config

import (
	"strings"
	"testing"
)

func TestRetentionDefault(t *testing.T) {
	c, err := Parse(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.RetentionDays != 400 {
		t.Errorf("RetentionDays = %d, want 400", c.RetentionDays)
	}
	// The default must leave room for the default recompute window.
	if MinRetentionDays(DefaultRecomputeWeeks) > DefaultRetentionDays {
		t.Errorf("MinRetentionDays(%d) = %d exceeds the default %d", DefaultRecomputeWeeks, MinRetentionDays(DefaultRecomputeWeeks), DefaultRetentionDays)
	}
}

func TestMinRetentionDays(t *testing.T) {
	// 12 weeks recomputed reach back at most 7·12 − 1 days before today to the first
	// week's Monday, then 182 days of DORA look-back.
	if got := MinRetentionDays(12); got != 84+182 {
		t.Errorf("MinRetentionDays(12) = %d, want 266", got)
	}
}

func TestRetentionRefusedWhenTooSmall(t *testing.T) {
	cases := []struct {
		set  map[string]string
		want []string
	}{
		{map[string]string{"RETENTION_DAYS": "265", "EXPORT_RETENTION_DAYS": "30"},
			[]string{"RETENTION_DAYS: 265 is too small for RECOMPUTE_WEEKS=12", "at least 266 days"}},
		{map[string]string{"RETENTION_DAYS": "400", "RECOMPUTE_WEEKS": "52"},
			[]string{"RETENTION_DAYS: 400 is too small for RECOMPUTE_WEEKS=52", "at least 546 days"}},
		{map[string]string{"RETENTION_DAYS": "300"},
			[]string{"RETENTION_DAYS: 300 is smaller than EXPORT_RETENTION_DAYS=400"}},
		{map[string]string{"RETENTION_DAYS": "0"},
			[]string{"RETENTION_DAYS: \"0\" must be a whole number"}},
		{map[string]string{"RETENTION_DAYS": "400", "COLLECTOR_ENTERPRISES": `[{"id":"a","orgs":["x"],"token_secret":"s","repo_backfill_days":500}]`},
			[]string{"COLLECTOR_ENTERPRISES[0].repo_backfill_days: 500 is more than RETENTION_DAYS=400"}},
	}
	for _, tc := range cases {
		m := valid()
		for k, v := range tc.set {
			m[k] = v
		}
		_, err := Parse(env(m))
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("with %v: error %v, want it to contain %q", tc.set, err, want)
			}
		}
	}
}

func TestRetentionAccepted(t *testing.T) {
	for _, set := range []map[string]string{
		{"RETENTION_DAYS": "266", "EXPORT_RETENTION_DAYS": "266"},
		{"RETENTION_DAYS": "730", "RECOMPUTE_WEEKS": "52"},
		{"RETENTION_DAYS": "3660", "RECOMPUTE_WEEKS": "260"},
	} {
		m := valid()
		for k, v := range set {
			m[k] = v
		}
		c, err := Parse(env(m))
		if err != nil {
			t.Errorf("with %v: %v", set, err)
			continue
		}
		if got := c.RetentionDays; got <= 0 {
			t.Errorf("with %v: RetentionDays %d", set, got)
		}
	}
}
