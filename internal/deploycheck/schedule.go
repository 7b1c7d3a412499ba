package deploycheck

import "metrics-collector/internal/config"

// CheckSchedule reports whether expr is a six-field NCRONTAB expression the timer
// trigger accepts; the service checks ORCHESTRATOR_SCHEDULE with the same rules at
// start (config.CheckSchedule).
func CheckSchedule(expr string) error { return config.CheckSchedule(expr) }
